"""Promotion workflows: request, check the gates, disposition flaws, approve (four eyes), reject, cancel,
and the one guard every load passes first.

Every refused attempt is audited as "promotion.refused" with its reason. A refusal raises, and the
raise rolls back the service's own transaction, so the refusal is recorded after that rollback (in
the caller's transaction, or its own): that is why these services open `transaction.atomic()`
inside a `_refusals_audited` block instead of carrying the decorator.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path

from django.db import transaction
from django.db.models import F, Q

from console import clock
from console.audit import audit_record
from evidence.choices import ManifestStatus
from evidence.models import DomoCard, DomoDataset, ManifestFile, SourceManifest
from promotion.choices import FlawDecision, GateOutcome, PromotionState, PromotionTarget
from promotion.gates import (
    GATES,
    CuratedSchema,
    approval_fingerprint,
    curated_schema_of,
    flaw_fingerprint,
    requested_datasets,
    run_all,
    schema_columns,
    sha256_of,
)
from promotion.models import FlawDisposition, GateResult, PromotionRequest, SchemaDriftAcknowledgement

REQUEST_TYPE = "promotion.promotionrequest"
MANIFEST_TYPE = "evidence.sourcemanifest"
DISPOSITION_TYPE = "promotion.flawdisposition"
DATASET_TYPE = "evidence.domodataset"

REQUEST_PERMISSION = "console.request_promotion"
CONTRACT_PERMISSION = "console.request_contract_promotion"
APPROVE_PERMISSION = "console.approve_promotion"


class PromotionRefused(Exception):
    """An attempt the promotion rules refuse; `reason` says why (it is also in the audit trail)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _refuse(reason: str):
    raise PromotionRefused(reason)


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


def _enqueue_check(request_id: int) -> None:
    from promotion.tasks import promotion_check_task

    transaction.on_commit(lambda: promotion_check_task.delay(request_id))


def _enqueue_load(request_id: int) -> None:
    from promotion.tasks import promotion_load

    transaction.on_commit(lambda: promotion_load.delay(request_id))


def _request_json(request: PromotionRequest) -> dict:
    return {
        "state": request.state,
        "manifest": request.manifest_id,
        "manifest_sha256": request.manifest.manifest_sha256,
        "target": request.target,
        "datasets": sorted(request.datasets.values_list("domo_id", flat=True)),
    }


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
        if not actor.has_perm(REQUEST_PERMISSION):
            _refuse("requesting a promotion needs the request_promotion permission")
        if target == PromotionTarget.CONTRACT and not actor.has_perm(CONTRACT_PERMISSION):
            _refuse("promoting into a backend contract needs the request_contract_promotion permission")
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
        if not (actor.has_perm(REQUEST_PERMISSION) or actor.has_perm(APPROVE_PERMISSION)):
            _refuse("re-running the gates needs the request or approve permission")
        with transaction.atomic():
            locked = PromotionRequest.objects.select_for_update().get(pk=request.pk)
            before = {"state": locked.state, "approved_by": locked.approved_by_id,
                      "approval_fingerprint": locked.approval_fingerprint}
            if locked.state not in (PromotionState.BLOCKED, PromotionState.READY, PromotionState.APPROVED):
                _refuse(f"a {locked.state} request cannot be checked again")
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
    if request is None or request.state != PromotionState.CHECKING:
        return None
    runs = run_all(request)
    with transaction.atomic():
        request = PromotionRequest.objects.select_for_update().select_related("manifest").get(pk=request_id)
        if request.state != PromotionState.CHECKING:
            return None
        GateResult.objects.filter(request=request, current=True).update(current=False)
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
            for gate in GATES
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
    fresh = run_all(request)
    for gate in GATES:
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


# --- dispositions --------------------------------------------------------------------------------


def _manifest_flaw(manifest: SourceManifest, fingerprint: str):
    from evidence.models import CalculationFlaw

    flaws = CalculationFlaw.objects.filter(manifest=manifest).select_related(
        "analysis__beast_mode", "analysis__dataflow_step__dataflow"
    )
    return next((flaw for flaw in flaws.iterator() if flaw_fingerprint(flaw) == fingerprint), None)


def flaw_disposition_set(*, actor, manifest: SourceManifest, fingerprint: str, decision: str, note: str) -> FlawDisposition:
    """Record (or change) an operator's decision on one flaw of a manifest, with its note."""
    note = (note or "").strip()
    extra = {"fingerprint": fingerprint, "decision": str(decision)}
    with _refusals_audited(actor=actor, attempt="disposition", object_type=MANIFEST_TYPE, object_id=manifest.pk, extra=extra):
        if not actor.has_perm(REQUEST_PERMISSION):
            _refuse("dispositioning a flaw needs the request_promotion permission")
        if decision not in FlawDecision.values:
            _refuse(f"unknown decision {decision!r}")
        if not note:
            _refuse("a disposition needs a note")
        flaw = _manifest_flaw(manifest, fingerprint)
        if flaw is None:
            _refuse("no flaw of this manifest has that fingerprint (re-analysis may have changed it)")
        with transaction.atomic():
            existing = FlawDisposition.objects.select_for_update().filter(manifest=manifest, fingerprint=fingerprint).first()
            before = {"decision": existing.decision, "note": existing.note, "decided_by": existing.decided_by_id} if existing else None
            disposition, _ = FlawDisposition.objects.update_or_create(
                manifest=manifest, fingerprint=fingerprint,
                defaults={"code": flaw.code, "decision": decision, "note": note, "decided_by": actor,
                          "decided_at": clock.now()},
            )
            audit_record(
                actor=actor, action="promotion.flaw_dispositioned", object_type=DISPOSITION_TYPE,
                object_id=str(disposition.pk), before=before,
                after={"manifest": manifest.pk, "fingerprint": fingerprint, "code": flaw.code,
                       "decision": decision, "note": note},
            )
    return disposition


def flaw_disposition_clear(*, actor, manifest: SourceManifest, fingerprint: str) -> None:
    """Withdraw a disposition: the flaw is undecided again (and the gates that saw it go stale)."""
    with _refusals_audited(actor=actor, attempt="disposition_clear", object_type=MANIFEST_TYPE,
                           object_id=manifest.pk, extra={"fingerprint": fingerprint}):
        if not actor.has_perm(REQUEST_PERMISSION):
            _refuse("withdrawing a disposition needs the request_promotion permission")
        with transaction.atomic():
            existing = FlawDisposition.objects.select_for_update().filter(manifest=manifest, fingerprint=fingerprint).first()
            if existing is None:
                _refuse("that flaw has no disposition")
            before = {"manifest": manifest.pk, "fingerprint": fingerprint, "code": existing.code,
                      "decision": existing.decision, "note": existing.note}
            pk = existing.pk
            existing.delete()
            audit_record(actor=actor, action="promotion.flaw_disposition_cleared", object_type=DISPOSITION_TYPE,
                         object_id=str(pk), before=before)


def schema_drift_acknowledge(*, actor, dataset: DomoDataset, note: str) -> SchemaDriftAcknowledgement:
    """Accept that a dataset's schema differs from its current curated version's (this exact drift)."""
    note = (note or "").strip()
    with _refusals_audited(actor=actor, attempt="acknowledge_drift", object_type=DATASET_TYPE, object_id=dataset.pk):
        if not actor.has_perm(REQUEST_PERMISSION):
            _refuse("acknowledging a schema drift needs the request_promotion permission")
        if not note:
            _refuse("an acknowledgement needs a note")
        curated = curated_schema_of(dataset)
        ours = schema_columns(dataset.schema)
        if curated is None or schema_columns(curated.schema) == ours:
            _refuse("the dataset's schema does not drift from a curated version")
        with transaction.atomic():
            ack, _ = SchemaDriftAcknowledgement.objects.update_or_create(
                dataset=dataset, curated_version=curated.version, schema_sha256=sha256_of(ours),
                defaults={"note": note, "acknowledged_by": actor, "acknowledged_at": clock.now()},
            )
            audit_record(actor=actor, action="promotion.schema_drift_acknowledged", object_type=DATASET_TYPE,
                         object_id=str(dataset.pk),
                         after={"curated_version": curated.version, "schema_sha256": ack.schema_sha256, "note": note})
    return ack


# --- four eyes -----------------------------------------------------------------------------------


def promotion_approve(*, actor, request: PromotionRequest, comment: str) -> PromotionRequest:
    """Approve a ready request: another person than the requester, with the approve permission, on
    current, fresh, passed gate results of a complete manifest. The approval is bound to what it saw.

    Two approvers racing: the compare-and-set on state=ready lets exactly one through.
    """
    comment = (comment or "").strip()
    with _refusals_audited(actor=actor, attempt="approve", object_type=REQUEST_TYPE, object_id=request.pk):
        if not actor.has_perm(APPROVE_PERMISSION):
            _refuse("approving needs the approve_promotion permission")
        if actor.pk == request.requested_by_id:
            _refuse("the requester cannot approve their own request (four eyes)")
        if not comment:
            _refuse("an approval needs a comment")
        with transaction.atomic():
            fresh = PromotionRequest.objects.select_related("manifest").get(pk=request.pk)
            if fresh.state != PromotionState.READY:
                _refuse(f"only a ready request can be approved; this one is {fresh.state}")
            problem = _gate_problem(fresh)
            if problem:
                _refuse(problem)
            results = sorted(_current_results(fresh).values(), key=lambda r: r.gate)
            fingerprint = approval_fingerprint(
                fresh.manifest.manifest_sha256,
                [(r.gate, r.version, r.outcome, r.inputs_fingerprint) for r in results],
            )
            seen = [{"id": r.pk, "gate": r.gate, "version": r.version, "outcome": r.outcome} for r in results]
            claimed = PromotionRequest.objects.filter(pk=fresh.pk, state=PromotionState.READY).update(
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
        if not actor.has_perm(APPROVE_PERMISSION):
            _refuse("rejecting needs the approve_promotion permission")
        if actor.pk == request.requested_by_id:
            _refuse("the requester cannot reject their own request; cancel it")
        if not comment:
            _refuse("a rejection needs a comment")
        with transaction.atomic():
            locked = PromotionRequest.objects.select_for_update().get(pk=request.pk)
            before = locked.state
            if locked.state not in (PromotionState.BLOCKED, PromotionState.READY, PromotionState.APPROVED):
                _refuse(f"a {locked.state} request cannot be rejected")
            locked.reject(actor=actor, comment=comment)
            audit_record(actor=actor, action="promotion.rejected", object_type=REQUEST_TYPE, object_id=str(locked.pk),
                         before={"state": before}, after={"state": locked.state, "comment": comment})
    request.refresh_from_db()
    return request


def promotion_cancel(*, actor, request: PromotionRequest, reason: str = "") -> PromotionRequest:
    """The requester (or an approver) withdraws a request that has not started loading."""
    with _refusals_audited(actor=actor, attempt="cancel", object_type=REQUEST_TYPE, object_id=request.pk):
        if actor.pk != request.requested_by_id and not actor.has_perm(APPROVE_PERMISSION):
            _refuse("only the requester or an approver can cancel a request")
        with transaction.atomic():
            locked = PromotionRequest.objects.select_for_update().get(pk=request.pk)
            before = locked.state
            if locked.is_final or locked.state == PromotionState.LOADING:
                _refuse(f"a {locked.state} request cannot be cancelled")
            locked.cancel(actor=actor)
            audit_record(actor=actor, action="promotion.cancelled", object_type=REQUEST_TYPE, object_id=str(locked.pk),
                         before={"state": before}, after={"state": locked.state, "reason": reason})
    request.refresh_from_db()
    return request


# --- the load guard ------------------------------------------------------------------------------


def _load_refusal(request: PromotionRequest, *, resuming: bool = False) -> str | None:
    manifest = SourceManifest.objects.get(pk=request.manifest_id)
    if manifest.status != ManifestStatus.COMPLETE:
        return f"the manifest is {manifest.status}: only a complete manifest can be loaded"
    if request.state != (PromotionState.LOADING if resuming else PromotionState.APPROVED):
        return f"the request is {request.state}, not approved"
    if not request.approval_fingerprint or request.approved_by_id is None:
        return "no approval is recorded"
    if request.approved_by_id == request.requested_by_id:
        return "the approval is the requester's own"
    fresh = run_all(request)
    failing = [f"{name} {run.outcome}" for name, run in fresh.items() if not run.passed]
    if failing:
        return f"gates no longer pass: {', '.join(failing)}"
    if resuming:
        # The load itself changes what the schema gate looks at (its pointers move): a resumed load
        # needs its gates to pass, not the approval's fingerprint, which held when the load began.
        return None
    now = approval_fingerprint(
        manifest.manifest_sha256,
        [(gate.name, gate.version, fresh[gate.name].outcome, fresh[gate.name].inputs_fingerprint) for gate in GATES],
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
            claimed = PromotionRequest.objects.filter(
                pk=fresh.pk, state=PromotionState.APPROVED, approval_fingerprint=fresh.approval_fingerprint
            ).update(state=PromotionState.LOADING, load_started_at=clock.now(), heartbeat_at=clock.now(),
                     attempts=F("attempts") + 1, load_progress={"stage": "claimed"})
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
    audit_record(actor=None, action="promotion.promoted" if not error else "promotion.load_failed",
                 object_type=REQUEST_TYPE, object_id=str(locked.pk), before={"state": PromotionState.LOADING},
                 after={"state": locked.state, "error": error})
    return locked


# --- the load ------------------------------------------------------------------------------------

MAX_LOAD_ATTEMPTS = 3


class LoadInterrupted(Exception):
    """A transient error stopped the load; the request stays loading, released for a retry of `attempt`."""

    def __init__(self, attempt: int, reason: str):
        super().__init__(reason)
        self.attempt = attempt
        self.reason = reason


class LoadHeld(Exception):
    """A live worker still beats on this loading request: look again once its heartbeat could be stale."""

    def __init__(self, retry_in: float):
        super().__init__(f"held by a live worker; look again in {retry_in:.0f}s")
        self.retry_in = retry_in


class LoadLost(Exception):
    """This worker no longer holds the load (the sweeper failed it, or a takeover claimed it)."""


def _is_transient(exc: BaseException) -> bool:
    """Worth another attempt: the database or the lake could not be reached, or another session
    still holds a dataset's load lock. Refusals, checksum mismatches and bad data never are."""
    import psycopg
    from django.db import OperationalError, InterfaceError

    from console.lake import LakeError, LakeIntegrityError, LakeNotFound, LakePathError
    from promotion.curated import LoadBusy

    if isinstance(exc, (LakeIntegrityError, LakeNotFound, LakePathError)):
        return False
    return isinstance(
        exc, (OperationalError, InterfaceError, psycopg.OperationalError, LoadBusy, LakeError, ConnectionError,
              TimeoutError),
    )


def _stale_before():
    from django.conf import settings

    return clock.now() - timedelta(seconds=settings.PROMOTION_STALE_SECONDS)


def _take_over(request: PromotionRequest, *, resume_attempt: int | None) -> PromotionRequest | None:
    """Resume a loading request: ours after a transient error (resume_attempt), or one whose worker died
    (stale heartbeat). The guard runs again; past MAX_LOAD_ATTEMPTS the request fails instead."""
    fresh = PromotionRequest.objects.select_related("manifest").get(pk=request.pk)
    if fresh.state != PromotionState.LOADING:
        return None
    ours = resume_attempt is not None and resume_attempt == fresh.attempts
    beat = fresh.heartbeat_at or fresh.load_started_at or clock.now()
    if not ours and beat >= _stale_before():
        # A live worker holds it (Redis redelivered a long task), or died a moment ago: look again later.
        raise LoadHeld((beat - _stale_before()).total_seconds() + 1)
    if fresh.attempts >= MAX_LOAD_ATTEMPTS:
        _finish_if_ours(fresh, error=f"gave up after {fresh.attempts} load attempts")
        return None
    reason = _load_refusal(fresh, resuming=True)
    if reason:
        _audit_refusal(actor=None, attempt="load", object_type=REQUEST_TYPE, object_id=fresh.pk, reason=reason,
                       extra={"state": fresh.state, "manifest_status": fresh.manifest.status})
        _finish_if_ours(fresh, error=f"refused on resume: {reason}")
        return None
    with transaction.atomic():
        claimed = PromotionRequest.objects.filter(
            pk=fresh.pk, state=PromotionState.LOADING, attempts=fresh.attempts
        ).update(attempts=F("attempts") + 1, heartbeat_at=clock.now())
        if not claimed:
            return None  # another worker took it over first
        audit_record(actor=None, action="promotion.load_resumed", object_type=REQUEST_TYPE, object_id=str(fresh.pk),
                     after={"attempt": fresh.attempts + 1, "after": "transient error" if ours else "stale heartbeat",
                            "progress": fresh.load_progress})
    fresh.refresh_from_db()
    return fresh


def _finish_if_ours(request: PromotionRequest, *, error: str = "") -> PromotionRequest | None:
    """promotion_load_finish, unless the sweeper or a takeover moved the request on meanwhile."""
    with transaction.atomic():
        locked = PromotionRequest.objects.select_for_update().get(pk=request.pk)
        if locked.state != PromotionState.LOADING or locked.attempts != request.attempts:
            return None
        return promotion_load_finish(request=locked, error=error)


def _beat(request: PromotionRequest, **progress) -> None:
    """Write progress and the heartbeat; raise LoadLost when this attempt no longer holds the request."""
    request.load_progress = {**request.load_progress, **progress}
    alive = PromotionRequest.objects.filter(
        pk=request.pk, state=PromotionState.LOADING, attempts=request.attempts
    ).update(load_progress=request.load_progress, heartbeat_at=clock.now())
    if not alive:
        raise LoadLost(f"promotion #{request.pk} attempt {request.attempts} no longer holds the load")


@contextlib.contextmanager
def _local_copy(lake_path: str, suffix: str) -> Iterator[Path]:
    """The lake file verified and copied to a temp file under VAR_DIR (never inside a transaction)."""
    from django.conf import settings

    from console.lake import get_lake, iter_chunks

    folder = Path(settings.VAR_DIR) / "promotion"
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=folder, suffix=suffix)
    path = Path(name)
    try:
        with os.fdopen(handle, "wb") as out, get_lake().open(lake_path) as stream:
            for chunk in iter_chunks(stream):
                out.write(chunk)
        yield path
    finally:
        path.unlink(missing_ok=True)


def _golden_files(request: PromotionRequest, datasets: list[DomoDataset]) -> list[tuple[DomoCard, str]]:
    """(card, bronze path of its golden.csv) for each card on the requested datasets that has one."""
    cards = (
        DomoCard.objects.filter(manifest_id=request.manifest_id, datasets__in=[d.pk for d in datasets])
        .exclude(golden_path="").distinct().order_by("pk")
    )
    bronze = dict(
        ManifestFile.objects.filter(manifest_id=request.manifest_id, path__in=[c.golden_path for c in cards])
        .exclude(bronze_path="").values_list("path", "bronze_path")
    )
    return [(card, bronze[card.golden_path]) for card in cards if card.golden_path in bronze]


def _load_and_promote(request: PromotionRequest) -> dict:
    """Load every dataset and golden packet into verified versions, then move each pointer (one short
    transaction each). Re-runs reuse what this load id already verified (the engine's idempotency)."""
    from django.db import connections

    from promotion import curated

    connection = connections["curated"]
    manifest = request.manifest
    ids = {"load_id": manifest.load_id, "manifest_sha256": manifest.manifest_sha256}
    datasets = requested_datasets(request)
    # SQLite has one writer: while the engine's COPY transaction holds the console's own SQLite
    # file, a heartbeat there would wait for it; it then beats between datasets only.
    beat_while_copying = not (connection.vendor == "sqlite" and _curated_is_default())
    loaded: dict[str, dict] = {}
    pointers: list[tuple[str, int]] = []
    for dataset in datasets:
        _beat(request, stage="loading", dataset=dataset.domo_id, rows=0)
        with _local_copy(dataset.silver_path, ".parquet") as parquet:
            result = curated.load_dataset(
                connection=connection, dataset_key=dataset.domo_id, parquet_path=parquet, schema=dataset.schema,
                on_progress=(lambda rows: _beat(request, rows=rows)) if beat_while_copying else None, **ids,
            )
        loaded[dataset.domo_id] = {"version": result.version, "rows": result.rows, "reused": result.reused}
        pointers.append((dataset.domo_id, result.version))
        _beat(request, datasets=loaded)
    for card, bronze_path in _golden_files(request, datasets):
        key = curated.golden_key(card.domo_id)
        _beat(request, stage="loading golden", dataset=key, rows=0)
        with _local_copy(bronze_path, ".csv") as golden_csv:
            result = curated.load_golden(connection=connection, card_id=card.domo_id, golden_csv=golden_csv, **ids)
        loaded[key] = {"version": result.version, "rows": result.rows, "reused": result.reused}
        pointers.append((key, result.version))
        _beat(request, datasets=loaded)
    # Every version is verified: only now do readers move, one pointer at a time.
    for key, version in pointers:
        _beat(request, stage="promoting", dataset=key)
        curated.promote_version(connection=connection, dataset_key=key, version=version)
    _beat(request, stage="promoted", dataset="")
    return loaded


def load_requested_datasets(*, request: PromotionRequest, resume_attempt: int | None = None) -> PromotionRequest | None:
    """Claim the request (promotion_load_start, or a takeover of a loading one), load and promote its
    datasets and golden packets, then promotion_load_finish: promoted, or failed with the reason.

    A transient error (database, lake, a dataset's load lock) releases the request for a retry
    (LoadInterrupted) until MAX_LOAD_ATTEMPTS; anything else fails it. Refusals raise PromotionRefused.
    """
    if request.state == PromotionState.LOADING:
        claimed = _take_over(request, resume_attempt=resume_attempt)
        if claimed is None:
            return None
    else:
        claimed = promotion_load_start(request=request)
    try:
        _load_and_promote(claimed)
    except LoadLost:
        return None
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        if _is_transient(exc) and claimed.attempts < MAX_LOAD_ATTEMPTS:
            try:
                _beat(claimed, stage="waiting to retry", error=reason)
            except LoadLost:
                return None
            raise LoadInterrupted(claimed.attempts, reason) from exc
        return _finish_if_ours(claimed, error=reason)
    return _finish_if_ours(claimed)


def promotion_sweep_stale(*, older_than: timedelta | None = None) -> list[int]:
    """Fail loading requests abandoned by a lost worker; returns their ids.

    The cutoff (PROMOTION_ABANDONED_SECONDS) is longer than the takeover's (PROMOTION_STALE_SECONDS),
    so a task the broker redelivers still finds its load to resume before the sweeper fails it.
    """
    from django.conf import settings

    cutoff = clock.now() - (older_than or timedelta(seconds=settings.PROMOTION_ABANDONED_SECONDS))
    stale = PromotionRequest.objects.filter(state=PromotionState.LOADING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, load_started_at__lt=cutoff)
    )
    failed = []
    for request in stale.order_by("pk"):
        with transaction.atomic():
            locked = PromotionRequest.objects.select_for_update().get(pk=request.pk)
            beat = locked.heartbeat_at or locked.load_started_at
            if locked.state != PromotionState.LOADING or beat is None or beat >= cutoff:
                continue  # it beat (or finished) since the scan
            promotion_load_finish(request=locked, error=f"the load's heartbeat stopped at {beat.isoformat()} "
                                                         f"(attempt {locked.attempts})")
            failed.append(locked.pk)
    return failed


def curated_schema_from_registry(dataset: DomoDataset) -> CuratedSchema | None:
    """The schema gate's source: the dataset's current curated version (the registry's int as text)."""
    from django.db import connections

    from promotion.curated import current_schema

    found = current_schema(curated_reader(), dataset.domo_id)
    return None if found is None else CuratedSchema(str(found[0]), found[1])


def curated_reader():
    """A connection to read the curated registry with, even inside the caller's transaction.

    When "curated" is the console's own database (the default, and the test mirror), the gates read
    through the default connection's DB-API handle: no second connection, and inside approve's
    transaction they see the same snapshot. A separate curated database is read through its alias.
    """
    from django.db import connections

    alias = "default" if _curated_is_default() else "curated"
    connections[alias].ensure_connection()
    return connections[alias].connection


def _curated_is_default() -> bool:
    from django.db import connections

    ours, theirs = connections["default"].settings_dict, connections["curated"].settings_dict
    return theirs.get("TEST", {}).get("MIRROR") == "default" or all(
        ours.get(k) == theirs.get(k) for k in ("ENGINE", "NAME", "HOST", "PORT")
    )
