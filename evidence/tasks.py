"""Celery tasks of the evidence app: thin, they re-read the run and call the service."""
from celery import shared_task
from django.db.models import Q

from console import context
from console.dispatch import Handoff, resend_lost
from console.jobs import JobTable
from evidence.choices import IntakeStatus, ReceiptStatus
from evidence.intake.services import INTAKE_TASK, IntakeHeld, intake_execute
from evidence.models import INTAKE_JOBS, IntakeRun
from evidence.packets.models import PacketReceipt
from evidence.packets.receipts import RECEIPT_TASK, ReceiptHeld, receipt_execute

# What the beat sends again when a message may be lost (console.dispatch): a queued intake or receipt, or a running
# one gone silent (a receipt beats only when it starts).
INTAKE_HANDOFF = Handoff(INTAKE_TASK, IntakeRun, Q(status=IntakeStatus.QUEUED), "queued_at", jobs=INTAKE_JOBS,
                         stale_setting="INTAKE_STALE_SECONDS")
RECEIPT_HANDOFF = Handoff(
    RECEIPT_TASK, PacketReceipt, Q(status=ReceiptStatus.QUEUED), "queued_at",
    jobs=JobTable(PacketReceipt, state="status", running=ReceiptStatus.RUNNING, heartbeat="started_at"),
    stale_setting="INTAKE_STALE_SECONDS",
)


# Routed to the "intake" queue by CELERY_TASK_ROUTES.
@shared_task(
    name=INTAKE_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=10,  # looks at a run held by a live worker (IntakeHeld), never retries of a failure
    soft_time_limit=6 * 3600,
    time_limit=6 * 3600 + 300,
    bind=True,
)
def intake_run(self, run_id: int) -> None:
    """Receive one export. A worker killed mid-run leaves the task unacknowledged; it is redelivered."""
    with context.for_task(self.request.id or "eager", run_id=f"intake-{run_id}"):
        try:
            intake_execute(run_id=run_id)
        except IntakeHeld as held:
            raise self.retry(countdown=held.retry_in)


# Routed to the "intake" queue by CELERY_TASK_ROUTES, like the intake's runs.
@shared_task(
    name=RECEIPT_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=10,  # looks at a receipt held by a live worker (ReceiptHeld), never retries of a failure
    soft_time_limit=3600,
    time_limit=3600 + 300,
    bind=True,
)
def packet_receipt_run(self, receipt_id: int) -> None:
    """Receive one queued evidence packet as its requester. A worker killed mid-run leaves the task
    unacknowledged; it is redelivered, and receiving again is safe (accepted bytes answer unchanged)."""
    with context.for_task(self.request.id or "eager", run_id=f"packet-receipt-{receipt_id}"):
        try:
            receipt_execute(receipt_id=receipt_id)
        except ReceiptHeld as held:
            raise self.retry(countdown=held.retry_in)


@shared_task(name="evidence.tasks.intake_sweep", acks_late=True, time_limit=300, bind=True)
def intake_sweep(self) -> list[int]:
    """Beat: fail intakes and queued packet receipts abandoned by a lost worker (returns the intakes'), then send
    again the ones whose message may be lost."""
    import datetime

    from django.conf import settings

    from evidence.intake.services import intake_sweep_abandoned
    from evidence.packets.receipts import receipt_sweep_abandoned

    older_than = datetime.timedelta(seconds=settings.INTAKE_ABANDONED_SECONDS)
    with context.for_task(self.request.id or "eager"):
        receipt_sweep_abandoned(older_than=older_than)
        failed = intake_sweep_abandoned(older_than=older_than)
        resend_lost(RECEIPT_HANDOFF)
        resend_lost(INTAKE_HANDOFF)
        return failed


# Routed to the "intake" queue by CELERY_TASK_ROUTES (evidence.tasks.*).
@shared_task(
    name="evidence.tasks.flags_recompute_run",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=0,  # a failed run keeps its error; the next trigger queues a new one
    soft_time_limit=3600,
    time_limit=3600 + 300,
    bind=True,
)
def flags_recompute_run(self, run_id: int) -> None:
    """Recompute the missing-evidence flags for one queued FlagRun (coalesced requests share it)."""
    from evidence.flags.services import flag_run_execute

    with context.for_task(self.request.id or "eager", run_id=f"flag-run-{run_id}"):
        flag_run_execute(run_id=run_id, task_id=self.request.id or "", worker=self.request.hostname or "")


@shared_task(name="evidence.tasks.flags_sweep", acks_late=True, time_limit=300, bind=True)
def flags_sweep(self) -> dict:
    """Beat: send again the flag runs whose message was lost; fail the ones that lost their worker too often."""
    from evidence.flags.sweep import flag_runs_sweep

    with context.for_task(self.request.id or "eager"):
        return flag_runs_sweep()
