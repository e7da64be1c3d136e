"""A run on the `runs` queue: executed by a real worker; a worker killed mid-run shows no number and the
redelivered task takes the run over on another worker and finishes it once; the sweeper fails runs gone silent;
a redelivered task leaves a run a live worker holds; a run lost too often fails saying so."""
from __future__ import annotations

import datetime as dt
import os
import socket

import pytest

from console import clock
from console.models import AuditEvent
from deliverables.choices import RUN_TYPE
from deliverables.models import CalculationRun, RunNumber
from deliverables.runs import services as runs
from evidence.samples.export import write_sample_export
from tests.deliverables.runs.conftest import (
    CURATED_DB,
    LATER,
    PERIOD,
    Sample,
    execute,
    ingest,
    promote,
    receive_evidence,
)
from tests.promotion.conftest import CLAIMS, dataset

T = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def events(run: CalculationRun, action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type=RUN_TYPE, object_id=str(run.pk),
                                          action=action).order_by("seq"))


def running(user, *, heartbeat: dt.datetime, attempts: int = 1, pid: int = 4242) -> CalculationRun:
    """A run a worker claimed (state as the worker leaves it in the database) and then went silent or not."""
    return CalculationRun.objects.create(
        period_start=PERIOD[0], period_end=PERIOD[1], requested_by=user, state="running",
        started_at=heartbeat, heartbeat_at=heartbeat, attempts=attempts, worker_host="lost-host", worker_pid=pid,
        queue=runs.RUN_QUEUE, task_id="t-1", traceparent=runs.traceparent_for(), trace_id="0" * 31 + "1",
        progress={"step": "calculate", "steps": [{"name": s, "state": "pending"} for s in runs.STEPS]})


# --- the sweeper and the redelivered task, in-process --------------------------------------------------------
@pytest.mark.django_db
def test_the_sweeper_fails_a_run_silent_past_the_abandoned_time_and_leaves_a_fresh_one(olivia, settings):
    settings.RUN_ABANDONED_SECONDS = 1800
    silent = running(olivia, heartbeat=T - dt.timedelta(seconds=1801))
    fresh = running(olivia, heartbeat=T - dt.timedelta(seconds=1799))
    with clock.frozen(T):
        assert runs.runs_sweep_stale() == [silent.pk]
        assert runs.runs_sweep_stale() == []  # once
    silent.refresh_from_db()
    fresh.refresh_from_db()
    assert silent.state == "failed" and silent.finished_at == T
    assert silent.error.startswith("abandoned: no heartbeat since ") and "lost-host pid 4242" in silent.error
    [abandoned] = events(silent, "deliverables.run.abandoned")
    assert (abandoned.before["state"], abandoned.after["state"]) == ("running", "failed")
    assert fresh.state == "running" and not events(fresh, "deliverables.run.abandoned")


@pytest.mark.django_db
def test_the_beat_task_sweeps_too(olivia, settings):
    from deliverables import tasks

    settings.RUN_ABANDONED_SECONDS = 1800
    silent = running(olivia, heartbeat=T - dt.timedelta(hours=1))
    with clock.frozen(T):
        assert tasks.runs_sweep.apply().get() == [silent.pk]
    silent.refresh_from_db()
    assert silent.state == "failed"


@pytest.mark.django_db
def test_a_redelivered_task_leaves_a_run_a_live_worker_holds(olivia, settings):
    settings.RUN_STALE_SECONDS = 60
    held = running(olivia, heartbeat=T - dt.timedelta(seconds=10))
    before = CalculationRun.objects.values().get(pk=held.pk)
    with clock.frozen(T), pytest.raises(runs.RunHeld) as raised:
        runs.run_execute(run_id=held.pk, task_id="t-2", queue=runs.RUN_QUEUE)
    assert 50 <= raised.value.retry_in <= 52  # stale in 50 s: look again then
    assert CalculationRun.objects.values().get(pk=held.pk) == before  # untouched: same attempt, worker, beat
    assert not events(held, "deliverables.run.taken_over")


@pytest.mark.django_db
def test_after_the_last_allowed_takeover_the_run_fails_saying_so(olivia, settings):
    settings.RUN_STALE_SECONDS = 60
    lost = running(olivia, heartbeat=T - dt.timedelta(seconds=61), attempts=runs.MAX_ATTEMPTS)
    with clock.frozen(T):
        assert runs.run_execute(run_id=lost.pk, task_id="t-4", queue=runs.RUN_QUEUE) is None
    lost.refresh_from_db()
    assert lost.state == "failed" and lost.attempts == runs.MAX_ATTEMPTS
    assert lost.error == f"gave up after {runs.MAX_ATTEMPTS} attempts (each worker was lost mid-run)"
    [failed] = events(lost, "deliverables.run.failed")
    assert failed.after["error"] == lost.error
    assert not RunNumber.objects.filter(run=lost).exists()
    # a later redelivery finds it final and does nothing
    with clock.frozen(T + dt.timedelta(minutes=5)):
        assert runs.run_execute(run_id=lost.pk, task_id="t-5") is None
    assert not events(lost, "deliverables.run.taken_over")


# --- a real worker -----------------------------------------------------------------------------------------
@CURATED_DB
@pytest.mark.worker
def test_a_run_started_through_the_service_is_executed_by_a_worker_on_the_runs_queue(contract_sample, olivia):
    from tests.support.worker import Worker, flush_test_broker, wait_until

    flush_test_broker()
    worker = Worker(queues=runs.RUN_QUEUE).start()
    try:
        run = runs.run_start(actor=olivia, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=True)
        assert run.state == "queued"
        wait_until(lambda: CalculationRun.objects.get(pk=run.pk).is_final, timeout=180,
                   message="the worker to finish the run")
        run.refresh_from_db()
        assert run.worker_pid and os.getpgid(run.worker_pid) == worker.process.pid  # the worker's pool child
    finally:
        worker.stop()
    run.refresh_from_db()
    assert run.state == "succeeded", (run.error, worker.output()[-3000:])
    assert run.queue == "runs" and run.task_id and run.task_id != "test"
    assert run.worker_host == socket.gethostname() and run.worker_pid and run.worker_pid != os.getpid()
    assert run.attempts == 1
    assert RunNumber.objects.filter(run=run).exists()
    assert [s["state"] for s in run.progress["steps"]] == ["done"] * len(runs.STEPS)
    [started] = events(run, "deliverables.run.started")
    assert started.after["task_id"] == run.task_id and started.after["traceparent"] == run.traceparent
    assert events(run, "deliverables.run.succeeded")
    # The trace id minted at the request is carried into the worker's log, line by line.
    logged = [line for line in worker.output().splitlines() if f"run #{run.pk} " in line]
    assert any("claimed by" in line for line in logged) and any("succeeded" in line for line in logged)
    assert all(f"trace_id={run.trace_id}" in line for line in logged), logged


BIG_ROWS = int(os.environ.get("RUNS_KILL_TEST_ROWS", "60000"))


@pytest.fixture
def big_contract_sample(tmp_path, states, olivia, arthur, adam, curated_db, no_enqueue, broker) -> Sample:
    """The sample at a size whose run takes long enough to be killed mid-run."""
    def build():
        manifest = ingest(write_sample_export(tmp_path / "export", rows=BIG_ROWS, exported_at=LATER).path)
        promote(manifest, adam, arthur)
        return manifest

    manifest = states.get(f"runs: sample of {BIG_ROWS} rows promoted into a backend contract", build)
    summary = receive_evidence(tmp_path, olivia, arthur, rows=BIG_ROWS)
    return Sample(evidence=summary, manifest=manifest, claims_key=dataset(manifest, CLAIMS).domo_id)


@CURATED_DB
@pytest.mark.worker
@pytest.mark.postgres_only
def test_a_worker_killed_mid_run_shows_no_number_and_the_redelivered_task_takes_over_and_finishes_once(
        big_contract_sample, olivia):
    from tests.support.worker import Worker, flush_test_broker, wait_until

    # Redelivery after 3 s of silence; a run whose heartbeat is 2 s old may be taken over.
    fast = {"CELERY_VISIBILITY_TIMEOUT": "3", "RUN_STALE_SECONDS": "2", "RUN_HEARTBEAT_SECONDS": "1"}
    flush_test_broker()
    first = Worker(queues=runs.RUN_QUEUE, env=fast).start()
    try:
        run = runs.run_start(actor=olivia, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=True)
        wait_until(lambda: CalculationRun.objects.get(pk=run.pk).progress.get("step") in ("calculate", "decide"),
                   timeout=180, interval=0.01, message="the run to reach its calculate step")
        first.kill()
        killed_group = first.process.pid
    finally:
        first.stop()
    run.refresh_from_db()
    assert run.state == "running" and run.attempts == 1, run.error
    assert run.progress["step"] in ("calculate", "decide")  # killed mid-run, before its store step
    assert RunNumber.objects.filter(run=run).count() == 0  # nothing visible from the killed attempt
    assert not run.result_sha256 and not run.findings_path
    first_pid, first_task = run.worker_pid, run.task_id
    assert first_pid and first_task

    second = Worker(queues=runs.RUN_QUEUE, env=fast).start()
    try:
        wait_until(lambda: CalculationRun.objects.get(pk=run.pk).is_final, timeout=300,
                   message="the redelivered task to finish the run")
        run.refresh_from_db()
        # the pid recorded is a process of the second worker (its pool child), not of the killed one
        assert os.getpgid(run.worker_pid) == second.process.pid != killed_group
    finally:
        second.stop()
    run.refresh_from_db()
    assert run.state == "succeeded", (run.error, second.output()[-3000:])
    assert run.attempts == 2
    assert run.worker_pid != first_pid and run.worker_host == socket.gethostname()
    assert run.task_id == first_task  # the same message, redelivered
    [taken] = events(run, "deliverables.run.taken_over")
    assert (taken.before["attempt"], taken.after["attempt"]) == (1, 2)
    assert taken.before["worker_pid"] == first_pid and taken.after["worker_pid"] == run.worker_pid
    [started] = events(run, "deliverables.run.started")
    assert started.after["traceparent"] == taken.after["traceparent"] == run.traceparent
    assert run.trace_id == run.traceparent.split("-")[1]
    assert len(events(run, "deliverables.run.succeeded")) == 1

    keys = list(RunNumber.objects.filter(run=run).values_list("key", flat=True))
    assert keys and len(keys) == len(set(keys))  # stored once

    again = execute(runs.run_start(actor=olivia, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=False))
    assert again.state == "succeeded" and again.attempts == 1
    assert again.result_sha256 == run.result_sha256  # as if never interrupted
    assert again.findings_sha256 == run.findings_sha256
    assert sorted(RunNumber.objects.filter(run=again).values_list("key", "amount")) == sorted(
        RunNumber.objects.filter(run=run).values_list("key", "amount"))
