"""The queued doors of packet receiving, through the test client and the command: the upload page and
`POST /api/evidence-packets/` queue a receipt (202 + Location), the worker's service receives it as the uploader,
and the receipt then shows what `receive_evidence --json` prints; `receive_evidence --queue` queues one too.
The worker itself runs in test_receipts_worker.py; here the receipt is worked by the same service in-process."""
from __future__ import annotations

import io
import json
import re
import shutil
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from console.models import AuditEvent
from evidence.choices import ReceiptStatus
from evidence.models import PacketReceipt, PacketRevision
from evidence.packets.receipts import outcome_json, receipt_execute
from tests.conftest import PASSWORD
from tests.evidence.packets.builders import contract_packet, pricing_packet
from tests.evidence.test_intake_pages import upload_folders

pytestmark = pytest.mark.django_db

API = "/api/evidence-packets/"
PAGE = "/evidence/packets/receive/"


def _zip_upload(tmp_path, packet=None, name: str = "prices.zip") -> SimpleUploadedFile:
    path = (packet or pricing_packet()).zip(tmp_path / name)
    return SimpleUploadedFile(name, path.read_bytes(), content_type="application/zip")


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.mark.catalogue(48)
def test_an_api_upload_answers_202_and_its_receipt_ends_with_the_command_s_result(client, olivia, tmp_path):
    client.force_login(olivia)
    staged_before = upload_folders()

    response = client.post(API, {"file": _zip_upload(tmp_path)})

    assert response.status_code == 202, response.content
    receipt = PacketReceipt.objects.get()
    url = f"http://testserver/api/evidence-packet-receipts/{receipt.pk}/"
    assert response.json()["url"] == url and response["Location"] == url
    assert response.json()["status"] == "queued" and response.json()["result"] is None
    queued = AuditEvent.objects.get(action="evidence_packet.receipt_queued")
    assert queued.actor_label == "olivia" and queued.object_id == str(receipt.pk)
    assert queued.after["sha256"] == receipt.upload_sha256 and queued.after["bytes"] == receipt.upload_bytes > 0

    outcome = receipt_execute(receipt_id=receipt.pk)

    shown = client.get(url).json()
    assert shown["status"] == "done" and shown["outcome"] == "accepted" and shown["is_final"]
    assert shown["result"] == outcome_json(outcome.revision, "accepted")
    assert shown["result"]["status"] == "accepted" and shown["result"]["class"] == "candidate"
    assert shown["requested_by"] == "olivia"
    revision = PacketRevision.objects.get()
    assert revision.received_by == olivia  # the uploader is the receiver: four eyes hold on them
    assert AuditEvent.objects.get(action="evidence_packet.received").actor_label == "olivia"
    assert shown["packet_url"] == f"http://testserver/api/evidence-packets/{revision.packet_id}/"
    assert upload_folders() == staged_before  # bronze holds the bytes; the staged copy is gone


def test_the_same_bytes_again_end_unchanged(client, olivia, tmp_path):
    client.force_login(olivia)
    for _ in range(2):
        client.post(API, {"file": _zip_upload(tmp_path)})
    first, second = PacketReceipt.objects.order_by("id")
    receipt_execute(receipt_id=first.pk)
    receipt_execute(receipt_id=second.pk)

    assert client.get(f"/api/evidence-packet-receipts/{second.pk}/").json()["result"]["status"] == "unchanged"
    assert PacketRevision.objects.count() == 1


def test_a_reviewer_reads_receipts_but_cannot_receive(client, cecilia, olivia, tmp_path):
    client.force_login(olivia)
    client.post(API, {"file": _zip_upload(tmp_path)})
    client.force_login(cecilia)

    assert client.post(API, {"file": _zip_upload(tmp_path)}).status_code == 403
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, {"file": _zip_upload(tmp_path)}).status_code == 403
    assert PacketReceipt.objects.count() == 1 and not AuditEvent.objects.filter(
        action="evidence_packet.receipt_queued", actor_label="cecilia").exists()
    receipt = PacketReceipt.objects.get()
    assert client.get(f"/api/evidence-packet-receipts/{receipt.pk}/").status_code == 200
    assert client.get(reverse("packets:receipt-detail", args=[receipt.pk])).status_code == 200


def test_anonymous_and_outsiders_are_refused(client, oscar, tmp_path):
    assert client.post(API, {"file": _zip_upload(tmp_path)}).status_code in (401, 403)
    assert client.get(PAGE).status_code == 302  # to the login page
    client.force_login(oscar)
    assert client.post(API, {"file": _zip_upload(tmp_path)}).status_code == 403
    assert not PacketReceipt.objects.exists()


def test_an_upload_that_is_not_a_zip_is_a_400_naming_the_file_and_keeps_nothing(client, olivia):
    client.force_login(olivia)
    staged_before = upload_folders()
    upload = SimpleUploadedFile("packet.json", b"{}", content_type="application/json")

    response = client.post(API, {"file": upload})

    assert response.status_code == 400
    assert "packet.json at its root" in response.json()["file"][0]
    page = client.post(PAGE, {"file": SimpleUploadedFile("packet.json", b"{}")})
    assert page.status_code == 400 and "Upload the packet as a .zip" in _text(page)
    assert not PacketReceipt.objects.exists() and upload_folders() == staged_before


def test_the_receive_page_queues_a_receipt_whose_page_follows_it_to_the_packet(client, olivia, tmp_path):
    assert client.login(username="olivia", password=PASSWORD)

    form = client.get(PAGE)
    assert form.status_code == 200
    assert 'action="/evidence/packets/receive/"' in _text(form) and "console/upload.js" in _text(form)
    assert "manage.py receive_evidence PATH" in _text(form)  # what upload.js says of a file past the limit
    response = client.post(PAGE, {"file": _zip_upload(tmp_path, contract_packet(), "contract.zip")})

    receipt = PacketReceipt.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/evidence/packets/receipts/{receipt.pk}/"
    queued = _text(client.get(response["Location"]))
    assert 'id="receipt-status">Queued' in queued and "hx-trigger=\"every 1s\"" in queued
    assert "contract.zip" in queued and receipt.upload_sha256 in queued

    receipt_execute(receipt_id=receipt.pk)

    done = _text(client.get(response["Location"]))
    revision = PacketRevision.objects.get()
    assert 'id="receipt-status">Done' in done and "hx-trigger" not in done  # polling stops
    assert f'href="/evidence/packets/{revision.packet_id}/revisions/1/"' in done
    assert "accepted as a new revision" in done


def test_a_refused_packet_s_receipt_shows_every_issue_located(client, olivia, tmp_path):
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("packet.json", b"{not json")
    client.force_login(olivia)
    client.post(API, {"file": SimpleUploadedFile("broken.zip", broken.read_bytes())})
    receipt = PacketReceipt.objects.get()

    receipt_execute(receipt_id=receipt.pk)

    result = client.get(f"/api/evidence-packet-receipts/{receipt.pk}/").json()["result"]
    assert result["status"] == "refused" and result["issues"]
    page = _text(client.get(reverse("packets:receipt-detail", args=[receipt.pk])))
    assert 'id="receipt-refusal"' in page
    refusal_url = reverse("packets:refusal-detail", args=[PacketRevision.objects.get().pk])
    assert f'href="{refusal_url}"' in page and client.get(refusal_url).status_code == 200
    for issue in result["issues"]:
        assert issue["code"] in page


def test_receive_evidence_queue_stages_the_folder_and_queues_a_receipt(tmp_path):
    folder = pricing_packet().write(tmp_path / "prices")
    out = io.StringIO()

    call_command("receive_evidence", str(folder), "--queue", "--json", stdout=out)

    receipt = PacketReceipt.objects.get()
    queued = json.loads(out.getvalue())
    assert queued["id"] == receipt.pk and queued["status"] == "queued"
    assert queued["url"] == f"/api/evidence-packet-receipts/{receipt.pk}/"
    assert queued["requested_by"] == "system:command:receive_evidence" and queued["source"] == "command"
    assert queued["upload_sha256"] == receipt.upload_sha256 and queued["upload_bytes"] > 0
    assert queued["result"] is None
    assert not PacketRevision.objects.exists()  # queued, not received here

    outcome = receipt_execute(receipt_id=receipt.pk)

    receipt.refresh_from_db()
    assert receipt.status == ReceiptStatus.DONE and outcome.status == "accepted"
    assert outcome.revision.received_by is None
    assert outcome.revision.received_by_label == "system:command:receive_evidence"
    plain = io.StringIO()
    call_command("receive_evidence", str(folder), "--queue", stdout=plain)
    assert re.fullmatch(r"packet receipt #\d+ queued for the workers: /api/evidence-packet-receipts/\d+/\n",
                        plain.getvalue())


def test_receive_evidence_queue_of_nothing_fails_and_records_nothing(tmp_path):
    with pytest.raises(CommandError, match="no packet folder or archive"):
        call_command("receive_evidence", str(tmp_path / "nowhere"), "--queue")
    assert not PacketReceipt.objects.exists()


def test_a_receipt_whose_staged_bytes_are_gone_fails_with_the_reason(tmp_path):
    folder = pricing_packet().write(tmp_path / "prices")
    call_command("receive_evidence", str(folder), "--queue", stdout=io.StringIO())
    receipt = PacketReceipt.objects.get()
    shutil.rmtree(receipt.staged_path)

    with pytest.raises(Exception, match="no packet folder or archive"):
        receipt_execute(receipt_id=receipt.pk)

    receipt.refresh_from_db()
    assert receipt.status == ReceiptStatus.FAILED and "no packet folder or archive" in receipt.error
    assert AuditEvent.objects.filter(action="evidence_packet.receipt_failed", object_id=str(receipt.pk)).exists()


@pytest.mark.catalogue(39)
def test_an_upload_past_the_limit_is_a_413_naming_the_limit_and_the_command(client, olivia, settings, tmp_path):
    settings.INTAKE_MAX_UPLOAD_BYTES = 256
    client.force_login(olivia)
    staged_before = upload_folders()

    response = client.post(API, {"file": _zip_upload(tmp_path)})

    assert response.status_code == 413
    detail = response.json()["detail"]
    assert "packets of at most 256 bytes" in detail and "manage.py receive_evidence PATH" in detail
    assert not PacketReceipt.objects.exists() and upload_folders() == staged_before


def test_the_sweeper_fails_a_receipt_a_lost_worker_left_running(tmp_path):
    import datetime

    from console import clock
    from evidence.packets.receipts import receipt_sweep_abandoned

    folder = pricing_packet().write(tmp_path / "prices")
    call_command("receive_evidence", str(folder), "--queue", stdout=io.StringIO())
    receipt = PacketReceipt.objects.get()
    PacketReceipt.objects.filter(pk=receipt.pk).update(
        status=ReceiptStatus.RUNNING, started_at=clock.now() - datetime.timedelta(hours=2))

    assert receipt_sweep_abandoned(older_than=datetime.timedelta(hours=1)) == [receipt.pk]

    receipt.refresh_from_db()
    assert receipt.status == ReceiptStatus.FAILED and "worker lost" in receipt.error
    assert receipt_execute(receipt_id=receipt.pk) is None  # a late redelivery finds it final
    assert not PacketRevision.objects.exists()
