"""A real Celery worker on Redis receives queued packets: the receipt ends done, accepted, with the uploader as
the receiver (so they cannot verify it), and a command's --queue ends the same way."""
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from evidence.choices import EvidenceClass, IntakeSource, ReceiptStatus
from evidence.models import PacketReceipt
from evidence.packets.receipts import receipt_upload
from tests.evidence.packets.builders import contract_packet, pricing_packet
from tests.support.worker import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.postgres_only]


def _done(receipt: PacketReceipt) -> PacketReceipt:
    wait_until(lambda: PacketReceipt.objects.get(pk=receipt.pk).is_final, timeout=90, message="the receipt to end")
    return PacketReceipt.objects.select_related("packet_revision").get(pk=receipt.pk)


def test_a_worker_receives_an_uploaded_packet_as_its_uploader(celery_worker, olivia, tmp_path):
    path = contract_packet().zip(tmp_path / "contract.zip")
    receipt = receipt_upload(actor=olivia, upload=SimpleUploadedFile(path.name, path.read_bytes()),
                             source=IntakeSource.API)

    receipt = _done(receipt)

    assert receipt.status == ReceiptStatus.DONE, receipt.error
    assert receipt.outcome == "accepted" and receipt.task_id and receipt.attempts == 1
    revision = receipt.packet_revision
    assert revision.received_by == olivia and revision.received_by_label == "olivia"
    assert revision.evidence_class == EvidenceClass.CANDIDATE


def test_a_worker_receives_a_packet_queued_by_the_command(celery_worker, tmp_path):
    folder = pricing_packet().write(tmp_path / "prices")
    call_command("receive_evidence", str(folder), "--queue", stdout=io.StringIO())

    receipt = _done(PacketReceipt.objects.get())

    assert receipt.status == ReceiptStatus.DONE, receipt.error
    assert receipt.outcome == "accepted"
    assert receipt.packet_revision.received_by_label == "system:command:receive_evidence"
