"""Receiving evidence packets: one service for every door (the command now; the upload page and the API later).

  validate → unchanged? (identical packet.json of an accepted revision: nothing is stored) → bronze
  (write-once, before any transaction) → one transaction: the revision, its issues, its typed records and
  the audit event.

An accepted packet goes to `bronze/evidence/<kind>/<packet_id>/<packet sha256>/files/…` with a
`receipt.json`; its sha256 is packet.json's, which pins every other file. A refusal keeps what arrived
under `bronze/evidence/_refused/<sha256 of what arrived>/` (the archive as received, whatever files could
be read, and a receipt named by its own hash), and records a refused revision with its issues; every
refusal is recorded, even of bytes refused before (each attempt is an event). Earlier revisions are never
changed: a new accepted revision only adds rows.
"""
from __future__ import annotations

import dataclasses
import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction

from console import chain, exact
from console.audit import audit_record
from console.lake import get_lake
from console.lake.base import Lake, LakePathError, clean_path
from evidence.choices import EvidenceClass, PacketStatus
from evidence.flags.services import flags_moved
from evidence.intake.services import archive_limits
from evidence.intake.storage import canonical_json
from evidence.intake.validation.archive import file_sha256, regular_files, tree_sha256
from evidence.packets import model, validation
from evidence.packets.models import (
    FRACTION,
    MONEY,
    AccountRow,
    ContractTermRow,
    EvidencePacket,
    PacketRevision,
    PacketRevisionIssue,
    PriceRow,
    RebateInvoiceRow,
)
from evidence.packets.validation.issues import issue

BRONZE_ROOT = "bronze/evidence"
REFUSED_ROOT = f"{BRONZE_ROOT}/_refused"
UNCHANGED = "unchanged"


class ReceiveError(Exception):
    """Nothing could be received or recorded (no folder or file at the path)."""


@dataclass(frozen=True)
class ReceiveOutcome:
    revision: PacketRevision  # the revision recorded, or for `unchanged` the earlier one with these bytes
    status: str  # PacketStatus.ACCEPTED, PacketStatus.REFUSED or UNCHANGED


def packet_receive(*, actor, source: Path, original_name: str) -> ReceiveOutcome:
    """Receive a packet folder or .zip: record it accepted (a new revision), refused, or answer unchanged."""
    source = Path(source)
    if not (source.is_dir() or source.is_file()):
        raise ReceiveError(f"{source}: no packet folder or archive there")
    try:
        return _receive_once(actor, source, original_name)
    except PacketChangedMeanwhile:
        # A concurrent first receipt of this packet_id committed another kind or other clients while this one
        # was validated: validated again, this receipt now meets that revision and is recorded as refused
        # (REVISION_CONFLICT), like any later receipt would be.
        return _receive_once(actor, source, original_name)


def _receive_once(actor, source: Path, original_name: str) -> ReceiveOutcome:
    work = Path(tempfile.mkdtemp(prefix="packet-", dir=_staging_root()))
    try:
        report = validation.validate_packet(
            source, limits=archive_limits(), staging_dir=(work / "packet") if source.is_file() else None,
            earlier=_earlier,
        )
        issues = list(report.issues) or _unstorable(report)
        if not issues:
            existing = _accepted_with(report.packet_id, report.sha256)
            if existing is not None:
                return ReceiveOutcome(existing, UNCHANGED)
            return _accept(actor, source, original_name, report)
        return _refuse(actor, source, original_name, report, issues)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _staging_root() -> Path:
    root = Path(settings.VAR_DIR) / "evidence-packets"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _earlier(packet_id: str) -> validation.EarlierRevision | None:
    packet = EvidencePacket.objects.filter(packet_id=packet_id).first()
    if packet is None:
        return None
    return validation.EarlierRevision(packet_id=packet.packet_id, kind=packet.kind,
                                      client_account_ids=tuple(packet.client_account_ids))


def _accepted_with(packet_id: str | None, sha256: str | None) -> PacketRevision | None:
    return PacketRevision.objects.filter(
        packet__packet_id=packet_id, sha256=sha256, status=PacketStatus.ACCEPTED
    ).select_related("packet").first()


# --- accepted ------------------------------------------------------------------------------------

def _accept(actor, source: Path, original_name: str, report: validation.PacketReport) -> ReceiveOutcome:
    header = report.header
    prefix = f"{BRONZE_ROOT}/{header.kind}/{header.packet_id}/{report.sha256}"
    lake = get_lake()
    files = _put_tree(lake, f"{prefix}/files", report.root, strict=True)
    lake.put(f"{prefix}/receipt.json", canonical_json({
        "format": model.FORMAT, "packet_id": header.packet_id, "kind": header.kind, "sha256": report.sha256,
        "status": PacketStatus.ACCEPTED, "files": files,
    }))
    try:
        revision = _record_accepted(actor, original_name, report, prefix, _received_sha256(source))
    except (IntegrityError, _AlreadyThere):
        # Another receipt of the same bytes recorded them first (the unique constraint, or seen under the lock).
        existing = _accepted_with(header.packet_id, report.sha256)
        if existing is None:
            raise
        return ReceiveOutcome(existing, UNCHANGED)
    return ReceiveOutcome(revision, PacketStatus.ACCEPTED)


class _AlreadyThere(Exception):
    pass


class PacketChangedMeanwhile(Exception):
    """A concurrent first receipt of this packet_id recorded another kind or other clients; receive it again
    (it will then be refused with REVISION_CONFLICT)."""


@transaction.atomic
def _record_accepted(actor, original_name, report, prefix: str, received_sha256: str) -> PacketRevision:
    header = report.header
    packet, _ = EvidencePacket.objects.get_or_create(
        packet_id=header.packet_id,
        defaults={"kind": header.kind, "client_account_ids": list(header.client_account_ids)},
    )
    # The packet row is the lock that numbers its revisions: concurrent receipts take their turn here.
    packet = EvidencePacket.objects.select_for_update().get(pk=packet.pk)
    if packet.kind != header.kind or set(packet.client_account_ids) != set(header.client_account_ids):
        raise PacketChangedMeanwhile(f"{packet.packet_id} was first recorded meanwhile with another kind or clients")
    if packet.revisions.filter(status=PacketStatus.ACCEPTED, sha256=report.sha256).exists():
        raise _AlreadyThere
    latest = packet.revisions.filter(status=PacketStatus.ACCEPTED).order_by("-revision").first()
    revision = PacketRevision.objects.create(
        packet=packet, claimed_packet_id=header.packet_id, revision=(latest.revision + 1) if latest else 1,
        status=PacketStatus.ACCEPTED, evidence_class=EvidenceClass.CANDIDATE, kind=header.kind,
        sha256=report.sha256, received_sha256=received_sha256, original_name=original_name[:255],
        period_start=header.period_start, period_end=header.period_end, header=_header_json(header),
        bronze_prefix=prefix, received_by=_user(actor),
    )
    rows = _record_rows(revision, header.kind, report.records)
    event = audit_record(
        actor=actor, action="evidence_packet.received", object_type="evidence.packetrevision",
        object_id=str(revision.pk), before=_summary(latest),
        after={**_summary(revision), "records": rows, "original_name": revision.original_name},
    )
    revision.received_by_label = event.actor_label  # the same name the audit trail gives the receiver
    revision.save(update_fields=["received_by_label"])
    flags_moved(trigger="packet.accepted", ref=f"{header.packet_id} revision {revision.revision}", actor=actor)
    return revision


def _record_rows(revision: PacketRevision, kind: str, records) -> int:
    table = {model.CONTRACT: ContractTermRow, model.PRICING: PriceRow, model.REBATE: RebateInvoiceRow,
             model.SALESFORCE: AccountRow}[kind]
    objects = []
    for number, record in enumerate(records, start=1):
        values = dataclasses.asdict(record)
        if kind == model.CONTRACT:
            values["exclusions"] = list(values["exclusions"])
        objects.append(table(revision=revision, row=number, **values))
    table.objects.bulk_create(objects, batch_size=2000)
    return len(objects)


def _unstorable(report: validation.PacketReport) -> list:
    """What of an accepted packet the console could not keep exactly, refused rather than altered: a name the
    lake reserves (UNSAFE_PATH: `.incoming-…`, `….sha256`), and values the database would not hold exactly
    (VALUE_INVALID: decimals with more places or digits than the columns keep, counts past 64 bits)."""
    if not report.accepted:
        return []
    kind = report.kind
    path = model.RECORDS_FILE[kind]
    found = []
    for relative in regular_files(report.root):
        try:
            clean_path(f"{BRONZE_ROOT}/{kind}/{report.packet_id}/{report.sha256}/files/{relative}")
        except LakePathError as exc:
            found.append(issue(validation.UNSAFE_PATH, f"cannot be kept in the lake: {exc}", file=relative))
    for number, record in enumerate(report.records or (), start=1):
        for name, value in dataclasses.asdict(record).items():
            limits = FRACTION if name == "awp_discount_guarantee" else MONEY
            problem = None
            if isinstance(value, Decimal) and (kept := exact.problem(value, **limits)):
                problem = f"{value} {kept}: the console keeps decimals exactly and does not round them"
            elif isinstance(value, int) and not isinstance(value, bool) and value >= 2**63:
                problem = f"{value} is larger than the console can hold"
            if problem:
                found.append(issue(validation.VALUE_INVALID, problem, file=path, row=number, column=name))
    return found


# --- refused -------------------------------------------------------------------------------------

def _refuse(actor, source: Path, original_name: str, report: validation.PacketReport, issues) -> ReceiveOutcome:
    received_sha256 = _received_sha256(source)
    prefix = f"{REFUSED_ROOT}/{received_sha256}"
    lake = get_lake()
    received = []
    if source.is_file():
        with source.open("rb") as handle:
            put = lake.put(f"{prefix}/received/archive.zip", handle)
        received.append({"path": "received/archive.zip", "sha256": put.sha256, "bytes": put.size})
    root = report.root if report.root is not None else (source if source.is_dir() else None)
    files = _put_tree(lake, f"{prefix}/files", root, strict=False) if root is not None else []
    ordered = sorted(issues, key=validation.PacketIssue.sort_key)
    receipt = canonical_json({
        "format": model.FORMAT, "packet_id": report.packet_id, "kind": report.kind, "sha256": report.sha256,
        "status": PacketStatus.REFUSED, "received": received, "files": files,
        "issues": [dataclasses.asdict(i) for i in ordered],
    })
    # Named by its own hash: the same bytes refused again with other issues (a REVISION_CONFLICT against a
    # newer revision) keep both receipts, write-once.
    lake.put(f"{prefix}/receipts/{hashlib.sha256(receipt).hexdigest()}.json", receipt)
    revision = _record_refused(actor, original_name, report, ordered, prefix, received_sha256)
    return ReceiveOutcome(revision, PacketStatus.REFUSED)


@transaction.atomic
def _record_refused(actor, original_name, report, ordered, prefix: str, received_sha256: str) -> PacketRevision:
    packet = EvidencePacket.objects.filter(packet_id=report.packet_id).first() if report.packet_id else None
    latest = packet.revisions.filter(status=PacketStatus.ACCEPTED).order_by("-revision").first() if packet else None
    header = report.header
    revision = PacketRevision.objects.create(
        packet=packet, claimed_packet_id=report.packet_id or "", revision=None, status=PacketStatus.REFUSED,
        evidence_class="", kind=report.kind or "", sha256=report.sha256 or "", received_sha256=received_sha256,
        original_name=original_name[:255], period_start=header.period_start if header else None,
        period_end=header.period_end if header else None, header=_header_json(header) if header else {},
        bronze_prefix=prefix, received_by=_user(actor),
    )
    PacketRevisionIssue.objects.bulk_create(
        PacketRevisionIssue(revision=revision, position=position, code=i.code, severity=i.severity,
                            file=i.file or "", field=i.field or "", row=i.row, column=i.column or "",
                            message=i.message)
        for position, i in enumerate(ordered)
    )
    event = audit_record(
        actor=actor, action="evidence_packet.refused", object_type="evidence.packetrevision",
        object_id=str(revision.pk), before=_summary(latest),
        after={**_summary(revision), "issues": len(ordered), "codes": sorted({i.code for i in ordered}),
               "original_name": revision.original_name},
    )
    revision.received_by_label = event.actor_label
    revision.save(update_fields=["received_by_label"])
    return revision


# --- shared --------------------------------------------------------------------------------------

def _summary(revision: PacketRevision | None) -> dict | None:
    """What the audit trail says of a revision (before: the packet's latest accepted one, or None)."""
    if revision is None:
        return None
    return {"packet_id": revision.claimed_packet_id or None, "kind": revision.kind or None,
            "revision": revision.revision, "status": revision.status, "class": revision.evidence_class or None,
            "sha256": revision.sha256 or None, "bronze": revision.bronze_prefix}


def _user(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def _header_json(header: model.PacketHeader) -> dict:
    return chain.json_safe(dataclasses.asdict(header))


def _put_tree(lake: Lake, prefix: str, root: Path, *, strict: bool) -> list[dict]:
    """Every regular file under root, copied to prefix (links and special files are never followed).

    strict (an accepted packet): every file must be kept, or nothing is recorded. Otherwise (a refusal) a file
    that cannot be read or whose name the lake refuses is listed in the receipt as not kept."""
    kept = []
    for relative in regular_files(root):
        full = root / relative
        try:
            with full.open("rb") as handle:
                put = lake.put(f"{prefix}/{relative}", handle)
        except (OSError, LakePathError) as exc:
            if strict:
                raise
            kept.append({"path": relative, "kept": False, "reason": str(exc)})
            continue
        kept.append({"path": relative, "sha256": put.sha256, "bytes": put.size, "lake_path": f"{prefix}/{relative}"})
    return kept


def _received_sha256(source: Path) -> str:
    """The SHA-256 of what arrived: an archive's bytes, or a folder's tree (each path and its file's hash)."""
    return file_sha256(source)[0] if source.is_file() else tree_sha256(source)



def record_document_read(*, actor, revision: PacketRevision, document: dict, refused: str = "") -> None:
    """A source document served to a person (`evidence_packet.document_downloaded`), or refused because its bytes
    are missing or changed (`evidence_packet.document_refused`, with why): auditors see every copy that left."""
    with transaction.atomic():
        audit_record(actor=actor, action="evidence_packet.document_refused" if refused else
                     "evidence_packet.document_downloaded", object_type="evidence.packetrevision",
                     object_id=str(revision.pk),
                     after={"packet": revision.packet.packet_id, "revision": revision.revision,
                            "path": document["path"], "sha256": document["sha256"],
                            **({"reason": refused} if refused else {})})
