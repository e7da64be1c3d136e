"""A broker outage loses nothing (catalogue 9): Redis goes away while an intake is sent and while one runs, and
comes back empty (nothing saved: every message it held is gone). The upload still answers 202 "queued"; once Redis
is back, the beat's sweep sends the lost job again and the worker finishes it; nothing is left queued or running.

The Redis is the test's own (tests/support/redis_server.py), never the machine's shared one. The outage lasts
LEAF_BROKER_OUTAGE_SECONDS: 30 s by default, as the catalogue says (long enough for the worker's reconnects to
fail and back off several times); a shorter value only for a quick local check.
"""
from __future__ import annotations

import io
import os
import time

import pytest
from django.core.management import call_command

from console.models import AuditEvent
from evidence.choices import INTAKE_TERMINAL, IntakeStatus
from evidence.models import IntakeRun
from evidence.samples.export import write_sample_export
from evidence.tasks import intake_sweep
from tests.evidence import exports
from tests.support.redis_server import RedisServer, publishing_to
from tests.support.worker import Worker, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.postgres_only]

OUTAGE_SECONDS = float(os.environ.get("LEAF_BROKER_OUTAGE_SECONDS", "30"))
# The sweep sends again a job waiting for 3 s (each copy expires 3 s later), or running with a heartbeat 2 s old (the
# defaults: 10 min, 5 min).
FAST = {"BROKER_RESEND_AFTER_SECONDS": "3", "INTAKE_STALE_SECONDS": "2"}


@pytest.fixture
def own_broker(tmp_path, settings):
    """A Redis of the test's own; this process publishes to it (the app's connection pools are rebuilt on it)."""
    settings.BROKER_RESEND_AFTER_SECONDS = int(FAST["BROKER_RESEND_AFTER_SECONDS"])
    settings.INTAKE_STALE_SECONDS = int(FAST["INTAKE_STALE_SECONDS"])
    with publishing_to(RedisServer(tmp_path).start()) as server:
        yield server


@pytest.fixture
def worker(own_broker, transactional_db, lake):
    started = Worker(env={"CELERY_BROKER_URL": own_broker.url, **FAST}).start()
    yield started
    started.stop()


def outage(server: RedisServer, started: float) -> None:
    """Keep the broker down until OUTAGE_SECONDS after `started`, then start it again, empty, on the same port."""
    time.sleep(max(0.0, started + OUTAGE_SECONDS - time.monotonic()))
    server.start()


def finished(run: IntakeRun) -> IntakeRun:
    """Wait for the run to be final, sweeping as the beat would (each sweep sends again a job that waits)."""
    def final():
        intake_sweep()
        fresh = IntakeRun.objects.get(pk=run.pk)
        return fresh if fresh.is_final else None

    return wait_until(final, timeout=180, interval=1, message=f"intake #{run.pk} to finish")


@pytest.mark.catalogue(9)
def test_an_outage_during_the_send_and_during_the_run_loses_nothing(worker, own_broker, client, olivia, tmp_path):
    # --- the broker goes away before the upload: the upload still answers, the run waits queued -----------------
    own_broker.stop()
    down_at = time.monotonic()
    client.force_login(olivia)
    with exports.Export().zip(tmp_path / "leafiq-export.zip").open("rb") as handle:
        response = client.post("/api/intake-runs/", {"file": handle})
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"
    sent_while_down = IntakeRun.objects.get(pk=response.json()["id"])
    assert (sent_while_down.status, sent_while_down.task_id) == (IntakeStatus.QUEUED, "")  # nothing was sent
    assert AuditEvent.objects.filter(action="intake.queued", object_id=str(sent_while_down.pk)).exists()
    time.sleep(max(0.0, down_at + 3.1 - time.monotonic()))  # waiting past BROKER_RESEND_AFTER_SECONDS
    assert intake_sweep() == []  # the beat's sweep runs in the outage too: it sends nothing and does not fail
    assert IntakeRun.objects.get(pk=sent_while_down.pk).status == IntakeStatus.QUEUED
    outage(own_broker, down_at)

    run = finished(sent_while_down)
    assert run.status == IntakeStatus.SUCCEEDED, run.error
    assert run.task_id and run.attempts == 1

    # --- the broker goes away while a worker runs an intake, and comes back without its message ------------------
    export = write_sample_export(tmp_path / "export", rows=60_000, seed=9)
    call_command("ingest_export", str(export.path), "--queue", stdout=io.StringIO())
    running = IntakeRun.objects.latest("id")
    wait_until(lambda: IntakeRun.objects.get(pk=running.pk).status != IntakeStatus.QUEUED, timeout=120,
               interval=0.05, message="a worker to take the intake")
    own_broker.stop()
    down_at = time.monotonic()
    assert IntakeRun.objects.get(pk=running.pk).status == IntakeStatus.RUNNING  # the outage begins mid-run
    outage(own_broker, down_at)
    assert not own_broker_has_messages(own_broker)  # it came back empty: the running task's message is gone

    run = finished(running)
    assert run.status == IntakeStatus.SUCCEEDED, run.error
    assert run.manifest.load_id == export.load_id
    # Nothing stuck: every intake is final, none waits queued or running.
    assert not IntakeRun.objects.exclude(status__in=INTAKE_TERMINAL).exists()


def own_broker_has_messages(server: RedisServer) -> bool:
    import redis

    client = redis.Redis.from_url(server.url)
    try:  # a worker that reconnects declares its queue bindings at once: those are not messages
        return any(b"_kombu.binding" not in key for key in client.keys("*"))
    finally:
        client.close()
