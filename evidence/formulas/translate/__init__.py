"""Parsed Beast Mode formulas written as SQL for T-SQL (Azure SQL), PostgreSQL, SQLite and DuckDB.

`translate(analysis, target, columns=...)` gives a `Translation`: an expression over the dataset's
columns, quoted for the target, that computes what Domo computes, or the reasons it cannot.
Domo's semantics (domo-formula-semantics.md) are kept where the target differs:

* `/` never truncates integers and gives NULL for a zero denominator: the numerator is cast
  (NUMERIC, REAL, FLOAT; DuckDB's `/` is already true division) and the denominator wrapped in
  NULLIF(..., 0). Dojo users report an error from Domo instead; the engine's UNGUARDED_DIVISION
  flaw says so, the translation keeps MySQL's NULL.
* CONCAT is NULL when any argument is NULL (MySQL), so it becomes `||` (T-SQL `+`), never the
  target's NULL-skipping CONCAT(); numbers and dates are turned into text as MySQL writes them.
* IFNULL/NVL become COALESCE; a comparison used as a value is 1 or 0 (MySQL), a number used as a
  condition is true when non-zero.
* Dates and weeks: dates.py; DATE_FORMAT: formats.py; strings, ROUND, MOD: strings.py;
  aggregates, windows and FIXED: aggregates.py.

Where to evaluate the SQL: a row-level formula as `SELECT <sql> FROM t`; an aggregate one as
`SELECT <axes>, <sql> FROM t GROUP BY <axes>`; window and FIXED formulas only in that grouped
query (a note says which columns the grouping needs). `FIXED (BY a)` becomes
`SUM(SUM(x)) OVER (PARTITION BY a)`; FIXED (ADD/REMOVE ...) depends on the card's grouping and
FILTER clauses on the card's filters, which one expression cannot see: they are reported.

`faithful` is True only when nothing was reported. A problem keeps the SQL when it is the closest
reading (the sentence says how it differs); `sql` is None when no SQL would be right. `notes`
are conditions of use that do not make the translation unfaithful (grouping needed, the current
date, case sensitivity Domo leaves undocumented).

Not reproduced anywhere: Domo's integer overflow (wraps to a negative number, FAQ), which the
targets report as an error or widen.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from evidence.formulas.model import Analysis
from evidence.formulas.translate import aggregates, dates, emit, formats, strings  # noqa: F401  (their rules)
from evidence.formulas.translate.generator import ENGINE_NAMES, TARGETS, generator_for
from evidence.formulas.tree import Context

__all__ = ["ENGINE_NAMES", "TARGETS", "TRANSLATION_FAILURE", "Translation", "translate", "translate_all"]

# How a translation that failed inside the engine states its one problem (a bug, never a finding
# about the formula); the property tests assert that no formula they generate gets it.
TRANSLATION_FAILURE = "The translator failed on this formula"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Translation:
    """One formula written for one target engine."""

    target: str
    sql: str | None  # an expression over the dataset's columns; None when it cannot be translated
    faithful: bool
    problems: tuple[str, ...] = ()  # one sentence per construct not translated faithfully
    notes: tuple[str, ...] = ()  # conditions of use: grouping, current date, undocumented choices


def translate(analysis: Analysis, target: str, *, columns: Mapping[str, str] | None = None) -> Translation:
    """Write an analyzed formula for `target` (one of TARGETS).

    columns: the dataset's columns, name -> Domo type (STRING, LONG, DOUBLE, DECIMAL, DATE,
    DATETIME), as given to `analyze(schema=...)`. Names are resolved to their spelling here
    (case-insensitively) and types choose casts (a DATE stays a DATE); without them, choices that
    depend on a type are reported.
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    if analysis.parsed is None:
        reason = analysis.flaws[0].message if analysis.flaws else "The formula does not parse."
        return Translation(target, None, False, (f"The formula does not parse: {reason}",))
    if analysis.used_as == "filter" and analysis.level in ("window", "fixed"):
        return Translation(
            target,
            None,
            False,
            (
                f"A {analysis.level} calculation cannot be a card or dashboard filter in Domo, so it is not translated.",
            ),
        )
    try:
        tree = analysis.parsed.copy()  # the generator never sees the caller's tree
        ctx = Context(analysis.formula, tree, columns, analysis.used_as)
        generator = generator_for(target, ctx, analysis.used_as)
        sql = generator.sql(tree)
        for message in generator.unsupported_messages:  # sqlglot's own refusals
            generator.fail(f"{message} ({ENGINE_NAMES[target]}).")
    except RecursionError:  # a limit, not a fault: a chain of a thousand `+` nests as deep
        problem = f"The formula is nested too deeply to be written for {ENGINE_NAMES[target]}, so it is not translated."
        return Translation(target, None, False, (problem,))
    except Exception as error:  # the last resort: a stated problem, never an exception to the caller
        logger.exception("Translating %r to %s failed", analysis.formula, target)
        problem = (
            f"{TRANSLATION_FAILURE} for {ENGINE_NAMES[target]} ({type(error).__name__}: {error}), so it "
            "is not translated; this is a fault of the console, not of the formula."
        )
        return Translation(target, None, False, (problem,))
    problems = tuple(generator.problems)
    return Translation(
        target=target,
        sql=None if generator.failed else sql,
        faithful=not problems,
        problems=problems,
        notes=tuple(generator.notes),
    )


def translate_all(analysis: Analysis, columns: Mapping[str, str] | None = None) -> dict[str, Translation]:
    """The formula for every target, keyed by target."""
    return {target: translate(analysis, target, columns=columns) for target in TARGETS}
