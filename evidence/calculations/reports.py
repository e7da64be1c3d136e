"""How one calculation's analysis is shown to people: its JSON report, its flaws' titles, its text
cut where the flaws are, and the schema a user gives for it.

`formula_report` is the one JSON shape of an ad-hoc analysis (`analyze_formula --json` and
POST /api/formulas/analyze/); `mark_spans` cuts a formula for the pages that mark its flaws.
The analyses of received exports are recorded by evidence.calculations.analysis.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from evidence.choices import CalculationUse
from evidence.formulas import FLAW_CODES, STEP_FLAW_CODES, Analysis, analyze
from evidence.formulas.translate import translate_all

# --- schemas -------------------------------------------------------------------------------------


def schema_mapping(columns: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """{name: type} of a stored schema ([{name, type}] in schema order); the first spelling wins."""
    mapping: dict[str, str] = {}
    for column in columns:
        mapping.setdefault(str(column["name"]), str(column.get("type") or ""))
    return mapping


def parse_schema(value: Any) -> dict[str, str]:
    """A schema given by a user: a JSON object column -> type, or a list of {name, type}.

    ValueError says what is wrong, for the command's error and the API's 400.
    """
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ValueError("a schema object maps each column name to its type, both strings")
        return dict(value)
    if isinstance(value, list):
        if not all(isinstance(c, Mapping) and isinstance(c.get("name"), str) for c in value):
            raise ValueError("a schema list holds {name, type} objects")
        if not all(isinstance(c.get("type", ""), str) for c in value):
            raise ValueError("a column's type is a string (STRING, LONG, DOUBLE, DECIMAL, DATE, DATETIME)")
        return schema_mapping(value)
    raise ValueError("a schema is a JSON object (column -> type) or a list of {name, type}")


# --- translations --------------------------------------------------------------------------------


def translations_of(analysis: Analysis, schema: Mapping[str, str] | None) -> dict[str, dict]:
    """{target: {sql, faithful, problems}} for every target (sql is None where none would be right)."""
    return {
        target: {"sql": t.sql, "faithful": t.faithful, "problems": list(t.problems)}
        for target, t in translate_all(analysis, columns=schema).items()
    }


# --- ad-hoc analysis ------------------------------------------------------------------------------


def formula_report(
    formula: str, *, schema: Mapping[str, str] | None = None, used_as: str = CalculationUse.CARD_VALUE
) -> dict[str, Any]:
    """The JSON of one formula's analysis: the same for `analyze_formula --json` and the API.

    `parsed` is the normalized Beast Mode text, or None when the formula does not parse.
    """
    analysis = analyze(formula, schema=schema, used_as=str(used_as))
    return {
        "parsed": analysis.sql if analysis.parsed is not None else None,
        "level": analysis.level,
        "columns": list(analysis.columns),
        "flaws": [
            {
                "code": flaw.code,
                "severity": flaw.severity,
                "snippet": flaw.snippet,
                "message": flaw.message,
                "suggestion": flaw.suggestion,
            }
            for flaw in analysis.flaws
        ],
        "translations": translations_of(analysis, schema),
    }


def flaw_title(code: str) -> str:
    known = FLAW_CODES.get(code) or STEP_FLAW_CODES.get(code)
    return known.title if known else code


# --- marking flaws in a formula --------------------------------------------------------------------

_SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Segment:
    """A slice of a formula's text; `codes` are the flaws whose [start, end) covers it (none: unmarked)."""

    text: str
    codes: tuple[str, ...] = ()
    severity: str = ""  # the most severe of those flaws

    @property
    def marked(self) -> bool:
        return bool(self.codes)


def mark_spans(text: str, flaws: Iterable[Any]) -> list[Segment]:
    """Cut `text` where flaws (anything with code, severity, start, end) begin and end.

    Flaws may overlap (a CASE and a constant inside it): each slice lists every flaw covering it.
    The slices are plain text, escaped where they are shown; nothing here is HTML.
    """
    spans = [
        (max(0, f.start), min(len(text), f.end), f.code, f.severity)
        for f in flaws
        if f.start is not None and f.end is not None and f.start < f.end
    ]
    cuts = sorted({0, len(text), *(a for a, _b, _c, _s in spans), *(b for _a, b, _c, _s in spans)})
    segments = []
    for left, right in pairwise(cuts):
        if left >= right:
            continue
        covering = [(code, sev) for a, b, code, sev in spans if a <= left and right <= b]
        severity = min((sev for _c, sev in covering), key=lambda s: _SEVERITY_RANK.get(s, 3), default="")
        segments.append(Segment(text[left:right], tuple(dict.fromkeys(c for c, _s in covering)), severity))
    return segments
