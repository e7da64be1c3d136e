"""'Verify now': an auditor asks for a verification of the chain, a worker runs it, the trail page follows it.

A run is known by its id and by its events on the trail, which is the one place it is tracked:
`audit.verify_requested` (who asked, when), `audit.verify_started` (a worker took it) and
`audit.verified` (the report), all three with the run id as their correlation id. The task is sent by
name once the request is committed (console.dispatch's rule: a service never imports its task).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from console import clock, context
from console.audit import TRAIL_OBJECT_TYPE, VERIFIED_ACTION, ChainReport, audit_record, audit_verify_chain
from console.dispatch import publish, publish_after_commit
from console.models import AuditEvent

VERIFY_TASK = "console.tasks.audit_verify_now"
REQUESTED_ACTION = "audit.verify_requested"
STARTED_ACTION = "audit.verify_started"


class VerifyState:
    QUEUED = "queued"  # asked, no worker has taken it yet
    RUNNING = "running"
    DONE = "done"


@dataclass(frozen=True)
class VerifyRun:
    """One requested verification, as its events on the trail tell it."""

    run_id: str
    requested_at: dt.datetime
    requested_by: str
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    report: dict[str, Any] | None

    @property
    def state(self) -> str:
        if self.report is not None:
            return VerifyState.DONE
        return VerifyState.RUNNING if self.started_at else VerifyState.QUEUED

    @property
    def live(self) -> bool:
        return self.state != VerifyState.DONE


@transaction.atomic
def audit_verify_request(*, actor) -> str:
    """Record the request and send the verification to a worker once it commits; the run's id."""
    run_id = context.new_id()
    audit_record(
        actor=actor,
        action=REQUESTED_ACTION,
        object_type=TRAIL_OBJECT_TYPE,
        object_id="*",
        after={"run_id": run_id},
        correlation_id=run_id,
    )
    publish_after_commit(VERIFY_TASK, kwargs={"run_id": run_id}, task_id=run_id)
    return run_id


# A request no worker took for this long is not sent again: its auditor asks again (the page shows it queued).
RESEND_FOR = dt.timedelta(days=1)


def audit_verify_resend() -> list[str]:
    """Send again the verifications asked for but not taken by a worker BROKER_RESEND_AFTER_SECONDS later (their
    message was lost: console.dispatch), within RESEND_FOR; the run ids sent. A run that has reported is never
    run again (audit_verify_run), so a copy that was not needed does nothing."""
    now = clock.now()
    waited = now - dt.timedelta(seconds=settings.BROKER_RESEND_AFTER_SECONDS)
    asked = AuditEvent.objects.filter(action=REQUESTED_ACTION, occurred_at__lt=waited, occurred_at__gte=now - RESEND_FOR)
    taken = AuditEvent.objects.filter(action__in=(STARTED_ACTION, VERIFIED_ACTION),
                                      correlation_id__in=asked.values("correlation_id"))
    waiting = sorted(set(asked.values_list("correlation_id", flat=True)) - set(taken.values_list("correlation_id",
                                                                                                     flat=True)))
    resent = []
    for run_id in waiting:
        if not publish(VERIFY_TASK, kwargs={"run_id": run_id}, task_id=run_id,
                       expires=float(settings.BROKER_RESEND_AFTER_SECONDS)):
            break  # the broker is down: the next sweep tries again
        resent.append(run_id)
    return resent


def audit_verify_run(*, run_id: str) -> ChainReport | None:
    """The worker's part: mark the run started, verify (recording the head and the report). None when the
    run was never requested or has already reported (a redelivered message)."""
    events = AuditEvent.objects.filter(correlation_id=run_id)
    requested_by = events.filter(action=REQUESTED_ACTION).values_list("actor_label", flat=True).first()
    if requested_by is None or events.filter(action=VERIFIED_ACTION).exists():
        return None
    # The worker acts as the system (its task id), for the person who asked: named on its own event.
    audit_record(
        actor=None, action=STARTED_ACTION, object_type=TRAIL_OBJECT_TYPE, object_id="*",
        after={"run_id": run_id, "requested_by": requested_by}, correlation_id=run_id,
    )
    return audit_verify_chain()


def audit_verify_progress(run_id: str) -> VerifyRun | None:
    """The run as its events tell it (None: no such request). One index read on correlation id."""
    rows = list(
        AuditEvent.objects.filter(
            correlation_id=run_id, action__in=(REQUESTED_ACTION, STARTED_ACTION, VERIFIED_ACTION)
        ).values_list("action", "occurred_at", "actor_label", "after")
    )
    by_action = {action: (at, label, after) for action, at, label, after in rows}
    if REQUESTED_ACTION not in by_action:
        return None
    requested_at, requested_by, _ = by_action[REQUESTED_ACTION]
    started = by_action.get(STARTED_ACTION)
    verified = by_action.get(VERIFIED_ACTION)
    return VerifyRun(
        run_id=run_id,
        requested_at=requested_at,
        requested_by=requested_by,
        started_at=started[0] if started else None,
        finished_at=verified[0] if verified else None,
        report=verified[2] if verified else None,
    )
