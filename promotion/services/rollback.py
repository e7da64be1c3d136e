"""Rollback: pointing one curated dataset back at an earlier verified version is a promotion request of
its own kind, through the same gates (ROLLBACK_GATES), the same four-eyes approval and the same load
guard; the load task then moves the pointers instead of loading.

Choices:
- the request's manifest is the one the target version was loaded from (the registry's load id and
  manifest hash), its dataset that manifest's dataset of the key;
- golden packets follow their datasets: a golden key is never rolled back on its own, and a dataset's
  rollback moves the golden packets of its cards back to the versions loaded beside the target;
- the rollback inherits the target of the request that first promoted the version: rolling back to a
  backend-contract version needs the request_contract_promotion permission too.
"""
from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import transaction

from console import clock
from console.audit import audit_record
from evidence.choices import ManifestStatus
from evidence.models import SourceManifest
from promotion import policy
from promotion.choices import PromotionKind, PromotionState, PromotionTarget
from promotion.gates import rollback_moves
from promotion.models import PromotionRequest

from ._common import (
    CURATED_TYPE, REQUEST_TYPE, _enforce_who, _enqueue_check, _refuse, _refusals_audited, _request_json,
    curated_reader,
)
from .reconcile import curated_moves_audit

GOLDEN_PREFIX = "golden:"


def original_request(manifest: SourceManifest, dataset_key: str) -> PromotionRequest | None:
    """The promotion that loaded `dataset_key` from `manifest` (the latest promoted one)."""
    return (
        PromotionRequest.objects.filter(
            kind=PromotionKind.PROMOTION, manifest=manifest, state=PromotionState.PROMOTED,
            datasets__domo_id=dataset_key,
        )
        .order_by("-pk")
        .first()
    )


def promotion_rollback_request(*, actor, dataset_key: str, version: int, enqueue: bool = True) -> PromotionRequest:
    """Ask to point readers of a curated dataset back at an earlier verified version; its gates then run
    in Celery (after commit), and a second person approves it like any promotion."""
    from promotion import curated

    dataset_key = str(dataset_key or "")
    extra = {"dataset_key": dataset_key, "version": version}
    with _refusals_audited(actor=actor, attempt="rollback", object_type=CURATED_TYPE, object_id=dataset_key,
                           extra=extra):
        _enforce_who(actor, policy.ROLLBACK)
        if dataset_key.startswith(GOLDEN_PREFIX):
            _refuse("golden packets follow their datasets: roll back the dataset of the card instead")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            _refuse(f"{version!r} is not a version number")
        reader = curated_reader()
        current = curated.read_current(reader, dataset_key) if dataset_key else None
        if current is None:
            _refuse(f"{dataset_key or 'that key'} has no current curated version to roll back from")
        row = next((r for r in curated.versions(reader, dataset_key) if r["version"] == version), None)
        if row is None:
            _refuse(f"{dataset_key} has no version {version}")
        if version >= current.version:
            _refuse(f"v{version} is not earlier than the current version v{current.version}")
        if row["state"] not in (curated.State.VERIFIED, curated.State.SUPERSEDED):
            _refuse(f"v{version} is {row['state']}: only a verified earlier version can be rolled back to")
        manifest = SourceManifest.objects.filter(
            load_id=row["load_id"], manifest_sha256=row["manifest_sha256"]
        ).first()
        if manifest is None:
            _refuse(f"the manifest v{version} was loaded from ({row['load_id']}) is not in the console")
        datasets = list(manifest.datasets.filter(domo_id=dataset_key))
        if not datasets:
            _refuse(f"manifest {manifest.load_id} has no dataset {dataset_key}")
        original = original_request(manifest, dataset_key)
        target = original.target if original else PromotionTarget.MIGRATION
        if target == PromotionTarget.CONTRACT:
            _enforce_who(actor, policy.CONTRACT, denied=f"v{version} went into a backend contract: rolling back to "
                                                        "it needs the request_contract_promotion permission")
        with transaction.atomic():
            fresh = SourceManifest.objects.select_for_update().get(pk=manifest.pk)
            if fresh.status != ManifestStatus.COMPLETE:
                _refuse(f"the manifest v{version} was loaded from is {fresh.status}: only a complete manifest "
                        "can be rolled back to")
            request = PromotionRequest.objects.create(
                kind=PromotionKind.ROLLBACK, manifest=fresh, target=target, requested_by=actor,
                requested_at=clock.now(), rollback_key=dataset_key, rollback_version=version,
                rollback_from_version=current.version,
            )
            request.datasets.set(datasets)
            request.start_check()
            audit_record(
                actor=actor, action="promotion.requested", object_type=REQUEST_TYPE, object_id=str(request.pk),
                after={**_request_json(request), "original_request": original.pk if original else None},
            )
            if enqueue:
                _enqueue_check(request.pk)
    return request


def roll_back_pointers(request: PromotionRequest, *, beat: Callable[..., None]) -> dict:
    """The load of an approved rollback: re-verify each target table, then move each pointer back (the
    dataset's first, then its golden packets'), one transaction each. A resumed rollback skips the
    pointers already moved; the engine refuses a move that is not backwards or not verified."""
    from django.db import connections

    from promotion import curated

    connection = connections["curated"]
    every = rollback_moves(request, connection)
    moves = [move for move in every if move.needed]
    kept = {move.key: move.note for move in every if move.note}
    if kept:
        beat(golden_kept=kept)  # golden packets that stay where they are, and why (the audit reads them)
    for move in moves:
        if move.version is None:
            raise curated.CuratedError(move.problem)
        if move.key == request.rollback_key and move.current != request.rollback_from_version:
            # A resumed rollback (the guard's gates ran when the load began, not now).
            raise curated.CuratedError(f"the current version of {move.key} moved to v{move.current} since the "
                                       f"rollback from v{request.rollback_from_version} was approved")
    # Every table first, so a changed one stops the rollback before any pointer moves; then each move
    # verifies again inside its own transaction (PostgreSQL), leaving no gap between check and move.
    for move in moves:
        beat(stage="verifying", dataset=move.key)
        curated.verify_version(connection=connection, dataset_key=move.key, version=move.version)
    # Every pointer in one transaction (readers see all of them back, or none), verified again inside it.
    done = dict(request.load_progress.get("datasets") or {})
    beat(stage="rolling back", dataset=", ".join(move.key for move in moves))
    for move in moves:
        current = curated.read_current(connection, move.key)
        if current is None or move.version >= current.version:
            raise curated.CuratedError(f"{move.key}: v{move.version} is not earlier than the current version")
    curated.promote_versions(connection=connection, moves=[(move.key, move.version) for move in moves], verify=True,
                             ref=f"promotion request {request.pk}", lock_timeout=settings.CURATED_LOCK_TIMEOUT)
    curated_moves_audit(source="rollback")
    done.update({move.key: {"version": move.version, "from": move.current} for move in moves})
    beat(datasets=done)
    beat(stage="rolled back", dataset="")
    return done
