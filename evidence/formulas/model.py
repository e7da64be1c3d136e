"""Result types of the formula engine and the table of flaw codes the console shows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

SEVERITIES = ("error", "warning", "info")
LEVELS = ("row", "aggregate", "window", "fixed")
# Where a formula is used decides some flaws: a bare row-level ratio is only wrong once a card
# aggregates it. "card_value": a value column of a card (Domo applies SUM by default);
# "card_dimension": an axis or series; "filter": a card or page filter; "dataflow": a DataFlow
# or DataSet View expression evaluated per row; "dataset": saved on a dataset, no known card use.
USES = ("card_value", "card_dimension", "filter", "dataflow", "dataset")


@dataclass(frozen=True)
class FlawCode:
    code: str
    severity: str
    title: str
    description: str


def _codes(*rows: tuple[str, str, str, str]) -> dict[str, FlawCode]:
    return {code: FlawCode(code, severity, title, description) for code, severity, title, description in rows}


FLAW_CODES: dict[str, FlawCode] = _codes(
    (
        "AGGREGATE_IN_CASE_CONDITION",
        "warning",
        "CASE on an aggregate",
        (
            "A CASE branches on an aggregate: every total and subtotal is classified on its own sum, "
            "so it disagrees with the rows it adds up."
        ),
    ),
    (
        "MIXED_AGGREGATION_LEVEL",
        "warning",
        "Row value beside an aggregate",
        (
            "A row-level value (a CASE condition, a label column) sits next to an aggregate outside "
            "any aggregate, as in CASE WHEN `Status` IN (...) THEN SUM(`Revenue`) ELSE 0 END: a card "
            "group has no single row value, so Domo reads one row's and the group's sum is kept or "
            "dropped whole."
        ),
    ),
    (
        "AGGREGATE_OF_ROW_RATIO",
        "warning",
        "Aggregate of a row-level ratio",
        (
            "SUM or AVG of a per-row ratio (or a bare per-row ratio that the card sums by default) "
            "instead of the ratio of the sums."
        ),
    ),
    (
        "UNGUARDED_DIVISION",
        "warning",
        "Unguarded division",
        (
            "A denominator that can be zero or empty has no NULLIF or CASE guard: Domo reports an error "
            "where MySQL returns NULL."
        ),
    ),
    (
        "NON_DETERMINISTIC",
        "warning",
        "Depends on when it runs",
        (
            "Uses the current date or time or a random value, so the result changes with the moment the "
            "card renders and cannot be reproduced."
        ),
    ),
    (
        "HARDCODED_ASSUMPTION",
        "warning",
        "Hard-coded assumption",
        (
            "A business constant (a rate, a threshold, a date) is written into the formula instead of "
            "coming from governed evidence."
        ),
    ),
    (
        "COUNT_NOT_DISTINCT_ON_ID",
        "warning",
        "COUNT of an id without DISTINCT",
        "Counts rows, so an id repeated by reversals, rebills or duplicates is counted more than once.",
    ),
    (
        "STRING_LITERAL_AS_COLUMN",
        "error",
        "Quoted name used as a column",
        "A single-quoted name is a string, not a column: the calculation works on the text itself.",
    ),
    (
        "NESTED_AGGREGATE",
        "error",
        "Nested aggregate",
        "An aggregate inside an aggregate without OVER (...) or FIXED (...), which Beast Mode rejects.",
    ),
    (
        "DATE_ARITHMETIC",
        "error",
        "Arithmetic on dates",
        (
            "Dates subtracted or shifted with - or +: MySQL semantics compute on YYYYMMDD numbers; use "
            "DATEDIFF or DATE_ADD."
        ),
    ),
    (
        "WEEK_MODE",
        "warning",
        "Week numbering differs",
        "WEEK, YEARWEEK, DAYOFWEEK or %w used where Domo's numbering differs from MySQL's.",
    ),
    (
        "UNKNOWN_COLUMN",
        "error",
        "Unknown column",
        "The formula names a column that the dataset does not have.",
    ),
    (
        "UNSUPPORTED_FUNCTION",
        "error",
        "Unsupported function",
        "A function Beast Mode does not have, or silently replaces with another one.",
    ),
    ("UNPARSEABLE", "error", "Not parseable", "The formula is not valid Beast Mode syntax."),
    (
        "FIXED_OR_WINDOW_RESTRICTION",
        "error",
        "FIXED or window where Domo refuses it",
        (
            "FIXED and window functions cannot be combined in one calculation, and neither a FIXED nor "
            "a window calculation can serve as a card or dashboard filter."
        ),
    ),
    (
        "DISTINCT_COUNT_RECOMBINED",
        "warning",
        "Distinct counts added up",
        "SUM(COUNT(DISTINCT ...)) OVER (...) counts an id once per group it appears in, not once.",
    ),
)


# Codes reported about a DataFlow step as a whole rather than by `analyze` on one formula
# (evidence/formulas/dataflows/). Kept apart from FLAW_CODES, whose every code the engine's own
# rules emit (tests/evidence/formulas/test_flaws.py holds a positive and a negative case for each).
STEP_FLAW_CODES: dict[str, FlawCode] = _codes(
    (
        "MAGIC_NULL_COMPARISON_DROPS_ROWS",
        "warning",
        "Filter drops NULL rows",
        (
            "A Magic ETL Filter keeps a row only when its condition is true: a comparison with a NULL "
            "value is NULL, so `col <> 'x'` (or NOT IN, NOT LIKE) drops the rows where col is empty "
            "as well as the rows equal to 'x'."
        ),
    ),
)


@dataclass(frozen=True)
class Flaw:
    """One finding: `snippet` is the formula text it concerns, at [start, end) when known."""

    code: str
    severity: str
    snippet: str
    message: str
    suggestion: str | None = None
    start: int | None = None
    end: int | None = None

    @property
    def title(self) -> str:
        return (FLAW_CODES.get(self.code) or STEP_FLAW_CODES[self.code]).title


@dataclass(frozen=True)
class FixedClause:
    """A FIXED function found in a formula, its columns as written (or as the schema spells them)."""

    snippet: str
    aggregate: str  # the inner aggregate, e.g. "SUM(`Ingredient Cost Paid`)"
    kind: str | None  # "by", "add", "remove", or None for FIXED () (the whole filtered dataset)
    columns: tuple[str, ...]
    filter_mode: str  # "all" (default: every card filter applies), "none", "allow", "deny"
    filter_columns: tuple[str, ...]
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class Analysis:
    """What the engine found in one formula."""

    formula: str
    parsed: exp.Expr | None
    sql: str  # normalized Beast Mode text; the formula as given when it does not parse
    level: str | None  # one of LEVELS; None when the formula does not parse
    columns: tuple[str, ...]
    flaws: tuple[Flaw, ...]
    fixed: tuple[FixedClause, ...]
    used_as: str

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(flaw.code for flaw in self.flaws)

    @property
    def ok(self) -> bool:
        return not self.flaws
