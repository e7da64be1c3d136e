"""Hand a row's work to Celery: the task is sent by name (routed by CELERY_TASK_ROUTES, so a service never imports
its task module) with the row's id, and the row keeps the task id it was sent as.

`send_after_commit` inside the transaction that created the row: the message leaves only if the row exists.
`send` for a row already committed (a sweeper sending a lost message again: `replace=True` records the new id).

A message can be lost after its row committed: the broker was down at the send, restarted empty, or evicted it.
A send that fails is logged and the row stays waiting (the request that made it still answers: it is queued);
nothing waits forever, because the beat's sweepers call `resend_lost` for every kind of job (a `Handoff`): a row
still waiting for a worker BROKER_RESEND_AFTER_SECONDS after it began to wait is sent again, and so is a running
row whose heartbeat went stale (a worker takes it over), below its kind's attempt cap (past it, the kind's own
sweeper fails it). A copy that was not needed does nothing: a worker claims a row with a compare-and-set, once.
Each copy expires after the same delay, so copies of a job that waits behind a long queue never pile up.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from celery import current_app
from django.conf import settings
from django.db import models, transaction
from kombu.exceptions import OperationalError as BrokerOperationalError

from console import clock
from console.jobs import JobTable

log = logging.getLogger(__name__)
# What a send raises when the broker cannot be reached (kombu wraps the transport's connection errors in its
# OperationalError once its publish retries are spent; a socket error can come through bare).
BROKER_ERRORS = (BrokerOperationalError, ConnectionError, TimeoutError)


def publish(task: str, *, args: tuple = (), kwargs: dict | None = None, task_id: str | None = None,
            expires: float | None = None) -> str:
    """Send `task`; its task id, or "" when the broker cannot be reached (logged; the job's row still waits, and
    the beat's re-send sends it once the broker is back)."""
    try:
        return current_app.send_task(task, args=args, kwargs=kwargs, task_id=task_id, expires=expires).id
    except BROKER_ERRORS as down:
        log.warning("broker unreachable: %s%s not sent (%s); it waits, and the beat sends it again", task,
                    args or kwargs or "", down)
        return ""


def send(task: str, model: type[models.Model], pk: int, *, replace: bool = False,
         expires: float | None = None) -> str:
    """Send `task(pk)` now; the row records the task id (only if it has none yet, unless `replace`). "" when the
    broker cannot be reached (the row is left as it was)."""
    task_id = publish(task, args=(pk,), expires=expires)
    if task_id:
        rows = model.objects.filter(pk=pk)
        if not replace:
            rows = rows.filter(task_id="")
        rows.update(task_id=task_id)
    return task_id


def send_after_commit(task: str, model: type[models.Model], pk: int) -> None:
    """Send `task(pk)` once the current transaction commits (nothing is sent if it rolls back)."""
    transaction.on_commit(lambda: send(task, model, pk))


def publish_after_commit(task: str, *, args: tuple = (), kwargs: dict | None = None,
                         task_id: str | None = None) -> None:
    """`publish` once the current transaction commits, for jobs whose row does not keep a task id."""
    transaction.on_commit(lambda: publish(task, args=args, kwargs=kwargs, task_id=task_id))


# --- the re-send of lost messages --------------------------------------------------------------------------------
DEFAULT_MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Handoff:
    """A kind of job handed to a worker by message: `task(pk)` for rows matching `waiting` (they wait for a worker
    since their `since` column); with `jobs`, also its running rows once their heartbeat is older than the
    `stale_setting` seconds, while their attempts are below `max_attempts`."""

    task: str
    model: type[models.Model]
    waiting: models.Q
    since: str
    records_task_id: bool = True
    jobs: JobTable | None = None
    stale_setting: str = ""
    max_attempts: int = DEFAULT_MAX_ATTEMPTS

    def lost(self, now: dt.datetime) -> list[int]:
        """The rows whose message may be lost: waiting past the re-send delay, or running with a stale heartbeat."""
        waited = now - dt.timedelta(seconds=settings.BROKER_RESEND_AFTER_SECONDS)
        found = set(self.model.objects.filter(self.waiting, **{f"{self.since}__lt": waited})
                    .values_list("pk", flat=True))
        if self.jobs is not None:
            table = self.jobs
            cutoff = now - dt.timedelta(seconds=getattr(settings, self.stale_setting))
            silent = models.Q(**{f"{table.heartbeat}__lt": cutoff}) | models.Q(
                **{f"{table.heartbeat}__isnull": True, f"{table.started}__lt": cutoff})
            found.update(table.rows().filter(silent, **{f"{table.attempts}__lt": self.max_attempts})
                         .values_list("pk", flat=True))
        return sorted(found)


def resend_lost(handoff: Handoff) -> list[int]:
    """Send again every job of this kind whose message may be lost (beat); the ids sent. Nothing is sent while the
    broker is down: the next sweep tries again."""
    expires = float(settings.BROKER_RESEND_AFTER_SECONDS)
    resent = []
    for pk in handoff.lost(clock.now()):
        if handoff.records_task_id:
            task_id = send(handoff.task, handoff.model, pk, replace=True, expires=expires)
        else:
            task_id = publish(handoff.task, args=(pk,), expires=expires)
        if not task_id:
            break  # the broker is down: the rest waits for the next sweep
        resent.append(pk)
    if resent:
        log.warning("sent again %s for %s #%s (waiting past %ss, or a stale heartbeat)", handoff.task,
                    handoff.model._meta.label, resent, settings.BROKER_RESEND_AFTER_SECONDS)
    return resent
