"""The beat's sweep of flag runs whose message was lost: nothing else would ever run them.

- A run still `queued` after COALESCE_SECONDS: its message may be gone (a flushed or restarted broker, a send
  that failed after commit). It is sent again; a worker claims it once (flag_run_execute claims only a queued
  run, or a running one gone stale), so a second copy of a message that was not lost does nothing.
- A run `running` for longer than STALE_SECONDS: its worker is gone and, with acks_late, the broker redelivers
  the message after its visibility timeout; if that message was lost too, it is sent again, and the worker that
  gets it takes the run over. After MAX_ATTEMPTS claims it is failed instead, with the reason kept: a run that
  kills its worker every time must not loop forever.

Plain module: the beat task (evidence.tasks.flags_sweep) and tests call it.
"""
from __future__ import annotations

import datetime
import logging

from console import clock
from console.dispatch import send
from evidence.flags.models import FlagRun, FlagRunStatus
from evidence.flags.services import COALESCE_SECONDS, FLAG_TASK, STALE_SECONDS

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3


def flag_runs_sweep() -> dict[str, list[int]]:
    """Re-send lost flag runs and fail the ones that lost their worker MAX_ATTEMPTS times; returns the ids."""
    now = clock.now()
    queued = FlagRun.objects.filter(status=FlagRunStatus.QUEUED,
                                    queued_at__lt=now - datetime.timedelta(seconds=COALESCE_SECONDS))
    stale = FlagRun.objects.filter(status=FlagRunStatus.RUNNING,
                                   started_at__lt=now - datetime.timedelta(seconds=STALE_SECONDS))
    failed = []
    for run in stale.filter(attempts__gte=MAX_ATTEMPTS).order_by("id"):
        error = (f"worker lost: claimed {run.attempts} times, last at {run.started_at:%Y-%m-%d %H:%M:%S} UTC, and "
                 "never finished; the next change to the evidence or the claims queues a new run")
        if FlagRun.objects.filter(pk=run.pk, status=FlagRunStatus.RUNNING).update(
                status=FlagRunStatus.FAILED, finished_at=now, error=error):
            failed.append(run.pk)
    resent = []
    for run_id in [*queued.values_list("pk", flat=True), *stale.filter(attempts__lt=MAX_ATTEMPTS).values_list(
            "pk", flat=True)]:
        send(FLAG_TASK, FlagRun, run_id, replace=True)
        resent.append(run_id)
    if failed or resent:
        log.warning("flag runs swept: re-sent %s, failed %s", resent, failed)
    return {"resent": sorted(resent), "failed": failed}
