"""Celery tasks of the evidence app: thin, they re-read the run and call the service."""
from celery import shared_task

from console import context
from evidence.intake.services import INTAKE_TASK, IntakeHeld, intake_execute


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


@shared_task(name="evidence.tasks.intake_sweep", acks_late=True, time_limit=300, bind=True)
def intake_sweep(self) -> list[int]:
    """Beat: fail intakes abandoned by a lost worker."""
    import datetime

    from django.conf import settings

    from evidence.intake.services import intake_sweep_abandoned

    with context.for_task(self.request.id or "eager"):
        return intake_sweep_abandoned(older_than=datetime.timedelta(seconds=settings.INTAKE_ABANDONED_SECONDS))
