"""What every promotion service shares: the refusal and its audit row, enqueueing after commit, the
audited object types and permissions, and how to reach the curated registry.

Every refused attempt is audited as "promotion.refused" with its reason. A refusal raises, and the
raise rolls back the service's own transaction, so the refusal is recorded after that rollback (in
the caller's transaction, or its own): that is why the services open `transaction.atomic()` inside
a `_refusals_audited` block instead of carrying the decorator.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import transaction

from console import jobs
from console.audit import audit_record
from console.dispatch import publish_after_commit
from evidence.models import DomoDataset
from promotion import policy
from promotion.choices import (  # noqa: F401
    CURATED_TYPE,
    DATASET_TYPE,
    DISPOSITION_TYPE,
    MANIFEST_TYPE,
    REQUEST_TYPE,
    PromotionState,
)
from promotion.curated.aliases import curated_reader
from promotion.gates import CuratedSchema
from promotion.models import PromotionRequest

REQUEST_PERMISSION = policy.REQUEST_PERMISSION
CONTRACT_PERMISSION = policy.CONTRACT_PERMISSION
APPROVE_PERMISSION = policy.APPROVE_PERMISSION
# Where a load keeps its claim (console.jobs): a loading request, its heartbeat, its attempts.
LOAD_JOBS = jobs.JobTable(PromotionRequest, state="state", running=PromotionState.LOADING, started="load_started_at")


class PromotionRefused(Exception):
    """An attempt the promotion rules refuse; `reason` says why (it is also in the audit trail).

    `forbidden` tells the two kinds apart for the pages and the API: True when the person may not take
    the action at all (a missing permission, or four eyes: their own request), so asking again later
    cannot help (HTTP 403); False when they may, but not now (a state, a stale or failing gate, an
    incomplete manifest, a race lost: HTTP 409) or the input is wrong.
    """

    def __init__(self, reason: str, *, forbidden: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.forbidden = forbidden


def _refuse(reason: str):
    raise PromotionRefused(reason)


def _enforce_who(actor, action: str, request: PromotionRequest | None = None, *, denied: str = "") -> None:
    """Refuse (403) unless promotion.policy lets this person take the action (on this request)."""
    found = policy.who_refusal(actor, action, request, denied=denied)
    if found:
        raise PromotionRefused(found.reason, forbidden=True)


def _enforce_state(action: str, request: PromotionRequest) -> None:
    """Refuse (409) unless promotion.policy allows the action in the request's present state."""
    found = policy.state_refusal(action, request.state)
    if found:
        raise PromotionRefused(found.reason)


def _audit_refusal(*, actor, attempt: str, object_type: str, object_id, reason: str, extra: dict | None = None):
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="promotion.refused",
            object_type=object_type,
            object_id=str(object_id),
            after={"attempt": attempt, "reason": reason, **(extra or {})},
        )


@contextlib.contextmanager
def _refusals_audited(*, actor, attempt: str, object_type: str, object_id, extra: dict | None = None) -> Iterator[None]:
    try:
        yield
    except PromotionRefused as refused:
        _audit_refusal(
            actor=actor, attempt=attempt, object_type=object_type, object_id=object_id,
            reason=refused.reason, extra=extra,
        )
        raise


# The tasks' names, registered by promotion.tasks (which imports these services): the services send
# them by name, so they never import the task module. CELERY_TASK_ROUTES routes them by name.
CHECK_TASK = "promotion.tasks.promotion_check"
LOAD_TASK = "promotion.tasks.promotion_load"
SWEEP_TASK = "promotion.tasks.promotion_sweep"


def _enqueue_check(request_id: int) -> None:
    publish_after_commit(CHECK_TASK, args=(request_id,))


def _enqueue_load(request_id: int) -> None:
    publish_after_commit(LOAD_TASK, args=(request_id,))


def _request_json(request: PromotionRequest) -> dict:
    found = {
        "state": request.state,
        "manifest": request.manifest_id,
        "manifest_sha256": request.manifest.manifest_sha256,
        "target": request.target,
        "datasets": sorted(request.datasets.values_list("domo_id", flat=True)),
    }
    if request.is_rollback:
        found.update(kind=request.kind, dataset_key=request.rollback_key, version=request.rollback_version,
                     from_version=request.rollback_from_version)
    return found


def curated_schema_from_registry(dataset: DomoDataset) -> CuratedSchema | None:
    """The schema gate's source: the dataset's current curated version (the registry's int as text)."""
    from promotion.curated import current_schema

    found = current_schema(curated_reader(), dataset.domo_id)
    return None if found is None else CuratedSchema(str(found[0]), found[1])
