"""The translation rules of columns, literals and operators (arithmetic, division, CASE).

Date arithmetic with INTERVAL is MySQL's DATE_ADD, written by dates.py; the generator and the
registry of rules are in generator.py.
"""

from __future__ import annotations

from sqlglot import exp

from evidence.formulas.translate.dates import interval_arithmetic
from evidence.formulas.translate.generator import DATE_TYPES, Emitter, rule
from evidence.formulas.tree import Context, call_name, is_zero, strip_parens


# --- columns and literals ---------------------------------------------------------------------------
@rule(exp.Column)
def _column(g: Emitter, node: exp.Column) -> str:
    name = g.ctx.resolve(node.name)
    if name is None:
        g.problem(f"`{node.name}` is not a column of the dataset.")
        name = node.name
    if g.target == "sqlite" and g.type_of(node) == "DECIMAL" and _computed_on(node):
        g.problem(
            f"`{name}` is a DECIMAL, which SQLite stores as a binary float: sums and arithmetic on it can "
            "differ from Domo's exact decimals in the last digits."
        )
    return g.plain(exp.to_identifier(name, quoted=True))


def _computed_on(node: exp.Expr) -> bool:
    """Whether the value is added, multiplied, divided or averaged (not only compared or shown)."""
    return any(
        isinstance(a, (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod)) or call_name(a) in ("SUM", "AVG")
        for a in Context.ancestors(node)
    )


@rule(exp.Literal)
def _literal(g: Emitter, node: exp.Literal) -> str:
    if node.is_string:
        return g.string(node.this)
    return node.this


@rule(exp.Boolean)
def _boolean(g: Emitter, node: exp.Boolean) -> str:
    return "1" if node.this else "0"  # MySQL: TRUE and FALSE are 1 and 0


# --- arithmetic ------------------------------------------------------------------------------------
def _date_arithmetic(g: Emitter, node: exp.Expr) -> str | None:
    left, right = node.this, node.expression
    if isinstance(strip_parens(right), exp.Interval) or isinstance(strip_parens(left), exp.Interval):
        return interval_arithmetic(g, node)
    if g.ctx.is_date(left) or g.ctx.is_date(right) or {g.type_of(left), g.type_of(right)} & DATE_TYPES:
        return g.fail(
            f"{g.text(node)} is arithmetic on a date, which Domo computes on YYYYMMDD numbers (MySQL "
            "semantics); use DATEDIFF or DATE_ADD, it is not translated."
        )
    return None


@rule(exp.Add, exp.Sub)
def _add_sub(g: Emitter, node: exp.Expr) -> str:
    dated = _date_arithmetic(g, node)
    if dated is not None:
        return dated
    return g.plain(node)


@rule(exp.Div)
def _div(g: Emitter, node: exp.Div) -> str:
    """Domo's `/` never truncates and gives NULL for a zero denominator (MySQL semantics)."""
    numerator, denominator = g.sql(node.this), g.sql(node.expression)
    floating = "DOUBLE" in (g.type_of(node.this), g.type_of(node.expression))
    if not floating:
        cast = {"postgres": "NUMERIC", "sqlite": "REAL", "tsql": "FLOAT"}.get(g.target)
        if cast:  # DuckDB's / is already a true division
            numerator = f"CAST({numerator} AS {cast})"
    if _is_zero_guard(node.expression):
        return f"{numerator} / {denominator}"  # already NULLIF(d, 0)
    return f"{numerator} / NULLIF({denominator}, 0)"


def _is_zero_guard(node: exp.Expr) -> bool:
    node = strip_parens(node)
    return call_name(node) == "NULLIF" and is_zero(node.expression)


@rule("CASE")
def _case(g: Emitter, node: exp.Case) -> str:
    return g.plain(node)
