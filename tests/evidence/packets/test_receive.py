"""packet_receive: accepted revisions with typed records, unchanged for identical bytes, new revisions for
other bytes, refusals recorded with their issues, the four-eyes constraint, and the audit trail."""
from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction

from console.models import AuditEvent
from evidence.choices import EvidenceClass, PacketStatus
from evidence.models import (
    AccountRow,
    ContractTermRow,
    EvidencePacket,
    PacketRevision,
    PacketRevisionIssue,
    PriceRow,
    RebateInvoiceRow,
)
from evidence.packets import services
from evidence.packets.model import KINDS
from evidence.packets.services import UNCHANGED, packet_receive
from tests.evidence.packets.builders import (
    ACME,
    APIXABAN,
    ATORVASTATIN,
    BLUEWATER,
    MAC_LIST,
    PACKETS,
    contract_packet,
    pricing_packet,
    rebate_packet,
)

pytestmark = pytest.mark.django_db

TABLES = (ContractTermRow, PriceRow, RebateInvoiceRow, AccountRow)


def _receive(packet, tmp_path: Path, actor=None, *, name="packet", as_zip=False):
    if as_zip:
        source = packet.zip(tmp_path / f"{name}.zip")
    else:
        source = packet.write(tmp_path / name)
    return packet_receive(actor=actor, source=source, original_name=source.name)


def _stored(lake) -> dict:
    """Everything stored: row counts of every packet table, the audit trail's length, the lake's listing."""
    return {
        "tables": {t.__name__: t.objects.count() for t in (*TABLES, EvidencePacket, PacketRevision, PacketRevisionIssue)},
        "audit": AuditEvent.objects.count(),
        "lake": lake.list(""),
    }


@pytest.mark.parametrize("kind", KINDS)
def test_a_valid_packet_is_accepted_as_revision_1_candidate(kind, tmp_path, olivia):
    packet = PACKETS[kind]()

    outcome = _receive(packet, tmp_path, olivia)

    revision = PacketRevision.objects.get(pk=outcome.revision.pk)
    assert outcome.status == PacketStatus.ACCEPTED
    assert (revision.status, revision.revision, revision.evidence_class) == (
        PacketStatus.ACCEPTED, 1, EvidenceClass.CANDIDATE)
    assert revision.packet.packet_id == packet.fields["packet_id"] and revision.packet.kind == kind
    assert revision.received_by == olivia and revision.received_by_label == "olivia"
    assert revision.bronze_prefix == f"bronze/evidence/{kind}/{packet.fields['packet_id']}/{revision.sha256}"
    assert not revision.issues.exists()


def test_contract_terms_are_stored_typed(tmp_path, olivia):
    outcome = _receive(contract_packet(), tmp_path, olivia)

    rows = list(ContractTermRow.objects.filter(revision=outcome.revision).order_by("row"))
    assert [r.row for r in rows] == [1, 2, 3, 4, 5, 6]
    first = rows[0]
    assert first.client_account_id == ACME and (first.channel, first.drug_class) == ("retail", "brand")
    assert first.awp_discount_guarantee == Decimal("0.1750")
    assert first.dispensing_fee_guarantee == Decimal("1.25") and first.rebate_per_brand_claim == Decimal("200.00")
    assert rows[1].rebate_per_brand_claim is None  # blank: the contract guarantees nothing there
    assert first.exclusions == ["zero_balance", "usual_and_customary"]
    assert (first.period_start, first.period_end) == (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert first.price_list == MAC_LIST


def test_prices_keep_ndc_text_with_leading_zeros_and_open_ends(tmp_path, olivia):
    outcome = _receive(pricing_packet(), tmp_path, olivia)

    prices = PriceRow.objects.filter(revision=outcome.revision, ndc=ATORVASTATIN).order_by("effective_date")
    assert [(p.ndc, p.mac_unit_price, p.effective_date, p.end_date) for p in prices] == [
        ("00093505601", Decimal("0.0712"), dt.date(2025, 1, 1), dt.date(2025, 6, 30)),
        ("00093505601", Decimal("0.0650"), dt.date(2025, 7, 1), None),
    ]
    in_force = PriceRow.objects.get(price_list=MAC_LIST, ndc=ATORVASTATIN, effective_date__lte=dt.date(2025, 8, 1),
                                    end_date__isnull=True)
    assert in_force.mac_unit_price == Decimal("0.0650")


def test_rebate_invoices_are_queryable_by_client_quarter_and_ndc(tmp_path, olivia):
    _receive(rebate_packet(), tmp_path, olivia)

    invoice = RebateInvoiceRow.objects.get(client_account_id=ACME, quarter="2025Q1", ndc=APIXABAN)
    assert (invoice.brand_claims, invoice.rebate_amount, invoice.invoice_date) == (
        412, Decimal("65920.00"), dt.date(2025, 5, 15))


def test_every_file_and_a_receipt_go_to_bronze(tmp_path, olivia, lake):
    packet = contract_packet()
    outcome = _receive(packet, tmp_path, olivia)

    prefix = outcome.revision.bronze_prefix
    assert lake.list(prefix) == sorted(
        [f"{prefix}/files/{path}" for path in packet.contents()] + [f"{prefix}/receipt.json"])
    assert lake.read(f"{prefix}/files/terms.csv") == packet.records_content()


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_identical_bytes_again_are_unchanged_and_store_nothing(as_zip, tmp_path, olivia, arthur, lake):
    packet = contract_packet()
    first = _receive(packet, tmp_path, olivia, name="first")
    before = _stored(lake)

    again = _receive(packet, tmp_path, arthur, name="again", as_zip=as_zip)

    assert again.status == UNCHANGED and again.revision.pk == first.revision.pk
    assert _stored(lake) == before


def test_other_bytes_under_the_same_packet_id_are_revision_2_and_revision_1_is_untouched(tmp_path, olivia):
    packet = contract_packet()
    first = _receive(packet, tmp_path, olivia, name="first")
    snapshot = PacketRevision.objects.filter(pk=first.revision.pk).values().get()
    rows_1 = list(ContractTermRow.objects.filter(revision=first.revision).values())
    packet.rows[0][5] = "0.1800"  # the amendment raises the retail brand discount

    second = _receive(packet, tmp_path, olivia, name="second")

    assert second.status == PacketStatus.ACCEPTED
    assert (second.revision.packet_id, second.revision.revision) == (first.revision.packet_id, 2)
    assert second.revision.sha256 != first.revision.sha256
    assert PacketRevision.objects.filter(pk=first.revision.pk).values().get() == snapshot
    assert list(ContractTermRow.objects.filter(revision=first.revision).values()) == rows_1
    assert ContractTermRow.objects.get(revision=second.revision, row=1).awp_discount_guarantee == Decimal("0.1800")


def _field_missing(packet):
    del packet.fields["keyed_by"]
    return packet


def _hash_mismatch(packet):
    packet.fields["records"] = {**packet.records_entry(), "sha256": "0" * 64}
    return packet


def _bad_value(packet):
    packet.rows[2][5] = "17.5%"
    return packet


def _duplicate(packet):
    packet.rows.append(list(packet.rows[0]))
    return packet


def _too_precise(packet):
    packet.rows[0][6] = "1.1234567"  # more places than the console keeps exactly (6)
    return packet


REFUSALS = {
    "field_invalid": (_field_missing, "FIELD_INVALID", "packet.json", None, None),
    "hash_mismatch": (_hash_mismatch, "HASH_MISMATCH", "terms.csv", None, None),
    "value_invalid": (_bad_value, "VALUE_INVALID", "terms.csv", 3, "awp_discount_guarantee"),
    "duplicate_key": (_duplicate, "DUPLICATE_KEY", "terms.csv", 7, None),
    "not_storable_exactly": (_too_precise, "VALUE_INVALID", "terms.csv", 1, "dispensing_fee_guarantee"),
}


@pytest.mark.parametrize("breakage", REFUSALS)
def test_a_refusal_is_recorded_with_located_issues_and_nothing_earlier_changes(breakage, tmp_path, olivia, lake):
    break_it, code, file, row, column = REFUSALS[breakage]
    accepted = _receive(contract_packet(), tmp_path, olivia, name="good")
    snapshot = PacketRevision.objects.filter(pk=accepted.revision.pk).values().get()
    packet_before = EvidencePacket.objects.values().get()
    rows_before = {t.__name__: t.objects.count() for t in TABLES}

    outcome = _receive(break_it(contract_packet()), tmp_path, olivia, name="broken")

    refused = PacketRevision.objects.get(pk=outcome.revision.pk)
    assert outcome.status == PacketStatus.REFUSED
    assert (refused.status, refused.revision, refused.evidence_class) == (PacketStatus.REFUSED, None, "")
    issues = list(refused.issues.values_list("code", "file", "row", "column"))
    assert any(i[0] == code and i[1] == file and (row is None or i[2] == row) and (column is None or i[3] == column)
               for i in issues), issues
    assert refused.bronze_prefix == f"bronze/evidence/_refused/{refused.received_sha256}"
    assert any(path.startswith(f"{refused.bronze_prefix}/receipts/") for path in lake.list(refused.bronze_prefix))
    assert PacketRevision.objects.filter(pk=accepted.revision.pk).values().get() == snapshot
    assert EvidencePacket.objects.values().get() == packet_before
    assert {t.__name__: t.objects.count() for t in TABLES} == rows_before


def test_a_folder_without_packet_json_is_refused_unreadable(tmp_path, olivia, lake):
    folder = tmp_path / "empty"
    (folder / "documents").mkdir(parents=True)
    (folder / "documents" / "note.txt").write_text("no packet.json here")

    outcome = packet_receive(actor=olivia, source=folder, original_name="empty")

    assert outcome.status == PacketStatus.REFUSED
    assert outcome.revision.packet is None and outcome.revision.sha256 == ""
    assert [i.code for i in outcome.revision.issues.all()] == ["PACKET_UNREADABLE"]
    assert f"{outcome.revision.bronze_prefix}/files/documents/note.txt" in lake.list(outcome.revision.bronze_prefix)


def test_a_revision_changing_the_clients_is_refused_as_revision_conflict(tmp_path, olivia):
    packet = contract_packet()
    first = _receive(packet, tmp_path, olivia, name="first")
    packet.fields["client_account_ids"] = [ACME, BLUEWATER]

    outcome = _receive(packet, tmp_path, olivia, name="second")

    assert outcome.status == PacketStatus.REFUSED
    conflict = outcome.revision.issues.get(code="REVISION_CONFLICT")
    assert (conflict.file, conflict.field) == ("packet.json", "client_account_ids")
    assert BLUEWATER in conflict.message
    assert outcome.revision.packet_id == first.revision.packet_id  # filed under the packet it tried to change
    assert list(PacketRevision.objects.filter(status=PacketStatus.ACCEPTED).values_list("revision", flat=True)) == [1]


def test_the_loser_of_a_race_on_the_same_new_revision_answers_unchanged(tmp_path, olivia, arthur):
    # Both receipts validated the same new bytes; the first records them, the second then reaches _accept.
    packet = contract_packet()
    source = packet.write(tmp_path / "packet")
    report = services.validation.validate_packet(source)
    first = services._accept(olivia, source, "packet", report)

    second = services._accept(arthur, source, "packet", report)

    assert (first.status, second.status) == (PacketStatus.ACCEPTED, UNCHANGED)
    assert second.revision.pk == first.revision.pk
    assert PacketRevision.objects.count() == 1 and ContractTermRow.objects.count() == 6


def test_the_database_refuses_a_revision_verified_by_its_receiver(tmp_path, olivia):
    revision = _receive(contract_packet(), tmp_path, olivia).revision

    with pytest.raises(IntegrityError), transaction.atomic():
        PacketRevision.objects.filter(pk=revision.pk).update(verified_by=olivia)


def test_the_database_allows_another_person_to_verify(tmp_path, olivia, arthur):
    revision = _receive(contract_packet(), tmp_path, olivia).revision

    PacketRevision.objects.filter(pk=revision.pk).update(verified_by=arthur)

    revision.refresh_from_db()
    assert revision.verified_by == arthur


def test_receipts_are_audited_with_actor_before_and_after(tmp_path, olivia, arthur):
    packet = contract_packet()
    first = _receive(packet, tmp_path, olivia, name="first")
    packet.rows[0][5] = "0.1800"
    second = _receive(packet, tmp_path, arthur, name="second")
    refused = _receive(_bad_value(contract_packet()), tmp_path, olivia, name="broken")

    events = {e.object_id: e for e in AuditEvent.objects.filter(action__startswith="evidence_packet.")}
    received_1 = events[str(first.revision.pk)]
    assert (received_1.action, received_1.actor, received_1.before) == ("evidence_packet.received", olivia, None)
    assert received_1.after["revision"] == 1 and received_1.after["records"] == 6
    assert received_1.after["sha256"] == first.revision.sha256 and received_1.after["class"] == "candidate"
    received_2 = events[str(second.revision.pk)]
    assert received_2.actor == arthur
    assert received_2.before["revision"] == 1 and received_2.after["revision"] == 2
    refusal = events[str(refused.revision.pk)]
    assert (refusal.action, refusal.actor) == ("evidence_packet.refused", olivia)
    assert refusal.before["revision"] == 2 and refusal.after["status"] == "refused"
    assert refusal.after["codes"] == ["VALUE_INVALID"]


def test_a_file_name_the_lake_reserves_is_refused_not_dropped(tmp_path, olivia, lake):
    packet = contract_packet()
    packet.files["documents/terms.pdf.sha256"] = b"a checksum file the lake keeps for itself"

    outcome = _receive(packet, tmp_path, olivia)

    assert outcome.status == PacketStatus.REFUSED
    assert list(outcome.revision.issues.values_list("code", "file")) == [
        ("UNSAFE_PATH", "documents/terms.pdf.sha256")]
    receipt_paths = [p for p in lake.list(outcome.revision.bronze_prefix) if "/receipts/" in p]
    assert b'"kept": false' in lake.read(receipt_paths[0])


def test_a_packet_id_the_lake_reserves_is_refused_and_recorded(tmp_path, olivia, lake):
    packet = contract_packet()
    packet.fields["packet_id"] = "EVP-CONTRACT-2025.sha256"  # the lake's hash-file suffix, as a folder name

    outcome = _receive(packet, tmp_path, olivia)

    assert outcome.status == PacketStatus.REFUSED
    assert list(outcome.revision.issues.values_list("code", "field")) == [("FIELD_INVALID", "packet_id")]
    assert not EvidencePacket.objects.exists()
    assert any("/receipts/" in p for p in lake.list(outcome.revision.bronze_prefix))


def _receive_at_once(pairs) -> list:
    """Each (actor, packet folder) received in its own thread, all released together; the outcomes, after
    asserting that no thread raised."""
    import threading

    from django.db import connection

    pairs = list(pairs)
    start = threading.Barrier(len(pairs))
    outcomes, errors = [], []

    def receive(actor, source):
        try:
            start.wait()
            outcomes.append(packet_receive(actor=actor, source=source, original_name=source.name))
        except Exception as exc:  # noqa: BLE001 (a thread's error is asserted on below, not lost)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=receive, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return outcomes


@pytest.mark.postgres_only  # SQLite serializes writers with "database is locked", not row locks
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_receipts_of_the_same_new_packet_record_it_once(tmp_path, seeded_roles):
    from tests.conftest import make_persona

    olivia, arthur = make_persona("olivia"), make_persona("arthur")
    sources = [contract_packet().write(tmp_path / name) for name in ("one", "two")]
    outcomes = _receive_at_once(zip((olivia, arthur), sources))
    assert sorted(o.status for o in outcomes) == [PacketStatus.ACCEPTED, UNCHANGED]
    assert PacketRevision.objects.count() == 1 and ContractTermRow.objects.count() == 6
    assert AuditEvent.objects.filter(action="evidence_packet.received").count() == 1


def test_a_refused_zip_keeps_the_archive_as_received_and_its_files(tmp_path, olivia, lake):
    broken = _bad_value(contract_packet())
    archive = broken.zip(tmp_path / "broken.zip")

    outcome = _receive(broken, tmp_path, olivia, name="broken", as_zip=True)

    prefix = outcome.revision.bronze_prefix
    assert outcome.status == PacketStatus.REFUSED
    assert outcome.revision.received_sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert lake.read(f"{prefix}/received/archive.zip") == archive.read_bytes()
    assert lake.read(f"{prefix}/files/terms.csv") == broken.records_content()


def test_a_file_that_is_not_a_zip_is_refused_and_kept(tmp_path, olivia, lake):
    upload = tmp_path / "packet.zip"
    upload.write_bytes(b"not a zip at all")

    outcome = packet_receive(actor=olivia, source=upload, original_name="packet.zip")

    assert outcome.status == PacketStatus.REFUSED
    assert [i.code for i in outcome.revision.issues.all()] == ["PACKET_UNREADABLE"]
    assert lake.read(f"{outcome.revision.bronze_prefix}/received/archive.zip") == b"not a zip at all"


def test_a_revision_changing_the_kind_is_refused_as_revision_conflict(tmp_path, olivia):
    contract = contract_packet()
    _receive(contract, tmp_path, olivia, name="contract")
    impostor = PACKETS["salesforce"]()
    impostor.fields["packet_id"] = contract.fields["packet_id"]
    impostor.fields["client_account_ids"] = [ACME]
    impostor.rows = [row for row in impostor.rows if row[0] == ACME]

    outcome = _receive(impostor, tmp_path, olivia, name="impostor")

    assert outcome.status == PacketStatus.REFUSED
    assert list(outcome.revision.issues.values_list("code", "field")) == [("REVISION_CONFLICT", "kind")]
    assert EvidencePacket.objects.get().kind == "contract"


def test_a_reserved_file_name_is_refused_in_a_packet_without_records_too(tmp_path, olivia):
    packet = pricing_packet()
    packet.rows = []
    packet.files["documents/prices.xlsx.sha256"] = b"a checksum file"

    outcome = _receive(packet, tmp_path, olivia)

    assert outcome.status == PacketStatus.REFUSED
    assert ("UNSAFE_PATH", "documents/prices.xlsx.sha256") in set(outcome.revision.issues.values_list("code", "file"))


@pytest.mark.postgres_only  # SQLite serializes writers with "database is locked", not row locks
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_first_receipts_with_other_clients_record_one_and_refuse_the_other(tmp_path, seeded_roles):
    """The loser of a race on a new packet_id that names other clients is recorded as a REVISION_CONFLICT
    refusal (with its receipt in the lake), never lost to an exception."""
    from tests.conftest import make_persona

    olivia, arthur = make_persona("olivia"), make_persona("arthur")
    widened = contract_packet()
    widened.fields["client_account_ids"] = [ACME, BLUEWATER]
    sources = [contract_packet().write(tmp_path / "acme"), widened.write(tmp_path / "widened")]
    outcomes = _receive_at_once(zip((olivia, arthur), sources))
    assert sorted(o.status for o in outcomes) == [PacketStatus.ACCEPTED, PacketStatus.REFUSED]
    refused = next(o.revision for o in outcomes if o.status == PacketStatus.REFUSED)
    assert list(refused.issues.values_list("code", flat=True)) == ["REVISION_CONFLICT"]
    assert PacketRevision.objects.filter(status=PacketStatus.ACCEPTED).count() == 1
