"""`start_run`: as a named user, refused (exit 2) without the permission, for bad options or migration-only claims;
--wait follows the queued run to its end (a worker thread of the test computes the queued run); --in-process
computes it in the command; --json prints the run as the API shows it."""
from __future__ import annotations

import io
import json
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from deliverables.models import CalculationRun
from deliverables.runs import services as runs
from tests.deliverables.runs.conftest import CURATED_DB
from tests.deliverables.runs.test_pages import migration_sample  # noqa: F401 (fixture)

PERIOD = "2025-01-01:2025-12-31"


def run_command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("start_run", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def worker_thread(broker):
    """A worker thread of this process (its own database connection) does what a Celery worker on the `runs` queue
    would: it takes the queued run and computes it. The command's message goes to the real (test) broker, emptied
    after the test; nothing in the project is replaced."""
    stop, done = threading.Event(), []

    def work():
        try:
            while not stop.is_set():
                queued = CalculationRun.objects.filter(state="queued").order_by("pk").first()
                if queued is None:
                    stop.wait(0.05)
                    continue
                runs.run_execute(run_id=queued.pk, task_id=f"thread-{queued.pk}", queue=runs.RUN_QUEUE)
                done.append(queued.pk)
        finally:
            connection.close()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    yield done
    stop.set()
    thread.join(timeout=60)


@CURATED_DB
@pytest.mark.postgres_only  # the worker thread writes beside the command: the SQLite test database locks its tables
def test_wait_follows_the_queued_run_to_its_end_and_prints_it_as_json(contract_sample, olivia, worker_thread,
                                                                       settings):
    settings.CALCULATION_ENGINE = "duckdb"
    printed, progress = run_command("--as", "olivia", "--period", PERIOD, "--wait", "--json", "--poll", "0.1")

    run = CalculationRun.objects.get()
    shown = json.loads(printed)
    assert shown["id"] == run.pk and shown["state"] == "succeeded" == run.state
    assert shown["result_sha256"] == run.result_sha256 and shown["requested_by"] == "olivia"
    assert shown["inputs"]["claims"]["target"] == "contract" and shown["worker_pid"]
    assert [s["state"] for s in shown["steps"]] == ["done"] * 5
    assert "  store: done" in progress and f"run #{run.pk} queued" in progress


@CURATED_DB
def test_in_process_computes_the_run_here(contract_sample, olivia):
    printed, _ = run_command("--as", "olivia", "--period", PERIOD, "--in-process")

    run = CalculationRun.objects.get()
    assert run.state == "succeeded" and run.queue == "in-process"
    assert printed.strip() == (f"run #{run.pk} succeeded: {run.summary['numbers']} numbers, {run.findings_count} "
                               f"findings, result {run.result_sha256}")


@CURATED_DB
def test_without_wait_the_run_is_queued_for_the_workers(contract_sample, olivia, broker):
    printed, _ = run_command("--as", "olivia", "--period", PERIOD)

    run = CalculationRun.objects.get()
    assert run.state == "queued" and run.task_id
    assert printed.strip() == f"run #{run.pk} queued for the workers"


@CURATED_DB
def test_migration_only_claims_are_refused_with_exit_code_2(migration_sample, olivia):  # noqa: F811
    with pytest.raises(CommandError) as refused:
        run_command("--as", "olivia", "--period", PERIOD, "--wait")

    assert refused.value.returncode == 2
    assert "promoted for migration and reconciliation only" in str(refused.value)
    assert not CalculationRun.objects.exists()


@pytest.mark.django_db
def test_a_user_without_the_permission_is_refused_with_exit_code_2(cecilia):
    with pytest.raises(CommandError) as refused:
        run_command("--as", "cecilia", "--period", PERIOD)

    assert refused.value.returncode == 2 and "build_deliverable" in str(refused.value)


@pytest.mark.django_db
def test_a_bad_period_names_the_option(olivia):
    with pytest.raises(CommandError) as refused:
        run_command("--as", "olivia", "--period", "2025-01-01")

    assert refused.value.returncode == 2
    assert str(refused.value).startswith("--period '2025-01-01': give START:END as two dates")
