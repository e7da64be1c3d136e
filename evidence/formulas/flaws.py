"""The flaw rules: one function per code, each walking the parsed formula.

Rules keep false alarms rare: a guarded division, COUNT(DISTINCT ...), a CASE on row values, a
`THEN 1 ELSE 0` indicator or a decimal-places argument is never reported.

The rules on values written into the formula and on dates live in values.py.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator

from sqlglot import exp

from evidence.formulas import catalogue, values
from evidence.formulas.dialect import Fixed
from evidence.formulas.model import Flaw
from evidence.formulas.tree import (
    ARITHMETIC,
    COMPARISONS,
    Context,
    call_name,
    is_aggregate,
    is_id_like,
    is_zero,
    number_value,
    strip_parens,
)

NULL_DEFAULTS = ("IFNULL", "NVL", "COALESCE")


def _nullif(node: exp.Expr) -> exp.Expr:
    return exp.Nullif(this=node, expression=exp.Literal.number(0))


def _without_guard(node: exp.Expr) -> exp.Expr:
    """`x` from NULLIF(x, 0), IFNULL(x, 0) or (x)."""
    node = strip_parens(node)
    while call_name(node) in ("NULLIF", *NULL_DEFAULTS) and node.this is not None:
        node = strip_parens(node.this)
    return node


def _ratio_of_sums(ctx: Context, expression: exp.Expr) -> str:
    """The expression with every row-level a / b rewritten as SUM(a) / NULLIF(SUM(b), 0)."""
    rewritten = expression.copy()
    ratios = [div for div in rewritten.find_all(exp.Div) if ctx.row_columns_in(div.expression)]
    ratio_ids = {id(div) for div in ratios}
    for div in ratios:
        if any(id(a) in ratio_ids for a in Context.ancestors(div)):
            continue  # inside an outer ratio, which is rewritten whole
        numerator = exp.Sum(this=div.this.copy())
        denominator = _nullif(exp.Sum(this=_without_guard(div.expression).copy()))
        replacement = exp.Div(this=numerator, expression=denominator)
        if div is rewritten:
            rewritten = replacement
        else:
            div.replace(replacement)
    return ctx.sql(rewritten)


# --- rules ---------------------------------------------------------------------------------------
def aggregate_in_case_condition(ctx: Context) -> Iterator[Flaw]:
    for case in ctx.find(exp.Case):
        ifs = case.args.get("ifs") or []
        conditions = [c for c in [case.this, *(if_.this for if_ in ifs)] if c is not None]
        branches = [b for b in [*(if_.args.get("true") for if_ in ifs), case.args.get("default")] if b]
        guarded: set[str] | None = None
        for condition in conditions:
            aggregates = ctx.aggregates_in(condition, through_fixed=False)
            if aggregates and guarded is None:
                guarded = _guardable(ctx, branches)
            if aggregates and not _is_zero_guard(ctx, condition, guarded):
                shown = ctx.text(aggregates[0])
                yield ctx.flaw(
                    "AGGREGATE_IN_CASE_CONDITION",
                    case,
                    f"This CASE branches on {shown}, which is computed per card group: each total and "
                    "subtotal is classified on its own sum and disagrees with the rows it adds up.",
                    "Branch on row values and aggregate the result, or fix the grouping level with a "
                    f"FIXED function, e.g. {shown} FIXED (BY `<grouping column>`).",
                )
                break


def mixed_aggregation_level(ctx: Context) -> Iterator[Flaw]:
    """A row value and an aggregate side by side, outside any aggregate: the FAQ's "value summing"
    `CASE WHEN `Status` IN (...) THEN SUM(`Revenue`) ELSE 0 END`. Per card group there is no one
    row whose `Status` the CASE could read: Adrenaline takes any row's, so a group with mixed
    statuses is all in or all out, and totals disagree with the rows."""
    aggregates = [node for node in ctx.nodes if is_aggregate(node) and not _inside_aggregate(node)]
    if not aggregates:
        return
    for column in sorted(ctx.find(exp.Column), key=lambda c: (ctx.span(c) or (0, 0))[0]):
        if _inside_aggregate(column):
            continue
        case = next((a for a in ctx.ancestors(column) if isinstance(a, exp.Case)), None)
        anchor = case if case is not None and ctx.aggregates_in(case) else ctx.tree
        shown = ctx.text(aggregates[0])
        yield ctx.flaw(
            "MIXED_AGGREGATION_LEVEL",
            anchor,
            f"{ctx.text(column)} is read row by row next to {shown}, which is computed per card group: a "
            "group has no single row value, so Domo picks one row's and the group is taken or left "
            "whole; totals then disagree with the rows they add up.",
            "Move the condition inside the aggregate, e.g. SUM(CASE WHEN <condition> THEN `<value>` "
            "ELSE 0 END).",
        )
        return


def _inside_aggregate(node: exp.Expr) -> bool:
    """Under an aggregate, a window or a FIXED clause (partition and BY columns included)."""
    return any(
        is_aggregate(a) or isinstance(a, (exp.Window, Fixed, exp.Subquery, exp.Select))
        for a in Context.ancestors(node)
    )


def _guardable(ctx: Context, branches: list[exp.Expr]) -> set[str]:
    """Keys of what a CASE's branches compute, denominators without their NULLIF/IFNULL."""
    keys = {ctx.key(node) for branch in branches for node in branch.walk()}
    keys |= {
        ctx.key(_without_guard(div.expression)) for branch in branches for div in branch.find_all(exp.Div)
    }
    return keys


def _is_zero_guard(ctx: Context, condition: exp.Expr, denominators: set[str]) -> bool:
    """`d = 0`, `d IS NULL`, `IFNULL(d, 0) = 0` (or several, joined by OR/AND) where d is
    divided by, or returned, in the same CASE: the KB's own division guard, not a tier."""
    condition = strip_parens(condition)
    if isinstance(condition, (exp.Or, exp.And)):
        return _is_zero_guard(ctx, condition.this, denominators) and _is_zero_guard(
            ctx, condition.expression, denominators
        )
    if isinstance(condition, exp.Not):
        return _is_zero_guard(ctx, condition.this, denominators)
    if isinstance(condition, exp.Is):
        return ctx.key(_without_guard(condition.this)) in denominators
    if isinstance(condition, COMPARISONS):
        left, right = condition.this, condition.expression
        if is_zero(right):
            return ctx.key(_without_guard(left)) in denominators
        if is_zero(left):
            return ctx.key(_without_guard(right)) in denominators
    return False


def aggregate_of_row_ratio(ctx: Context) -> Iterator[Flaw]:
    for call in ctx.calls("SUM", "AVG"):
        ratios = [div for div in _row_ratios(ctx, call) if div is not call]
        if ratios:
            name = call_name(call)
            yield ctx.flaw(
                "AGGREGATE_OF_ROW_RATIO",
                call,
                f"{name} of a per-row ratio ({ctx.text(ratios[0])}): every row weighs the same whatever "
                "its size, so the result is not the ratio of the totals.",
                _ratio_of_sums(ctx, call.this) if call.find_ancestor(exp.Window, Fixed) is None else None,
            )
    if ctx.used_as == "card_value" and not any(is_aggregate(n) for n in ctx.nodes):
        ratios = [div for div in _row_ratios(ctx, ctx.tree) if div.find_ancestor(exp.Div) is None]
        if ratios:
            div = ratios[0]
            only_arithmetic = all(
                isinstance(a, (*ARITHMETIC, exp.Paren, exp.Neg)) for a in ctx.ancestors(div)
            )
            yield ctx.flaw(
                "AGGREGATE_OF_ROW_RATIO",
                div,
                "A per-row ratio used as a card value: the card applies its default SUM to it and adds "
                "up the ratios of the rows instead of dividing the totals.",
                _ratio_of_sums(ctx, ctx.tree if only_arithmetic else div),
            )


def _row_ratios(ctx: Context, node: exp.Expr) -> list[exp.Div]:
    """Divisions at row level whose denominator reads a column."""
    return [
        div
        for div in node.find_all(exp.Div)
        if ctx.row_columns_in(div.expression)
        and not any(is_aggregate(a) or isinstance(a, (exp.Window, Fixed)) for a in _between(div, node))
    ]


def _between(node: exp.Expr, top: exp.Expr) -> Iterator[exp.Expr]:
    """Ancestors of node strictly below top."""
    for ancestor in Context.ancestors(node):
        if ancestor is top:
            return
        yield ancestor


def unguarded_division(ctx: Context) -> Iterator[Flaw]:
    for div in ctx.find(exp.Div):
        denominator = strip_parens(div.expression)
        if is_zero(denominator):
            yield ctx.flaw("UNGUARDED_DIVISION", div, "Division by the constant 0.", None, "error")
            continue
        if _division_is_safe(ctx, div, denominator):
            continue
        shown = ctx.text(denominator)
        yield ctx.flaw(
            "UNGUARDED_DIVISION",
            div,
            f"{shown} can be 0 or empty for a group or row: Domo then reports a division-by-zero "
            "error (MySQL would return NULL).",
            f"{ctx.text(div.this)} / NULLIF({shown}, 0)",
        )


def _division_is_safe(ctx: Context, div: exp.Div, denominator: exp.Expr) -> bool:
    if number_value(denominator) is not None:
        return True
    if not ctx.columns_in(denominator):
        return True  # a constant expression such as (100 * 12)
    if call_name(denominator) == "NULLIF" and is_zero(denominator.expression):
        return True
    if call_name(denominator) == "COUNT" and isinstance(denominator.this, exp.Star):
        return True  # a group that exists has at least one row
    if isinstance(denominator, exp.Case):  # CASE WHEN d = 0 THEN NULL ELSE d END: NULLIF spelt out
        ifs = denominator.args.get("ifs") or []
        branches = [b for b in [*(i.args.get("true") for i in ifs), denominator.args.get("default")] if b]
        guarded = _guardable(ctx, branches)
        if any(_is_zero_guard(ctx, i.this, guarded) for i in ifs):
            return True
    wanted = ctx.key(_without_guard(denominator))
    wanted_columns = {c.name.casefold() for c in ctx.columns_in(denominator)}
    child: exp.Expr = div
    for ancestor in ctx.ancestors(div):
        if isinstance(ancestor, exp.If) and child is ancestor.args.get("true"):
            conditions = [ancestor.this]
        elif isinstance(ancestor, exp.Case) and child is ancestor.args.get("default"):
            conditions = [if_.this for if_ in ancestor.args.get("ifs") or []]
        else:
            conditions = []
        for condition in conditions:
            keys = {ctx.key(n) for n in condition.walk()}
            condition_columns = {c.name.casefold() for c in ctx.columns_in(condition)}
            if wanted in keys or (wanted_columns and wanted_columns <= condition_columns):
                return True
        child = ancestor
    return False


def count_not_distinct_on_id(ctx: Context) -> Iterator[Flaw]:
    for call in ctx.calls("COUNT"):
        argument = call.this
        if argument is None or isinstance(argument, (exp.Distinct, exp.Star)):
            continue
        values = [strip_parens(argument)]
        if isinstance(values[0], exp.Case):
            case = values[0]
            values = [if_.args.get("true") for if_ in case.args.get("ifs") or []] + [case.args.get("default")]
            values = [strip_parens(v) for v in values if v is not None and not isinstance(v, exp.Null)]
        ids = [v for v in values if isinstance(v, exp.Column) and is_id_like(v.name)]
        if ids and len(ids) == len(values):
            yield ctx.flaw(
                "COUNT_NOT_DISTINCT_ON_ID",
                call,
                f"COUNT({ctx.text(argument)}) counts rows: an id repeated by reversals, rebills or "
                "duplicate rows is counted each time it appears.",
                f"COUNT(DISTINCT {ctx.text(argument)})",
            )


def nested_aggregate(ctx: Context) -> Iterator[Flaw]:
    reported: set[int] = set()
    for inner in ctx.nodes:
        if not is_aggregate(inner):
            continue
        path = []
        outer = None
        for ancestor in ctx.ancestors(inner):
            if is_aggregate(ancestor):
                outer = ancestor
                break
            path.append(ancestor)
        if outer is None or id(outer) in reported:
            continue
        if any(isinstance(node, Fixed) for node in path):
            continue  # MAX(SUM(x) FIXED (BY a)): an aggregate over a FIXED result
        if isinstance(outer.parent, exp.Window) and outer.parent.this is outer:
            continue  # SUM(SUM(x)) OVER (...): a window over the grouped result
        reported.add(id(outer))
        text = ctx.text(outer)
        yield ctx.flaw(
            "NESTED_AGGREGATE",
            outer,
            f"{text} puts {ctx.text(inner)} inside another aggregate without OVER (...) or FIXED (...): "
            "Beast Mode cannot evaluate it.",
            f"{text} OVER ()  -- or {call_name(outer)}({ctx.text(inner)} FIXED (BY `<column>`))",
        )


def unknown_column(ctx: Context) -> Iterator[Flaw]:
    if ctx.schema is None:
        return
    seen: set[str] = set()
    for column in sorted(ctx.find(exp.Column), key=lambda c: (ctx.span(c) or (0, 0))[0]):
        name = column.name
        if ctx.resolve(name) is not None or name.casefold() in seen:
            continue
        seen.add(name.casefold())
        folded = {n.casefold(): n for n in ctx.schema}
        close = difflib.get_close_matches(name.casefold(), list(folded), n=1, cutoff=0.6)
        yield ctx.flaw(
            "UNKNOWN_COLUMN",
            column,
            f"`{name}` is not a column of this dataset.",
            f"`{folded[close[0]]}`" if close else None,
        )


def unsupported_function(ctx: Context) -> Iterator[Flaw]:
    for node in ctx.nodes:
        name = call_name(node)
        if name is None:
            continue
        info = catalogue.lookup(name)
        if info is not None and info.support == "yes":
            continue
        args = [ctx.text(a) for a in ctx.arguments(node)]
        template = catalogue.REPLACEMENTS.get(name)
        suggestion = template.format(*args, *["…"] * 3) if template else None
        if info is None:
            message, severity = f"{name} is not in Domo's Beast Mode catalogue.", "warning"
        elif info.support == "substituted":
            message, severity = f"{name} is not supported: {info.note}.", "warning"
        else:
            message, severity = f"{name} is not supported in Beast Mode ({info.note}).", "error"
        yield ctx.flaw("UNSUPPORTED_FUNCTION", node, message, suggestion, severity)


def fixed_or_window_restriction(ctx: Context) -> Iterator[Flaw]:
    fixed, windows = list(ctx.find(Fixed)), list(ctx.find(exp.Window))
    if fixed and windows:
        yield ctx.flaw(
            "FIXED_OR_WINDOW_RESTRICTION",
            windows[0],
            "This calculation combines FIXED (...) with OVER (...): Domo does not accept FIXED and window "
            "functions in the same calculation.",
            "Split it into two beast modes, one with the FIXED function and one with the window.",
        )
    if ctx.used_as == "filter" and fixed:
        yield ctx.flaw(
            "FIXED_OR_WINDOW_RESTRICTION",
            fixed[0],
            "A calculation containing a FIXED function cannot be used as a card or dashboard filter.",
        )
    elif ctx.used_as == "filter" and windows:
        yield ctx.flaw(
            "FIXED_OR_WINDOW_RESTRICTION",
            windows[0],
            "A window function's result cannot be filtered: Domo applies filters before the window.",
        )


def distinct_count_recombined(ctx: Context) -> Iterator[Flaw]:
    for window in ctx.find(exp.Window):
        outer = window.this
        inner = strip_parens(outer.this) if call_name(outer) == "SUM" and outer.this is not None else None
        distinct = call_name(inner) == "APPROXIMATE_COUNT_DISTINCT" or (
            call_name(inner) == "COUNT" and isinstance(inner.this, exp.Distinct)
        )
        if distinct:
            yield ctx.flaw(
                "DISTINCT_COUNT_RECOMBINED",
                window,
                f"{ctx.text(window)} adds up distinct counts of the card's groups: an id present in "
                "several groups is counted once per group.",
                f"{ctx.text(inner)} FIXED (BY `<partition column>`), wrapped in MAX, counts each id once.",
            )


RULES: tuple[Callable[[Context], Iterator[Flaw]], ...] = (
    aggregate_in_case_condition,
    mixed_aggregation_level,
    aggregate_of_row_ratio,
    unguarded_division,
    values.non_deterministic,
    values.hardcoded_assumption,
    count_not_distinct_on_id,
    values.string_literal_as_column,
    nested_aggregate,
    values.date_arithmetic,
    values.week_mode,
    unknown_column,
    unsupported_function,
    fixed_or_window_restriction,
    distinct_count_recombined,
)
