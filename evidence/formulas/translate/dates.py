"""Date functions with Domo's semantics on each target (domo-formula-semantics.md, "Dates").

* DATE_ADD/DATE_SUB/ADDDATE/SUBDATE keep MySQL's rules: a DATE stays a DATE for units of a day
  or more, and adding months clamps to the month's last day (Jan 31 + 1 month = Feb 29), which
  SQLite's date modifiers do not do by themselves.
* DATEDIFF(a, b) is a - b in days, times ignored.
* DAYOFWEEK is 1 (Sunday) to 7; WEEKDAY is run as DAYOFWEEK, as Domo does.
* WEEK and YEARWEEK take Domo's modes 11 (Sunday to Saturday) and 22 (Monday to Sunday), with the
  year's first partial week as week 1.
* Text that MySQL cannot read as a date ('Fill Date', even '1/31/2025') is NULL to date
  functions, as in MySQL; a text column read as a date is cast and reported.
* DATE_FORMAT is in formats.py.
"""

from __future__ import annotations

import re

from sqlglot import exp

from evidence.formulas.translate.generator import Emitter, interval_unit, rule, unwrap
from evidence.formulas.tree import call_name, strip_parens

_DATE_ONLY = re.compile(r"^\s*\d{4}-\d{1,2}-\d{1,2}\s*$")
# Text MySQL reads as a date or datetime; other text (even '1/31/2025') is NULL to its date functions.
_ISO_DATE = re.compile(r"^\s*\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*$")
_DAY_OR_LONGER = ("DAY", "WEEK", "MONTH", "QUARTER", "YEAR")
_UNITS = ("MICROSECOND", "SECOND", "MINUTE", "HOUR", *_DAY_OR_LONGER)


def temporal(g: Emitter, node: exp.Expr) -> str:
    """A date or datetime argument as the target's date functions need it."""
    node = unwrap(node)
    literal = strip_parens(node)
    if isinstance(literal, exp.Literal) and literal.is_string and not _ISO_DATE.match(literal.this):
        # MySQL reads text that is no date as NULL (with a warning): YEAR('Fill Date') is NULL.
        g.note(f"{g.text(node)} is text that is no date: the date function gives NULL, as in MySQL.")
        return {"sqlite": "NULL", "tsql": "CAST(NULL AS DATETIME2)"}.get(g.target, "CAST(NULL AS TIMESTAMP)")
    sql = g.sql(node)
    if g.type_of(node) != "STRING" or g.target == "sqlite":
        return sql
    if isinstance(literal, exp.Literal) and _DATE_ONLY.match(literal.this):
        return f"CAST({sql} AS DATE)"
    if not isinstance(literal, exp.Literal):
        g.problem(
            f"{g.text(node)} is text read as a date: Domo converts text itself, while {g.engine} casts it "
            "and refuses text it cannot read."
        )
    return f"CAST({sql} AS {'DATETIME2' if g.target == 'tsql' else 'TIMESTAMP'})"


# --- parts of a date ---------------------------------------------------------------------------------
_EXTRACT = {"YEAR": "YEAR", "MONTH": "MONTH", "DAY": "DAY", "HOUR": "HOUR", "MINUTE": "MINUTE"}
_EXTRACT.update(
    {"QUARTER": "QUARTER", "DAYOFYEAR": "DOY", "DOW0": "DOW", "ISOWEEK": "WEEK", "ISOYEAR": "ISOYEAR"}
)
_STRFTIME = {"YEAR": "%Y", "MONTH": "%m", "DAY": "%d", "HOUR": "%H", "MINUTE": "%M", "SECOND": "%S"}
_STRFTIME.update({"DAYOFYEAR": "%j", "DOW0": "%w"})
_DATEPART = {"YEAR": "YEAR", "MONTH": "MONTH", "DAY": "DAY", "HOUR": "HOUR", "MINUTE": "MINUTE"}
_DATEPART.update({"SECOND": "SECOND", "QUARTER": "QUARTER", "DAYOFYEAR": "DAYOFYEAR", "ISOWEEK": "ISO_WEEK"})


def part(g: Emitter, x: str, name: str) -> str:
    """An integer part of the date `x`; DOW0 is the day of the week with Sunday = 0."""
    if g.target in ("postgres", "duckdb"):
        if name == "SECOND":
            return f"CAST(FLOOR(EXTRACT(SECOND FROM {x})) AS INTEGER)"
        return f"CAST(EXTRACT({_EXTRACT[name]} FROM {x}) AS INTEGER)"
    if g.target == "sqlite":
        if name == "QUARTER":
            return f"((CAST(STRFTIME('%m', {x}) AS INTEGER) + 2) / 3)"
        if name == "ISOWEEK":
            return f"((CAST(STRFTIME('%j', {iso_thursday(x)}) AS INTEGER) - 1) / 7 + 1)"
        if name == "ISOYEAR":
            return f"CAST(STRFTIME('%Y', {iso_thursday(x)}) AS INTEGER)"
        return f"CAST(STRFTIME('{_STRFTIME[name]}', {x}) AS INTEGER)"
    if name == "DOW0":  # independent of SET DATEFIRST
        return f"((DATEPART(WEEKDAY, {x}) + @@DATEFIRST - 1) % 7)"
    if name == "ISOYEAR":
        return f"DATEPART(YEAR, DATEADD(DAY, 3 - ((DATEPART(WEEKDAY, {x}) + @@DATEFIRST + 5) % 7), {x}))"
    return f"DATEPART({_DATEPART[name]}, {x})"


def iso_thursday(x: str) -> str:
    """SQLite: the Thursday of x's ISO week, whose year and day number give the ISO week."""
    return f"DATE({x}, '-3 days', 'weekday 4')"


def _divide(g: Emitter, a: str, b: int) -> str:
    return f"({a}) {'//' if g.target == 'duckdb' else '/'} {b}"  # integer division


_PARTS = {
    "YEAR": "YEAR",
    "MONTH": "MONTH",
    "DAY": "DAY",
    "DAYOFMONTH": "DAY",
    "HOUR": "HOUR",
    "MINUTE": "MINUTE",
    "SECOND": "SECOND",
    "QUARTER": "QUARTER",
    "DAYOFYEAR": "DAYOFYEAR",
}


@rule(*_PARTS)
def _date_part(g: Emitter, node: exp.Expr) -> str:
    return part(g, temporal(g, node.this), _PARTS[call_name(node)])


@rule("DAYOFWEEK", "WEEKDAY")
def _day_of_week(g: Emitter, node: exp.Expr) -> str:
    if call_name(node) == "WEEKDAY":
        g.note(
            f"{g.text(node)} is run as DAYOFWEEK (1 = Sunday ... 7 = Saturday), as Domo does; MySQL's "
            "WEEKDAY would count from 0 = Monday."
        )
    argument = node.this if not isinstance(node, exp.Anonymous) else node.expressions[0]
    return f"({part(g, temporal(g, argument), 'DOW0')} + 1)"


def _week(g: Emitter, node: exp.Expr, x: str, mode: exp.Expr | None) -> str | None:
    name = call_name(node)
    value = None if mode is None else strip_parens(mode)
    if value is None:
        g.problem(
            f"{g.text(node)} has no mode and Domo does not document its default: translated as mode 11 "
            "(weeks from Sunday, the first partial week is week 1)."
        )
        monday = False
    elif isinstance(value, exp.Literal) and value.this in ("11", "22"):
        monday = value.this == "22"
    else:
        g.fail(
            f"{g.text(node)}: Domo documents only the {name} modes 11 and 22, so this mode is not translated."
        )
        return None
    day = part(g, x, "DOW0")
    if monday:
        day = f"(({day} + 6) % 7)"
    # Day number of the week's first day (0 or less in the first partial week), then weeks from it.
    start = f"{part(g, x, 'DAYOFYEAR')} - {day} + 5"
    return f"({_divide(g, start, 7)} + 1)"


@rule("WEEK")
def _week_rule(g: Emitter, node: exp.Week) -> str:
    week = _week(g, node, temporal(g, node.this), node.args.get("mode"))
    return week if week is not None else "NULL"


@rule("YEARWEEK")
def _yearweek(g: Emitter, node: exp.Anonymous) -> str:
    x = temporal(g, node.expressions[0])
    week = _week(g, node, x, node.expressions[1] if len(node.expressions) > 1 else None)
    return f"({part(g, x, 'YEAR')} * 100 + {week})" if week is not None else "NULL"


@rule("WEEKOFYEAR")
def _week_of_year(g: Emitter, node: exp.WeekOfYear) -> str:
    g.problem(
        f"{g.text(node)}: Domo's reference does not define WEEKOFYEAR; translated with MySQL's definition "
        "(ISO 8601 weeks from Monday)."
    )
    return part(g, temporal(g, node.this), "ISOWEEK")


# --- whole dates -----------------------------------------------------------------------------------
@rule("DATE")
def _date(g: Emitter, node: exp.Expr) -> str:
    x = temporal(g, node.this)
    return f"DATE({x})" if g.target == "sqlite" else f"CAST({x} AS DATE)"


@rule("TIMESTAMP")
def _timestamp(g: Emitter, node: exp.Expr) -> str:
    x = temporal(g, node.this)
    if g.target == "sqlite":
        return f"DATETIME({x})"
    return f"CAST({x} AS {'DATETIME2' if g.target == 'tsql' else 'TIMESTAMP'})"


@rule("LAST_DAY")
def _last_day(g: Emitter, node: exp.LastDay) -> str:
    x = temporal(g, node.this)
    if g.target == "postgres":
        return f"CAST(DATE_TRUNC('month', {x}) + INTERVAL '1 month' - INTERVAL '1 day' AS DATE)"
    if g.target == "duckdb":
        return f"LAST_DAY({x})"
    if g.target == "sqlite":
        return f"DATE({x}, 'start of month', '+1 month', '-1 day')"
    return f"EOMONTH({x})"


def _now_note(g: Emitter, node: exp.Expr) -> None:
    zone = "the machine's local time" if g.target == "sqlite" else f"{g.engine}'s session time zone"
    g.note(
        f"{g.text(node)} is read when the query runs, in {zone}; Domo uses the instance's time zone, and "
        "the value changes from day to day."
    )


@rule("CURDATE", "CURRENT_DATE")
def _today(g: Emitter, node: exp.Expr) -> str:
    _now_note(g, node)
    return {
        "postgres": "CURRENT_DATE",
        "duckdb": "CURRENT_DATE",
        "sqlite": "DATE('now', 'localtime')",
        "tsql": "CAST(GETDATE() AS DATE)",
    }[g.target]


@rule("NOW", "CURRENT_TIMESTAMP", "SYSDATE")
def _now(g: Emitter, node: exp.Expr) -> str:
    _now_note(g, node)
    return {
        "postgres": "LOCALTIMESTAMP(0)",
        "duckdb": "DATE_TRUNC('second', CAST(CURRENT_TIMESTAMP AS TIMESTAMP))",
        "sqlite": "DATETIME('now', 'localtime')",
        "tsql": "CAST(SYSDATETIME() AS DATETIME2(0))",
    }[g.target]


# --- DATEDIFF and DATE_ADD ---------------------------------------------------------------------------
@rule("DATEDIFF")
def _datediff(g: Emitter, node: exp.DateDiff) -> str:
    """MySQL's DATEDIFF(a, b): a - b in days, times ignored."""
    a, b = temporal(g, node.this), temporal(g, node.expression)
    if g.target == "sqlite":
        return f"CAST(JULIANDAY(DATE({a})) - JULIANDAY(DATE({b})) AS INTEGER)"
    if g.target == "tsql":
        return f"DATEDIFF(DAY, {b}, {a})"  # T-SQL counts from its second date argument
    return f"(CAST({a} AS DATE) - CAST({b} AS DATE))"


@rule("DATE_ADD", "DATE_SUB", "ADDDATE", "SUBDATE")
def _date_add(g: Emitter, node: exp.Expr) -> str:
    sign = -1 if call_name(node) in ("DATE_SUB", "SUBDATE") else 1
    if isinstance(node, exp.Anonymous):
        x, second = node.expressions[0], node.expressions[1]
        quantity = second.this if isinstance(second, exp.Interval) else second
    else:
        x, quantity = node.this, node.expression
    return shift(g, node, x, quantity, interval_unit(node), sign)


def interval_arithmetic(g: Emitter, node: exp.Expr) -> str:
    """`d + INTERVAL n UNIT`, `INTERVAL n UNIT + d`, `d - INTERVAL n UNIT` (MySQL's DATE_ADD)."""
    left, right = strip_parens(node.this), strip_parens(node.expression)
    interval, x = (right, node.this) if isinstance(right, exp.Interval) else (left, node.expression)
    if isinstance(node, exp.Sub) and interval is left:
        return g.fail(f"{g.text(node)} subtracts a date from an interval, which MySQL refuses.")
    unit = interval.args.get("unit")
    sign = -1 if isinstance(node, exp.Sub) else 1
    return shift(g, node, x, interval.this, unit.name.upper() if unit is not None else "DAY", sign)


def _quantity(g: Emitter, node: exp.Expr, sign: int) -> tuple[int | None, str | None]:
    """(n, None) for a literal number of units, (None, sql) for a computed one."""
    node = strip_parens(node)
    negative = isinstance(node, exp.Neg)
    literal = node.this if negative else node
    if isinstance(literal, exp.Literal):
        try:
            value = float(literal.this)
        except ValueError:
            value = None
        if value is not None and value == int(value):
            return int(value) * sign * (-1 if negative else 1), None
        if value is not None:
            return None, None  # a fractional interval
    sql = g.sql(node)
    return None, (f"-({sql})" if sign < 0 else sql)


def shift(g: Emitter, node: exp.Expr, x_node: exp.Expr, quantity: exp.Expr, unit: str, sign: int) -> str:
    if unit not in _UNITS:
        return g.fail(f"{g.text(node)}: the interval unit {unit} is not translated.")
    n, computed = _quantity(g, quantity, sign)
    if n is None and computed is None:
        return g.fail(f"{g.text(node)}: a fractional interval is rounded by MySQL in ways not reproduced.")
    kind = g.type_of(x_node)
    literal = strip_parens(x_node)
    if isinstance(literal, exp.Literal) and literal.is_string and _ISO_DATE.match(literal.this):
        kind = "DATE" if _DATE_ONLY.match(literal.this) else "DATETIME"  # read as the date it spells
    daily = unit in _DAY_OR_LONGER
    result = (
        "DATE"
        if kind == "DATE" and daily
        else "DATETIME"
        if kind in ("DATE", "DATETIME") or not daily
        else None
    )
    x = temporal(g, x_node)
    if g.target == "tsql":
        if not daily and kind != "DATETIME":
            x = f"CAST({x} AS DATETIME2)"  # T-SQL's DATEADD refuses hours on a DATE
        return f"DATEADD({unit}, {n if computed is None else computed}, {x})"
    if result is None and g.target != "sqlite":
        g.problem(
            f"{g.text(node)}: the type of {g.text(x_node)} is unknown (give the dataset's columns), so the "
            "result is a timestamp, where Domo returns a DATE for a DATE."
        )
    if g.target == "sqlite":
        return _sqlite_shift(g, x, n, computed, unit, result)
    factor, name = {"WEEK": (7, "day"), "QUARTER": (3, "month")}.get(unit, (1, unit.lower()))
    if computed is None:
        interval = f"INTERVAL '{n * factor} {name}'"
    else:
        interval = f"({computed}) * INTERVAL '{factor} {name}'"
    shifted = f"{x} + {interval}"
    return f"CAST({shifted} AS DATE)" if result == "DATE" else f"({shifted})"


def _sqlite_shift(
    g: Emitter, x: str, n: int | None, computed: str | None, unit: str, result: str | None
) -> str:
    if unit == "MICROSECOND":
        return g.fail("SQLite keeps milliseconds at most, so an interval in microseconds is not translated.")
    factor = {"WEEK": 7, "QUARTER": 3, "YEAR": 12}.get(unit, 1)
    amount = str(n * factor) if computed is None else f"(({computed}) * {factor})"

    def modifier(offset: int = 0, name: str = "") -> str:
        if computed is None:
            return f"'{n * factor + offset} {name}'"
        return f"({amount} + {offset}) || ' {name}'" if offset else f"{amount} || ' {name}'"

    if unit in ("MONTH", "QUARTER", "YEAR"):
        # SQLite rolls Jan 31 + 1 month over to Mar 2; MySQL clamps to the month's last day.
        first = f"DATE({x}, 'start of month', {modifier(0, 'months')})"
        last = f"DATE({x}, 'start of month', {modifier(1, 'months')}, '-1 day')"
        day = f"CAST(STRFTIME('%d', {x}) AS INTEGER)"
        date = f"MIN(DATE({first}, ({day} - 1) || ' days'), {last})"
        with_time = f"{date} || ' ' || TIME({x})"
    else:
        name = {"WEEK": "days", "DAY": "days", "HOUR": "hours", "MINUTE": "minutes", "SECOND": "seconds"}[
            unit
        ]
        date, with_time = f"DATE({x}, {modifier(0, name)})", f"DATETIME({x}, {modifier(0, name)})"
        if unit not in _DAY_OR_LONGER:
            return with_time
    if result == "DATE":
        return date
    if result == "DATETIME":
        return with_time
    return f"CASE WHEN LENGTH({x}) <= 10 THEN {date} ELSE {with_time} END"  # text dates: by their form
