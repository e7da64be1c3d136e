"""Celery tasks of the promotion app: thin, they re-read the request and call the service.

Routed to the "promotion" queue by CELERY_TASK_ROUTES.
"""
import logging

from celery import shared_task
from celery.signals import worker_ready
from django.db import connections
from django.db.models import Q

from console import context
from console.dispatch import Handoff, resend_lost
from promotion import services
from promotion.choices import PromotionState
from promotion.models import PromotionRequest
from promotion.services._common import LOAD_JOBS

# What the beat sends again when a message may be lost (console.dispatch): a request checking, or approved and not
# yet loading, or loading with a stale heartbeat (a worker takes the load over, up to MAX_LOAD_ATTEMPTS).
CHECK_HANDOFF = Handoff(services.CHECK_TASK, PromotionRequest, Q(state=PromotionState.CHECKING), "check_started_at",
                        records_task_id=False)
LOAD_HANDOFF = Handoff(services.LOAD_TASK, PromotionRequest, Q(state=PromotionState.APPROVED), "approved_at",
                       records_task_id=False, jobs=LOAD_JOBS, stale_setting="PROMOTION_STALE_SECONDS",
                       max_attempts=services.MAX_LOAD_ATTEMPTS)


@shared_task(
    name=services.CHECK_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=3,
    soft_time_limit=600,
    time_limit=660,
    bind=True,
)
def promotion_check_task(self, request_id: int) -> None:
    """Run the gates of a checking request (a request no longer checking is left alone)."""
    with context.for_task(self.request.id or "eager", run_id=f"promotion-{request_id}"):
        services.promotion_check(request_id=request_id)


@shared_task(
    name=services.LOAD_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    # Retries of transient errors (capped by services.MAX_LOAD_ATTEMPTS) and looks at a held load.
    max_retries=10,
    soft_time_limit=6 * 3600,
    time_limit=6 * 3600 + 300,
    bind=True,
)
def promotion_load(self, request_id: int, resume_attempt: int | None = None) -> None:
    """Load an approved request (or resume a loading one); for a rollback, move its pointers back.
    Whatever the message says, the guard decides: a refusal is audited and final."""
    with context.for_task(self.request.id or "eager", run_id=f"promotion-{request_id}"):
        request = PromotionRequest.objects.filter(pk=request_id).first()
        if request is None or request.is_final:
            return
        try:
            # Redelivered after a lost worker, or our retry, resumes a loading request; else the load's
            # claim passes the guard (its one run of the gates) first.
            services.load_requested_datasets(
                request=request, resume_attempt=resume_attempt if request.state == PromotionState.LOADING else None
            )
        except services.PromotionRefused:
            return  # permanent: audited as promotion.refused; retrying would not change the answer
        except services.LoadInterrupted as interrupted:
            raise self.retry(kwargs={"request_id": request_id, "resume_attempt": interrupted.attempt},
                             countdown=15 * interrupted.attempt)
        except services.LoadHeld as held:
            raise self.retry(kwargs={"request_id": request_id}, countdown=held.retry_in)


@shared_task(name=services.SWEEP_TASK, acks_late=True, time_limit=300, bind=True)
def promotion_sweep(self) -> list[int]:
    """Beat: fail loading requests abandoned by a lost worker (PROMOTION_ABANDONED_SECONDS), then send again the
    requests whose message may be lost."""
    with context.for_task(self.request.id or "eager"):
        failed = services.promotion_sweep_stale()
        resend_lost(CHECK_HANDOFF)
        resend_lost(LOAD_HANDOFF)
        return failed


@worker_ready.connect
def audit_pointer_moves_at_start_up(**_) -> None:
    """A worker killed between a curated pointer move and its audit row left a move the trail does not hold:
    record it before taking work (services.reconcile). A failure here is logged; the sweeper tries again."""
    try:
        with context.for_task("worker-ready"):
            services.curated_moves_audit(source="worker start-up")
    except Exception:
        logging.getLogger(__name__).exception("the curated pointer moves could not be reconciled at start-up")
    finally:
        connections.close_all()  # the pool's children never share this process's connections
