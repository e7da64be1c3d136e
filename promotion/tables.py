"""Column layouts and badges of the promotion lists (the queue, the curated registry), and the rows of a
request's page: its gates with their details, and the flaws behind its datasets with their dispositions."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from promotion.choices import DATASET_TYPE, DISPOSITION_TYPE, MANIFEST_TYPE, REQUEST_TYPE, GateOutcome, PromotionState
from promotion.forms import FlawDispositionForm
from promotion.gates import FlawGroup, flaw_groups, gates_for
from promotion.models import PromotionRequest

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


# A content checksum is the exact sum of one signed 64-bit hash per row (promotion.curated.checksum), below
# 2**32 rows: it fits 96 bits. Shown as their two's complement in 24 hex digits, every checksum has one width.
CHECKSUM_BITS = 96


def hex_checksum(checksum: str | int | None) -> str:
    """The checksum in hexadecimal, fixed width (24 digits, in groups of 8); "" when there is none."""
    if checksum in (None, ""):
        return ""
    digits = f"{int(checksum) % (1 << CHECKSUM_BITS):0{CHECKSUM_BITS // 4}x}"
    return " ".join(digits[i:i + 8] for i in range(0, len(digits), 8))


# --- a request's page -------------------------------------------------------------------------------


@dataclass
class FlawRow(FlawGroup):
    """One flaw group (promotion.gates.flaw_groups) on a request's page, with its disposition form."""

    prefix: str = ""
    form: FlawDispositionForm | None = None


def flaw_rows(promotion: PromotionRequest, datasets: list, forms: dict) -> list[FlawRow]:
    rows = []
    for group in flaw_groups(promotion.manifest, datasets):
        row = FlawRow(**vars(group), prefix=f"f{group.fingerprint[:12]}")
        if row.disposition is None:
            row.form = forms.get(f"flaw:{row.prefix}") or FlawDispositionForm(
                prefix=row.prefix, initial={"fingerprint": row.fingerprint}
            )
        rows.append(row)
    return rows


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


# --- a request's history and its live notice ----------------------------------------------------------

ACTION_LABELS = {
    "promotion.requested": "requested",
    "promotion.checked": "gates ran",
    "promotion.recheck_requested": "gates re-run",
    "promotion.approved": "approved",
    "promotion.rejected": "rejected",
    "promotion.cancelled": "cancelled",
    "promotion.load_started": "load started",
    "promotion.load_resumed": "load resumed",
    "promotion.load_interrupted": "load interrupted",
    "promotion.promoted": "promoted",
    "promotion.load_failed": "load failed",
    "promotion.rolled_back": "rolled back",
    "promotion.refused": "refused",
    "promotion.flaw_dispositioned": "flaw dispositioned",
    "promotion.flaw_disposition_cleared": "disposition withdrawn",
    "promotion.schema_drift_acknowledged": "schema drift acknowledged",
}

def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def actor_name(event) -> str:
    """Who to name for an audit row: the person, or the console for its own tasks."""
    return event.actor_label if event.actor_id else "the console"


@dataclass
class HistoryRow:
    """One audit row of a request's history: what it was about (when not the request itself) and what it says."""

    event: object
    label: str
    subject: str  # "" for the request's own rows
    link: str
    detail: str


def _state_change(before: dict, after: dict) -> str:
    if not after.get("state"):
        return ""
    return f"state {before['state']} → {after['state']}" if before.get("state") else f"state {after['state']}"


def _detail(event) -> str:
    before, after = event.before or {}, event.after or {}
    action = event.action
    if action == "promotion.refused":
        return f"{after.get('attempt')} refused: {after.get('reason')}"
    if action == "promotion.flaw_dispositioned":
        return f"{after.get('code')}: {after.get('decision')} — {after.get('note')}"
    if action == "promotion.flaw_disposition_cleared":
        return f"{before.get('code')}: {before.get('decision')} withdrawn"
    if action == "promotion.schema_drift_acknowledged":
        return f"drift from curated v{after.get('curated_version')} accepted — {after.get('note')}"
    if action == "promotion.rolled_back":
        return f"{after.get('dataset_key')} v{before.get('version')} → v{after.get('version')}"
    if action in ("promotion.load_interrupted", "promotion.load_resumed"):
        return f"attempt {after.get('attempt')}: {after.get('reason') or after.get('after') or ''}".rstrip(": ")
    if action == "promotion.load_failed":
        return after.get("error") or _state_change(before, after)
    if after.get("comment"):
        return after["comment"]
    if after.get("reason"):
        return f"{_state_change(before, after)}: {after['reason']}"
    return _state_change(before, after)


def history_rows(promotion: PromotionRequest, events: list) -> list[HistoryRow]:
    """The rows of a request's history (events from selectors.request_history), each with its subject."""
    rows = []
    for event in events:
        subject, link = "", ""
        if event.object_type == REQUEST_TYPE and event.object_id != str(promotion.pk):
            subject, link = f"request #{event.object_id}", reverse("promotion:request-detail", args=[event.object_id])
        elif event.object_type == DISPOSITION_TYPE:
            subject = "flaw disposition"
        elif event.object_type == MANIFEST_TYPE:
            subject = "flaw disposition"
        elif event.object_type == DATASET_TYPE:
            subject, link = "dataset", reverse("evidence:dataset-detail", args=[event.object_id])
        rows.append(HistoryRow(event, action_label(event.action), subject, link, _detail(event)))
    return rows
