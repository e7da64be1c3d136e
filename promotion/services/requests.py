"""Promotion requests: ask, check the gates, approve (four eyes), reject, cancel."""
from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from console import clock
from console.audit import audit_record
from evidence.choices import ManifestStatus
from evidence.models import DomoDataset, SourceManifest
from promotion import policy
from promotion.choices import GateOutcome, PromotionState, PromotionTarget
from promotion.gates import approval_fingerprint, gates_for, run_all
from promotion.models import GateResult, PromotionRequest

from ._common import (
    MANIFEST_TYPE,
    REQUEST_TYPE,
    _enforce_state,
    _enforce_who,
    _enqueue_check,
    _enqueue_load,
    _refusals_audited,
    _refuse,
    _request_json,
)

# --- request -------------------------------------------------------------------------------------


def promotion_request(
    *,
    actor,
    manifest: SourceManifest,
    datasets: Iterable[DomoDataset],
    target: str = PromotionTarget.MIGRATION,
    enqueue: bool = True,
) -> PromotionRequest:
    """Ask to promote datasets of a complete manifest; the gates then run in Celery (after commit)."""
    datasets = list(datasets)
    extra = {"target": str(target), "datasets": sorted(d.pk for d in datasets)}
    with _refusals_audited(actor=actor, attempt="request", object_type=MANIFEST_TYPE, object_id=manifest.pk, extra=extra):
        if target not in PromotionTarget.values:
            _refuse(f"unknown target {target!r}")
        _enforce_who(actor, policy.REQUEST)
        if target == PromotionTarget.CONTRACT:
            _enforce_who(actor, policy.CONTRACT)
        with transaction.atomic():
            fresh = SourceManifest.objects.select_for_update().get(pk=manifest.pk)
            if fresh.status != ManifestStatus.COMPLETE:
                _refuse(f"the manifest is {fresh.status}: only a complete manifest can be promoted")
            if not datasets:
                _refuse("name at least one dataset to promote")
            foreign = [d.pk for d in datasets if d.manifest_id != fresh.pk]
            if foreign:
                _refuse(f"datasets {foreign} do not belong to manifest {fresh.load_id}")
            request = PromotionRequest.objects.create(
                manifest=fresh, target=target, requested_by=actor, requested_at=clock.now()
            )
            request.datasets.set(datasets)
            request.start_check()
            audit_record(
                actor=actor, action="promotion.requested", object_type=REQUEST_TYPE, object_id=str(request.pk),
                after=_request_json(request),
            )
            if enqueue:
                _enqueue_check(request.pk)
    return request


def promotion_recheck(*, actor, request: PromotionRequest, enqueue: bool = True) -> PromotionRequest:
    """Run the gates again (after a disposition, a re-analysis...); an approval is replaced by the new check."""
    with _refusals_audited(actor=actor, attempt="recheck", object_type=REQUEST_TYPE, object_id=request.pk):
        _enforce_who(actor, policy.RECHECK, request)
        with transaction.atomic():
            locked = PromotionRequest.objects.select_for_update().get(pk=request.pk)
            before = {"state": locked.state, "approved_by": locked.approved_by_id,
                      "approval_fingerprint": locked.approval_fingerprint}
            _enforce_state(policy.RECHECK, locked)
            locked.start_check()
            audit_record(
                actor=actor, action="promotion.recheck_requested", object_type=REQUEST_TYPE,
                object_id=str(locked.pk), before=before, after={"state": locked.state},
            )
            if enqueue:
                _enqueue_check(locked.pk)
    request.refresh_from_db()
    return request


# --- gates ---------------------------------------------------------------------------------------


def promotion_check(*, request_id: int) -> PromotionRequest | None:
    """Run every gate of a checking request and record the results: checking -> ready | blocked.

    Idempotent: a request that is gone or no longer checking is left alone. The gates read outside
    the write transaction; what changes in between makes a result stale, which approval catches.
    """
    request = PromotionRequest.objects.select_related("manifest").filter(pk=request_id).first()
    if request is None or request.state not in policy.from_states(policy.FINISH_CHECK):
        return None
    runs = run_all(request)
    with transaction.atomic():
        request = PromotionRequest.objects.select_for_update().select_related("manifest").get(pk=request_id)
        if request.state not in policy.from_states(policy.FINISH_CHECK):
            return None
        superseded = GateResult.objects.filter(request=request, current=True)
        superseded_ids = sorted(superseded.values_list("pk", flat=True))
        superseded.update(current=False)
        now = clock.now()
        rows = GateResult.objects.bulk_create(
            GateResult(
                request=request,
                gate=gate.name,
                version=gate.version,
                outcome=runs[gate.name].outcome,
                details=runs[gate.name].details,
                inputs_fingerprint=runs[gate.name].inputs_fingerprint,
                manifest_sha256=request.manifest.manifest_sha256,
                ran_at=now,
                current=True,
            )
            for gate in gates_for(request)
        )
        request.finish_check(passed=all(run.passed for run in runs.values()))
        audit_record(
            actor=None, action="promotion.checked", object_type=REQUEST_TYPE, object_id=str(request.pk),
            after={
                "state": request.state,
                "manifest_sha256": request.manifest.manifest_sha256,
                "gates": {
                    r.gate: {"id": r.pk, "version": r.version, "outcome": r.outcome, "details": len(r.details)}
                    for r in rows
                },
                "superseded": superseded_ids,  # the gate results no longer current
            },
        )
    return request


def _current_results(request: PromotionRequest) -> dict[str, GateResult]:
    return {r.gate: r for r in GateResult.objects.filter(request=request, current=True)}


def _gate_problem(request: PromotionRequest) -> str | None:
    """Why the request's current gate results do not allow approval, or None."""
    manifest = SourceManifest.objects.get(pk=request.manifest_id)
    if manifest.status != ManifestStatus.COMPLETE:
        return f"the manifest is {manifest.status}"
    current = _current_results(request)
    fresh = run_all(request, table_scans=False)  # an approval must not wait for whole-table scans
    for gate in gates_for(request):
        result = current.get(gate.name)
        if result is None or result.version != gate.version:
            return f"gate {gate.name} has no current result at version {gate.version}; run the gates again"
        if result.outcome != GateOutcome.PASSED:
            return f"gate {gate.name} {result.outcome}"
        if result.manifest_sha256 != manifest.manifest_sha256:
            return f"gate {gate.name} ran against another manifest hash"
        now = fresh[gate.name]
        if now.outcome != result.outcome or now.inputs_fingerprint != result.inputs_fingerprint:
            return f"gate {gate.name} is stale (what it looked at changed since it ran); run the gates again"
    return None


# --- four eyes -----------------------------------------------------------------------------------


def promotion_approve(*, actor, request: PromotionRequest, comment: str) -> PromotionRequest:
    """Approve a ready request: another person than the requester, with the approve permission, on
    current, fresh, passed gate results of a complete manifest. The approval is bound to what it saw.

    Two approvers, or an approval racing a rejection, a cancellation or a re-run of the gates: the request's row
    is locked before its state and gates are read, so each re-checks what the one before it committed, and the
    compare-and-set on state=ready lets exactly one approval through.
    """
    comment = (comment or "").strip()
    with _refusals_audited(actor=actor, attempt="approve", object_type=REQUEST_TYPE, object_id=request.pk):
        _enforce_who(actor, policy.APPROVE, request)
        if not comment:
            _refuse("an approval needs a comment")
        with transaction.atomic():
            fresh = PromotionRequest.objects.select_for_update(of=("self",)).select_related("manifest").get(
                pk=request.pk)
            _enforce_state(policy.APPROVE, fresh)
            problem = _gate_problem(fresh)
            if problem:
                _refuse(problem)
            results = sorted(_current_results(fresh).values(), key=lambda r: r.gate)
            fingerprint = approval_fingerprint(
                fresh.manifest.manifest_sha256,
                [(r.gate, r.version, r.outcome, r.inputs_fingerprint) for r in results],
            )
            seen = [{"id": r.pk, "gate": r.gate, "version": r.version, "outcome": r.outcome} for r in results]
            claimed = PromotionRequest.objects.filter(pk=fresh.pk, state=fresh.state).update(
                state=PromotionState.APPROVED, approved_by=actor, approved_at=clock.now(),
                approval_comment=comment, approval_fingerprint=fingerprint, approved_gate_results=seen,
            )
            if not claimed:
                _refuse("someone else decided this request first")
            audit_record(
                actor=actor, action="promotion.approved", object_type=REQUEST_TYPE, object_id=str(fresh.pk),
                before={"state": PromotionState.READY},
                after={"state": PromotionState.APPROVED, "comment": comment, "approval_fingerprint": fingerprint,
                       "manifest_sha256": fresh.manifest.manifest_sha256, "gate_results": seen},
            )
            _enqueue_load(fresh.pk)
    request.refresh_from_db()
    return request


def promotion_reject(*, actor, request: PromotionRequest, comment: str) -> PromotionRequest:
    """Reject a blocked, ready or approved request, with a comment (the requester cancels instead)."""
    comment = (comment or "").strip()
    with _refusals_audited(actor=actor, attempt="reject", object_type=REQUEST_TYPE, object_id=request.pk):
        _enforce_who(actor, policy.REJECT, request)
        if not comment:
            _refuse("a rejection needs a comment")
        with transaction.atomic():
            locked = PromotionRequest.objects.select_for_update().get(pk=request.pk)
            before = locked.state
            _enforce_state(policy.REJECT, locked)
            locked.reject(actor=actor, comment=comment)
            audit_record(actor=actor, action="promotion.rejected", object_type=REQUEST_TYPE, object_id=str(locked.pk),
                         before={"state": before}, after={"state": locked.state, "comment": comment})
    request.refresh_from_db()
    return request


def promotion_cancel(*, actor, request: PromotionRequest, reason: str) -> PromotionRequest:
    """The requester (or an approver) withdraws a request that has not started loading, saying why (as a
    rejection does)."""
    reason = (reason or "").strip()
    with _refusals_audited(actor=actor, attempt="cancel", object_type=REQUEST_TYPE, object_id=request.pk):
        _enforce_who(actor, policy.CANCEL, request)
        with transaction.atomic():
            locked = PromotionRequest.objects.select_for_update().get(pk=request.pk)
            before = locked.state
            _enforce_state(policy.CANCEL, locked)
            if not reason:
                _refuse("a cancellation needs a reason")
            locked.cancel(actor=actor)
            audit_record(actor=actor, action="promotion.cancelled", object_type=REQUEST_TYPE, object_id=str(locked.pk),
                         before={"state": before}, after={"state": locked.state, "reason": reason})
    request.refresh_from_db()
    return request

