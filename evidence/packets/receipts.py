"""Queued receipts of evidence packets: the upload page, `POST /api/evidence-packets/` and
`receive_evidence --queue` stage what arrived, `receipt_create` records a PacketReceipt and queues it, and
the worker's `receipt_execute` calls the one receiving service (`packet_receive`) as the person who asked,
so the receiver recorded on the revision is the uploader (four eyes), never the worker.

Mirrors the intake's runs (evidence.intake.services): created first and audited
(`evidence_packet.receipt_queued`, with the bytes' size and SHA-256) in one transaction, enqueued after the
commit, claimed by compare-and-set, and a run a lost worker left running is taken over when the task is
redelivered (acks_late) or failed by the sweeper. Receiving again is safe: accepted bytes answer `unchanged`.
"""
from __future__ import annotations

import datetime
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import models, transaction

from console import clock, context, errors
from console.audit import audit_record
from console.dispatch import send_after_commit
from evidence.choices import ReceiptStatus
from evidence.intake.services import discard_staged
from evidence.intake.uploads import staged_upload
from evidence.packets.models import PacketReceipt, PacketRevision
from evidence.packets.services import ReceiveError, ReceiveOutcome, packet_receive

RECEIPT_TASK = "evidence.tasks.packet_receipt_run"  # the name evidence.tasks registers
OBJECT_TYPE = "evidence.packetreceipt"
PACKET_SUFFIX = ".zip"


def packet_name_problem(name: str) -> str | None:
    """Why a file name cannot be a packet upload, or None."""
    if not name.lower().endswith(PACKET_SUFFIX):
        return "Upload the packet as a .zip of its folder, with packet.json at its root."
    return None


# --- create ------------------------------------------------------------------------------------------


@transaction.atomic
def receipt_create(
    *, actor, source: str, original_name: str, staged_path: Path, upload_sha256: str, upload_bytes: int,
    enqueue: bool = True,
) -> PacketReceipt:
    """Record a receipt for bytes already staged on local disk, audit it, and queue it for a worker."""
    receipt = PacketReceipt.objects.create(
        source=source, original_name=original_name[:255], staged_path=str(staged_path),
        upload_sha256=upload_sha256, upload_bytes=upload_bytes,
        requested_by=actor if actor is not None and actor.is_authenticated else None,
    )
    event = audit_record(
        actor=actor, action="evidence_packet.receipt_queued", object_type=OBJECT_TYPE, object_id=str(receipt.pk),
        after={"source": source, "original_name": receipt.original_name, "bytes": upload_bytes,
               "sha256": upload_sha256, "status": receipt.status},
    )
    receipt.requested_by_label = event.actor_label  # the name the audit trail gives the receiver
    receipt.save(update_fields=["requested_by_label"])
    if enqueue:
        send_after_commit(RECEIPT_TASK, PacketReceipt, receipt.pk)
    return receipt


def receipt_upload(*, actor, upload: UploadedFile, source: str) -> PacketReceipt:
    """Record and queue a receipt for an uploaded packet (.zip); the staged bytes go to the worker."""
    with staged_upload(upload) as (staged, size, sha256):
        return receipt_create(actor=actor, source=source, original_name=upload.name, staged_path=staged,
                              upload_sha256=sha256, upload_bytes=size)


# --- execute -----------------------------------------------------------------------------------------


class ReceiptHeld(Exception):
    """Another worker took this receipt too recently to take it over: look again in `retry_in` seconds."""

    def __init__(self, retry_in: float):
        super().__init__(f"held by a live worker; look again in {retry_in:.0f}s")
        self.retry_in = retry_in


def _claim(receipt_id: int, stale_after: datetime.timedelta) -> bool:
    now = clock.now()
    claimable = models.Q(status=ReceiptStatus.QUEUED) | models.Q(
        status=ReceiptStatus.RUNNING, started_at__lt=now - stale_after
    )
    return bool(PacketReceipt.objects.filter(claimable, pk=receipt_id).update(
        status=ReceiptStatus.RUNNING, started_at=now, attempts=models.F("attempts") + 1,
    ))


def receipt_execute(*, receipt_id: int) -> ReceiveOutcome | None:
    """Receive one queued packet as its requester. None when the receipt is gone or final; ReceiptHeld when
    another worker started it too recently to take it over."""
    stale_after = datetime.timedelta(seconds=settings.INTAKE_STALE_SECONDS)
    receipt = PacketReceipt.objects.select_related("requested_by").filter(pk=receipt_id).first()
    if receipt is None or receipt.is_final:
        return None
    if not _claim(receipt_id, stale_after):
        receipt.refresh_from_db()
        if receipt.is_final:
            return None
        started = receipt.started_at or clock.now()
        raise ReceiptHeld(max((started + stale_after - clock.now()).total_seconds(), 0) + 1)
    receipt.refresh_from_db()
    # With no person behind it (receive_evidence --queue), the audit names the command that queued it.
    label = receipt.requested_by_label
    system_actor = label.removeprefix("system:") if receipt.requested_by_id is None else f"receipt:{receipt.pk}"
    with context.bind(context.WorkContext(correlation_id=f"packet-receipt-{receipt.pk}", system_actor=system_actor)):
        try:
            outcome = packet_receive(actor=receipt.requested_by, source=Path(receipt.staged_path),
                                     original_name=receipt.original_name)
        except Exception as exc:  # recorded on the receipt for the operator, then re-raised for the logs
            _fail(receipt.pk, f"{type(exc).__name__}: {exc}" if isinstance(exc, ReceiveError | ValueError)
                  else errors.fault_message(errors.log_fault(f"packet receipt #{receipt.pk}", exc)))
            raise
        with transaction.atomic():
            PacketReceipt.objects.filter(pk=receipt.pk, status=ReceiptStatus.RUNNING).update(
                status=ReceiptStatus.DONE, outcome=outcome.status, packet_revision=outcome.revision,
                finished_at=clock.now(),
            )
    discard_staged(receipt.staged_path)
    return outcome


def _fail(receipt_id: int, error: str) -> bool:
    with transaction.atomic():
        if not PacketReceipt.objects.filter(pk=receipt_id, status=ReceiptStatus.RUNNING).update(
            status=ReceiptStatus.FAILED, error=error, finished_at=clock.now()
        ):
            return False
        audit_record(
            actor=None, action="evidence_packet.receipt_failed", object_type=OBJECT_TYPE, object_id=str(receipt_id),
            before={"status": ReceiptStatus.RUNNING}, after={"status": ReceiptStatus.FAILED, "error": error},
        )
    return True


def receipt_sweep_abandoned(*, older_than: datetime.timedelta) -> list[int]:
    """Fail running receipts started long ago whose worker is gone (their task will not come back)."""
    cutoff = clock.now() - older_than
    error = f"abandoned: started before {cutoff:%Y-%m-%d %H:%M:%S} UTC and never finished (worker lost)"
    stuck = PacketReceipt.objects.filter(status=ReceiptStatus.RUNNING, started_at__lt=cutoff)
    return [pk for pk in stuck.values_list("pk", flat=True) if _fail(pk, error)]


# --- what the doors print ------------------------------------------------------------------------------


def outcome_json(revision: PacketRevision, status: str) -> dict:
    """The one object `receive_evidence --json` prints and a done receipt shows."""
    issues = [
        {"code": i.code, "severity": i.severity, "file": i.file or None, "field": i.field or None,
         "row": i.row, "column": i.column or None, "message": i.message}
        for i in revision.issues.all()
    ]
    return {
        "packet_id": revision.claimed_packet_id or None, "kind": revision.kind or None,
        "revision": revision.revision, "status": status, "class": revision.evidence_class or None,
        "sha256": revision.sha256 or None, "issues": issues, "bronze": revision.bronze_prefix,
    }


def receipt_result(receipt: PacketReceipt) -> dict | None:
    """A done receipt's result, as `receive_evidence --json` prints it; None before."""
    if receipt.status != ReceiptStatus.DONE or receipt.packet_revision is None:
        return None
    return outcome_json(receipt.packet_revision, receipt.outcome)
