"""Enqueue after commit, on the real broker: a run created in a transaction that rolls back sends no task; one that
commits sends its task once the row is there for the task to read."""
from __future__ import annotations

import pytest
from django.db import transaction

from evidence.choices import IntakeStatus
from evidence.intake.services import INTAKE_TASK, intake_create
from evidence.models import IntakeRun
from evidence.samples.export import write_sample_export
from evidence.tasks import intake_run
from tests.promotion.conftest import queued

pytestmark = pytest.mark.catalogue(7)


class Abandoned(Exception):
    """What makes the test's transaction roll back after the run was created and its task enqueued."""


def create(path) -> IntakeRun:
    return intake_create(actor=None, source="command", original_name="export", staged_path=path)


def test_a_run_created_in_a_transaction_that_rolls_back_publishes_no_task(transactional_db, broker, tmp_path):
    export = write_sample_export(tmp_path / "export", rows=30)
    with pytest.raises(Abandoned), transaction.atomic():
        create(export.path)
        raise Abandoned

    assert not IntakeRun.objects.exists()
    assert queued("intake") == []  # nothing reached the broker, nor will


def test_a_committed_run_publishes_its_task_after_the_commit_and_the_task_finds_the_row(
    transactional_db, broker, tmp_path
):
    export = write_sample_export(tmp_path / "export", rows=30)
    with transaction.atomic():
        run = create(export.path)
        assert queued("intake") == []  # not while the row is invisible to a worker

    [(task, args)] = queued("intake")
    assert (task, args) == (INTAKE_TASK, (run.pk,))
    run.refresh_from_db()
    assert run.task_id  # the row keeps the id its task was sent as
    intake_run(*args)  # the body a worker runs for that message
    run.refresh_from_db()
    assert run.status == IntakeStatus.SUCCEEDED, run.error
    assert run.manifest.load_id == export.load_id
