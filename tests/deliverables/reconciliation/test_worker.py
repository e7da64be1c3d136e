"""Reconciliations through the queue: a run started through the service is executed by a real worker, and the
reconciliations it queues for the mapped cards are executed by that worker too; a redelivered task takes over a
reconciliation whose worker went silent (and leaves one a live worker holds); one lost too often fails saying so;
the beat's sweeper fails one gone silent. (The claim, heartbeat and take-over are deliverables.jobs, shared with
the calculation runs, whose worker is also killed mid-run in tests/deliverables/runs/test_worker.py.)"""
from __future__ import annotations

import datetime as dt
import os

import pytest

from console import clock
from console.models import AuditEvent
from deliverables import jobs
from deliverables.choices import RECONCILIATION_TYPE, RunState, Trigger
from deliverables.models import CalculationRun, Reconciliation
from deliverables.reconciliation import services
from deliverables.runs import services as runs
from tests.deliverables.reconciliation.conftest import REBATE_PER_CLAIM
from tests.deliverables.runs.conftest import PERIOD

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "curated"])
T = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _events(recon: Reconciliation, action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type=RECONCILIATION_TYPE, object_id=str(recon.pk), action=action)
                .order_by("seq"))


def _running(mapped, olivia, *, heartbeat: dt.datetime, attempts: int = 1) -> Reconciliation:
    """A reconciliation a worker claimed and then went silent (or not), as the worker leaves it in the database."""
    subject = mapped.subject(REBATE_PER_CLAIM)
    queued = services.reconciliation_start(actor=olivia, kind=subject.kind, subject_id=subject.id, enqueue=False)
    Reconciliation.objects.filter(pk=queued.pk).update(
        state=RunState.RUNNING, started_at=heartbeat, heartbeat_at=heartbeat, attempts=attempts,
        worker_host="lost-host", worker_pid=4242, task_id="t-1")
    return Reconciliation.objects.get(pk=queued.pk)


def test_a_redelivered_task_takes_over_a_silent_reconciliation_and_finishes_it_once(mapped, olivia, settings):
    settings.RUN_STALE_SECONDS = 60
    silent = _running(mapped, olivia, heartbeat=clock.now() - dt.timedelta(seconds=61))
    done = services.reconciliation_execute(reconciliation_id=silent.pk, task_id="t-2")
    assert done.state == RunState.SUCCEEDED and done.attempts == 2 and done.task_id == "t-2"
    assert done.worker_pid == os.getpid() and done.items.exists()
    [taken] = _events(done, "deliverables.reconciliation.taken_over")
    assert taken.before["worker_host"] == "lost-host" and taken.after["attempt"] == 2
    assert services.reconciliation_execute(reconciliation_id=silent.pk, task_id="t-3") is None  # final: once


def test_a_redelivered_task_leaves_a_reconciliation_a_live_worker_holds(mapped, olivia, settings):
    settings.RUN_STALE_SECONDS = 60
    held = _running(mapped, olivia, heartbeat=clock.now() - dt.timedelta(seconds=10))
    with pytest.raises(jobs.JobHeld) as raised:
        services.reconciliation_execute(reconciliation_id=held.pk, task_id="t-2")
    assert 40 <= raised.value.retry_in <= 52
    held.refresh_from_db()
    assert held.state == RunState.RUNNING and held.attempts == 1 and held.worker_host == "lost-host"


def test_a_reconciliation_lost_too_often_fails_saying_so(mapped, olivia, settings):
    settings.RUN_STALE_SECONDS = 60
    lost = _running(mapped, olivia, heartbeat=clock.now() - dt.timedelta(seconds=61), attempts=jobs.MAX_ATTEMPTS)
    assert services.reconciliation_execute(reconciliation_id=lost.pk, task_id="t-4") is None
    lost.refresh_from_db()
    assert lost.state == RunState.FAILED and "gave up after 3 attempts" in lost.error
    assert _events(lost, "deliverables.reconciliation.failed")


def test_the_beat_sweeper_fails_a_silent_reconciliation(mapped, olivia, settings):
    from deliverables import tasks

    settings.RUN_ABANDONED_SECONDS = 1800
    silent = _running(mapped, olivia, heartbeat=T - dt.timedelta(hours=1))
    with clock.frozen(T):
        assert silent.pk in tasks.runs_sweep.apply().get()
    silent.refresh_from_db()
    assert silent.state == RunState.FAILED and silent.error.startswith("abandoned: no heartbeat since ")
    assert _events(silent, "deliverables.reconciliation.abandoned")


@pytest.mark.worker
def test_a_run_on_the_queue_re_reconciles_the_mapped_cards_on_the_worker(mapped, olivia):
    from tests.support.worker import Worker, flush_test_broker, wait_until

    flush_test_broker()
    worker = Worker(queues=runs.RUN_QUEUE).start()
    try:
        run = runs.run_start(actor=olivia, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=True)
        wait_until(lambda: CalculationRun.objects.get(pk=run.pk).is_final, timeout=180, message="the run")
        wait_until(lambda: Reconciliation.objects.filter(run=run).count() == 4 and all(
            r.is_final for r in Reconciliation.objects.filter(run=run)), timeout=180,
            message="the worker to reconcile the mapped cards")
        groups = {os.getpgid(r.worker_pid) for r in Reconciliation.objects.filter(run=run)}
        assert groups == {worker.process.pid}  # the worker's pool children
    finally:
        worker.stop()
    recons = list(Reconciliation.objects.filter(run=run))
    assert {r.state for r in recons} == {RunState.SUCCEEDED}, [(r.pk, r.error) for r in recons]
    assert {r.trigger for r in recons} == {Trigger.AFTER_RUN}
    for recon in recons:
        assert recon.queue == "runs" and recon.task_id and recon.worker_pid != os.getpid()
        assert recon.trace_id and [s["state"] for s in recon.progress["steps"]] == ["done"] * len(services.STEPS)
        [started] = _events(recon, "deliverables.reconciliation.started")
        assert started.after["task_id"] == recon.task_id
    logged = [line for line in worker.output().splitlines() if f"reconciliation #{recons[0].pk} " in line]
    assert logged and all(f"trace_id={recons[0].trace_id}" in line for line in logged)
