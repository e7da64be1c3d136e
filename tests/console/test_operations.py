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


def _job_rows(html: str) -> dict[str, str]:
    return {job: row for job, row in re.findall(r'<tr data-job="([^"]+)"(.*?)</tr>', html, re.DOTALL)}


def test_the_page_lists_the_work_in_flight_and_names_a_silent_job(client, olivia, broker, settings):
    """Every job waiting for a worker or held by one, oldest first per kind: how long it waited (past the re-send
    delay: sent again), its worker and attempts, and when it last showed a sign of life (past its kind's stale
    time: silent, its worker may be lost). Finished jobs are not in flight."""
    import datetime as dt

    from console import clock
    from deliverables.models import CalculationRun
    from evidence.choices import IntakeSource
    from evidence.models import IntakeRun

    now = clock.now()

    def ago(seconds: int) -> dt.datetime:
        return now - dt.timedelta(seconds=seconds)

    def run(**fields) -> CalculationRun:
        return CalculationRun.objects.create(requested_by=olivia, period_start=dt.date(2025, 1, 1),
                                             period_end=dt.date(2025, 12, 31), traceparent="00-" + "1" * 32 + "-"
                                             + "2" * 16 + "-01", trace_id="1" * 32, **fields)

    waiting = run(requested_at=ago(10))
    late = run(requested_at=ago(settings.BROKER_RESEND_AFTER_SECONDS + 60))
    beating = run(state="running", requested_at=ago(200), started_at=ago(120), heartbeat_at=ago(2),
                  worker_host="worker-a", worker_pid=4242, attempts=1)
    silent = run(state="running", requested_at=ago(900), started_at=ago(800),
                 heartbeat_at=ago(settings.RUN_STALE_SECONDS + 30), worker_host="worker-b", worker_pid=77, attempts=2)
    done = run(state="succeeded", requested_at=ago(50), started_at=ago(40), heartbeat_at=ago(30), finished_at=ago(30))
    intake = IntakeRun.objects.create(source=IntakeSource.UPLOAD, original_name="export.zip", staged_path="/tmp/x",
                                      requested_by_label="olivia.operator", status="running", started_at=ago(4000),
                                      heartbeat_at=ago(settings.INTAKE_STALE_SECONDS + 5), attempts=1)
    client.force_login(olivia)

    with clock.frozen(now):
        html = client.get("/operations/").content.decode()

    counts = dict(re.findall(r'data-count="(\w+)">(\d+)', html))
    assert counts == {"waiting": "2", "late": "1", "running": "3", "silent": "2"}
    rows = _job_rows(html)
    assert f"Calculation run #{done.pk}" not in rows
    assert list(rows) == [f"Evidence intake #{intake.pk}", f"Calculation run #{late.pk}",
                          f"Calculation run #{waiting.pk}", f"Calculation run #{silent.pk}",
                          f"Calculation run #{beating.pk}"]  # per kind, what waits then what runs, oldest first
    assert 'data-state="waiting"' in rows[f"Calculation run #{waiting.pk}"]
    assert "waited 10 s" in rows[f"Calculation run #{waiting.pk}"]
    assert "data-late" in rows[f"Calculation run #{late.pk}"] and "waiting, sent again" in rows[f"Calculation run #{late.pk}"]
    ok = rows[f"Calculation run #{beating.pk}"]
    assert 'class="badge badge-ok">running' in ok and "2 s ago" in ok and "worker-a pid 4242" in ok
    assert f'href="/runs/{beating.pk}/"' in ok
    lost = rows[f"Calculation run #{silent.pk}"]
    assert "data-silent" in lost and 'class="badge badge-bad">silent' in lost
    assert f"{settings.RUN_STALE_SECONDS + 30} s ago" in lost and "worker-b pid 77" in lost
    assert "data-silent" in rows[f"Evidence intake #{intake.pk}"]
    assert f'href="/sources/intake/{intake.pk}/"' in rows[f"Evidence intake #{intake.pk}"]

    with clock.frozen(now):  # the API twin answers the same
        body = client.get("/api/operations/").json()
    assert body["in_flight"]["counts"] == {"waiting": 2, "late": 1, "running": 3, "silent": 2}
    assert [f"{job['kind']} #{job['id']}" for job in body["in_flight"]["jobs"]] == list(rows)
    api_silent = {job["id"]: job for job in body["in_flight"]["jobs"] if job["kind"] == "Calculation run"}[silent.pk]
    assert api_silent["silent"] is True and api_silent["worker"] == "worker-b pid 77" and api_silent["attempts"] == 2
    assert api_silent["quiet_seconds"] == settings.RUN_STALE_SECONDS + 30 and api_silent["url"] == f"/runs/{silent.pk}/"
    assert {queue["queue"] for queue in body["queues"]} == set(operations.worker_queues()) and body["broker_error"] == ""

    CalculationRun.objects.filter(state__in=("queued", "running")).update(state="cancelled", finished_at=now)
    IntakeRun.objects.filter(pk=intake.pk).update(status="failed", finished_at=now)
    html = client.get("/operations/").content.decode()
    assert 'id="nothing-in-flight"' in html and not _job_rows(html)


def test_people_without_a_reading_role_do_not_see_the_queues(client, oscar):
    client.force_login(oscar)
    assert client.get("/operations/").status_code == 403
    assert client.get("/api/operations/").status_code == 403


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
