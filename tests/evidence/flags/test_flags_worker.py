"""A real Celery worker on Redis: verifying a packet queues a flag run after the commit, and the worker claims
and completes it (succeeded, its hostname and task id kept)."""
from __future__ import annotations

import pytest

from evidence.flags.models import FlagRun
from evidence.packets.verification import packet_verify
from tests.evidence.packets.builders import contract_packet
from tests.evidence.packets.decision_support import receive
from tests.support.worker import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.postgres_only]


def test_verifying_a_packet_queues_a_run_that_the_worker_completes(celery_worker, olivia, arthur, tmp_path):
    revision = receive(contract_packet(), tmp_path, olivia)
    wait_until(lambda: not FlagRun.objects.exclude(status__in=["succeeded", "failed"]).exists(), timeout=90,
               message="the receipt's run to end")
    before = set(FlagRun.objects.values_list("pk", flat=True))

    packet_verify(actor=arthur, revision=revision, sha256=revision.sha256, comment="matches the signed contract")

    run = FlagRun.objects.exclude(pk__in=before).get()
    assert run.trigger == "packet.verified" and run.requested_by == arthur
    wait_until(lambda: FlagRun.objects.get(pk=run.pk).status in ("succeeded", "failed"), timeout=90,
               message="the worker to finish the run")
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert run.task_id and run.worker and run.attempts == 1 and run.finished_at >= run.started_at
    assert run.summary["needs"]["clients"] == 0  # no claims are promoted: nothing is needed yet
    assert {r["packet_id"] for r in run.inputs["revisions"]} == set()  # evidence is read for clients with claims
