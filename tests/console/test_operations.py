"""The operations page: each worker queue's depth read from the broker, and a burst of ten times the normal
jobs (real audit verifications, a real worker) that drains within the stated window while pages answer."""
from __future__ import annotations

import re
import time

import pytest
from celery import current_app
from django.db import connection, transaction

from console import operations
from console.audit_verify import VERIFY_TASK, audit_verify_request
from console.models import AuditEvent
from console.tasks import audit_verify_now
from tests.support.worker import wait_until

WAITING = re.compile(r'<tr data-queue="([\w-]+)">.*?data-waiting="(\d+)"', re.DOTALL)


def depths(client) -> tuple[dict[str, int], float]:
    """The queues' figures as the page shows them, and how long the page took."""
    started = time.perf_counter()
    response = client.get("/operations/")
    seconds = time.perf_counter() - started
    assert response.status_code == 200, response.content[:500]
    return {queue: int(count) for queue, count in WAITING.findall(response.content.decode())}, seconds


def test_the_page_lists_every_worker_queue_and_counts_what_waits(client, olivia, broker):
    client.force_login(olivia)
    shown, _ = depths(client)
    assert shown == dict.fromkeys(operations.worker_queues(), 0)
    for _ in range(2):  # messages no worker reads (the broker fixture empties them afterwards)
        current_app.send_task("console.tasks.idempotency_sweep", queue="console")
    current_app.send_task("evidence.tasks.intake_sweep", queue="intake")
    shown, _ = depths(client)
    assert shown["console"] == 2 and shown["intake"] == 1 and shown["runs"] == shown["promotion"] == 0


def test_people_without_a_reading_role_do_not_see_the_queues(client, oscar):
    client.force_login(oscar)
    assert client.get("/operations/").status_code == 403


@pytest.mark.catalogue(49)
@pytest.mark.worker
@pytest.mark.skipif(connection.vendor == "sqlite", reason="a worker process cannot open SQLite's in-memory test database")
def test_a_burst_of_ten_times_the_normal_jobs_drains_in_time_while_pages_answer(client, audrey, adam, celery_worker):
    adam.is_staff = adam.is_superuser = True  # every admin list page, not only people and roles
    adam.save(update_fields=["is_staff", "is_superuser"])
    client.force_login(adam)
    assert depths(client)[0]["console"] == 0
    started = time.monotonic()
    with transaction.atomic():  # sent together when the block commits: a burst
        runs = [audit_verify_request(actor=audrey) for _ in range(operations.BURST_JOBS)]
    peak, slowest = 0, ("", 0.0)
    pages = ["/admin/evidence/intakerun/", "/admin/auth/user/", "/admin/promotion/promotionrequest/", "/audit/",
             "/sources/intake/"]
    while True:
        shown, seconds = depths(client)
        peak = max(peak, shown["console"])
        slowest = max(slowest, ("/operations/", seconds), key=lambda page: page[1])
        if shown["console"] == 0 and peak:
            break
        assert time.monotonic() - started < operations.BURST_DRAIN_SECONDS, (
            f"still {shown} after {operations.BURST_DRAIN_SECONDS} s; worker log:\n{celery_worker.output()[-2000:]}")
        path = pages[int(time.monotonic() * 10) % len(pages)]
        page_started = time.perf_counter()
        assert client.get(path).status_code == 200, path
        slowest = max(slowest, (path, time.perf_counter() - page_started), key=lambda page: page[1])
        time.sleep(0.1)
    drained = time.monotonic() - started
    # The depth shown rose with the burst (the single worker takes one message at a time) and came back to 0.
    assert peak >= operations.BURST_JOBS // 2, f"the page showed at most {peak} waiting"
    # Every job ran to its report: none lost, none killed at its time limit.
    reported = wait_until(lambda: AuditEvent.objects.filter(action="audit.verified", correlation_id__in=runs).count()
                          == len(runs) or None, timeout=max(5.0, operations.BURST_DRAIN_SECONDS - drained),
                          message="every verification's report")
    assert reported
    limit = audit_verify_now.soft_time_limit
    assert audit_verify_now.name == VERIFY_TASK
    for run in runs:
        events = dict(AuditEvent.objects.filter(correlation_id=run).values_list("action", "occurred_at"))
        assert (events["audit.verified"] - events["audit.verify_started"]).total_seconds() < limit
    assert "TimeLimitExceeded" not in celery_worker.output()
    assert slowest[1] < operations.PAGE_GOAL_SECONDS, f"{slowest[0]} took {slowest[1]:.2f} s during the burst"
    print(f"burst of {len(runs)} drained in {drained:.1f} s, peak depth {peak}, slowest page {slowest}")
