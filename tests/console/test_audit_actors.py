"""Who acted, on every path: a web request, an API token, a management command and a Celery task dispatched
by a person each leave audit rows naming the right actor (a person, or the system explicitly) and a
correlation id. (The web request's case through a service: tests/console/test_login_lockout.py's unlock.)"""
from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from console.models import AuditEvent
from evidence.models import ContractTermRow, PacketReceipt, PacketRevision
from tests.evidence.packets.builders import contract_packet, pricing_packet
from tests.support.worker import wait_until

pytestmark = [pytest.mark.catalogue(21)]


def upload_as(client, user, path, request_id: str):
    """POST a packet to the API, authenticated by the user's token only (no session)."""
    token, _ = Token.objects.get_or_create(user=user)
    with path.open("rb") as handle:
        return client.post("/api/evidence-packets/", {"file": SimpleUploadedFile(path.name, handle.read())},
                           HTTP_AUTHORIZATION=f"Token {token.key}", HTTP_X_REQUEST_ID=request_id)


def test_an_api_token_call_is_audited_as_the_tokens_user_under_the_request_id(client, olivia, tmp_path):
    response = upload_as(client, olivia, contract_packet().zip(tmp_path / "contract.zip"), "api-upload-0001")
    assert response.status_code == 202, response.content[:300]

    [event] = AuditEvent.objects.filter(action="evidence_packet.receipt_queued")
    assert (event.actor, event.actor_label, event.correlation_id) == (olivia, "olivia", "api-upload-0001")
    assert response["X-Request-ID"] == "api-upload-0001"


def test_a_management_command_is_audited_as_the_system_command_under_one_correlation_id(db, tmp_path):
    folder = pricing_packet().write(tmp_path / "prices")
    before = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0

    call_command("receive_evidence", str(folder), stdout=io.StringIO())

    events = list(AuditEvent.objects.filter(seq__gt=before).order_by("seq"))
    assert "evidence_packet.received" in [e.action for e in events]
    assert {(e.actor_id, e.actor_label) for e in events} == {(None, "system:command:receive_evidence")}
    [correlation] = {e.correlation_id for e in events}  # the command's run, one id for all it wrote
    assert len(correlation) >= 8


@pytest.mark.catalogue(18)  # a Celery-side write: the record rows the worker stores, counted on its event
@pytest.mark.worker
@pytest.mark.postgres_only
def test_tasks_dispatched_by_a_person_carry_that_person_or_the_system_with_them_named(
    client, celery_worker, olivia, audrey, tmp_path
):
    """Olivia's API upload is received by a worker as Olivia (and the rows it writes are counted on the event,
    catalogue 18: a Celery-side write); Audrey's "verify now" runs on the worker as the system, for Audrey."""
    response = upload_as(client, olivia, contract_packet().zip(tmp_path / "contract.zip"), "api-upload-0002")
    assert response.status_code == 202, response.content[:300]
    client.force_login(audrey)
    asked = client.post("/audit/verify/", HTTP_X_REQUEST_ID="verify-request-01")
    assert asked.status_code == 302

    receipt = wait_until(lambda: PacketReceipt.objects.filter(status="done").first(), timeout=90,
                         message=f"the receipt; worker log:\n{celery_worker.output()[-3000:]}")
    received = AuditEvent.objects.get(action="evidence_packet.received")
    assert (received.actor, received.actor_label) == (olivia, "olivia")  # the task acted as its dispatcher
    assert received.correlation_id == f"packet-receipt-{receipt.pk}"
    revision = PacketRevision.objects.get(pk=receipt.packet_revision_id)
    assert received.after["records"] == ContractTermRow.objects.filter(revision=revision).count() > 0

    requested = AuditEvent.objects.get(action="audit.verify_requested")  # its correlation id is the run's id
    verified = wait_until(lambda: AuditEvent.objects.filter(action="audit.verified").first(), timeout=90,
                          message=f"the verification; worker log:\n{celery_worker.output()[-3000:]}")
    started = AuditEvent.objects.get(action="audit.verify_started")
    run_id = requested.correlation_id
    for event in (started, verified):
        assert (event.actor, event.actor_label, event.correlation_id) == (None, f"system:task:{run_id}", run_id)
    assert requested.actor == audrey and started.after["requested_by"] == "audrey"
