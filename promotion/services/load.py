"""The load of an approved request: claim, load and verify each dataset and golden packet, move the
pointers, finish; takeover of a stale load, transient retries, and the stale-load sweeper."""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction

from console import clock, jobs
from console.audit import audit_record
from evidence.models import DomoCard, DomoDataset, ManifestFile
from promotion.choices import PromotionState
from promotion.curated.aliases import curated_is_default
from promotion.gates import golden_held_back, requested_datasets
from promotion.models import PromotionRequest

from promotion.faults import fault_point

from ._common import LOAD_JOBS, REQUEST_TYPE, _audit_refusal
from .guard import _load_refusal, promotion_load_finish, promotion_load_start
from .reconcile import curated_moves_audit
from .rollback import roll_back_pointers

# --- the load ------------------------------------------------------------------------------------

MAX_LOAD_ATTEMPTS = 3


class LoadInterrupted(Exception):
    """A transient error stopped the load; the request stays loading, released for a retry of `attempt`."""

    def __init__(self, attempt: int, reason: str):
        super().__init__(reason)
        self.attempt = attempt
        self.reason = reason


class LoadHeld(jobs.Held):
    """A live worker still beats on this loading request: look again once its heartbeat could be stale."""


class LoadLost(Exception):
    """This worker no longer holds the load (the sweeper failed it, or a takeover claimed it)."""


def _is_transient(exc: BaseException) -> bool:
    """Worth another attempt: the database or the lake could not be reached, or another session
    still holds a dataset's load lock or a lock its pointer move needs (PointerBusy: waiting for readers).
    Refusals, checksum mismatches and bad data never are."""
    import psycopg
    from django.db import OperationalError, InterfaceError

    from console.lake import LakeError, LakeIntegrityError, LakeNotFound, LakePathError
    from promotion.curated import LoadBusy, PointerBusy

    if isinstance(exc, (LakeIntegrityError, LakeNotFound, LakePathError)):
        return False
    return isinstance(
        exc, (OperationalError, InterfaceError, psycopg.OperationalError, LoadBusy, PointerBusy, LakeError,
              ConnectionError, TimeoutError),
    )


def _stale_after() -> timedelta:
    return timedelta(seconds=settings.PROMOTION_STALE_SECONDS)


def _take_over(request: PromotionRequest, *, resume_attempt: int | None) -> PromotionRequest | None:
    """Resume a loading request: ours after a transient error (resume_attempt), or one whose worker died
    (stale heartbeat). The guard runs again; past MAX_LOAD_ATTEMPTS the request fails instead."""
    fresh = PromotionRequest.objects.select_related("manifest").get(pk=request.pk)
    if fresh.state != PromotionState.LOADING:
        return None
    ours = resume_attempt is not None and resume_attempt == fresh.attempts
    if not ours and not jobs.stale(LOAD_JOBS, fresh, _stale_after()):
        # A live worker holds it (Redis redelivered a long task), or died a moment ago: look again later.
        raise LoadHeld(jobs.retry_in(LOAD_JOBS, fresh, _stale_after()))
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
        if not jobs.take_over(LOAD_JOBS, fresh):
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
    if not jobs.beat(LOAD_JOBS, request, attempt=request.attempts, load_progress=request.load_progress):
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


def _golden_files(request: PromotionRequest, datasets: list[DomoDataset],
                  connection) -> tuple[list[tuple[DomoCard, str]], dict[str, str]]:
    """(card, bronze path of its golden.csv) for each card on the requested datasets that has one and
    moves with them, and {golden key: why} for those held back (promotion.gates.golden)."""
    from promotion import curated

    cards = list(
        DomoCard.objects.filter(manifest_id=request.manifest_id, datasets__in=[d.pk for d in datasets])
        .exclude(golden_path="").distinct().order_by("pk").prefetch_related("datasets")
    )
    requested = {d.pk for d in datasets}
    held_back = {curated.golden_key(card.domo_id): golden_held_back(card, requested, request.manifest, connection)
                 for card in cards}
    held_back = {key: why for key, why in held_back.items() if why}
    cards = [card for card in cards if curated.golden_key(card.domo_id) not in held_back]
    bronze = dict(
        ManifestFile.objects.filter(manifest_id=request.manifest_id, path__in=[c.golden_path for c in cards])
        .exclude(bronze_path="").values_list("path", "bronze_path")
    )
    return [(card, bronze[card.golden_path]) for card in cards if card.golden_path in bronze], held_back


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
    beat_while_copying = not (connection.vendor == "sqlite" and curated_is_default())
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
    golden_files, held_back = _golden_files(request, datasets, connection)
    if held_back:
        _beat(request, golden_kept=held_back)  # the audit of the promotion names them
    for card, bronze_path in golden_files:
        key = curated.golden_key(card.domo_id)
        _beat(request, stage="loading golden", dataset=key, rows=0)
        with _local_copy(bronze_path, ".csv") as golden_csv:
            result = curated.load_golden(connection=connection, card_id=card.domo_id, golden_csv=golden_csv,
                                         max_field_bytes=settings.INTAKE_MAX_FIELD_BYTES, **ids)
        loaded[key] = {"version": result.version, "rows": result.rows, "reused": result.reused}
        pointers.append((key, result.version))
        _beat(request, datasets=loaded)
    # Every version is verified: only now do readers move, every pointer in one transaction (all old or all
    # new, whatever happens to this process), then the trail records the moves (services.reconcile).
    _beat(request, stage="promoting", dataset=", ".join(key for key, _ in pointers))
    curated.promote_versions(connection=connection, moves=pointers, ref=f"promotion request {request.pk}",
                             lock_timeout=settings.CURATED_LOCK_TIMEOUT)
    curated_moves_audit(source="load")
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
        if claimed.is_rollback:
            roll_back_pointers(claimed, beat=lambda **progress: _beat(claimed, **progress))
        else:
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
            with transaction.atomic():
                audit_record(actor=None, action="promotion.load_interrupted", object_type=REQUEST_TYPE,
                             object_id=str(claimed.pk),
                             after={"attempt": claimed.attempts, "reason": reason, "retry": True,
                                    "progress": claimed.load_progress})
            raise LoadInterrupted(claimed.attempts, reason) from exc
        return _finish_if_ours(claimed, error=reason)
    fault_point("promotion.before_finish")
    return _finish_if_ours(claimed)


def promotion_sweep_stale(*, older_than: timedelta | None = None) -> list[int]:
    """Fail loading requests abandoned by a lost worker; returns their ids.

    The cutoff (PROMOTION_ABANDONED_SECONDS) is longer than the takeover's (PROMOTION_STALE_SECONDS),
    so a task the broker redelivers still finds its load to resume before the sweeper fails it.
    """
    cutoff = clock.now() - (older_than or timedelta(seconds=settings.PROMOTION_ABANDONED_SECONDS))
    curated_moves_audit(source="sweeper")  # a lost worker's pointer moves are in the trail before its load fails

    def fail(locked: PromotionRequest, last_beat) -> None:
        promotion_load_finish(request=locked, error=f"the load's heartbeat stopped at {last_beat.isoformat()} "
                                                    f"(attempt {locked.attempts})")

    return jobs.sweep(LOAD_JOBS, cutoff, fail)
