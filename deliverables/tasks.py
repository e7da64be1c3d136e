"""Celery tasks of the deliverables app: thin, they re-read the run and call the service.

Routed to the "runs" queue by CELERY_TASK_ROUTES.
"""
from celery import shared_task
from django.db.models import Q

from console import context
from console.dispatch import Handoff, resend_lost
from deliverables import caches, jobs
from deliverables.choices import RunState
from deliverables.reconciliation import services as reconciliations
from deliverables.runs import services
from deliverables.workbooks import services as deliverables

# What the beat sends again when a message may be lost (console.dispatch): a queued job, or a running one whose
# heartbeat is stale (a worker takes it over, up to jobs.MAX_ATTEMPTS).
HANDOFFS = tuple(
    Handoff(task, kind.model, Q(state=RunState.QUEUED), "requested_at", jobs=kind.table,
            stale_setting="RUN_STALE_SECONDS", max_attempts=jobs.MAX_ATTEMPTS)
    for task, kind in ((services.RUN_TASK, services.RUNS), (reconciliations.TASK, reconciliations.RECONCILIATIONS),
                       (deliverables.TASK, deliverables.DELIVERABLES))
)


@shared_task(
    name=services.RUN_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=20,
    soft_time_limit=3 * 3600,
    time_limit=3 * 3600 + 300,
    bind=True,
)
def run_execute(self, run_id: int) -> None:
    """Compute a queued run (or take over one whose worker was lost); a run held by a live worker is looked at
    again later."""
    queue = (self.request.delivery_info or {}).get("routing_key") or services.RUN_QUEUE
    with context.for_task(self.request.id or "eager", run_id=f"run-{run_id}"):
        try:
            services.run_execute(run_id=run_id, task_id=self.request.id or "", queue=queue)
        except services.RunHeld as held:
            raise self.retry(countdown=held.retry_in) from None


@shared_task(name="deliverables.tasks.caches_prune", acks_late=True, ignore_result=True, time_limit=600, bind=True)
def caches_prune(self) -> int:
    """Beat, daily: delete the local cache files unused for LOCAL_CACHE_DAYS (deliverables.caches)."""
    with context.for_task(self.request.id or "eager"):
        return caches.prune().files


@shared_task(name="deliverables.tasks.runs_sweep", acks_late=True, time_limit=300, bind=True)
def runs_sweep(self) -> list[int]:
    """Beat: fail running runs, reconciliations and deliverable builds abandoned by a lost worker
    (RUN_ABANDONED_SECONDS), then send again the ones whose message may be lost."""
    with context.for_task(self.request.id or "eager"):
        failed = (services.runs_sweep_stale() + reconciliations.reconciliations_sweep_stale()
                  + deliverables.deliverables_sweep_stale())
        for handoff in HANDOFFS:
            resend_lost(handoff)
        return failed


@shared_task(
    name=reconciliations.TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=20,
    soft_time_limit=3600,
    time_limit=3600 + 300,
    bind=True,
)
def reconciliation_execute(self, reconciliation_id: int) -> None:
    """Reconcile a queued reconciliation (or take over one whose worker was lost); one held by a live worker is
    looked at again later."""
    queue = (self.request.delivery_info or {}).get("routing_key") or reconciliations.QUEUE
    with context.for_task(self.request.id or "eager", run_id=f"reconciliation-{reconciliation_id}"):
        try:
            reconciliations.reconciliation_execute(reconciliation_id=reconciliation_id, task_id=self.request.id or "",
                                                   queue=queue)
        except reconciliations.jobs.JobHeld as held:
            raise self.retry(countdown=held.retry_in) from None


@shared_task(
    name=deliverables.TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=20,
    soft_time_limit=3600,
    time_limit=3600 + 300,
    bind=True,
)
def deliverable_build(self, deliverable_id: int) -> None:
    """Build a queued deliverable (or take over one whose worker was lost); one held by a live worker is looked at
    again later."""
    queue = (self.request.delivery_info or {}).get("routing_key") or deliverables.QUEUE
    with context.for_task(self.request.id or "eager", run_id=f"deliverable-{deliverable_id}"):
        try:
            deliverables.deliverable_execute(deliverable_id=deliverable_id, task_id=self.request.id or "",
                                             queue=queue)
        except deliverables.jobs.JobHeld as held:
            raise self.retry(countdown=held.retry_in) from None
