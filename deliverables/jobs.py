"""Queue-backed work of the deliverables app (calculation runs, reconciliations): claimed by one worker, beating
while it works, taken over when its worker is lost, failed after MAX_ATTEMPTS, swept when silent.

A row of a QueuedWork model is the job. A delivered task claims it (queued -> running, attempts + 1, audited as
`<prefix>.started`); a redelivered task (its worker was killed) finds it `running`: once the heartbeat is older
than RUN_STALE_SECONDS it takes it over (attempts + 1, audited as `<prefix>.taken_over`), and a heartbeat still
fresh means another worker holds it (JobHeld: the task looks again later). Every step records progress and
beats; a job no longer held by this worker (cancelled, swept, taken over) raises JobLost at its next step and
must store nothing. The beat's sweeper fails jobs silent for RUN_ABANDONED_SECONDS (`<prefix>.abandoned`).
The compare-and-sets themselves (claim, take over, beat, sweep) are console.jobs's, as for intake runs and loads.

Lineage (deliverables.lineage): every attempt is one OpenLineage run, emitted here and only here, after the
transaction that moved it: START when claimed (a takeover first FAILs the lost attempt), COMPLETE when the service
reports its committed success (`completed`), FAIL with the error when it fails, gives up or is swept, ABORT when
it is cancelled after its claim (`cancelled`).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import secrets
import socket
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, models, transaction

from console import clock
from console import jobs as console_jobs
from console.audit import audit_record
from deliverables.choices import RunState

MAX_ATTEMPTS = 3
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
ARTIFACT_ROW_GROUP = 128 * 1024


class JobHeld(console_jobs.Held):
    """A live worker holds the job; look again in `retry_in` seconds."""


class JobLost(Exception):
    """The job is no longer this worker's (cancelled, swept, taken over): stop, store nothing."""


@dataclass(frozen=True)
class JobKind:
    """What differs between kinds of job: the model, the audit names, the steps and the queue."""

    model: type[models.Model]
    object_type: str  # the audit rows' object type
    prefix: str  # the audit actions' prefix, e.g. "deliverables.run"
    label: str  # in messages: "run #12"
    steps: tuple[str, ...]
    queue: str
    log: logging.Logger

    @property
    def table(self) -> console_jobs.JobTable:
        return console_jobs.JobTable(model=self.model, state="state", running=RunState.RUNNING)


def _lineage(event_type: str, job, *, error: str = "") -> None:
    """The job's lineage event (deliverables.lineage; it never raises). Imported when first used: the client
    library loads in the processes that run jobs, not in every one that imports this module."""
    from deliverables.lineage.kinds import job_event

    job_event(event_type, job, error=error)


def claim(kind: JobKind, pk: int, *, task_id: str, queue: str):
    """The job, now held by this worker; None when it is gone, final, given up or taken by another."""
    model = kind.model
    fresh = model.objects.filter(pk=pk).first()
    if fresh is None or fresh.is_final:
        return None
    worker = {"task_id": (task_id or fresh.task_id)[:64], "queue": queue or fresh.queue or kind.queue,
              "worker_host": socket.gethostname()[:255], "worker_pid": os.getpid()}
    table = kind.table
    if fresh.state == RunState.QUEUED:
        if not console_jobs.claim(table, pk, models.Q(state=RunState.QUEUED), **worker):
            return claim(kind, pk, task_id=task_id, queue=queue)
        with transaction.atomic():
            audit_record(actor=None, action=f"{kind.prefix}.started", object_type=kind.object_type,
                         object_id=str(pk), before={"state": RunState.QUEUED},
                         after={"state": RunState.RUNNING, **worker, "traceparent": fresh.traceparent})
        job = model.objects.get(pk=pk)
        _lineage("START", job)
        return job
    stale_after = dt.timedelta(seconds=settings.RUN_STALE_SECONDS)
    if not console_jobs.stale(table, fresh, stale_after):
        raise JobHeld(console_jobs.retry_in(table, fresh, stale_after))
    if fresh.attempts >= MAX_ATTEMPTS:
        fail(kind, fresh, f"gave up after {fresh.attempts} attempts (each worker was lost mid-run)")
        return None
    with transaction.atomic():
        if not console_jobs.take_over(table, fresh, **worker):
            return None
        audit_record(actor=None, action=f"{kind.prefix}.taken_over", object_type=kind.object_type,
                     object_id=str(pk),
                     before={"attempt": fresh.attempts, "worker_host": fresh.worker_host,
                             "worker_pid": fresh.worker_pid, "heartbeat_at": str(fresh.heartbeat_at)},
                     after={"attempt": fresh.attempts + 1, **worker, "traceparent": fresh.traceparent})
    _lineage("FAIL", fresh, error=f"worker {fresh.worker_host} pid {fresh.worker_pid} lost; taken over by "
                                   f"{worker['worker_host']} pid {worker['worker_pid']}")
    job = model.objects.get(pk=pk)
    _lineage("START", job)
    return job


def held(kind: JobKind, job):
    """The job's row while this worker holds it (an empty queryset once it does not)."""
    return kind.table.rows(job.pk, attempt=job.attempts)


def step(kind: JobKind, job, name: str, state: str, detail: str = "") -> None:
    """Record a step's state (and beat); JobLost when the job is no longer ours."""
    progress = job.progress or {}
    steps = progress.get("steps") or [{"name": s, "state": "pending"} for s in kind.steps]
    for entry in steps:
        if entry["name"] == name:
            entry["state"] = state
            entry["at"] = clock.now().isoformat()
            if detail:
                entry["detail"] = detail
    job.progress = {"step": name, "steps": steps}
    if not console_jobs.beat(kind.table, job, attempt=job.attempts, progress=job.progress):
        raise JobLost(f"{kind.label} #{job.pk} is no longer held by this worker")
    kind.log.info("%s #%s step %s %s%s trace_id=%s", kind.label, job.pk, name, state,
                  f" ({detail})" if detail else "", job.trace_id)


def done_steps(job) -> dict:
    """The progress with every step done (stored with the result)."""
    steps = [{**s, "state": "done", "at": s.get("at") or clock.now().isoformat()}
             for s in (job.progress or {}).get("steps", [])]
    return {"step": "done", "steps": steps}


class Heartbeat:
    """Beats every RUN_HEARTBEAT_SECONDS while a long step runs (its own database connection)."""

    def __init__(self, kind: JobKind, job) -> None:
        self.kind, self.job, self.stop = kind, job, threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"{kind.label}-{job.pk}-heartbeat", daemon=True)

    def _beat(self) -> None:
        try:
            while not self.stop.wait(settings.RUN_HEARTBEAT_SECONDS):
                console_jobs.beat(self.kind.table, self.job, attempt=self.job.attempts)
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=30)


def fail(kind: JobKind, job, error: str) -> None:
    """running -> failed, saying why (audited), if this worker still holds the job."""
    with transaction.atomic():
        moved = kind.model.objects.filter(pk=job.pk, state=RunState.RUNNING, attempts=job.attempts).update(
            state=RunState.FAILED, finished_at=clock.now(), error=error[:10000])
        if moved:
            kind.log.warning("%s #%s failed: %s trace_id=%s", kind.label, job.pk, error[:500], job.trace_id)
            audit_record(actor=None, action=f"{kind.prefix}.failed", object_type=kind.object_type,
                         object_id=str(job.pk), before={"state": RunState.RUNNING},
                         after={"state": RunState.FAILED, "error": error[:2000]})
    if moved:
        _lineage("FAIL", job, error=error[:10000])


def cancelled(kind: JobKind, job) -> None:
    """The lineage ABORT of a job cancelled after a worker claimed it (call it with the re-read row); a job
    cancelled while queued never started a lineage run."""
    if job.state == RunState.CANCELLED and job.attempts:
        _lineage("ABORT", job)


def completed(kind: JobKind, job) -> None:
    """The lineage COMPLETE of a job whose success its service has committed (call it with the re-read row);
    nothing for a job in any other state."""
    if job.state == RunState.SUCCEEDED:
        _lineage("COMPLETE", job)


def sweep_stale(kind: JobKind, *, older_than: dt.timedelta | None = None) -> list[int]:
    """Fail running jobs whose heartbeat is older than RUN_ABANDONED_SECONDS; returns their ids."""
    cutoff = clock.now() - (older_than or dt.timedelta(seconds=settings.RUN_ABANDONED_SECONDS))

    def abandon(job, last_beat: dt.datetime) -> None:
        kind.model.objects.filter(pk=job.pk).update(
            state=RunState.FAILED, finished_at=clock.now(),
            error=f"abandoned: no heartbeat since {last_beat.isoformat()} (worker {job.worker_host} "
                  f"pid {job.worker_pid} lost)")
        audit_record(actor=None, action=f"{kind.prefix}.abandoned", object_type=kind.object_type,
                     object_id=str(job.pk), before={"state": RunState.RUNNING, "heartbeat_at": str(job.heartbeat_at)},
                     after={"state": RunState.FAILED})

    failed = console_jobs.sweep(kind.table, cutoff, abandon)
    for job in kind.model.objects.filter(pk__in=failed).order_by("pk"):
        _lineage("FAIL", job, error=job.error)
    return failed


# --- trace and artifacts --------------------------------------------------------------------------------------
def traceparent_for(incoming: str | None = "") -> str:
    """A W3C traceparent for a new run: the caller's trace id kept when its traceparent is well-formed (a new
    span id for the run), a new trace otherwise."""
    match = TRACEPARENT.match((incoming or "").strip().lower())
    trace_id = match.group(1) if match and set(match.group(1)) != {"0"} else secrets.token_hex(16)
    return f"00-{trace_id}-{secrets.token_hex(8)}-01"


def write_artifact(table, folder: Path, prefix: str) -> tuple[str, str]:
    """An Arrow table, or a RecordBatchReader's batches, as one Parquet file (fixed options: the same rows, the
    same bytes), written once in the lake as `<prefix>/<sha256>.parquet`; returns (path, sha256)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from console.lake import get_lake

    handle, name = tempfile.mkstemp(dir=folder, suffix=".parquet")
    os.close(handle)
    try:
        options = {"compression": "zstd", "write_statistics": True, "store_schema": True}
        if isinstance(table, pa.RecordBatchReader):
            # Row groups of ARTIFACT_ROW_GROUP rows, each written from contiguous arrays, whatever the sizes of
            # the batches: the same rows give the same bytes (as write_table of the whole table).
            with pq.ParquetWriter(name, table.schema, **options) as writer:
                pending: list = []
                size = 0
                written = False
                for batch in table:
                    pending.append(batch)
                    size += batch.num_rows
                    while size >= ARTIFACT_ROW_GROUP:
                        rows = pa.Table.from_batches(pending, table.schema)
                        writer.write_table(rows.slice(0, ARTIFACT_ROW_GROUP).combine_chunks(),
                                           row_group_size=ARTIFACT_ROW_GROUP)
                        written = True
                        rest = rows.slice(ARTIFACT_ROW_GROUP)
                        pending, size = rest.to_batches(), rest.num_rows
                if size or not written:
                    writer.write_table(pa.Table.from_batches(pending, table.schema).combine_chunks(),
                                       row_group_size=ARTIFACT_ROW_GROUP)
        else:
            pq.write_table(table, name, row_group_size=ARTIFACT_ROW_GROUP, **options)
        digest = hashlib.sha256()
        with open(name, "rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
        sha = digest.hexdigest()
        path = f"{prefix}/{sha}.parquet"
        with open(name, "rb") as stream:
            get_lake().put(path, stream)
    finally:
        Path(name).unlink(missing_ok=True)
    return path, sha
