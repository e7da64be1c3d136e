"""Aggregates, windows and FIXED functions in the card's grouped query.

A window over aggregates (`SUM(SUM(x)) OVER (PARTITION BY a)`) is written as it is, with a note on
the grouping it needs. A FIXED function becomes a window over the group aggregates:
`SUM(x) FIXED (BY a)` is `SUM(SUM(x)) OVER (PARTITION BY a)`, COUNT is recombined with SUM,
AVG as SUM / COUNT; in a query grouped by columns that include `a`, every group holds one FIXED
partition, so MAX, MIN and AVG of the FIXED value are the value itself (and SUM, as the Dojo
FIXED discussion shows for FIXED ()). What depends on the card's grouping or filters (ADD,
REMOVE, FILTER) or needs a subquery is reported.
"""

from __future__ import annotations

from sqlglot import exp

from evidence.formulas.dialect import Fixed
from evidence.formulas.translate.generator import Emitter, rule
from evidence.formulas.tree import Context, call_name, is_aggregate, strip_parens


# --- aggregates -------------------------------------------------------------------------------------
def _fixed_argument(node: exp.Expr) -> Fixed | None:
    argument = strip_parens(node.this) if isinstance(node.this, exp.Expr) else None
    return argument if isinstance(argument, Fixed) else None


@rule("SUM", "MIN", "MAX", "COUNT")
def _aggregate(g: Emitter, node: exp.Expr) -> str:
    fixed = _fixed_argument(node)
    if fixed is not None:
        return _outer_of_fixed(g, node, fixed)
    distinct = node.this if isinstance(node.this, exp.Distinct) else None
    if distinct is not None and len(distinct.expressions) != 1:
        return g.fail(
            f"{g.text(node)} counts distinct combinations of several columns, which {g.engine} cannot."
        )
    return g.plain(node)


@rule("AVG")
def _avg(g: Emitter, node: exp.Expr) -> str:
    fixed = _fixed_argument(node)
    if fixed is not None:
        return _outer_of_fixed(g, node, fixed)
    argument = g.sql(node.this)
    if g.target == "tsql" and g.type_of(node.this) != "DOUBLE":
        argument = f"CAST({argument} AS FLOAT)"  # T-SQL's AVG of integers truncates
    return f"AVG({argument})"


@rule("STDDEV", "STDDEV_POP", "VAR_POP")
def _spread(g: Emitter, node: exp.Expr) -> str:
    name = "VAR_POP" if call_name(node) == "VAR_POP" else "STDDEV_POP"
    if g.target == "sqlite":
        return g.fail(f"{g.text(node)}: SQLite has no {name}.")
    argument = g.sql(node.this)
    if g.target == "tsql":
        return f"{'VARP' if name == 'VAR_POP' else 'STDEVP'}(CAST({argument} AS FLOAT))"
    return f"{name}({argument})"


@rule("APPROXIMATE_COUNT_DISTINCT")
def _approximate_count_distinct(g: Emitter, node: exp.Anonymous) -> str:
    g.problem(
        f"{g.text(node)} is Domo's estimate; translated as an exact COUNT(DISTINCT ...), which can "
        "differ from it."
    )
    return f"COUNT(DISTINCT {g.sql(node.expressions[0])})"


# --- windows ----------------------------------------------------------------------------------------
@rule("LAG", "LEAD", "RANK", "NTILE", "FIRST_VALUE", "LAST_VALUE")
def _window_function(g: Emitter, node: exp.Expr) -> str:
    if not isinstance(node.parent, exp.Window):
        return g.fail(f"{g.text(node)} needs OVER (...).")
    return g.plain(node)


@rule(exp.Window)
def _window(g: Emitter, node: exp.Window) -> str:
    if node.find(Fixed):
        return g.fail(
            f"{g.text(node)} puts a FIXED function inside a window, which Domo refuses and SQL cannot nest."
        )
    g.note(
        "A window over aggregates: evaluate it in a query grouped by the card's axes "
        "(SELECT <axes>, <sql> FROM t GROUP BY <axes>), whose columns must include its PARTITION BY and "
        "ORDER BY columns."
    )
    return g.plain(node)


# --- FIXED ------------------------------------------------------------------------------------------
_DECOMPOSED = {"SUM": ("SUM", "SUM"), "COUNT": ("SUM", "COUNT"), "MIN": ("MIN", "MIN"), "MAX": ("MAX", "MAX")}


@rule(Fixed)
def _fixed(g: Emitter, node: Fixed) -> str:
    """`AGG(x) FIXED (BY a)` as `AGG'(AGG(x)) OVER (PARTITION BY a)` in the card's grouped query."""
    shown = g.text(node)
    if node.kind in ("add", "remove"):
        return g.fail(
            f"FIXED ({node.kind.upper()} ...) in {shown} depends on the card's grouping, which one "
            "expression cannot see, so it is not translated."
        )
    if any(isinstance(n, exp.Window) for n in g.ctx.nodes):
        return g.fail(
            f"{shown} is combined with a window function, which Domo refuses in one calculation, so the "
            "formula has no value to translate."
        )
    enclosing = [a for a in Context.ancestors(node) if is_aggregate(a) or isinstance(a, exp.Window)]
    direct = _direct_outer_aggregate(node)
    if [a for a in enclosing if a is not direct]:
        return g.fail(
            f"{shown} is used inside a row-level calculation that is aggregated afterwards, which needs "
            "a subquery, so it is not translated."
        )
    row_columns = g.ctx.row_columns_in(g.ctx.tree)
    if row_columns:
        return g.fail(
            f"{shown} is combined with the row-level column `{row_columns[0].name}`, which Domo aggregates "
            "afterwards with the card's aggregation; one grouped expression cannot, so it is not translated."
        )
    aggregate = node.this
    name = call_name(aggregate)
    distinct = isinstance(aggregate.this, exp.Distinct)
    if distinct or (name not in _DECOMPOSED and name != "AVG"):
        return g.fail(
            f"{shown}: {name}{' DISTINCT' if distinct else ''} cannot be recombined from group values, so "
            "the FIXED value is not translated."
        )
    if node.filter_mode != "all":
        g.problem(
            f"FILTER {node.filter_mode.upper()} in {shown} changes which card filters the FIXED value sees, "
            "which one expression cannot express: the window sees exactly the rows the query keeps."
        )
    by = node.args.get("by") or []
    partition = f"PARTITION BY {', '.join(g.sql(column) for column in by)}" if by else ""
    over = f"OVER ({partition})"
    argument = g.sql(aggregate.this)
    grouping = ""
    if by:
        refusal = "SQLite does not refuse it otherwise" if g.target == "sqlite" else "it is refused otherwise"
        grouping = f", which must include {', '.join(g.text(c) for c in by)} ({refusal})"
    g.note(
        "A FIXED value translated as a window over the group aggregates: evaluate it in a query grouped by "
        f"the card's axes{grouping}."
    )
    if name == "AVG":
        total = f"SUM(SUM({argument})) {over}"
        count = f"SUM(COUNT({argument})) {over}"
        cast = {"postgres": "NUMERIC", "sqlite": "REAL", "tsql": "FLOAT"}.get(g.target)
        if cast:
            total = f"CAST({total} AS {cast})"
        return f"{total} / NULLIF({count}, 0)"
    outer, inner = _DECOMPOSED[name]
    return f"{outer}({inner}({argument})) {over}"


def _direct_outer_aggregate(node: Fixed) -> exp.Expr | None:
    parent = node.parent
    while isinstance(parent, exp.Paren):
        parent = parent.parent
    return parent if parent is not None and is_aggregate(parent) and _fixed_argument(parent) is node else None


def _outer_of_fixed(g: Emitter, outer: exp.Expr, fixed: Fixed) -> str:
    """MAX/MIN/AVG/SUM of a FIXED value in a group holding one FIXED partition is that value."""
    name = call_name(outer)
    if name == "COUNT":
        return g.fail(f"{g.text(outer)} counts rows carrying a FIXED value, which is not translated.")
    if name == "SUM" and fixed.kind is None:
        g.note(
            f"{g.text(outer)} is taken as the FIXED value itself: the Dojo FIXED discussion shows SUM and "
            "MAX of a FIXED () value agree (Domo adds it once, not once per row)."
        )
    elif name == "SUM":
        g.problem(
            f"{g.text(outer)}: Domo documents no rule for adding up a FIXED (BY ...) value, so it is "
            "taken as the value itself, as SUM of a FIXED () value behaves (Dojo FIXED discussion)."
        )
    return g.sql(fixed)
