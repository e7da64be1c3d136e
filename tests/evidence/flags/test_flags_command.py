"""`recompute_evidence_flags`: in process by default (the summary, or the run as JSON), or queued."""
from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from evidence.flags.models import FlagRun

pytestmark = pytest.mark.django_db


def run_command(*args: str) -> str:
    out = io.StringIO()
    call_command("recompute_evidence_flags", *args, stdout=out)
    return out.getvalue()


def test_the_command_recomputes_in_process_and_prints_the_summary():
    printed = run_command()

    run = FlagRun.objects.get()
    assert run.status == "succeeded" and run.trigger == "command"
    assert run.requested_by_label == "system:command:recompute_evidence_flags"  # as audited
    assert printed.strip() == (f"flag run #{run.pk} succeeded: 0 raised, 0 resolved, 0 open; needs of 0 client(s): "
                               "0 contract, 0 pricing, 0 rebate")


def test_the_command_prints_the_run_as_json():
    shown = json.loads(run_command("--json"))

    assert shown["status"] == "succeeded" and shown["summary"]["open"] == 0
    assert shown["inputs"] == {"curated": [], "revisions": [], "domo": []} and len(shown["inputs_sha256"]) == 64


def test_the_command_queues_a_run_for_the_workers(broker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        printed = run_command("--queue")

    run = FlagRun.objects.get()
    assert run.status == "queued" and run.task_id
    assert printed.startswith(f"flag run #{run.pk} queued for the workers: ")
