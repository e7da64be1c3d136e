"""Workbook builds through the queue: a real worker on the `runs` queue builds a workbook asked through the service
and stores it in the lake; a redelivered task takes over a build whose worker went silent (and leaves one a live
worker holds). (The claim, heartbeat and take-over are deliverables.jobs, shared with the calculation runs.)"""
from __future__ import annotations

import datetime as dt
import hashlib
import os

from pathlib import Path

import pytest

from console import clock
from console.lake import get_lake
from console.models import AuditEvent
from deliverables import jobs
from deliverables.choices import DELIVERABLE_TYPE, RunState
from deliverables.models import Deliverable
from deliverables.workbooks import services
from tests.deliverables.workbooks.conftest import a_client

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "curated"])


def _running(run, olivia, *, heartbeat: dt.datetime) -> Deliverable:
    queued = services.deliverable_start(actor=olivia, run=run, client=a_client(run), enqueue=False)
    Deliverable.objects.filter(pk=queued.pk).update(
        state=RunState.RUNNING, started_at=heartbeat, heartbeat_at=heartbeat, attempts=1, worker_host="lost-host",
        worker_pid=4242, task_id="t-1")
    return Deliverable.objects.get(pk=queued.pk)


def test_a_redelivered_task_takes_over_a_silent_build_and_finishes_it_once(sample_run, olivia, settings):
    settings.RUN_STALE_SECONDS = 60
    silent = _running(sample_run, olivia, heartbeat=clock.now() - dt.timedelta(seconds=61))
    done = services.deliverable_execute(deliverable_id=silent.pk, task_id="t-2", queue="runs")
    assert done.state == RunState.SUCCEEDED and done.attempts == 2 and done.task_id == "t-2"
    assert AuditEvent.objects.filter(object_type=DELIVERABLE_TYPE, object_id=str(done.pk),
                                     action="deliverables.deliverable.taken_over").exists()
    assert services.deliverable_execute(deliverable_id=silent.pk, task_id="t-3") is None  # final: once


def test_a_redelivered_task_leaves_a_build_a_live_worker_holds(sample_run, olivia, settings):
    settings.RUN_STALE_SECONDS = 60
    held = _running(sample_run, olivia, heartbeat=clock.now() - dt.timedelta(seconds=10))
    with pytest.raises(jobs.JobHeld):
        services.deliverable_execute(deliverable_id=held.pk, task_id="t-2")
    held.refresh_from_db()
    assert held.state == RunState.RUNNING and held.worker_host == "lost-host" and not held.path


@pytest.mark.worker
def test_a_worker_on_the_runs_queue_builds_the_workbook_and_stores_it(sample_run, olivia):
    from tests.support.worker import Worker, flush_test_broker, wait_until

    flush_test_broker()
    worker = Worker(queues=services.QUEUE).start()
    try:
        queued = services.deliverable_start(actor=olivia, run=sample_run, client=a_client(sample_run))
        wait_until(lambda: Deliverable.objects.get(pk=queued.pk).is_final, timeout=120,
                   message="the worker to build the workbook")
        done = Deliverable.objects.get(pk=queued.pk)
        assert os.getpgid(done.worker_pid) == worker.process.pid  # the worker's pool child
    finally:
        worker.stop()
    assert done.state == RunState.SUCCEEDED, done.error
    assert done.queue == "runs" and done.task_id and done.worker_pid != os.getpid()
    assert [s["state"] for s in done.progress["steps"]] == ["done"] * len(services.STEPS)
    assert hashlib.sha256(get_lake().read(done.path)).hexdigest() == done.sha256
    started = AuditEvent.objects.get(object_type=DELIVERABLE_TYPE, object_id=str(done.pk),
                                     action="deliverables.deliverable.started")
    assert started.after["task_id"] == done.task_id
    logged = [line for line in worker.output().splitlines() if f"deliverable #{done.pk} " in line]
    assert logged and all(f"trace_id={done.trace_id}" in line for line in logged)


@pytest.mark.worker
@pytest.mark.postgres_only
@pytest.mark.catalogue(3)
def test_a_build_whose_worker_is_killed_is_failed_by_the_reaper_within_two_heartbeats_and_stores_nothing(
        sample_run, olivia, settings, tmp_path):
    """The build is late-ack like every task here (no at-most-once task exists): with no worker to redeliver it to,
    the reaper fails the silent build within two heartbeat intervals, nothing half-written reaches the lake, and
    the message delivered later runs nothing."""
    from deliverables.tasks import deliverable_build
    from tests.support.worker import Worker, flush_test_broker, wait_until

    heartbeat = 1
    settings.RUN_HEARTBEAT_SECONDS = heartbeat
    flush_test_broker()
    worker = Worker(queues=services.QUEUE, env={"RUN_HEARTBEAT_SECONDS": str(heartbeat)}).start()
    try:
        queued = services.deliverable_start(actor=olivia, run=sample_run, client=a_client(sample_run))
        scratch = Path(settings.VAR_DIR) / "deliverables"
        wait_until(lambda: Deliverable.objects.get(pk=queued.pk).state == RunState.RUNNING
                   and list(scratch.glob(f"build-{queued.pk}-*")), timeout=120, interval=0.005,
                   message="the worker to start writing the build")
        worker.kill()
    finally:
        worker.stop()
    killed = Deliverable.objects.get(pk=queued.pk)
    assert killed.state == RunState.RUNNING and killed.attempts == 1, killed.error
    wait_until(lambda: services.deliverables_sweep_stale(older_than=dt.timedelta(seconds=2 * heartbeat)),
               timeout=2 * heartbeat + 2, interval=0.1, message="the reaper to fail the silent build")

    failed = Deliverable.objects.get(pk=queued.pk)
    assert failed.state == RunState.FAILED and failed.error.startswith("abandoned: no heartbeat since")
    assert failed.finished_at - (failed.heartbeat_at or failed.started_at) <= dt.timedelta(seconds=2 * heartbeat + 2)
    assert AuditEvent.objects.filter(object_type=DELIVERABLE_TYPE, object_id=str(failed.pk),
                                     action="deliverables.deliverable.abandoned").count() == 1
    assert not failed.path and not failed.sha256
    assert list(get_lake().list(services.PREFIX)) == []  # no partial blob
    assert list(scratch.glob(f"build-{failed.pk}-*")) == []  # and no orphan scratch files: the reaper removed them

    deliverable_build(failed.pk)  # the unacknowledged message, delivered again: finds it final
    again = Deliverable.objects.get(pk=failed.pk)
    assert again.state == RunState.FAILED and again.attempts == 1
