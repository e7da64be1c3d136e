"""One way for every kind of job (catalogue 9): the beat's sweeps send again each job whose message may be lost
(console.dispatch.resend_lost), read back from a Redis of the test's own; nothing else is sent, and a sweep in a
broker outage sends nothing and does not fail."""
from __future__ import annotations

import base64
import datetime as dt
import json
import os
import time

import pytest
import redis

from console import clock
from console.audit_verify import audit_verify_request
from console.tasks import audit_verify_resend
from deliverables.models import CalculationRun
from deliverables.runs import services as runs
from deliverables.tasks import runs_sweep
from evidence.choices import IntakeSource
from evidence.models import IntakeRun
from evidence.tasks import intake_sweep
from promotion.models import PromotionRequest
from promotion.tasks import promotion_sweep
from tests.deliverables.runs.conftest import PERIOD
from tests.promotion.conftest import dataset, forced, manifest  # noqa: F401  (manifest: a fixture)
from tests.support.redis_server import RedisServer, publishing_to

pytestmark = [pytest.mark.postgres_only]
AN_HOUR_AGO = dt.timedelta(hours=1)


@pytest.fixture
def own_broker(tmp_path, settings):
    """A Redis of the test's own; this process publishes to it (the app's producer pool is rebuilt on it)."""
    settings.BROKER_RESEND_AFTER_SECONDS = 1
    settings.INTAKE_STALE_SECONDS = settings.PROMOTION_STALE_SECONDS = settings.RUN_STALE_SECONDS = 60
    with publishing_to(RedisServer(tmp_path).start()) as server:
        yield server


def sent(server: RedisServer) -> set[tuple]:
    """(task, args or kwargs, expires set) of every message waiting in the broker."""
    client = redis.Redis.from_url(server.url)
    try:
        found = set()
        for key in client.scan_iter(match=os.environ["CELERY_REDIS_KEY_PREFIX"] + "*"):
            if client.type(key) != b"list":
                continue
            for raw in client.lrange(key, 0, -1):
                message = json.loads(raw)
                args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
                headers = message["headers"]
                found.add((headers["task"], tuple(args) or tuple(sorted(kwargs.items())), bool(headers["expires"])))
        return found
    finally:
        client.close()


def intake(status: str, *, queued_at, heartbeat=None, attempts=0) -> IntakeRun:
    return IntakeRun.objects.create(
        source=IntakeSource.API, original_name="x.zip", staged_path="/nowhere", requested_by_label="olivia",
        status=status, queued_at=queued_at, started_at=heartbeat, heartbeat_at=heartbeat, attempts=attempts)


def sweep_as_the_beat() -> None:
    intake_sweep()
    promotion_sweep()
    runs_sweep()
    audit_verify_resend()


@pytest.mark.catalogue(9)
def test_each_kind_of_job_waiting_on_a_lost_message_is_sent_again(
        own_broker, manifest, olivia, arthur, audrey):  # noqa: F811
    past = clock.now() - AN_HOUR_AGO
    queued = intake("queued", queued_at=past)
    stale = intake("running", queued_at=past, heartbeat=past, attempts=1)
    given_up = intake("running", queued_at=past, heartbeat=past, attempts=3)  # past the cap: the sweeper's to fail
    checking = forced(manifest, requested_by=olivia, state="checking")
    PromotionRequest.objects.filter(pk=checking.pk).update(check_started_at=past)
    approved = forced(manifest, requested_by=olivia, approved_by=arthur)
    PromotionRequest.objects.filter(pk=approved.pk).update(approved_at=past)
    run = CalculationRun.objects.create(
        period_start=PERIOD[0], period_end=PERIOD[1], requested_by=olivia, requested_at=past, queue=runs.RUN_QUEUE,
        traceparent=runs.traceparent_for(), trace_id="0" * 31 + "1")
    # Its own send waits for a commit that the test's transaction never makes: lost, like the rows' messages.
    verify_id = audit_verify_request(actor=audrey)
    assert sent(own_broker) == set()
    time.sleep(1.1)  # BROKER_RESEND_AFTER_SECONDS
    fresh = intake("queued", queued_at=clock.now())  # sent a moment ago: not lost yet

    sweep_as_the_beat()

    assert sent(own_broker) == {
        ("evidence.tasks.intake_run", (queued.pk,), True),
        ("evidence.tasks.intake_run", (stale.pk,), True),
        ("promotion.tasks.promotion_check", (checking.pk,), True),
        ("promotion.tasks.promotion_load", (approved.pk,), True),
        ("deliverables.tasks.run_execute", (run.pk,), True),
        ("console.tasks.audit_verify_now", (("run_id", verify_id),), True),
    }
    assert fresh.pk not in {args[0] for task, args, _ in sent(own_broker) if task == "evidence.tasks.intake_run"}
    assert given_up.pk not in {args[0] for task, args, _ in sent(own_broker) if task == "evidence.tasks.intake_run"}
    queued.refresh_from_db()
    assert queued.task_id  # the row records the id it was sent again as


@pytest.mark.catalogue(9)
def test_a_sweep_in_an_outage_sends_nothing_and_does_not_fail(own_broker, olivia):
    queued = intake("queued", queued_at=clock.now() - AN_HOUR_AGO)
    own_broker.stop()
    sweep_as_the_beat()  # logs that the broker is unreachable; no exception
    queued.refresh_from_db()
    assert (queued.status, queued.task_id) == ("queued", "")
    own_broker.start()
    sweep_as_the_beat()
    assert sent(own_broker) == {("evidence.tasks.intake_run", (queued.pk,), True)}
