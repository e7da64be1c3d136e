"""Golden reproduction: rebuild a card's query over silver data in DuckDB and compare with the
rows Domo showed (golden.csv).

Plain module, no Django. `reproduce_card(card, beast_modes=..., parquet_paths=..., golden_csv=...,
captured_at=...)` returns a GoldenComparison: "reproduced" when every golden row is matched,
"differs" with the differing cells and the rows only one side has, or "not_reproducible" with the
reason (a beast mode without a faithful translation, a card shape this module does not rebuild).
Matching the golden, flaws included, shows the legacy behaviour is understood.

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

Comparison: rows are keyed by the card's groupBy columns (by position when it has none; the row
order itself is not compared); a cell
matches when both are empty (Domo shows NULL as an empty cell), when both are numbers within half a
unit of the golden's last decimal place (money has two decimals, doubles six), or when the texts
are equal (dates as YYYY-MM-DD).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from evidence import leafiq
from evidence.formulas import Analysis, analyze
from evidence.formulas.dialect import SPAN
from evidence.formulas.translate import translate
from evidence.formulas.translate.emit import unwrap
from evidence.formulas.tree import DATE_LITERAL, Context, call_name, strip_parens

STATUSES = ("reproduced", "differs", "not_reproducible")
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
_ARROW_TYPES = (("string", "STRING"), ("int", "LONG"), ("double", "DOUBLE"), ("float", "DOUBLE"),
                ("decimal", "DECIMAL"), ("date", "DATE"), ("timestamp", "DATETIME"))  # fmt: skip


class NotReproducible(Exception):
    """The card's query cannot be rebuilt faithfully; the message says which part and why."""

    def __init__(self, message: str, *, sql: str | None = None):
        super().__init__(message)
        self.sql = sql


@dataclass(frozen=True)
class CellDifference:
    """One golden cell that our query does not give: `difference` is ours - golden for numbers."""

    key: tuple[str, ...]
    column: str
    golden: str
    ours: str
    difference: Decimal | None


@dataclass(frozen=True)
class Row:
    """A row only one side has: its key and its cells in the golden's column order."""

    key: tuple[str, ...]
    values: tuple[str, ...]


@dataclass(frozen=True)
class GoldenComparison:
    card_id: int
    title: str
    status: str  # one of STATUSES
    sql: str | None
    columns: tuple[str, ...]  # the golden's header
    key_columns: tuple[str, ...]
    golden_rows: int
    our_rows: int
    matched: int
    differing: tuple[CellDifference, ...]
    only_in_golden: tuple[Row, ...]
    only_in_ours: tuple[Row, ...]
    problems: tuple[str, ...] = ()  # why not reproducible
    notes: tuple[str, ...] = field(default=())  # conditions the reproduction rests on

    @property
    def differing_rows(self) -> int:
        return len({difference.key for difference in self.differing})


def reproduce_card(
    card: leafiq.CardDefinition,
    *,
    beast_modes: Mapping[str, leafiq.BeastMode],
    parquet_paths: Mapping[str, Path],
    golden_csv: Path,
    captured_at: datetime,
) -> GoldenComparison:
    """Rebuild `card`'s main query over the silver Parquet of its dataset and compare it with
    its golden.csv, captured at `captured_at`."""
    header, golden = read_golden(golden_csv)
    try:
        query = CardQuery(
            card, {**{bm.id: bm for bm in card.beast_modes}, **beast_modes}, parquet_paths, captured_at
        )
        if tuple(query.labels) != tuple(header):
            raise NotReproducible(
                f"golden.csv is headed {', '.join(header)}, but the card's columns are {', '.join(query.labels)}."
            )
        ours = query.run()
    except NotReproducible as error:
        return GoldenComparison(
            card.id, card.title, "not_reproducible", error.sql, tuple(header), (),
            len(golden), 0, 0, (), (), (), (str(error),),
        )  # fmt: skip
    return compare(card, query, header, golden, ours)


def read_golden(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    return (rows[0] if rows else []), rows[1:]


# --- the card's query ----------------------------------------------------------------------------
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
            with duckdb.connect() as connection:
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


# --- formulas ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Translated:
    sql: str
    level: str
    notes: tuple[str, ...]


# Date functions whose date argument(s), written as text that is no date, make MySQL return NULL.
_DATE_ARGUMENT_FUNCTIONS = frozenset({
    "YEAR", "MONTH", "DAY", "DAYOFMONTH", "QUARTER", "DAYOFYEAR", "DAYOFWEEK", "WEEKDAY", "WEEK",
    "WEEKOFYEAR", "YEARWEEK", "HOUR", "MINUTE", "SECOND", "LAST_DAY", "DATE", "DATEDIFF",
})  # fmt: skip


def translate_for_card(
    analysis: Analysis, schema: Mapping[str, str], captured_at: datetime, name: str
) -> Translated:
    """A beast mode as DuckDB SQL for the card's grouped query (evidence.formulas.translate), with
    the MySQL semantics Domo keeps spelled out first and the current date set to the capture's;
    NotReproducible when it has no faithful translation."""
    notes: dict[str, None] = {}
    formula = mysql_semantics(analysis, schema, notes)
    if formula != analysis.formula:
        analysis = analyze(formula, schema=schema, used_as=analysis.used_as)
    translation = translate(analysis, "duckdb", columns=schema)
    if not translation.faithful or translation.sql is None:
        raise NotReproducible(
            f"Beast mode {name!r} has no faithful DuckDB translation: {' '.join(translation.problems)}"
        )
    sql = at_capture(translation.sql, captured_at, name, notes)
    # The translation's note that the current date is read when the query runs no longer holds.
    pinned = tuple(
        f"{analysis.formula[start:end]} is read when the query runs"
        for node in analysis.parsed.find_all(exp.CurrentDate, exp.CurrentTimestamp, exp.CurrentTime)
        if (start_end := _own_span(node)) is not None
        for start, end in [start_end]
    )
    notes.update(dict.fromkeys(n for n in translation.notes if not n.startswith(pinned)))
    return Translated(sql, analysis.level or "row", tuple(notes))


def mysql_semantics(analysis: Analysis, schema: Mapping[str, str], notes: dict[str, None]) -> str:
    """The formula with two MySQL behaviours Domo shows written out, which translations refuse:
    a date in + or - is its YYYYMMDD number, and a date function of text that is no date is NULL."""
    ctx = Context(analysis.formula, analysis.parsed, schema, analysis.used_as)
    edits: list[tuple[int, int, str]] = []
    for node in ctx.nodes:
        if isinstance(node, (exp.Add, exp.Sub)) and not any(
            isinstance(strip_parens(side), exp.Interval) for side in (node.this, node.expression)
        ):
            for side in (node.this, node.expression):
                span = ctx.span(side)
                if span is not None and ctx.is_date(side):
                    edits.append((*span, _yyyymmdd(ctx, side)))
                    notes.setdefault(
                        f"{ctx.text(node)} computes on YYYYMMDD numbers, as Domo (MySQL) does with dates.",
                        None,
                    )
        if call_name(node) in _DATE_ARGUMENT_FUNCTIONS:
            texts = [a for a in ctx.arguments(node) if _is_text_not_date(a)]
            span = ctx.span(node)
            if texts and span is not None:
                edits.append((*span, "NULL"))
                notes.setdefault(f"{ctx.text(node)} reads text that is no date: NULL, as in MySQL.", None)
    formula = analysis.formula
    taken: list[tuple[int, int]] = []
    for start, end, text in sorted(edits, key=lambda e: (e[0] - e[1], e[0])):  # outermost first
        if any(start < t_end and t_start < end for t_start, t_end in taken):
            continue
        taken.append((start, end))
    for start, end, text in sorted((e for e in edits if (e[0], e[1]) in taken), reverse=True):
        formula = formula[:start] + text + formula[end:]
    return formula


def _own_span(node: exp.Expr) -> tuple[int, int] | None:
    return node.meta.get(SPAN) if node._meta else None


def _yyyymmdd(ctx: Context, node: exp.Expr) -> str:
    x = ctx.text(node)
    number = f"YEAR({x}) * 10000 + MONTH({x}) * 100 + DAY({x})"
    column = strip_parens(node)
    if isinstance(column, exp.Column) and ctx.column_type(column) == "DATETIME":
        number = f"({number}) * 1000000 + HOUR({x}) * 10000 + MINUTE({x}) * 100 + SECOND({x})"
    return f"({number})"


def _is_text_not_date(node: exp.Expr) -> bool:
    node = strip_parens(unwrap(node))
    return isinstance(node, exp.Literal) and node.is_string and not DATE_LITERAL.match(node.this)


def at_capture(sql: str, captured_at: datetime, name: str, notes: dict[str, None]) -> str:
    """The translated SQL with the current date and time fixed at the golden's capture (UTC)."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    if not any(tree.find_all(exp.CurrentDate, exp.CurrentTimestamp)):
        return sql
    today, moment = captured_at.date().isoformat(), captured_at.replace(tzinfo=None).isoformat(sep=" ")

    def fixed(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.CurrentDate):
            return exp.cast(exp.Literal.string(today), exp.DataType.build("DATE"))
        if isinstance(node, exp.CurrentTimestamp):
            return exp.cast(exp.Literal.string(moment), exp.DataType.build("TIMESTAMP"))
        return node

    notes.setdefault(f"{name}: the current date is {today}, the UTC date of the golden's capture.", None)
    return tree.transform(fixed).sql(dialect="duckdb")


# --- comparison ----------------------------------------------------------------------------------
def compare(
    card: leafiq.CardDefinition,
    query: CardQuery,
    header: Sequence[str],
    golden: list[list[str]],
    ours: list[tuple],
) -> GoldenComparison:
    keys = [index for index, select in enumerate(query.selects) if select.is_key]
    key_columns = tuple(header[index] for index in keys)

    def keyed(rows: list[Sequence[str]]) -> dict[tuple[str, ...], Sequence[str]]:
        out: dict[tuple[str, ...], Sequence[str]] = {}
        for position, row in enumerate(rows):
            key = tuple(_key_text(row[index]) for index in keys) if keys else (str(position + 1),)
            while key in out:  # a repeated key: numbered, so neither row is lost
                key = (*key, "#")
            out[key] = row
        return out

    formatted = [tuple(format_value(value) for value in row) for row in ours]
    golden_by_key = keyed(golden)
    ours_by_key = keyed([list(row) for row in ours])
    texts_by_key = dict(zip(ours_by_key, formatted, strict=True))
    matched, differing = 0, []
    for key, golden_row in golden_by_key.items():
        if key not in ours_by_key:
            continue
        ours_row = ours_by_key[key]
        row_differences = []
        for index, column in enumerate(header):
            same, difference = compare_cell(golden_row[index], ours_row[index])
            if not same:
                row_differences.append(
                    CellDifference(key, column, golden_row[index], texts_by_key[key][index], difference)
                )
        differing.extend(row_differences)
        matched += not row_differences
    only_golden = tuple(Row(k, tuple(v)) for k, v in golden_by_key.items() if k not in ours_by_key)
    only_ours = tuple(Row(k, texts_by_key[k]) for k in ours_by_key if k not in golden_by_key)
    status = "reproduced" if not differing and not only_golden and not only_ours else "differs"
    return GoldenComparison(
        card.id, card.title, status, query.sql(), tuple(header), key_columns, len(golden), len(ours), matched,
        tuple(differing), only_golden, only_ours, (), tuple(query.notes),
    )  # fmt: skip


def compare_cell(golden: str, ours: object) -> tuple[bool, Decimal | None]:
    """(whether the cells agree, ours - golden when both are numbers)."""
    if ours is None or ours == "":
        return golden == "", None
    if isinstance(ours, (int, float, Decimal)) and not isinstance(ours, bool):
        try:
            expected = Decimal(golden)
        except InvalidOperation:
            return False, None
        difference = (Decimal(repr(ours)) if isinstance(ours, float) else Decimal(ours)) - expected
        return abs(difference) <= _tolerance(expected), difference
    return format_value(ours) == golden, None


def _tolerance(expected: Decimal) -> Decimal:
    """Half a unit of the golden's last decimal place, plus the noise of summing many doubles."""
    exponent = expected.as_tuple().exponent
    half_unit = Decimal(5).scaleb(exponent - 1) if isinstance(exponent, int) else Decimal(0)
    return half_unit + abs(expected) * Decimal("1e-12")


def format_value(value: object) -> str:
    """A value as the golden writes it: empty for NULL, dates ISO, doubles to six places."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        text = f"{value:.6f}"
        return "0.000000" if text == "-0.000000" else text
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def _key_text(value: object) -> str:
    """A key cell in one spelling for both sides: 1.50 and 1.5 are the same key."""
    text = format_value(value) if not isinstance(value, str) else value
    if isinstance(value, float):
        text = repr(value)
    if _NUMBER.match(text):
        number = Decimal(text).normalize()
        return format(number, "f")
    return text
