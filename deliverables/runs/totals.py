"""The arithmetic of the totals a run adds up over its numbers and findings: money added exactly and rounded once,
at the end, to cents half up (../shared/domain-pbm.md), never the cents of each claim. Plain module, no Django: the
run (runs.compute) and the re-derivation of a number (provenance.figures) compute with the same functions.

- a findings total (client, kind, decision): SUM of its findings' exact overpayments, rounded once
  (FINDINGS_TOTAL_SQL over the decided findings: `run_findings`, or the run's findings artifact); the exact sum
  is kept beside it as the figure `overpayment_exact`, and the sources of its findings' terms and prices (each
  `<packet id>#<revision>` or a Domo row) beside them: the evidence the total rests on;
- a savings bucket (client, decision): savings_figures over its member numbers.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from deliverables.calculations.definitions import rows_checksum_duckdb
from evidence.packets.authority import NOT_CONCLUDED

ZERO = Decimal("0.00")
MONEY_PLACES = 2


def _text(value) -> str | None:
    return None if value is None else str(value)


def exact_text(value: Decimal | None) -> str | None:
    """An exact sum as text: its own digits, trailing zeros dropped down to cents ("94.155", "1.00")."""
    if value is None:
        return None
    places = max(MONEY_PLACES, -value.normalize().as_tuple().exponent)
    return f"{value:.{places}f}"


def cents(value: Decimal) -> Decimal:
    """The one rounding of a total (definitions._cents in Python): cents, half away from zero."""
    return value.quantize(ZERO, rounding=ROUND_HALF_UP)


# The exact sum of a findings total's overpayments, beside it: the savings add these and round once.
EXACT_FIGURE = "overpayment_exact"
FINDINGS_TOTAL_SQL = f"""
        SELECT client_account_id, kind, decision, COUNT(*), SUM(paid),
               ROUND(SUM(COALESCE(overpayment_exact, 0)), 2), SUM(COALESCE(overpayment_exact, 0)),
               {rows_checksum_duckdb('claim_row')},
               STRING_AGG(DISTINCT NULLIF(flag_key, ''), ',' ORDER BY NULLIF(flag_key, '')),
               LIST(DISTINCT term_source ORDER BY term_source) FILTER (WHERE term_source IS NOT NULL),
               LIST(DISTINCT price_source ORDER BY price_source) FILTER (WHERE price_source IS NOT NULL)
        FROM {{relation}} {{where}} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""


def findings_figures(count: int, paid, total, exact, decision: str) -> dict:
    """A findings total's figures: the overpayments added exactly and rounded once (never the cents of each)."""
    concluded = decision != NOT_CONCLUDED
    return {"findings": str(count), "paid": _text(paid), "overpayment": _text(total) if concluded else None,
            EXACT_FIGURE: exact_text(exact) if concluded else None}


SAVINGS_PARTS = ("guarantee_shortfalls", "rebate_shortfalls", "overpayments", "overpayments_not_added")
SAVINGS_ADDED = ("guarantee_shortfalls", "rebate_shortfalls", "overpayments")
_OVERPAYMENT_PARTS = ("overpayments", "overpayments_not_added")


def savings_part(kind: str, key: str) -> str | None:
    """Which part of a savings bucket a number adds to (None: it adds to none)."""
    if kind in ("awp_guarantee", "fee_guarantee"):
        return "guarantee_shortfalls"
    if kind == "rebate_guarantee":
        return "rebate_shortfalls"
    if kind == "finding":
        return "overpayments" if key.split(":")[2] in ("mac", "duplicate") else "overpayments_not_added"
    return None


def savings_figures(members, decision: str) -> tuple[dict, Decimal | None]:
    """The figures and the total of a savings bucket of `decision` over its member numbers, each given as
    (kind, key, headline, figures, evidence). A guarantee or rebate line adds its own amount (each line is the
    amount a contract owes, rounded once at its end); the findings add their exact overpayments (their figure
    `overpayment_exact`), rounded once for the bucket: never the cents of each finding, nor of each total. A
    bucket not concluded adds nothing: it counts its numbers and the missing-evidence flags they name."""
    sums = {name: Decimal(0) for name in SAVINGS_PARTS}
    count = 0
    flags = sorted({m["flag_key"] for *_, evidence in members for m in (evidence or {}).get("missing", [])
                    if m.get("flag_key")})
    for kind, key, headline, figures, _evidence in members:
        part = savings_part(kind, key)
        if part is None:
            continue
        count += 1
        exact = (figures or {}).get(EXACT_FIGURE) if part in _OVERPAYMENT_PARTS else None
        sums[part] += Decimal(exact) if exact is not None else (headline if headline is not None else ZERO)
    parts = {name: cents(sums[name]) for name in SAVINGS_PARTS}
    total = sum((parts[name] for name in SAVINGS_ADDED), ZERO)
    figures = {name: _text(parts[name]) for name in SAVINGS_PARTS}
    figures["numbers"] = str(count)
    if decision == NOT_CONCLUDED:
        return {"numbers": str(count), "flags": str(len(flags))}, None
    figures["total"] = _text(total)
    return figures, total
