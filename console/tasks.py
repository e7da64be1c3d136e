"""Celery tasks of the console. Each is a thin interface to one service."""

import logging

from celery import shared_task
from django.db import OperationalError

from console import audit, audit_verify, context, idempotency

logger = logging.getLogger(__name__)


@shared_task(
    name="console.tasks.audit_verify_chain",
    bind=True,
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OperationalError,),  # database unreachable: transient; a broken chain is a result
    retry_backoff=30,
    max_retries=3,
    soft_time_limit=50 * 60,
    time_limit=55 * 60,
)
def audit_verify_chain(self) -> dict:
    """Recompute the audit chain and record its head in the lake (scheduled by beat): the anchor of
    every event since the last decision."""
    with context.for_task(self.request.id):
        report = audit.audit_verify_chain()
    logger.info("audit chain %s before this run: %s", "intact" if report.ok else "BROKEN", report.unanchored.describe())
    return report.as_dict()


@shared_task(
    name="console.tasks.audit_verify_now",
    bind=True,
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    max_retries=3,
    soft_time_limit=50 * 60,
    time_limit=55 * 60,
)
def audit_verify_now(self, run_id: str) -> None:
    """An auditor's "verify now" (console.audit_verify): its events carry the run id as correlation id."""
    with context.for_task(self.request.id, run_id=run_id):
        audit_verify.audit_verify_run(run_id=run_id)


@shared_task(
    name="console.tasks.idempotency_sweep",
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=30,
    max_retries=3,
    soft_time_limit=5 * 60,
    time_limit=6 * 60,
)
def idempotency_sweep() -> int:
    """Delete the API's expired idempotency keys (scheduled by beat, hourly)."""
    return idempotency.idempotency_sweep()


@shared_task(name="console.tasks.audit_verify_resend", acks_late=True, ignore_result=True, time_limit=300)
def audit_verify_resend() -> list[str]:
    """Beat: send again the "verify now" requests whose message was lost (console.dispatch)."""
    return audit_verify.audit_verify_resend()
