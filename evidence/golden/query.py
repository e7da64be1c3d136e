"""The DuckDB query of a card's main subscription, over the silver Parquet of its dataset.

The card's query, with Domo's semantics (domo-formula-semantics.md, "Where aggregation happens"):
- the main subscription's groupBy columns are the GROUP BY; a date grain groups its date column by
  the first day of its day, week (Sunday), month, quarter or year;
- a beast mode with an aggregate is evaluated per group as written (`CASE WHEN SUM(x) > ...`
  compares the group's sum; window and FIXED values over the rows the card's filters keep);
- a beast mode without one is a row-level expression: a value column applies the column's
  aggregation to it, SUM by default for a number (a sum of per-row ratios, as Domo does); a
  dataset column without aggregation on a value column is SUMmed too;
- filters on columns and row-level beast modes are WHERE, filters on aggregates HAVING;
- CURDATE()/CURRENT_DATE()/NOW() are the UTC date or moment of `captured_at` (the golden's
  capture), written into the SQL as literals;
- MySQL semantics that Domo keeps and translations refuse are spelled out: a date in + or - is its
  YYYYMMDD number (`MAX(end) - MIN(start) + 1` is 1131 for a calendar year), YEAR('text') is NULL.
Formulas go through the formula engine's translation to DuckDB (evidence.formulas.translate).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from evidence.formulas import analyze
from evidence.golden.model import NotReproducible
from evidence.golden.translation import Translated, translate_for_card
from evidence.intake import leafiq

NUMERIC_TYPES = frozenset({"LONG", "DOUBLE", "DECIMAL"})
DATE_TYPES = frozenset({"DATE", "DATETIME"})
# Domo's column aggregations -> SQL.
AGGREGATIONS = {
    "SUM": "SUM({})",
    "AVG": "AVG({})",
    "AVERAGE": "AVG({})",
    "MIN": "MIN({})",
    "MAX": "MAX({})",
    "COUNT": "COUNT({})",
    "COUNT_DISTINCT": "COUNT(DISTINCT {})",
    "UNIQUE_COUNT": "COUNT(DISTINCT {})",
    "DISTINCT_COUNT": "COUNT(DISTINCT {})",
}
# Date grain -> the first day of the period (DuckDB's DAYOFWEEK is 0 on Sunday; Domo weeks start then).
GRAINS = {
    "DAY": "CAST({} AS DATE)",
    "WEEK": "CAST({0} AS DATE) - CAST(DAYOFWEEK({0}) AS INTEGER)",
    "MONTH": "CAST(DATE_TRUNC('month', {}) AS DATE)",
    "QUARTER": "CAST(DATE_TRUNC('quarter', {}) AS DATE)",
    "YEAR": "CAST(DATE_TRUNC('year', {}) AS DATE)",
}
# DuckDB's memory for one card's query; past it, DuckDB spills to a temporary folder. Its default (80% of
# the machine) let COUNT(DISTINCT `Claim ID`) over the 5-million-row claims of a 1 GiB export take the
# intake's peak RSS to about 800 MB; at 64 MB that card's query ran out of memory (it needs some blocks
# pinned); 128 MB keeps the whole intake under 400 MB at that size (bench.intake).
DUCKDB_MEMORY_LIMIT = "128MB"
_ARROW_TYPES = (("string", "STRING"), ("int", "LONG"), ("double", "DOUBLE"), ("float", "DOUBLE"),
                ("decimal", "DECIMAL"), ("date", "DATE"), ("timestamp", "DATETIME"))  # fmt: skip


@dataclass
class _Select:
    label: str
    sql: str
    is_key: bool


class CardQuery:
    """The DuckDB query of one card's main subscription."""

    def __init__(
        self,
        card: leafiq.CardDefinition,
        beast_modes: Mapping[str, leafiq.BeastMode],
        parquet_paths: Mapping[str, Path],
        captured_at: datetime,
    ):
        self.card = card
        self.beast_modes = beast_modes
        self.captured_at = captured_at.astimezone(UTC)
        self.notes: dict[str, None] = {}
        main = card.main
        if main is None:
            raise NotReproducible("The card has no main subscription.")
        if len(card.datasources) != 1:
            raise NotReproducible(f"The card reads {len(card.datasources)} datasets; one is rebuilt.")
        dataset = card.datasources[0].id
        if dataset not in parquet_paths:
            raise NotReproducible(f"No silver Parquet for dataset {dataset}.")
        self.path = Path(parquet_paths[dataset])
        self.schema = parquet_schema(self.path)
        self.main = main
        self.grain = self._grain()
        self.selects = [self._select(column) for column in main.columns]
        self.group_by = [self._group_expression(item) for item in main.group_by]
        self.where, self.having = self._filters()
        self.order_by = self._order_by()

    @property
    def labels(self) -> list[str]:
        return [select.label for select in self.selects]

    # --- pieces ---------------------------------------------------------------------------------
    def _grain(self) -> tuple[str, str] | None:
        grain = self.main.date_grain
        if grain is None or not grain.grain:
            return None
        element = grain.grain.upper()
        if element not in GRAINS:
            raise NotReproducible(f"Date grain {grain.grain} is not one this module rebuilds.")
        column = grain.column
        if column is None:  # the grain applies to the card's date axis
            column = next(
                (
                    g.column
                    for g in self.main.group_by
                    if g.column and self.schema.get(g.column) in DATE_TYPES
                ),
                None,
            )
        if column is None or column not in self.schema:
            raise NotReproducible(f"Date grain {element} names no date column of the dataset.")
        return column, element

    def _column_sql(self, name: str) -> str:
        if name not in self.schema:
            raise NotReproducible(f"`{name}` is not a column of the dataset.")
        return _quote(name)

    def _dimension_sql(self, column: str) -> str:
        sql = self._column_sql(column)
        if self.grain is not None and self.grain[0] == column:
            return GRAINS[self.grain[1]].format(sql)
        return sql

    def _is_key(self, column: leafiq.CardColumn) -> bool:
        return any(
            (g.formula_id and g.formula_id == column.formula_id) or (g.column and g.column == column.column)
            for g in self.main.group_by
        )

    def _select(self, column: leafiq.CardColumn) -> _Select:
        is_key = self._is_key(column)
        if column.formula_id:
            bm = self._beast_mode(column.formula_id)
            label = column.alias or bm.name
            formula = self.formula(bm, "card_dimension" if is_key else "card_value")
            if is_key:
                if formula.level != "row":
                    raise NotReproducible(f"Beast mode {bm.name!r} groups the card but holds an aggregate.")
                return _Select(label, formula.sql, True)
            if formula.level == "row":
                return _Select(
                    label, self._aggregated(formula.sql, column.aggregation, bm.data_type, bm.name), False
                )
            return _Select(label, formula.sql, False)
        if not column.column:
            raise NotReproducible("A card column names neither a column nor a beast mode.")
        label = column.alias or column.column
        if is_key:
            return _Select(label, self._dimension_sql(column.column), True)
        return _Select(
            label,
            self._aggregated(
                self._column_sql(column.column), column.aggregation, self.schema[column.column], label
            ),
            False,
        )

    def _aggregated(self, sql: str, aggregation: str | None, data_type: str | None, shown: str) -> str:
        if aggregation:
            template = AGGREGATIONS.get(aggregation.upper())
            if template is None:
                raise NotReproducible(
                    f"Aggregation {aggregation} of {shown!r} is not one this module rebuilds."
                )
            return template.format(sql)
        if (data_type or "").upper() in NUMERIC_TYPES:
            return f"SUM({sql})"  # Domo's default for a number on a value axis
        raise NotReproducible(
            f"{shown!r} is a {data_type or 'untyped'} value with no aggregation and no grouping."
        )

    def _group_expression(self, item: leafiq.CardColumn) -> str:
        if item.formula_id:
            bm = self._beast_mode(item.formula_id)
            formula = self.formula(bm, "card_dimension")
            if formula.level != "row":
                raise NotReproducible(f"Beast mode {bm.name!r} groups the card but holds an aggregate.")
            return formula.sql
        if not item.column:
            raise NotReproducible("A groupBy entry names neither a column nor a beast mode.")
        return self._dimension_sql(item.column)

    def _filters(self) -> tuple[list[str], list[str]]:
        where, having = [], []
        for flt in self.main.filters:
            if flt.formula_id:
                bm = self._beast_mode(flt.formula_id)
                formula = self.formula(bm, "filter")
                target, kind = formula.sql, (bm.data_type or "").upper()
                into = where if formula.level == "row" else having
            elif flt.column:
                target, kind, into = self._column_sql(flt.column), self.schema[flt.column], where
            else:
                raise NotReproducible("A filter names neither a column nor a beast mode.")
            into.append(_filter_sql(target, kind, flt))
        return where, having

    def _order_by(self) -> list[str]:
        items = []
        for order in self.main.order_by:
            position = next(
                (
                    index + 1
                    for index, column in enumerate(self.main.columns)
                    if (order.formula_id and column.formula_id == order.formula_id)
                    or (order.column and column.column == order.column)
                ),
                None,
            )
            if position is None:
                continue  # the golden's row order is not compared, rows are matched by key
            items.append(f"{position}{' DESC' if order.descending else ''}")
        return items

    def _beast_mode(self, formula_id: str) -> leafiq.BeastMode:
        bm = self.beast_modes.get(formula_id)
        if bm is None:
            raise NotReproducible(f"Beast mode {formula_id} is not in the export.")
        return bm

    # --- formulas -----------------------------------------------------------------------------
    def formula(self, bm: leafiq.BeastMode, used_as: str) -> Translated:
        analysis = analyze(bm.formula, schema=self.schema, used_as=used_as)
        if analysis.parsed is None:
            raise NotReproducible(f"Beast mode {bm.name!r} does not parse: {analysis.flaws[0].message}")
        translated = translate_for_card(analysis, self.schema, self.captured_at, bm.name)
        self.notes.update(dict.fromkeys(translated.notes))
        return translated

    # --- SQL ------------------------------------------------------------------------------------
    def sql(self) -> str:
        path = str(self.path).replace("'", "''")
        lines = ["SELECT " + ",\n       ".join(f"{s.sql} AS {_quote(s.label)}" for s in self.selects)]
        lines.append(f"FROM read_parquet('{path}')")
        if self.where:
            lines.append("WHERE " + "\n  AND ".join(self.where))
        if self.group_by:
            lines.append("GROUP BY " + ", ".join(self.group_by))
        if self.having:
            lines.append("HAVING " + "\n   AND ".join(self.having))
        if self.order_by:
            lines.append("ORDER BY " + ", ".join(self.order_by))
        return "\n".join(lines)

    def run(self) -> list[tuple]:
        sql = self.sql()
        try:
            with (
                tempfile.TemporaryDirectory(prefix="golden-duckdb-") as spill,
                duckdb.connect(config={"memory_limit": DUCKDB_MEMORY_LIMIT, "temp_directory": spill}) as connection,
            ):
                return connection.execute(sql).fetchall()
        except duckdb.Error as error:
            raise NotReproducible(f"DuckDB refused the card's query: {error}", sql=sql) from error


def parquet_schema(path: Path) -> dict[str, str]:
    """Column -> Domo type of a silver Parquet file."""
    schema = {}
    for arrow_field in pq.read_schema(path):
        text = str(arrow_field.type)
        schema[arrow_field.name] = next(
            (kind for prefix, kind in _ARROW_TYPES if text.startswith(prefix)), "STRING"
        )
    return schema


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str, kind: str | None) -> str:
    if (kind or "").upper() in NUMERIC_TYPES:
        try:
            return str(Decimal(value))
        except InvalidOperation:
            pass
    return "'" + value.replace("'", "''") + "'"


_COMPARISONS = {"GREATER_THAN": ">", "LESS_THAN": "<", "GREATER_THAN_EQUAL": ">=", "LESS_THAN_EQUAL": "<="}
_LIKE = {"CONTAINS": "'%' || {} || '%'", "BEGINS_WITH": "{} || '%'", "ENDS_WITH": "'%' || {}", "LIKE": "{}"}


def _filter_sql(target: str, kind: str | None, flt: leafiq.CardFilter) -> str:
    """A card filter as a condition: IN/EQUALS (several values: any), NOT_IN/NOT_EQUALS, ranges,
    LIKE and its BEGINS_WITH/ENDS_WITH/CONTAINS forms; `not` negates it."""
    operator = (flt.operator or "EQUALS").upper()
    values = [_literal(v, kind) for v in flt.values]
    negated = flt.negated
    if operator in ("NOT_IN", "NOT_EQUALS"):
        operator, negated = ("IN" if operator == "NOT_IN" else "EQUALS"), not negated
    if operator in ("IN", "EQUALS"):
        condition = f"{target} IN ({', '.join(values)})" if values else "FALSE"
    elif operator == "BETWEEN" and len(values) == 2:
        condition = f"{target} BETWEEN {values[0]} AND {values[1]}"
    elif operator in _COMPARISONS and len(values) == 1:
        condition = f"{target} {_COMPARISONS[operator]} {values[0]}"
    elif operator in _LIKE and values:
        condition = "(" + " OR ".join(f"{target} LIKE {_LIKE[operator].format(v)}" for v in values) + ")"
    else:
        raise NotReproducible(f"Filter {operator} with {len(values)} values is not one this module rebuilds.")
    return f"NOT ({condition})" if negated else condition
