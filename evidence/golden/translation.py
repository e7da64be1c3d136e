"""A beast mode as DuckDB SQL for a card's query: the formula engine's translation
(evidence.formulas.translate), with the MySQL semantics Domo keeps and translations refuse spelled
out first, and the current date fixed at the golden's capture.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlglot
from sqlglot import exp

from evidence.formulas import Analysis, analyze
from evidence.formulas.dialect import SPAN
from evidence.formulas.translate import translate
from evidence.formulas.translate.generator import unwrap
from evidence.formulas.tree import DATE_LITERAL, Context, call_name, strip_parens
from evidence.golden.model import NotReproducible


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
