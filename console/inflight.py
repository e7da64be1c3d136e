"""The operations page's work in flight: every job that waits for a worker or is held by one, and whether its
worker still shows signs of life.

The kinds of job are the ones the beat re-sends when a message may be lost (console.dispatch.Handoff, declared by
each app's tasks module): what waits is the Handoff's `waiting` rows, what runs is its JobTable's running rows.
A running job is *silent* once its heartbeat (its start, where it has none) is older than its kind's stale time:
its worker may be lost, and a redelivered task takes it over (or the kind's sweeper fails it later). A job that
waits is *late* once it has waited past BROKER_RESEND_AFTER_SECONDS: its message is sent again.

Read-only: it changes nothing; two counts per kind, and at most LIMIT rows of each kind and state (the oldest
first) only where there are any.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Q
from django.urls import reverse

from console import clock
from console.dispatch import Handoff

LIMIT = 50  # rows of each kind and state shown (the oldest); the count says how many there are


@dataclass(frozen=True)
class Job:
    kind: str  # "Calculation run"
    pk: int
    url: str
    state: str  # "waiting" or "running"
    since: dt.datetime | None  # waiting: when it began to wait; running: when it started
    last_beat: dt.datetime | None  # running only
    attempts: int | None
    worker: str  # "host pid 123", where the row records it
    silent: bool  # running, no sign of life for longer than its kind's stale time
    late: bool  # waiting past the re-send delay

    @property
    def quiet_seconds(self) -> int | None:
        return None if self.last_beat is None else max(0, int((clock.now() - self.last_beat).total_seconds()))

    @property
    def waited_seconds(self) -> int | None:
        return None if self.since is None else max(0, int((clock.now() - self.since).total_seconds()))


@dataclass(frozen=True)
class Kind:
    label: str
    url_name: str
    handoff: Handoff


def kinds() -> list[Kind]:
    """Every kind of queued job, as each app's tasks module declares it (imported here, when the page is read)."""
    from deliverables import tasks as deliverables_tasks
    from deliverables.reconciliation import services as reconciliations
    from deliverables.runs import services as runs
    from deliverables.workbooks import services as workbooks
    from evidence import tasks as evidence_tasks
    from promotion import tasks as promotion_tasks

    by_task = {handoff.task: handoff for handoff in deliverables_tasks.HANDOFFS}
    return [
        Kind("Evidence intake", "evidence:intake-detail", evidence_tasks.INTAKE_HANDOFF),
        Kind("Evidence packet receipt", "packets:receipt-detail", evidence_tasks.RECEIPT_HANDOFF),
        Kind("Promotion gate check", "promotion:request-detail", promotion_tasks.CHECK_HANDOFF),
        Kind("Promotion load", "promotion:request-detail", promotion_tasks.LOAD_HANDOFF),
        Kind("Calculation run", "runs:run-detail", by_task[runs.RUN_TASK]),
        Kind("Reconciliation", "reconciliation:detail", by_task[reconciliations.TASK]),
        Kind("Deliverable build", "deliverables:deliverable-detail", by_task[workbooks.TASK]),
    ]


def _worker(row) -> str:
    host, pid = getattr(row, "worker_host", ""), getattr(row, "worker_pid", None)
    return " ".join(part for part in (host, f"pid {pid}" if pid else "") if part)


@dataclass(frozen=True)
class InFlight:
    jobs: list[Job]  # waiting and running, each kind's oldest first, at most LIMIT of each kind and state
    counts: dict[str, int]  # {"waiting": n, "running": n, "silent": n, "late": n}: every row, not only those shown
    more: bool  # some rows are not shown (more than LIMIT of a kind and state)


def in_flight() -> InFlight:
    """What waits for a worker and what a worker holds, now."""
    now = clock.now()
    resend = now - dt.timedelta(seconds=settings.BROKER_RESEND_AFTER_SECONDS)
    jobs: list[Job] = []
    counts = dict.fromkeys(("waiting", "running", "silent", "late"), 0)
    more = False
    for kind in kinds():
        handoff = kind.handoff
        waiting = handoff.model.objects.filter(handoff.waiting)
        found = waiting.aggregate(n=Count("pk"), late=Count("pk", filter=Q(**{f"{handoff.since}__lt": resend})))
        counts["waiting"] += found["n"]
        counts["late"] += found["late"]
        shown = list(waiting.order_by(handoff.since, "pk")[:LIMIT + 1]) if found["n"] else []
        more = more or len(shown) > LIMIT
        for row in shown[:LIMIT]:
            since = getattr(row, handoff.since)
            jobs.append(Job(kind.label, row.pk, reverse(kind.url_name, args=[row.pk]), "waiting", since, None,
                            getattr(row, "attempts", None), _worker(row), False,
                            since is not None and since < resend))
        table = handoff.jobs
        if table is None:
            continue
        stale = now - dt.timedelta(seconds=getattr(settings, handoff.stale_setting))
        running = table.rows()
        silent = Q(**{f"{table.heartbeat}__lt": stale}) | Q(**{f"{table.heartbeat}__isnull": True,
                                                                f"{table.started}__lt": stale})
        found = running.aggregate(n=Count("pk"), silent=Count("pk", filter=silent))
        counts["running"] += found["n"]
        counts["silent"] += found["silent"]
        shown = list(running.order_by(table.started, "pk")[:LIMIT + 1]) if found["n"] else []
        more = more or len(shown) > LIMIT
        for row in shown[:LIMIT]:
            beat = getattr(row, table.heartbeat) or getattr(row, table.started)
            jobs.append(Job(kind.label, row.pk, reverse(kind.url_name, args=[row.pk]), "running",
                            getattr(row, table.started), beat, getattr(row, table.attempts), _worker(row),
                            beat is None or beat < stale, False))
    return InFlight(jobs=jobs, counts=counts, more=more)
