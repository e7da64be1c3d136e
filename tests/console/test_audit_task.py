"""The scheduled verification task: a thin wrapper that runs the verifier as the system, under its task id."""

import pytest
from django.conf import settings
from django.db import connection

from console.models import AuditEvent
from console.tasks import audit_verify_chain
from tests.support.worker import wait_until


def test_the_beat_schedule_names_the_task_and_its_queue():
    entry = settings.CELERY_BEAT_SCHEDULE["audit-verify-chain"]
    assert entry["task"] == audit_verify_chain.name == "console.tasks.audit_verify_chain"
    # Routing comes from task_routes (a `queue` task attribute is deprecated since Celery 5.5).
    routed = audit_verify_chain.app.amqp.router.route({}, audit_verify_chain.name)["queue"]
    assert entry["options"]["queue"] == routed.name == "console"


def test_the_task_verifies_and_records_the_run_under_its_task_id(db, lake, record_events):
    record_events(3)
    result = audit_verify_chain.apply(task_id="verify-task-0001")
    assert result.result["ok"] is True and result.result["head_seq"] == 3
    event = AuditEvent.objects.latest()
    assert (event.action, event.actor_label, event.correlation_id) == (
        "audit.verified",
        "system:task:verify-task-0001",
        "verify-task-0001",
    )
    assert lake.list("audit/heads") == [result.result["head_path"]]


@pytest.mark.worker
@pytest.mark.skipif(
    connection.vendor == "sqlite", reason="a worker process cannot open SQLite's in-memory test database"
)
def test_a_real_worker_runs_the_scheduled_task(lake, celery_worker, record_events):
    record_events(2)
    audit_verify_chain.apply_async(
        queue=settings.CELERY_BEAT_SCHEDULE["audit-verify-chain"]["options"]["queue"]
    )
    event = wait_until(
        lambda: AuditEvent.objects.filter(action="audit.verified").first(),
        message=f"the verify event; worker log:\n{celery_worker.output()[-3000:]}",
    )
    assert event.actor_label.startswith("system:task:") and event.after["ok"] is True
    assert lake.list("audit/heads") == [event.after["head_path"]]
