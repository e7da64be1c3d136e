"""A real Celery worker on Redis runs the intake; a worker killed mid-intake leaves nothing half-done."""
import io
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command

from console.models import AuditEvent
from evidence.choices import IntakeStatus
from evidence.models import DomoDataset, IntakeRun, SourceManifest
from evidence.samples.export import write_sample_export
from tests.support.worker import Worker, broker_backlog, flush_test_broker, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.postgres_only]


def queue(path) -> IntakeRun:
    call_command("ingest_export", str(path), "--queue", stdout=io.StringIO())
    return IntakeRun.objects.latest("id")


@pytest.fixture(scope="module")
def big_export(tmp_path_factory):
    """An export whose intake runs long enough to be killed or shut down mid-way (written once for the module:
    each test's intake receives it into its own database and lake)."""
    return write_sample_export(tmp_path_factory.mktemp("big") / "export", rows=250_000, seed=22)


def test_a_worker_receives_a_queued_export(celery_worker, tmp_path):
    export = write_sample_export(tmp_path / "export", rows=500, seed=21)
    run = queue(export.path)
    wait_until(lambda: IntakeRun.objects.get(pk=run.pk).is_final, timeout=90, message="the intake to finish")
    run.refresh_from_db()
    assert run.status == IntakeStatus.SUCCEEDED, run.error
    assert run.task_id
    assert run.manifest.load_id == export.load_id
    assert run.manifest.status == "complete"


def test_a_worker_killed_mid_intake_leaves_no_manifest_and_a_rerun_finishes(transactional_db, lake, big_export):
    export = big_export
    # Redelivery after 3 s of silence; a run whose heartbeat is 2 s old may be taken over.
    fast_redelivery = {"CELERY_VISIBILITY_TIMEOUT": "3", "INTAKE_STALE_SECONDS": "2"}
    flush_test_broker()
    first = Worker(env=fast_redelivery).start()
    try:
        run = queue(export.path)
        # Killed while validation converts the claims to their silver Parquet and the bronze copy runs
        # beside it: both are half done.
        wait_until(
            lambda: IntakeRun.objects.get(pk=run.pk).stage.startswith("checking dataset"), timeout=120,
            interval=0.05, message="the intake to start converting the claims",
        )
        first.kill()
    finally:
        first.stop()
    run.refresh_from_db()
    assert run.status == IntakeStatus.RUNNING  # the worker died: nobody finished or failed it
    assert not SourceManifest.objects.exists()
    for path in lake.list("silver"):  # whatever reached the lake is whole and verified
        pq.read_metadata(pa.BufferReader(lake.read(path)))
    for path in lake.list("bronze"):
        lake.read(path)  # checked against the hash recorded when it was written

    second = Worker(env=fast_redelivery).start()
    try:
        wait_until(lambda: IntakeRun.objects.get(pk=run.pk).is_final, timeout=180, message="the rerun to finish")
    finally:
        second.stop()
    run.refresh_from_db()
    assert run.status == IntakeStatus.SUCCEEDED, run.error
    assert run.attempts == 2
    assert SourceManifest.objects.count() == 1
    claims = DomoDataset.objects.get(domo_id=export.datasets["claims"])
    assert claims.silver_rows == claims.declared_rows
    table = pq.read_table(pa.BufferReader(lake.read(claims.silver_path)), columns=["Claim ID"])
    assert table.num_rows == claims.declared_rows


def started(run: IntakeRun) -> int:
    return AuditEvent.objects.filter(action="intake.started", object_id=str(run.pk)).count()


@pytest.mark.catalogue(4)
def test_an_intake_whose_process_dies_on_every_delivery_fails_after_three_attempts_and_the_queue_drains(
    transactional_db, lake, big_export
):
    """Each time an attempt holds the run, its process is SIGKILLed (as an export that crashes the interpreter
    would do): the delivery after the third finds that attempt lost too and fails the run for good."""
    from evidence.intake.services import MAX_INTAKE_ATTEMPTS

    fast = {"CELERY_VISIBILITY_TIMEOUT": "3", "INTAKE_STALE_SECONDS": "2"}
    flush_test_broker()
    worker = Worker(queues="intake", env=fast).start()
    try:
        run = queue(big_export.path)
        for attempt in range(1, MAX_INTAKE_ATTEMPTS + 1):
            wait_until(lambda n=attempt: (r := IntakeRun.objects.get(pk=run.pk)).status == IntakeStatus.RUNNING
                       and r.attempts == n, timeout=120, interval=0.02, message=f"attempt {attempt} to hold the run")
            worker.kill_pool_child()
        wait_until(lambda: IntakeRun.objects.get(pk=run.pk).is_final, timeout=60, message="the run to fail")
        wait_until(lambda: broker_backlog("intake") == (0, 0), timeout=30, message="the queue to drain")
        time.sleep(4)  # past the visibility timeout: nothing comes back
        assert broker_backlog("intake") == (0, 0)
    finally:
        worker.stop()
    run.refresh_from_db()
    assert run.status == IntakeStatus.FAILED, worker.output()[-3000:]
    assert run.attempts == MAX_INTAKE_ATTEMPTS and started(run) == MAX_INTAKE_ATTEMPTS
    assert run.error == f"gave up after {MAX_INTAKE_ATTEMPTS} attempts (each worker was lost mid-run)"
    assert AuditEvent.objects.get(action="intake.failed", object_id=str(run.pk)).after["error"] == run.error
    assert worker.output().count("WorkerLostError") >= MAX_INTAKE_ATTEMPTS
    assert not SourceManifest.objects.exists()
