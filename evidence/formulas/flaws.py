"""The flaw rules: one function per code, each walking the parsed formula.

Rules keep false alarms rare: a guarded division, COUNT(DISTINCT ...), a CASE on row values, a
`THEN 1 ELSE 0` indicator or a decimal-places argument is never reported.

HARDCODED_ASSUMPTION, the exact rule. Reported:
* every date literal ('2025-01-01', '1/31/2025', with or without a time);
* a number, other than the neutral values below, that is an operand of + - * / or MOD, a value of
  a CASE branch (THEN/ELSE) other than a small integer code (-10..10), a non-structural function
  argument (IFNULL(x, 5)), an INTERVAL quantity other than 0 and 1, the whole formula, or one side
  of a comparison whose other side holds an aggregate (a threshold on a group total);
Not reported: 0, 1, -1 and 100 (percent scaling) anywhere; unit conversions 7, 12, 24, 60, 1000,
3600, 86400 and 1000000 in arithmetic; numbers compared with row values (`Days Supply` >= 84,
`x` IN (1, 2): categories, not assumptions); structural arguments (catalogue.STRUCTURAL_ARGS:
ROUND places, SUBSTRING positions, WEEK modes, LAG offsets, NTILE buckets...); window frames.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator

from sqlglot import exp

from evidence.formulas import catalogue
from evidence.formulas.dialect import Fixed
from evidence.formulas.model import FLAW_CODES, Flaw
from evidence.formulas.tree import (
    ARITHMETIC,
    COMPARISONS,
    DATE_LITERAL,
    Context,
    call_name,
    is_aggregate,
    is_id_like,
    number_value,
    strip_parens,
)

NEUTRAL_NUMBERS = frozenset({0.0, 1.0, -1.0, 100.0})
UNIT_NUMBERS = frozenset({7.0, 12.0, 24.0, 60.0, 1000.0, 3600.0, 86400.0, 1000000.0})
NULL_DEFAULTS = ("IFNULL", "NVL", "COALESCE")
# Functions whose string arguments are text to parse or format, not column names.
TEXT_ARGUMENT_FUNCTIONS = frozenset(
    "STR_TO_DATE TO_DATE TO_NUMBER TO_CHAR DATE_FORMAT TIME_FORMAT CONCAT REPLACE INSTR STRPOS LPAD RPAD "
    "LISTAGG".split()
)
SUGGESTED_REPLACEMENTS = {
    "SQRT": "POWER({0}, 0.5)",
    "WEEKDAY": "MOD(DAYOFWEEK({0}) + 5, 7)  -- MySQL's WEEKDAY numbering (0 = Monday) in Domo",
    "IF": "CASE WHEN {0} THEN {1} ELSE {2} END",
    "CEIL": "CEILING({0})",
    "SUBSTR": "SUBSTRING({0}, {1}, {2})",
    "CONVERT_TZ": None,
}


def _flaw(ctx: Context, code: str, node: exp.Expr | None, message: str, suggestion: str | None = None,
          severity: str | None = None) -> Flaw:
    span = ctx.span(node) if node is not None else None
    snippet = ctx.text(node) if node is not None else ctx.formula
    return Flaw(
        code=code,
        severity=severity or FLAW_CODES[code].severity,
        snippet=snippet,
        message=message,
        suggestion=suggestion,
        start=span[0] if span else None,
        end=span[1] if span else None,
    )


def _nullif(node: exp.Expr) -> exp.Expr:
    return exp.Nullif(this=node, expression=exp.Literal.number(0))


def _without_guard(node: exp.Expr) -> exp.Expr:
    """`x` from NULLIF(x, 0), IFNULL(x, 0) or (x)."""
    node = strip_parens(node)
    while call_name(node) in ("NULLIF", *NULL_DEFAULTS) and node.this is not None:
        node = strip_parens(node.this)
    return node


def _is_zero(node: exp.Expr | None) -> bool:
    return node is not None and number_value(node) == 0


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
        denominators = {
            ctx.key(_without_guard(div.expression))
            for branch in [*(if_.args.get("true") for if_ in ifs), case.args.get("default")]
            if branch is not None
            for div in branch.find_all(exp.Div)
        }
        for condition in conditions:
            aggregates = ctx.aggregates_in(condition, through_fixed=False)
            if aggregates and not _is_zero_guard(ctx, condition, denominators):
                shown = ctx.text(aggregates[0])
                yield _flaw(
                    ctx, "AGGREGATE_IN_CASE_CONDITION", case,
                    f"This CASE branches on {shown}, which is computed per card group: each total and "
                    "subtotal is classified on its own sum and disagrees with the rows it adds up.",
                    "Branch on row values and aggregate the result, or fix the grouping level with a "
                    f"FIXED function, e.g. {shown} FIXED (BY `<grouping column>`).",
                )
                break


def _is_zero_guard(ctx: Context, condition: exp.Expr, denominators: set[str]) -> bool:
    """`d = 0`, `d IS NULL`, `IFNULL(d, 0) = 0` (or several, joined by OR/AND) where d is a
    denominator divided by inside the same CASE: the KB's own division guard."""
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
        if _is_zero(right):
            return ctx.key(_without_guard(left)) in denominators
        if _is_zero(left):
            return ctx.key(_without_guard(right)) in denominators
    return False


def aggregate_of_row_ratio(ctx: Context) -> Iterator[Flaw]:
    for call in ctx.calls("SUM", "AVG"):
        ratios = [div for div in _row_ratios(ctx, call) if div is not call]
        if ratios:
            name = call_name(call)
            yield _flaw(
                ctx, "AGGREGATE_OF_ROW_RATIO", call,
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
            yield _flaw(
                ctx, "AGGREGATE_OF_ROW_RATIO", div,
                "A per-row ratio used as a card value: the card applies its default SUM to it and adds "
                "up the ratios of the rows instead of dividing the totals.",
                _ratio_of_sums(ctx, ctx.tree if only_arithmetic else div),
            )


def _row_ratios(ctx: Context, node: exp.Expr) -> list[exp.Div]:
    """Divisions at row level whose denominator reads a column."""
    return [
        div for div in node.find_all(exp.Div)
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
        if _is_zero(denominator):
            yield _flaw(ctx, "UNGUARDED_DIVISION", div, "Division by the constant 0.", None, "error")
            continue
        if _division_is_safe(ctx, div, denominator):
            continue
        shown = ctx.text(denominator)
        yield _flaw(
            ctx, "UNGUARDED_DIVISION", div,
            f"{shown} can be 0 or empty for a group or row: Domo then reports a division-by-zero "
            "error (MySQL would return NULL).",
            f"{ctx.text(div.this)} / NULLIF({shown}, 0)",
        )


def _division_is_safe(ctx: Context, div: exp.Div, denominator: exp.Expr) -> bool:
    if number_value(denominator) is not None:
        return True
    if not ctx.columns_in(denominator):
        return True  # a constant expression such as (100 * 12)
    if call_name(denominator) == "NULLIF" and _is_zero(denominator.expression):
        return True
    if call_name(denominator) == "COUNT" and isinstance(denominator.this, exp.Star):
        return True  # a group that exists has at least one row
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


def non_deterministic(ctx: Context) -> Iterator[Flaw]:
    for call in ctx.calls(*catalogue.NON_DETERMINISTIC):
        name = call_name(call)
        if name in ("RAND", "RANDOM"):
            if ctx.arguments(call):
                continue  # seeded: REF's RAND(col) example
            message = f"{name}() returns a different value every time the card renders."
            suggestion = None
        elif name == "UNIX_TIMESTAMP" and ctx.arguments(call):
            continue
        else:
            message = (f"{ctx.text(call)} is the moment the card renders: the value changes from day to "
                       "day (and near midnight with the instance time zone) and cannot be reproduced.")
            suggestion = ("Compare with a governed as-of date instead, such as the dataset's last update "
                          "or a reporting-date column.")
        yield _flaw(ctx, "NON_DETERMINISTIC", call, message, suggestion)


def hardcoded_assumption(ctx: Context) -> Iterator[Flaw]:
    for literal in ctx.find(exp.Literal):
        if isinstance(literal.parent, exp.Interval):
            continue  # below, with its unit
        if literal.is_string:
            if not DATE_LITERAL.match(literal.this):
                continue
            node, kind = literal, "date"
        else:
            node = literal.parent if isinstance(literal.parent, exp.Neg) else literal
            if not _number_is_assumption(ctx, node):
                continue
            kind = "number"
        yield _assumption(ctx, node, f"The {kind} {ctx.text(node)}")
    for interval in ctx.find(exp.Interval):
        if _is_assumed_quantity(interval.this):
            yield _assumption(ctx, interval, f"The interval {ctx.text(interval)}")
    # DATE_ADD(d, INTERVAL 3 HOUR) parses into DateAdd(d, '3', HOUR): the INTERVAL node is gone.
    for call in ctx.find(exp.DateAdd, exp.DateSub):
        if not isinstance(call.expression, exp.Interval) and _is_assumed_quantity(call.expression):
            text, span = ctx.text(call), ctx.span(call)
            match = _INTERVAL.search(text)
            if match is None or span is None:
                yield _assumption(ctx, call, f"The interval in {text}")
                continue
            start = span[0] + match.start()
            yield Flaw("HARDCODED_ASSUMPTION", FLAW_CODES["HARDCODED_ASSUMPTION"].severity, match.group(0),
                       _assumption_message(f"The interval {match.group(0)}"), _ASSUMPTION_SUGGESTION,
                       start, start + len(match.group(0)))


_INTERVAL = re.compile(r"INTERVAL\s+[^,)]+?(?=\s*[,)])", re.IGNORECASE)
_ASSUMPTION_SUGGESTION = ("Record it as a governed assumption (value, source, owner, effective dates) or read "
                          "it from a dataset column, e.g. the contract terms, instead of the formula.")


def _assumption_message(what: str) -> str:
    return (f"{what} is written into the formula: a business assumption (a rate, a threshold, a date, a "
            "time-zone offset) that no governed source backs.")


def _assumption(ctx: Context, node: exp.Expr, what: str) -> Flaw:
    return _flaw(ctx, "HARDCODED_ASSUMPTION", node, _assumption_message(what), _ASSUMPTION_SUGGESTION)


def _is_assumed_quantity(node: exp.Expr | None) -> bool:
    """An INTERVAL quantity other than 0 or 1 (numbers arrive as strings: INTERVAL '3' DAY)."""
    if isinstance(node, exp.Literal):
        try:
            return abs(float(node.this)) not in (0.0, 1.0)
        except ValueError:
            return False
    return False


def _number_is_assumption(ctx: Context, node: exp.Expr) -> bool:
    value = number_value(node)
    if value is None or value in NEUTRAL_NUMBERS:
        return False
    parent = node.parent
    while isinstance(parent, exp.Paren):
        node, parent = parent, parent.parent
    if parent is None:
        return True
    if isinstance(parent, ARITHMETIC):
        return value not in UNIT_NUMBERS
    if isinstance(parent, exp.If) and node is parent.args.get("true") or (
        isinstance(parent, exp.Case) and node is parent.args.get("default")
    ):
        return not (value.is_integer() and abs(value) <= 10)
    if isinstance(parent, (*COMPARISONS, exp.Between)):
        others = [child for child in parent.iter_expressions() if child is not node]
        return any(ctx.aggregates_in(other) or other.find(Fixed) for other in others)
    if isinstance(parent, exp.If) or isinstance(parent, (exp.In, exp.Case, exp.WindowSpec, exp.Interval)):
        return False  # simple-CASE WHEN values and IN lists compare with row values; frames
    call, argument = ctx.argument_of(node)
    if call is not None:
        index = ctx.argument_index(call, argument)
        return index not in catalogue.STRUCTURAL_ARGS.get(call_name(call), frozenset())
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
            yield _flaw(
                ctx, "COUNT_NOT_DISTINCT_ON_ID", call,
                f"COUNT({ctx.text(argument)}) counts rows: an id repeated by reversals, rebills or "
                "duplicate rows is counted each time it appears.",
                f"COUNT(DISTINCT {ctx.text(argument)})",
            )


def string_literal_as_column(ctx: Context) -> Iterator[Flaw]:
    for literal in ctx.find(exp.Literal):
        if not literal.is_string or isinstance(literal.parent, exp.Interval):
            continue
        target = _column_expected_at(ctx, literal)
        if target is None:
            continue
        resolved = ctx.resolve(literal.this) if ctx.schema is not None else None
        looks_like_value = bool(DATE_LITERAL.match(literal.this)) or _numeric(literal.this)
        if resolved is None and (looks_like_value or target == "weak"):
            continue
        name = resolved or literal.this
        shown = ctx.text(literal)
        container = literal.parent if isinstance(literal.parent, COMPARISONS) else ctx.argument_of(literal)[0]
        container = container or literal
        text = ctx.text(container)
        yield _flaw(
            ctx, "STRING_LITERAL_AS_COLUMN", container,
            f"{shown} is a string, not the column `{name}`: {text} works on the text itself "
            "(single quotes make a string; column names take back-quotes).",
            text.replace(shown, f"`{name}`", 1),
        )


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _column_expected_at(ctx: Context, literal: exp.Literal) -> str | None:
    """"strong" where only a column makes sense (an aggregate, date or math argument, an
    arithmetic operand, a FIXED or PARTITION BY list), "weak" where a name matching the schema
    is suspicious (a comparison with a number or a string), None elsewhere."""
    parent = literal.parent
    if isinstance(parent, ARITHMETIC) or isinstance(parent, (Fixed, exp.Window)):
        return "strong"
    if isinstance(parent, exp.Ordered) and isinstance(parent.parent, exp.Order) and parent.parent.find_ancestor(
            exp.Window):
        return "strong"
    if isinstance(parent, COMPARISONS):
        other = parent.expression if literal is parent.this else parent.this
        return "weak" if isinstance(strip_parens(other), exp.Literal) else None
    call, argument = ctx.argument_of(literal)
    if call is None:
        return None
    name = call_name(call)
    info = catalogue.lookup(name)
    if info is None or name in TEXT_ARGUMENT_FUNCTIONS or info.kind in ("string", "logical"):
        return None
    if name in catalogue.STRUCTURAL_ARGS and ctx.argument_index(call, argument) in catalogue.STRUCTURAL_ARGS[name]:
        return None
    return "strong" if info.kind in ("aggregate", "date", "math", "window") else None


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
        yield _flaw(
            ctx, "NESTED_AGGREGATE", outer,
            f"{text} puts {ctx.text(inner)} inside another aggregate without OVER (...) or FIXED (...): "
            "Beast Mode cannot evaluate it.",
            f"{text} OVER ()  -- or {call_name(outer)}({ctx.text(inner)} FIXED (BY `<column>`))",
        )


def date_arithmetic(ctx: Context) -> Iterator[Flaw]:
    for node in ctx.find(exp.Sub, exp.Add):
        left, right = node.this, node.expression
        if isinstance(strip_parens(left), exp.Interval) or isinstance(strip_parens(right), exp.Interval):
            continue
        left_date, right_date = ctx.is_date(left), ctx.is_date(right)
        if isinstance(node, exp.Sub) and left_date and right_date:
            yield _flaw(
                ctx, "DATE_ARITHMETIC", node,
                f"{ctx.text(node)} subtracts dates as YYYYMMDD numbers (MySQL semantics): 2025-12-31 minus "
                "2025-01-01 gives 1130, not 364.",
                f"DATEDIFF({ctx.text(left)}, {ctx.text(right)})",
            )
        elif left_date != right_date:
            date, number = (left, right) if left_date else (right, left)
            function = "DATE_SUB" if isinstance(node, exp.Sub) else "DATE_ADD"
            yield _flaw(
                ctx, "DATE_ARITHMETIC", node,
                f"{ctx.text(node)} adds a number to a date as a YYYYMMDD number, not a number of days.",
                f"{function}({ctx.text(date)}, INTERVAL {ctx.text(number)} DAY)",
            )


def week_mode(ctx: Context) -> Iterator[Flaw]:
    for call in ctx.calls("WEEK", "YEARWEEK"):
        args = ctx.arguments(call)
        name = call_name(call)
        first = ctx.text(args[0]) if args else "`date`"
        if len(args) < 2:
            yield _flaw(
                ctx, "WEEK_MODE", call,
                f"{name} without a mode: Beast Mode counts the first partial week as week 1, MySQL's "
                "default mode and Magic ETL start at the first Sunday, so the numbers disagree.",
                f"{name}({first}, 11)  -- 11: Sunday to Saturday; 22: Monday to Sunday",
            )
        elif number_value(args[1]) not in (11.0, 22.0):
            yield _flaw(
                ctx, "WEEK_MODE", call,
                f"{name} mode {ctx.text(args[1])} is a MySQL mode; Domo documents only 11 (Sunday to "
                "Saturday) and 22 (Monday to Sunday).",
                f"{name}({first}, 11)",
            )
    for call in ctx.calls("DAYOFWEEK"):
        parent = call.parent
        while isinstance(parent, exp.Paren):
            parent = parent.parent
        if isinstance(parent, (*COMPARISONS, exp.In, exp.Between)):
            values = [number_value(c) for c in parent.iter_expressions() if c is not call]
            values += [number_value(c) for c in parent.args.get("expressions") or []]
            impossible = [v for v in values if v is not None and not 1 <= v <= 7]
            if impossible:
                yield _flaw(
                    ctx, "WEEK_MODE", parent,
                    f"DAYOFWEEK runs from 1 (Sunday) to 7 (Saturday): comparing it with {impossible[0]:g} "
                    "never matches.",
                    "Use 1 for Sunday, 2 for Monday ... 7 for Saturday.",
                )
    for call in ctx.calls("DATE_FORMAT", "TIME_FORMAT"):
        if "%w" in ctx.text(call):
            yield _flaw(
                ctx, "WEEK_MODE", call,
                "%w is documented by Domo as 1-7 with Sunday = 1, but MySQL's %w is 0-6 with Sunday = 0.",
                "Use DAYOFWEEK(date) (1 = Sunday) when the number matters.",
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
        yield _flaw(
            ctx, "UNKNOWN_COLUMN", column,
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
        template = SUGGESTED_REPLACEMENTS.get(name)
        suggestion = template.format(*args, *["…"] * 3) if template else None
        if info is None:
            message, severity = f"{name} is not in Domo's Beast Mode catalogue.", "warning"
        elif info.support == "substituted":
            message, severity = f"{name} is not supported: {info.note}.", "warning"
        else:
            message, severity = f"{name} is not supported in Beast Mode ({info.note}).", "error"
        yield _flaw(ctx, "UNSUPPORTED_FUNCTION", node, message, suggestion, severity)


RULES: tuple[Callable[[Context], Iterator[Flaw]], ...] = (
    aggregate_in_case_condition,
    aggregate_of_row_ratio,
    unguarded_division,
    non_deterministic,
    hardcoded_assumption,
    count_not_distinct_on_id,
    string_literal_as_column,
    nested_aggregate,
    date_arithmetic,
    week_mode,
    unknown_column,
    unsupported_function,
)
