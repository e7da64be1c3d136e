"""Column layouts and badges of the promotion lists: the queue and the curated registry."""

from __future__ import annotations

from promotion.choices import GateOutcome, PromotionState

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
