"""A real Celery worker on Redis runs the intake; a worker killed mid-intake leaves nothing half-done."""
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command

from evidence.choices import IntakeStatus
from evidence.models import DomoDataset, IntakeRun, SourceManifest
from evidence.samples.export import write_sample_export
from tests.support.worker import Worker, flush_test_broker, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.postgres_only]


def queue(path) -> IntakeRun:
    call_command("ingest_export", str(path), "--queue", stdout=io.StringIO())
    return IntakeRun.objects.latest("id")


def test_a_worker_receives_a_queued_export(celery_worker, tmp_path):
    export = write_sample_export(tmp_path / "export", rows=500, seed=21)
    run = queue(export.path)
    wait_until(lambda: IntakeRun.objects.get(pk=run.pk).is_final, timeout=90, message="the intake to finish")
    run.refresh_from_db()
    assert run.status == IntakeStatus.SUCCEEDED, run.error
    assert run.task_id
    assert run.manifest.load_id == export.load_id
    assert run.manifest.status == "complete"


def test_a_worker_killed_mid_intake_leaves_no_manifest_and_a_rerun_finishes(transactional_db, lake, tmp_path):
    export = write_sample_export(tmp_path / "export", rows=250_000, seed=22)
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
