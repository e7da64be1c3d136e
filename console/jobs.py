"""Claim, heartbeat and sweeper: the one way a row of the database is held by the worker doing its job.

A job is a row with a state column, a running state, a heartbeat, a start time and an attempt count
(`JobTable` names them). A worker *claims* it with a compare-and-set (only one worker wins), *beats* while it
works (a write that only lands while the row is still held, so a worker that lost it learns so at its next
beat), and a redelivered task *takes over* a running job whose heartbeat went stale (another
compare-and-set, on the attempt count). The *sweeper* fails jobs silent for longer than their abandoned
time, one row at a time under a lock, re-checked, so a worker that beats in the meantime keeps its job.

Evidence intake runs and promotion loads use it; what a job's states mean and what is audited stays theirs.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.db import models, transaction

from console import clock


class Held(Exception):
    """A live worker still beats on this job: look again in `retry_in` seconds, once its heartbeat could be stale."""

    def __init__(self, retry_in: float):
        super().__init__(f"held by a live worker; look again in {retry_in:.0f}s")
        self.retry_in = retry_in


@dataclass(frozen=True)
class JobTable:
    """Where a kind of job keeps its claim: the model and the names of its columns."""

    model: type[models.Model]
    state: str  # the state column's name
    running: str  # the state a held job is in
    started: str = "started_at"
    heartbeat: str = "heartbeat_at"
    attempts: str = "attempts"

    def rows(self, pk: int | None = None, *, attempt: int | None = None) -> models.QuerySet:
        """Running jobs (this one; held by this attempt when given)."""
        found = self.model.objects.filter(**{self.state: self.running})
        if pk is not None:
            found = found.filter(pk=pk)
        if attempt is not None:
            found = found.filter(**{self.attempts: attempt})
        return found

    def last_beat(self, job) -> dt.datetime:
        """The job's last sign of life: its heartbeat, else its start, else now."""
        return getattr(job, self.heartbeat) or getattr(job, self.started) or clock.now()


def claim(table: JobTable, pk: int, claimable: models.Q, **fields) -> bool:
    """Compare-and-set a claimable job to running: now its start and heartbeat, one more attempt, and `fields`.
    False when another worker got there first (or the job is not claimable)."""
    now = clock.now()
    values = {table.state: table.running, table.started: now, table.heartbeat: now,
              table.attempts: models.F(table.attempts) + 1, **fields}
    return bool(table.model.objects.filter(claimable, pk=pk).update(**values))


def stale(table: JobTable, job, stale_after: dt.timedelta) -> bool:
    """Has the job's worker stopped beating for `stale_after`?"""
    return table.last_beat(job) < clock.now() - stale_after


def retry_in(table: JobTable, job, stale_after: dt.timedelta) -> float:
    """Seconds until the job's heartbeat could be stale (plus one): when to look again."""
    return max((table.last_beat(job) + stale_after - clock.now()).total_seconds(), 0) + 1


def take_over(table: JobTable, job, **fields) -> bool:
    """Compare-and-set on the attempt count: a running job whose worker was lost becomes this worker's
    (one more attempt, a fresh heartbeat). False when another worker took it over first."""
    attempt = getattr(job, table.attempts)
    values = {table.attempts: models.F(table.attempts) + 1, table.heartbeat: clock.now(), **fields}
    return bool(table.rows(job.pk, attempt=attempt).update(**values))


def beat(table: JobTable, job, *, attempt: int | None = None, at: dt.datetime | None = None, **fields) -> bool:
    """Write the heartbeat (`at`, else now) and `fields` while the job is running (and held by `attempt`, when
    given). False when the job is no longer this worker's: it must stop and store nothing."""
    return bool(table.rows(job.pk, attempt=attempt).update(**{table.heartbeat: at or clock.now(), **fields}))


def sweep(table: JobTable, cutoff: dt.datetime, fail: Callable[[models.Model, dt.datetime], None]) -> list[int]:
    """Fail running jobs silent since before `cutoff` (no heartbeat, or none since their start): each one
    locked and looked at again, so a worker that beat since the scan keeps its job. `fail(job, last_beat)`
    records the failure (and audits it) inside that transaction. Returns the ids failed."""
    beat_before = models.Q(**{f"{table.heartbeat}__lt": cutoff}) | models.Q(
        **{f"{table.heartbeat}__isnull": True, f"{table.started}__lt": cutoff}
    )
    failed = []
    for pk in table.rows().filter(beat_before).order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            locked = table.rows(pk).select_for_update().first()
            last = locked and (getattr(locked, table.heartbeat) or getattr(locked, table.started))
            if last is None or last >= cutoff:
                continue  # it beat (or finished) since the scan
            fail(locked, last)
            failed.append(pk)
    return failed
