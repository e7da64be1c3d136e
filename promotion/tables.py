"""Column layouts and badges of the promotion lists (the queue, the curated registry), and the rows of a
request's page: its gates with their details, and the flaws behind its datasets with their dispositions."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from promotion.choices import GateOutcome, PromotionState
from promotion.forms import FlawDispositionForm
from promotion.gates import flaw_fingerprint, flaws_behind, gates_for
from promotion.models import FlawDisposition, PromotionRequest

QUEUE_COLUMNS = (
    "Request", "Kind", "Manifest", "Datasets", "Target", "Requested by", "Approved by", "State", "Requested (UTC)",
)
REGISTRY_COLUMNS = (
    "Dataset", "Version", "Load id", "Requested by", "Approved by", "Rows", "Checksum", "Loaded (UTC)",
)
VERSION_COLUMNS = ("Version", "State", "Load id", "Requested by", "Approved by", "Rows", "Checksum", "Loaded (UTC)", "")

# The queue's tabs, in the order a request moves through them.
QUEUE_TABS = tuple(PromotionState)

STATE_BADGES = {
    PromotionState.DRAFT: "badge-muted",
    PromotionState.CHECKING: "badge-info",
    PromotionState.BLOCKED: "badge-warn",
    PromotionState.READY: "badge-info",
    PromotionState.APPROVED: "badge-ok",
    PromotionState.REJECTED: "badge-bad",
    PromotionState.LOADING: "badge-info",
    PromotionState.PROMOTED: "badge-ok",
    PromotionState.FAILED: "badge-bad",
    PromotionState.CANCELLED: "badge-muted",
    # gate outcomes
    GateOutcome.PASSED: "badge-ok",
    GateOutcome.ERROR: "badge-bad",
    # curated registry versions
    "current": "badge-ok",
    "verified": "badge-info",
    "superseded": "badge-muted",
}


def badge_class(value: str) -> str:
    """The badge class of a request state, a gate outcome or a curated version's state."""
    # "failed" is both a gate outcome and a request state: bad either way.
    return f"badge {STATE_BADGES.get(str(value), '')}".strip()


def short_checksum(checksum: str | None) -> str:
    return (checksum or "")[:12]


# --- a request's page -------------------------------------------------------------------------------


@dataclass
class FlawRow:
    """One flaw behind the datasets (flaws sharing a fingerprint shown once), its disposition and form."""

    fingerprint: str
    flaw: object
    count: int
    also: list  # the other flaws with this fingerprint (the same beast mode seen from another card)
    disposition: FlawDisposition | None
    prefix: str
    form: FlawDispositionForm | None = None


def flaw_rows(promotion: PromotionRequest, datasets: list, forms: dict) -> list[FlawRow]:
    decided = {
        d.fingerprint: d
        for d in FlawDisposition.objects.filter(manifest_id=promotion.manifest_id).select_related(
            "decided_by"
        )
    }
    rows: dict[str, FlawRow] = {}
    for flaw in flaws_behind(promotion.manifest, datasets):
        fingerprint = flaw_fingerprint(flaw)
        if fingerprint in rows:
            rows[fingerprint].count += 1
            rows[fingerprint].also.append(flaw)
            continue
        prefix = f"f{fingerprint[:12]}"
        row = FlawRow(fingerprint, flaw, 1, [], decided.get(fingerprint), prefix)
        if row.disposition is None:
            row.form = forms.get(f"flaw:{prefix}") or FlawDispositionForm(
                prefix=prefix, initial={"fingerprint": fingerprint}
            )
        rows[fingerprint] = row
    return list(rows.values())


def gate_rows(promotion: PromotionRequest, datasets: list) -> list[dict]:
    results = {r.gate: r for r in promotion.gate_results.filter(current=True)}
    by_link = {reverse("evidence:dataset-detail", args=[d.pk]): d for d in datasets}
    rows = []
    for gate in gates_for(promotion):  # a rollback has gates of its own
        result = results.pop(gate.name, None)
        details = []
        for item in (result.details if result else []):
            drift = by_link.get(item.get("link")) if item.get("schema_sha256") else None
            details.append({**item, "drift_dataset": drift})
        rows.append({"name": gate.name, "title": gate.title, "result": result, "details": details})
    for name, result in sorted(results.items()):  # a gate no longer in the code: shown as it ran
        rows.append({"name": name, "title": "", "result": result, "details": result.details})
    return rows
