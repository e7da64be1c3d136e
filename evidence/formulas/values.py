"""Rules on the values a formula writes down and on dates: NON_DETERMINISTIC,
HARDCODED_ASSUMPTION, STRING_LITERAL_AS_COLUMN, DATE_ARITHMETIC, WEEK_MODE.

HARDCODED_ASSUMPTION, the exact rule. Reported:
* every date literal ('2025-01-01', '1/31/2025', with or without a time);
* a number, other than the neutral values below, that is an operand of + - * / or MOD, a value of
  a CASE branch (THEN/ELSE) other than a small integer code (-10..10), a non-structural function
  argument (IFNULL(x, 5)), an INTERVAL quantity other than 0 and 1, the whole formula, or one side
  of a comparison whose other side holds an aggregate (a threshold on a group total);
* a year (an integer from 1900 to 2099) compared with a year: YEAR(...) or a column named like
  one (`Year`, `Fiscal Year`, `FY`): `Year` = 2021 is a period written into the formula;
* a year written into a text ('2017 Booked Rev', '<b>2021</b>'), other than date formats (%) and
  URLs: a label that goes stale when the period moves;
Not reported: 0, 1, -1 and 100 (percent scaling) anywhere; unit conversions 7, 12, 24, 60, 1000,
3600, 86400 and 1000000 in arithmetic; numbers compared with row values (`Days Supply` >= 84,
`x` IN (1, 2): categories, not assumptions); structural arguments (catalogue.STRUCTURAL_ARGS:
ROUND places, SUBSTRING positions, WEEK modes, LAG offsets, NTILE buckets...); window frames.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

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
    number_value,
    strip_parens,
)

_YEAR_IN_TEXT = re.compile(r"\b(19|20)\d{2}\b")
_YEAR_NAME = re.compile(r"year|\byr\b|\bfy\b", re.IGNORECASE)
NEUTRAL_NUMBERS = frozenset({0.0, 1.0, -1.0, 100.0})
UNIT_NUMBERS = frozenset({7.0, 12.0, 24.0, 60.0, 1000.0, 3600.0, 86400.0, 1000000.0})


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
            message = (
                f"{ctx.text(call)} is the moment the card renders: the value changes from day to "
                "day (and near midnight with the instance time zone) and cannot be reproduced."
            )
            suggestion = (
                "Compare with a governed as-of date instead, such as the dataset's last update "
                "or a reporting-date column."
            )
        yield ctx.flaw("NON_DETERMINISTIC", call, message, suggestion)


def hardcoded_assumption(ctx: Context) -> Iterator[Flaw]:
    for literal in ctx.find(exp.Literal):
        if isinstance(literal.parent, exp.Interval):
            continue  # below, with its unit
        if literal.is_string:
            if not DATE_LITERAL.match(literal.this):
                year = _year_in_text(literal.this)
                if year is not None:
                    yield _assumption(ctx, literal, f"The year {year} in the text {ctx.text(literal)}")
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
            yield Flaw(
                "HARDCODED_ASSUMPTION",
                FLAW_CODES["HARDCODED_ASSUMPTION"].severity,
                match.group(0),
                _assumption_message(f"The interval {match.group(0)}"),
                _ASSUMPTION_SUGGESTION,
                start,
                start + len(match.group(0)),
            )


_INTERVAL = re.compile(r"INTERVAL\s+[^,)]+?(?=\s*[,)])", re.IGNORECASE)
_ASSUMPTION_SUGGESTION = (
    "Record it as a governed assumption (value, source, owner, effective dates) or read "
    "it from a dataset column, e.g. the contract terms, instead of the formula."
)


def _assumption_message(what: str) -> str:
    return (
        f"{what} is written into the formula: a business assumption (a rate, a threshold, a date, a "
        "time-zone offset) that no governed source backs."
    )


def _assumption(ctx: Context, node: exp.Expr, what: str) -> Flaw:
    return ctx.flaw("HARDCODED_ASSUMPTION", node, _assumption_message(what), _ASSUMPTION_SUGGESTION)


def _year_in_text(text: str) -> str | None:
    if "%" in text or "://" in text:
        return None  # a date format or a link
    match = _YEAR_IN_TEXT.search(text)
    return match.group(0) if match else None


def _is_year(value: float) -> bool:
    return value.is_integer() and 1900 <= value <= 2099


def _is_year_expression(node: exp.Expr) -> bool:
    """YEAR(...), or a column named like a year (`Year`, `Fiscal Year`, `FY`)."""
    node = strip_parens(node)
    if call_name(node) == "YEAR":
        return True
    return isinstance(node, exp.Column) and bool(_YEAR_NAME.search(node.name))


def _is_clock_hour(node: exp.Expr) -> bool:
    """HOUR(NOW()) and the like: the hour of the moment the card renders."""
    node = strip_parens(node)
    return call_name(node) == "HOUR" and any(
        call_name(n) in catalogue.NON_DETERMINISTIC for n in node.walk() if n is not node
    )


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
    if (
        isinstance(parent, exp.If)
        and node is parent.args.get("true")
        or (isinstance(parent, exp.Case) and node is parent.args.get("default"))
    ):
        return not (value.is_integer() and abs(value) <= 10)
    if isinstance(parent, (*COMPARISONS, exp.Between, exp.In)):
        others = [child for child in parent.iter_expressions() if child is not node]
        if _is_year(value) and any(_is_year_expression(other) for other in others):
            return True  # `Year` = 2021: a period written into the formula
        if any(_is_clock_hour(other) for other in others):
            return True  # HOUR(CURRENT_TIMESTAMP()) < 8: a time-zone offset
        if isinstance(parent, exp.In):
            return False
        return any(ctx.aggregates_in(other) or other.find(Fixed) for other in others)
    if isinstance(parent, (exp.If, exp.In, exp.Case, exp.WindowSpec, exp.Interval)):
        return False  # simple-CASE WHEN values and IN lists compare with row values; frames
    call, argument = ctx.argument_of(node)
    if call is not None:
        index = ctx.argument_index(call, argument)
        return index not in catalogue.STRUCTURAL_ARGS.get(call_name(call), frozenset())
    return False


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
        yield ctx.flaw(
            "STRING_LITERAL_AS_COLUMN",
            container,
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
    """ "strong" where only a column makes sense (an aggregate, date or math argument, an
    arithmetic operand, a FIXED or PARTITION BY list), "weak" where a name matching the schema
    is suspicious (a comparison with a number or a string), None elsewhere."""
    parent = literal.parent
    if isinstance(parent, (*ARITHMETIC, Fixed, exp.Window)):
        return "strong"
    if (
        isinstance(parent, exp.Ordered)
        and isinstance(parent.parent, exp.Order)
        and parent.parent.find_ancestor(exp.Window)
    ):
        return "strong"
    if isinstance(parent, COMPARISONS):
        other = parent.expression if literal is parent.this else parent.this
        return "weak" if isinstance(strip_parens(other), exp.Literal) else None
    call, argument = ctx.argument_of(literal)
    if call is None:
        return None
    name = call_name(call)
    info = catalogue.lookup(name)
    if info is None or name in catalogue.TEXT_ARGUMENT_FUNCTIONS or info.kind in ("string", "logical"):
        return None
    if (
        name in catalogue.STRUCTURAL_ARGS
        and ctx.argument_index(call, argument) in catalogue.STRUCTURAL_ARGS[name]
    ):
        return None
    return "strong" if info.kind in ("aggregate", "date", "math", "window") else None


def date_arithmetic(ctx: Context) -> Iterator[Flaw]:
    for node in ctx.find(exp.Sub, exp.Add):
        left, right = node.this, node.expression
        if isinstance(strip_parens(left), exp.Interval) or isinstance(strip_parens(right), exp.Interval):
            continue
        left_date, right_date = ctx.is_date(left), ctx.is_date(right)
        if isinstance(node, exp.Sub) and left_date and right_date:
            yield ctx.flaw(
                "DATE_ARITHMETIC",
                node,
                f"{ctx.text(node)} subtracts dates as YYYYMMDD numbers (MySQL semantics): 2025-12-31 minus "
                "2025-01-01 gives 1130, not 364.",
                f"DATEDIFF({ctx.text(left)}, {ctx.text(right)})",
            )
        elif left_date != right_date:
            date, number = (left, right) if left_date else (right, left)
            function = "DATE_SUB" if isinstance(node, exp.Sub) else "DATE_ADD"
            yield ctx.flaw(
                "DATE_ARITHMETIC",
                node,
                f"{ctx.text(node)} adds a number to a date as a YYYYMMDD number, not a number of days.",
                f"{function}({ctx.text(date)}, INTERVAL {ctx.text(number)} DAY)",
            )


def week_mode(ctx: Context) -> Iterator[Flaw]:
    for call in ctx.calls("WEEK", "YEARWEEK"):
        args = ctx.arguments(call)
        name = call_name(call)
        first = ctx.text(args[0]) if args else "`date`"
        if len(args) < 2:
            yield ctx.flaw(
                "WEEK_MODE",
                call,
                f"{name} without a mode: Beast Mode counts the first partial week as week 1, MySQL's "
                "default mode and Magic ETL start at the first Sunday, so the numbers disagree.",
                f"{name}({first}, 11)  -- 11: Sunday to Saturday; 22: Monday to Sunday",
            )
        elif number_value(args[1]) not in (11.0, 22.0):
            yield ctx.flaw(
                "WEEK_MODE",
                call,
                f"{name} mode {ctx.text(args[1])} is a MySQL mode; Domo documents only 11 (Sunday to "
                "Saturday) and 22 (Monday to Sunday).",
                f"{name}({first}, 11)",
            )
    yield from _week_start_arithmetic(ctx)
    for call in ctx.calls("WEEKOFYEAR"):
        yield ctx.flaw(
            "WEEK_MODE",
            call,
            f"{ctx.text(call)} is the ISO week (Monday to Sunday, 52 or 53 weeks, and the first days "
            "of January can be week 52 or 53 of the year before): it follows neither YEAR() of the "
            "same date nor Domo's week-start setting.",
            f"WEEK({ctx.text(ctx.arguments(call)[0]) if ctx.arguments(call) else '`date`'}, 11)  "
            "-- 11: Sunday to Saturday; 22: Monday to Sunday",
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
                yield ctx.flaw(
                    "WEEK_MODE",
                    parent,
                    f"DAYOFWEEK runs from 1 (Sunday) to 7 (Saturday): comparing it with {impossible[0]:g} "
                    "never matches.",
                    "Use 1 for Sunday, 2 for Monday ... 7 for Saturday.",
                )
    for call in ctx.calls("DATE_FORMAT", "TIME_FORMAT"):
        if "%w" in ctx.text(call):
            yield ctx.flaw(
                "WEEK_MODE",
                call,
                "%w is documented by Domo as 1-7 with Sunday = 1, but MySQL's %w is 0-6 with Sunday = 0.",
                "Use DAYOFWEEK(date) (1 = Sunday) when the number matters.",
            )


_DATE_SHIFTS = ("ADDDATE", "SUBDATE", "DATE_ADD", "DATE_SUB")


def _week_start_arithmetic(ctx: Context) -> Iterator[Flaw]:
    """SUBDATE(d, DAYOFWEEK(d) - 1), DATE_SUB(d, INTERVAL WEEKDAY(d) DAY), d - DAYOFWEEK(d): a
    week start worked out by hand. Which day it lands on is fixed by the arithmetic (and, for
    WEEKDAY, by Domo's silent DAYOFWEEK substitution), not by the company's week-start setting
    that the card's week grain follows, so the two week columns disagree."""
    for shift in ctx.calls(*_DATE_SHIFTS):
        arguments = ctx.arguments(shift)
        date = arguments[0] if arguments else None
        days = [
            node
            for node in shift.walk()
            if node is not shift
            and call_name(node) in ("DAYOFWEEK", "WEEKDAY")
            and not (date is not None and (node is date or date in set(ctx.ancestors(node))))
        ]
        if days:
            yield ctx.flaw(
                "WEEK_MODE",
                shift,
                f"{ctx.text(shift)} computes a week start from {call_name(days[0])}: the day it lands on "
                "is fixed by the arithmetic, not by Domo's week-start setting that the card's week grain "
                "follows, so the weeks disagree when the company week starts on another day.",
                "Use the card's week grain, or a week-start column from a governed date dimension.",
            )
