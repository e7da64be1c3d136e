"""The one guard every load passes first, and the load's start (a claim) and finish."""
from __future__ import annotations

from django.db import transaction
from django.db.models import Q

from console import jobs
from console.audit import audit_record
from evidence.choices import ManifestStatus
from evidence.flags.services import flags_moved
from evidence.models import SourceManifest
from promotion import policy
from promotion.choices import PromotionState
from promotion.gates import approval_fingerprint, gates_for, run_all
from promotion.models import PromotionRequest

from ._common import LOAD_JOBS, REQUEST_TYPE, PromotionRefused, _audit_refusal, _refuse, _refusals_audited


def _load_refusal(request: PromotionRequest, *, resuming: bool = False) -> str | None:
    manifest = SourceManifest.objects.get(pk=request.manifest_id)
    if manifest.status != ManifestStatus.COMPLETE:
        return f"the manifest is {manifest.status}: only a complete manifest can be loaded"
    wrong_state = policy.state_refusal(policy.RESUME_LOAD if resuming else policy.LOAD, request.state)
    if wrong_state:
        return wrong_state.reason
    if not request.approval_fingerprint or request.approved_by_id is None:
        return "no approval is recorded"
    if request.approved_by_id == request.requested_by_id:
        return "the approval is the requester's own"
    if resuming and request.is_rollback:
        # Its own pointer moves change what rollback_target looks at; roll_back_pointers skips the
        # moves done and checks the ones left (the pointer where the approval saw it, verified, backwards).
        return None
    fresh = run_all(request, table_scans=False)  # the load verifies every table itself
    failing = [f"{name} {run.outcome}" for name, run in fresh.items() if not run.passed]
    if failing:
        return f"gates no longer pass: {', '.join(failing)}"
    if resuming:
        # The load itself changes what the schema gate looks at (its pointers move): a resumed load
        # needs its gates to pass, not the approval's fingerprint, which held when the load began.
        return None
    now = approval_fingerprint(
        manifest.manifest_sha256,
        [(gate.name, gate.version, fresh[gate.name].outcome, fresh[gate.name].inputs_fingerprint)
         for gate in gates_for(request)],
    )
    if now != request.approval_fingerprint:
        return "the approval is stale: the manifest or what the gates looked at changed since it was given"
    return None


def promotion_assert_loadable(request: PromotionRequest) -> PromotionRequest:
    """The guard every load calls first: approved, complete manifest, approval still matching fresh gates.

    Refusals are audited (committed even though this raises) and raise PromotionRefused.
    """
    fresh = PromotionRequest.objects.select_related("manifest").get(pk=request.pk)
    reason = _load_refusal(fresh)
    if reason:
        _audit_refusal(actor=None, attempt="load", object_type=REQUEST_TYPE, object_id=fresh.pk, reason=reason,
                       extra={"state": fresh.state, "manifest_status": fresh.manifest.status})
        raise PromotionRefused(reason)
    return fresh


def promotion_load_start(*, request: PromotionRequest) -> PromotionRequest:
    """Claim an approved request for its load (approved -> loading), the guard passed again under the claim.

    For the curated engine's `load_requested_datasets`: 0 rows claimed means another worker got there.
    """
    fresh = promotion_assert_loadable(request)
    with _refusals_audited(actor=None, attempt="load", object_type=REQUEST_TYPE, object_id=fresh.pk):
        with transaction.atomic():
            claimable = Q(state__in=policy.from_states(policy.LOAD), approval_fingerprint=fresh.approval_fingerprint)
            claimed = jobs.claim(LOAD_JOBS, fresh.pk, claimable, load_progress={"stage": "claimed"})
            if not claimed:
                _refuse("another load claimed this request first, or its approval changed")
            audit_record(actor=None, action="promotion.load_started", object_type=REQUEST_TYPE,
                         object_id=str(fresh.pk), before={"state": PromotionState.APPROVED},
                         after={"state": PromotionState.LOADING, "approval_fingerprint": fresh.approval_fingerprint})
    fresh.refresh_from_db()
    return fresh


@transaction.atomic
def promotion_load_finish(*, request: PromotionRequest, error: str = "") -> PromotionRequest:
    """Record the end of a load: promoted, or failed with the error."""
    locked = PromotionRequest.objects.select_for_update().get(pk=request.pk)
    if error:
        locked.fail_load(error)
    else:
        locked.finish_load()
    if not error or locked.load_progress.get("stage") in ("promoting", "rolling back"):
        # The curated pointers moved (all of them, or some before the failure): the flags follow the claims.
        flags_moved(trigger="curated.rolled_back" if locked.is_rollback else "curated.promoted",
                    ref=f"promotion request {locked.pk}")
    if locked.is_rollback and not error:
        moved = locked.load_progress.get("datasets") or {}
        key = locked.rollback_key
        golden = {k: v for k, v in moved.items() if k != key}
        audit_record(
            actor=None, action="promotion.rolled_back", object_type=REQUEST_TYPE, object_id=str(locked.pk),
            before={"state": PromotionState.LOADING, "dataset_key": key,
                    "version": moved.get(key, {}).get("from", locked.rollback_from_version),
                    "golden": {k: v["from"] for k, v in golden.items()}},
            after={"state": locked.state, "dataset_key": key, "version": locked.rollback_version,
                   "golden": {k: v["version"] for k, v in golden.items()},
                   "golden_kept": locked.load_progress.get("golden_kept") or {}},
        )
        return locked
    after = {"state": locked.state, "error": error}
    if locked.load_progress.get("datasets"):
        # The curated versions this load wrote (raw SQL on the curated store, another database than this
        # event's) and the rows of each; on a failure, the stage says whether pointers had started to move.
        after["datasets"] = locked.load_progress["datasets"]
        if error:
            after["stage"] = locked.load_progress.get("stage", "")
    if locked.load_progress.get("golden_kept"):
        after["golden_kept"] = locked.load_progress["golden_kept"]
    audit_record(actor=None, action="promotion.promoted" if not error else "promotion.load_failed",
                 object_type=REQUEST_TYPE, object_id=str(locked.pk), before={"state": PromotionState.LOADING},
                 after=after)
    return locked

