"""Domo's Beast Mode function catalogue, from /work/shared/domo-formula-semantics.md section 1.

Each entry: kind (aggregate, window, math, logical, string, date, scalar), support in Beast Mode
("yes", "no": Domo rejects it, "substituted": Domo silently runs another function) and the
source tag of the semantics file (REF: Beast Mode Functions Reference Guide; ADR: Adrenaline
DataFlow functions, which also back Beast Modes per DCADR; DCWIN: window functions; METL: Magic
ETL; KB: used in a KB sample). A function absent from this table is reported as "not in Domo's
Beast Mode catalogue".

Choices where the sources disagree:
* CEILING/FLOOR are filed under "aggregate" by REF but typed scalar by ADR (`CEILING(NUMERIC) ->
  LONG`); they are math here, so `FLOOR(SUM(x))` is not a nested aggregate.
* ADR/DCADR functions count as supported (Beast Modes run on Adrenaline), although DCADR notes that
  some (MEDIAN) are "not enabled out of the box"; COALESCE is documented for Magic ETL only and is
  accepted for the same reason.
* IF(), CAST(), ROW_NUMBER(), DENSE_RANK(), CEIL, SUBSTR, LOCATE are in none of the sources, so they
  are reported; extend this table when Domo documents them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FunctionInfo:
    name: str
    kind: str  # aggregate | window | math | logical | string | date | scalar
    support: str  # yes | no | substituted
    source: str
    note: str = ""


def _entries(kind: str, source: str, names: str, support: str = "yes") -> dict[str, FunctionInfo]:
    return {name: FunctionInfo(name, kind, support, source) for name in names.split()}


CATALOGUE: dict[str, FunctionInfo] = {
    **_entries("aggregate", "REF", "APPROXIMATE_COUNT_DISTINCT AVG COUNT MAX MIN STDDEV_POP SUM VAR_POP"),
    **_entries(
        "aggregate",
        "ADR",
        "MEDIAN APPROXIMATE_MEDIAN PERCENTILE PERCENTILE_CONT PERCENTILE25 PERCENTILE75 PERCENTILE99 "
        "STDDEV CORR LISTAGG",
    ),
    **_entries("math", "REF", "ABS MOD POWER RAND ROUND"),
    **_entries("math", "ADR", "CEILING FLOOR LN LOG RANDOM WIDTH_BUCKET TRUNC POW"),
    **_entries("logical", "REF", "CASE IFNULL NULLIF"),
    **_entries("logical", "ADR", "NVL"),
    **_entries("logical", "METL", "COALESCE"),
    **_entries("string", "REF", "CONCAT INSTR LEFT LENGTH LOWER REPLACE RIGHT SUBSTRING TRIM UPPER"),
    **_entries("string", "ADR", "INITCAP LPAD RPAD OCTET_LENGTH TO_CHAR TO_NUMBER STRPOS"),
    **_entries(
        "date",
        "REF",
        "ADDDATE ADDTIME CURDATE CURTIME CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP DATE DATEDIFF "
        "DATE_ADD DATE_FORMAT DATE_SUB DAY DAYNAME DAYOFMONTH DAYOFWEEK DAYOFYEAR FROM_DAYS "
        "FROM_UNIXTIME HOUR LAST_DAY MINUTE MONTH MONTHNAME NOW PERIOD_ADD PERIOD_DIFF QUARTER SECOND "
        "SEC_TO_TIME STR_TO_DATE SUBDATE SUBTIME SYSDATE TIME TIMEDIFF TIMESTAMP TIME_FORMAT "
        "TIME_TO_SEC TO_DAYS UNIX_TIMESTAMP WEEK YEAR YEARWEEK",
    ),
    **_entries("date", "KB", "WEEKOFYEAR"),
    **_entries("date", "ADR", "DATE_TRUNC TO_DATE"),
    **_entries("window", "DCWIN", "LEAD LAG RANK NTILE PERCENTILE_RANK FIRST_VALUE LAST_VALUE"),
    "SQRT": FunctionInfo("SQRT", "math", "no", "REF", "REF lists SQRT as no longer supported"),
    "CONVERT_TZ": FunctionInfo("CONVERT_TZ", "date", "no", "REF", "unsupported in Beast Mode"),
    "MICROSECOND": FunctionInfo("MICROSECOND", "date", "no", "REF", "unsupported in Beast Mode"),
    "WEEKDAY": FunctionInfo(
        "WEEKDAY", "date", "substituted", "FAQ", "Domo silently runs DAYOFWEEK (1 = Sunday) instead"
    ),
}

# Functions whose result depends on when (or how often) the formula runs.
NON_DETERMINISTIC = frozenset(
    {
        "CURDATE",
        "CURTIME",
        "CURRENT_DATE",
        "CURRENT_TIME",
        "CURRENT_TIMESTAMP",
        "NOW",
        "SYSDATE",
        "RAND",
        "RANDOM",
        "UUID",
        "UNIX_TIMESTAMP",
        "LOCALTIME",
        "LOCALTIMESTAMP",
        "UTC_DATE",
        "UTC_TIMESTAMP",
    }
)

# Functions returning a DATE or DATETIME (for date-arithmetic checks).
DATE_VALUED = frozenset(
    {
        "ADDDATE",
        "CURDATE",
        "CURRENT_DATE",
        "CURRENT_TIMESTAMP",
        "DATE",
        "DATE_ADD",
        "DATE_SUB",
        "DATE_TRUNC",
        "FROM_DAYS",
        "FROM_UNIXTIME",
        "LAST_DAY",
        "NOW",
        "STR_TO_DATE",
        "SUBDATE",
        "SYSDATE",
        "TIMESTAMP",
        "TO_DATE",
        "LOCALTIMESTAMP",
    }
)

# Functions whose string arguments are text to parse or format, not column names.
TEXT_ARGUMENT_FUNCTIONS = frozenset(
    {
        "STR_TO_DATE",
        "TO_DATE",
        "TO_NUMBER",
        "TO_CHAR",
        "DATE_FORMAT",
        "TIME_FORMAT",
        "CONCAT",
        "REPLACE",
        "INSTR",
        "STRPOS",
        "LPAD",
        "RPAD",
        "LISTAGG",
    }
)

# Replacements suggested for unsupported functions ({0}, {1}... are the arguments as written).
REPLACEMENTS = {
    "SQRT": "POWER({0}, 0.5)",
    "WEEKDAY": "MOD(DAYOFWEEK({0}) + 5, 7)  -- MySQL's WEEKDAY numbering (0 = Monday) in Domo",
    "IF": "CASE WHEN {0} THEN {1} ELSE {2} END",
    "CEIL": "CEILING({0})",
    "SUBSTR": "SUBSTRING({0}, {1}, {2})",
}

# Arguments at these positions (0-based) are structural numbers, not business constants: decimal
# places, string positions and lengths, window offsets, week modes, exponents, bucket counts.
STRUCTURAL_ARGS: dict[str, frozenset[int]] = {
    "ROUND": frozenset({1}),
    "TRUNC": frozenset({1}),
    "SUBSTRING": frozenset({1, 2}),
    "LEFT": frozenset({1}),
    "RIGHT": frozenset({1}),
    "LPAD": frozenset({1}),
    "RPAD": frozenset({1}),
    "INSTR": frozenset({2}),
    "LAG": frozenset({1}),
    "LEAD": frozenset({1}),
    "NTILE": frozenset({0}),
    "WEEK": frozenset({1}),
    "YEARWEEK": frozenset({1}),
    "POWER": frozenset({1}),
    "POW": frozenset({1}),
    "MOD": frozenset({1}),
    "LOG": frozenset({0}),
    "WIDTH_BUCKET": frozenset({1, 2, 3}),
    "PERCENTILE": frozenset({1}),
    "PERCENTILE_CONT": frozenset({0, 1}),
    "RAND": frozenset({0}),
    "PERIOD_ADD": frozenset({0, 1}),
    "FROM_DAYS": frozenset({0}),
    "SEC_TO_TIME": frozenset({0}),
}


def lookup(name: str) -> FunctionInfo | None:
    return CATALOGUE.get(name.upper())


def is_aggregate(name: str | None) -> bool:
    info = CATALOGUE.get(name) if name else None
    return info is not None and info.kind == "aggregate"
