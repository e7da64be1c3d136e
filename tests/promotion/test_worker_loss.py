"""A real worker loses the process running a promotion load: once (the pool child is killed mid-copy; the message is
redelivered at once, the load is taken over and promotes once), or on every delivery (a poison load: it fails after
MAX_LOAD_ATTEMPTS, and nothing is left in the queue). (The whole worker killed mid-load: test_load.py.)"""
from __future__ import annotations

import os
import signal
import time

import pytest

from console.models import AuditEvent
from promotion import curated, services
from promotion.curated.backend import row_key_name
from promotion.models import PromotionRequest
from tests.promotion.conftest import CURATED_DB, approve, dataset, queued
from tests.promotion.test_curated_load import indexes
from tests.promotion.test_load import assert_same_totals, current_totals, silver_totals
from tests.support.worker import Worker, broker_backlog, flush_test_broker, wait_until

pytestmark = [CURATED_DB, pytest.mark.worker, pytest.mark.postgres_only]

# A redelivered load takes over once the heartbeat is 2 s old; a message left unacknowledged by a dead worker
# comes back after 3 s.
FAST = {"CELERY_VISIBILITY_TIMEOUT": "3", "PROMOTION_STALE_SECONDS": "2"}


def current(request: PromotionRequest) -> PromotionRequest:
    return PromotionRequest.objects.get(pk=request.pk)


def events(request: PromotionRequest, action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, object_id=str(request.pk)).order_by("seq"))


@pytest.mark.catalogue(1)
def test_a_pool_child_killed_half_way_through_the_copy_is_redelivered_and_the_load_promotes_once(
    big_ready_request, arthur, curated_db
):
    request = big_ready_request
    claims = dataset(request.manifest)
    flush_test_broker()
    worker = Worker(env=FAST).start()
    try:
        approve(request, arthur)  # sends the load after its commit
        wait_until(lambda: current(request).load_progress.get("rows", 0) >= claims.silver_rows / 2, timeout=180,
                   interval=0.02, message="half the claims copied")
        killed = worker.kill_pool_child()
        half_way = current(request)
        assert half_way.state == "loading" and half_way.attempts == 1
        assert curated.read_current(curated_db, claims.domo_id) is None  # readers see nothing of the half copy

        wait_until(lambda: current(request).is_final, timeout=180, message="the redelivered load to finish")
        assert worker.process.poll() is None  # only the pool child died: the same worker ran the redelivery
        assert killed not in worker.pool_children()
    finally:
        worker.stop()
    request.refresh_from_db()
    assert request.state == "promoted", (request.error, worker.output()[-3000:])
    assert "WorkerLostError" in worker.output()
    assert request.attempts == 2  # one redelivery, one successful attempt
    [resumed] = events(request, "promotion.load_resumed")
    assert resumed.after["attempt"] == 2 and resumed.after["after"] == "stale heartbeat"
    assert len(events(request, "promotion.promoted")) == 1 and not events(request, "promotion.load_failed")
    now = curated.read_current(curated_db, claims.domo_id)
    versions = {v["version"]: v["state"] for v in curated.versions(curated_db, claims.domo_id)}
    assert versions[now.version] == "current"
    assert all(state == "failed" for version, state in versions.items() if version != now.version)
    with curated_db.cursor() as cursor:
        cursor.execute(f'SELECT count(*), count(DISTINCT "_row") FROM "{now.table}"')
        assert cursor.fetchone() == (claims.silver_rows, claims.silver_rows)  # no duplicate rows
    # ... and none can come: `_row` is a unique key of the live table, built in the load's transaction.
    assert indexes(curated_db, now.table) == [(row_key_name(now.table), True, ["_row"])]
    assert_same_totals(current_totals(curated_db, claims), silver_totals(claims))


@pytest.mark.catalogue(4)
def test_a_load_whose_process_dies_on_every_delivery_fails_after_three_attempts_and_the_queue_drains(
    big_ready_request, arthur, curated_db
):
    """Each time an attempt holds the load, its process is SIGKILLed (as a load that crashes its interpreter
    would be): the fourth delivery finds the third attempt lost and fails the request for good."""
    request = big_ready_request
    claims = dataset(request.manifest)
    flush_test_broker()
    worker = Worker(env=FAST).start()
    try:
        approve(request, arthur)
        for attempt in range(1, services.MAX_LOAD_ATTEMPTS + 1):
            wait_until(lambda n=attempt: (r := current(request)).state == "loading" and r.attempts == n,
                       timeout=120, interval=0.02, message=f"attempt {attempt} to hold the load")
            worker.kill_pool_child()
        wait_until(lambda: current(request).is_final, timeout=60, message="the request to fail")
        wait_until(lambda: broker_backlog("promotion") == (0, 0), timeout=30, message="the queue to drain")
        time.sleep(4)  # past the visibility timeout: nothing comes back
        assert broker_backlog("promotion") == (0, 0)
    finally:
        worker.stop()
    request.refresh_from_db()
    assert request.state == "failed", worker.output()[-3000:]
    assert request.attempts == services.MAX_LOAD_ATTEMPTS
    assert request.error == f"gave up after {services.MAX_LOAD_ATTEMPTS} load attempts"
    assert len(events(request, "promotion.load_resumed")) == services.MAX_LOAD_ATTEMPTS - 1
    [failed] = events(request, "promotion.load_failed")
    assert failed.after == {"state": "failed", "error": request.error}
    assert worker.output().count("WorkerLostError") >= services.MAX_LOAD_ATTEMPTS
    assert curated.read_current(curated_db, claims.domo_id) is None  # readers never moved


def verify_events(run_id: str, action: str) -> int:
    return AuditEvent.objects.filter(correlation_id=run_id, action=action).count()


@pytest.mark.catalogue(6)
def test_a_warm_shutdown_finishes_the_short_task_and_requeues_the_long_load_once(
    big_ready_request, arthur, audrey, curated_db
):
    """SIGTERM to a worker with soft shutdown on (REMAP_SIGTERM=SIGQUIT; Celery's test_worker_shutdown_acks.py)
    while a long load and a short task (an auditor's "verify now") run: the short one finishes within the soft
    timeout and is acknowledged; the long one is cancelled and requeued, once, and the next worker takes it over
    and promotes it once."""
    from console.audit import VERIFIED_ACTION
    from console.audit_verify import STARTED_ACTION, audit_verify_request

    request = big_ready_request
    claims = dataset(request.manifest)
    env = {**FAST, "REMAP_SIGTERM": "SIGQUIT", "CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT": "2"}
    flush_test_broker()
    # The first worker's load holds once its rows are copied: still under way when the soft timeout ends,
    # however fast this machine copies (a CI run once finished the whole load inside the two seconds).
    held = {**env, "PROMOTION_PAUSE_AT": "curated.loaded", "PROMOTION_PAUSE_SECONDS": "60"}
    first = Worker(queues="console,promotion", concurrency=2, env=held).start()
    try:
        approve(request, arthur)
        wait_until(lambda: current(request).load_progress.get("stage") == "loading", timeout=120, interval=0.05,
                   message="the load to be under way")
        verification = audit_verify_request(actor=audrey)
        wait_until(lambda: verify_events(verification, STARTED_ACTION), timeout=60, interval=0.01,
                   message="the verification to start")
        os.kill(first.process.pid, signal.SIGTERM)  # the main process only, as a supervisor stops it
        first.process.wait(timeout=60)
    finally:
        first.stop()
    assert "Initiating Soft Shutdown" in first.output()
    assert verify_events(verification, VERIFIED_ACTION) == 1, first.output()[-3000:]
    stopped = current(request)
    assert stopped.state == "loading" and stopped.attempts == 1, first.output()[-3000:]
    assert curated.read_current(curated_db, claims.domo_id) is None
    # The short task was acknowledged; the long one is back in its queue, once.
    assert queued("console") == []
    assert queued("promotion") == [(services.LOAD_TASK, (request.pk,))], first.output()[-3000:]

    second = Worker(queues="console,promotion", env=env).start()
    try:
        wait_until(lambda: current(request).is_final, timeout=180, message="the requeued load to finish")
    finally:
        second.stop()
    request.refresh_from_db()
    assert request.state == "promoted", (request.error, second.output()[-3000:])
    assert request.attempts == 2 and len(events(request, "promotion.load_resumed")) == 1
    assert len(events(request, "promotion.promoted")) == 1
    # The short task was never delivered again.
    assert (verify_events(verification, STARTED_ACTION), verify_events(verification, VERIFIED_ACTION)) == (1, 1)
