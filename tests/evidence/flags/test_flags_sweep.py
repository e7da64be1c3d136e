"""The beat's sweep of flag runs whose message was lost: a queued run nobody will ever receive is sent again and a
real worker completes it; a run that lost its worker is sent again, and failed with its reason after three claims;
a run queued a moment ago is left alone."""
from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings

from console import clock
from evidence.flags.models import FlagRun, FlagRunStatus
from evidence.flags.sweep import MAX_ATTEMPTS, flag_runs_sweep
from tests.support.worker import wait_until


def _run(*, status: str, minutes_ago: int, attempts: int = 0, task_id: str = "lost") -> FlagRun:
    at = clock.now() - dt.timedelta(minutes=minutes_ago)
    return FlagRun.objects.create(trigger="test", requested_by_label="system", status=status, queued_at=at,
                                  started_at=at if status == FlagRunStatus.RUNNING else None, attempts=attempts,
                                  task_id=task_id)


def test_the_beat_sweeps_flag_runs_every_five_minutes():
    entry = settings.CELERY_BEAT_SCHEDULE["flags-sweep-lost-runs"]
    assert (entry["task"], entry["schedule"]) == ("evidence.tasks.flags_sweep", 300.0)


@pytest.mark.django_db
def test_lost_runs_are_sent_again_and_one_that_lost_its_worker_three_times_is_failed(broker):
    fresh = _run(status=FlagRunStatus.QUEUED, minutes_ago=1)
    lost = _run(status=FlagRunStatus.QUEUED, minutes_ago=10)
    orphaned = _run(status=FlagRunStatus.RUNNING, minutes_ago=120, attempts=1)
    doomed = _run(status=FlagRunStatus.RUNNING, minutes_ago=120, attempts=MAX_ATTEMPTS)

    swept = flag_runs_sweep()

    assert swept == {"resent": [lost.pk, orphaned.pk], "failed": [doomed.pk]}
    runs = {run.pk: run for run in FlagRun.objects.all()}
    assert runs[fresh.pk].task_id == "lost" and runs[fresh.pk].status == FlagRunStatus.QUEUED
    assert runs[lost.pk].task_id != "lost" and runs[orphaned.pk].task_id != "lost"  # a new message each
    assert runs[doomed.pk].status == FlagRunStatus.FAILED and runs[doomed.pk].finished_at is not None
    assert f"claimed {MAX_ATTEMPTS} times" in runs[doomed.pk].error
    assert flag_runs_sweep() == {"resent": [lost.pk, orphaned.pk], "failed": []}  # until a worker takes them


@pytest.mark.worker
@pytest.mark.postgres_only
def test_a_queued_run_whose_message_was_lost_is_completed_by_a_worker_after_the_sweep(celery_worker):
    lost = _run(status=FlagRunStatus.QUEUED, minutes_ago=10)  # no message was ever sent for it

    assert flag_runs_sweep()["resent"] == [lost.pk]

    wait_until(lambda: FlagRun.objects.get(pk=lost.pk).status in ("succeeded", "failed"), timeout=90,
               message="the worker to run the swept flag run")
    lost.refresh_from_db()
    assert lost.status == FlagRunStatus.SUCCEEDED, lost.error
    assert lost.attempts == 1 and lost.worker
