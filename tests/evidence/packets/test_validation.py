"""validate_packet on valid packets of each kind, zips, archive safety and staging."""
from __future__ import annotations

import datetime as dt
import hashlib
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from evidence.intake.validation import ArchiveLimits
from evidence.packets.model import KINDS, RECORD_TYPES, Account, ContractTerm, PriceRow, RebateInvoice
from evidence.packets.validation import (
    ACCEPTED,
    PACKET_UNREADABLE,
    REFUSED,
    UNSAFE_PATH,
    validate_packet,
)
from tests.evidence.packets.builders import (
    ACME,
    APIXABAN,
    ATORVASTATIN,
    CONTRACT_PDF,
    MAC_LIST,
    PACKETS,
    RIVERBEND,
    contract_packet,
    pricing_packet,
    rebate_packet,
    salesforce_packet,
)


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


@pytest.mark.parametrize("kind", KINDS)
def test_valid_packet_of_each_kind_is_accepted_with_its_typed_records(tmp_path, kind):
    packet = PACKETS[kind]()

    report = validate_packet(packet.write(tmp_path / "packet"))

    assert report.issues == ()
    assert report.status == ACCEPTED and report.accepted
    assert report.kind == kind and report.header.kind == kind
    assert len(report.records) == len(packet.rows)
    assert all(type(record) is RECORD_TYPES[kind] for record in report.records)
    assert report.root == tmp_path / "packet"


def test_packet_sha256_is_that_of_packet_json_bytes(tmp_path):
    packet = contract_packet()

    report = validate_packet(packet.write(tmp_path / "packet"))

    assert report.sha256 == hashlib.sha256(packet.packet_bytes()).hexdigest()
    assert report.sha256 == hashlib.sha256((tmp_path / "packet" / "packet.json").read_bytes()).hexdigest()


def test_contract_terms_are_typed_exactly(tmp_path):
    report = validate_packet(contract_packet().write(tmp_path / "packet"))

    retail_brand, retail_generic = report.records[:2]
    assert retail_brand == ContractTerm(
        contract_id="CLM-2024-0113", client_account_id=ACME, component="retail brand", channel="retail",
        drug_class="brand", awp_discount_guarantee=Decimal("0.1750"), dispensing_fee_guarantee=Decimal("1.25"),
        rebate_per_brand_claim=Decimal("200.00"), guarantee_basis="combined",
        exclusions=("zero_balance", "usual_and_customary"), price_list=MAC_LIST, period_start=dt.date(2025, 1, 1),
        period_end=dt.date(2025, 12, 31))
    assert str(retail_brand.awp_discount_guarantee) == "0.1750"  # the scale written is kept
    assert retail_generic.rebate_per_brand_claim is None  # blank: the contract guarantees nothing there


def test_contract_header_is_typed(tmp_path):
    header = validate_packet(contract_packet().write(tmp_path / "packet")).header

    assert header.packet_id == f"EVP-CONTRACT-{ACME}-2025"
    assert header.client_account_ids == (ACME,)
    assert (header.period_start, header.period_end) == (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert header.received_at == dt.datetime(2026, 11, 18, 14, 2, tzinfo=dt.timezone.utc)
    assert header.records.path == "terms.csv" and header.records.rows == 6
    assert [d.path for d in header.documents] == [CONTRACT_PDF]
    assert header.documents[0].media_type == "application/pdf"
    assert header.supersedes is None


def test_price_rows_keep_ndc_leading_zeros_and_an_open_end(tmp_path):
    report = validate_packet(pricing_packet().write(tmp_path / "packet"))

    first, second = report.records[:2]
    assert first == PriceRow(MAC_LIST, ATORVASTATIN, "Atorvastatin Calcium 20 MG Tablet", Decimal("0.0712"),
                             dt.date(2025, 1, 1), dt.date(2025, 6, 30))
    assert first.ndc == "00093505601"
    assert second.end_date is None and second.in_force(dt.date(2030, 1, 1))
    assert report.header.client_account_ids == ()


def test_rebate_invoices_are_typed(tmp_path):
    report = validate_packet(rebate_packet().write(tmp_path / "packet"))

    assert report.records[0] == RebateInvoice("RBI-2025Q1-0042", ACME, "2025Q1", APIXABAN, "Apixaban 5 MG Tablet",
                                              "Northfield Pharma", 412, Decimal("65920.00"), dt.date(2025, 5, 15))


def test_salesforce_accounts_are_typed_and_a_blank_domo_group_is_allowed(tmp_path):
    report = validate_packet(salesforce_packet().write(tmp_path / "packet"))

    assert report.records[0] == Account(ACME, "ACME Manufacturing", "Customer", "ACME Manufacturing - Benefits",
                                        dt.date(2025, 1, 1), dt.date(2026, 10, 2))
    assert report.records[-1].account_id == RIVERBEND and report.records[-1].domo_group == ""


def test_records_file_with_a_bom_is_accepted(tmp_path):
    packet = contract_packet()
    packet.records_bytes = b"\xef\xbb\xbf" + packet.records_content()

    report = validate_packet(packet.write(tmp_path / "packet"))

    assert report.status == ACCEPTED
    assert report.records[0].contract_id == "CLM-2024-0113"


def test_zip_of_the_packet_is_judged_like_the_folder_and_kept_nowhere(tmp_path):
    packet = rebate_packet()
    folder = validate_packet(packet.write(tmp_path / "packet"))
    archive = packet.zip(tmp_path / "packet.zip")
    before = _files(tmp_path)

    zipped = validate_packet(archive)

    assert zipped.status == ACCEPTED
    assert (zipped.sha256, zipped.header, zipped.records) == (folder.sha256, folder.header, folder.records)
    assert zipped.root is None
    assert _files(tmp_path) == before  # the temporary extraction is gone, nothing written here


def test_zip_wrapping_the_packet_folder_is_read_from_that_folder(tmp_path):
    staging = tmp_path / "staging"

    report = validate_packet(contract_packet().zip(tmp_path / "packet.zip", folder="EVP-CONTRACT"),
                             staging_dir=staging)

    assert report.status == ACCEPTED
    assert report.root == staging / "EVP-CONTRACT"
    assert (staging / "EVP-CONTRACT" / "terms.csv").is_file()


def test_zip_is_extracted_under_staging_and_nowhere_else(tmp_path):
    archive = contract_packet().zip(tmp_path / "packet.zip")
    staging = tmp_path / "staging"

    report = validate_packet(archive, staging_dir=staging)

    assert report.status == ACCEPTED and report.root == staging
    assert _files(tmp_path) - {"packet.zip"} == {"staging", *(f"staging/{name}" for name in _files(staging))}
    assert _files(staging) == {"packet.json", "terms.csv", "documents", CONTRACT_PDF}


@pytest.mark.catalogue(40)
def test_zip_with_a_member_leaving_the_root_is_refused_and_nothing_extracted(tmp_path):
    archive = contract_packet().zip(tmp_path / "packet.zip")
    with zipfile.ZipFile(archive, "a") as handle:
        handle.writestr("../evil.txt", b"outside")
    staging = tmp_path / "staging"

    report = validate_packet(archive, staging_dir=staging)

    assert report.status == REFUSED
    assert report.codes() == {UNSAFE_PATH}
    assert [i.file for i in report.issues] == ["../evil.txt"]
    assert "leaves its root" in report.issues[0].message
    assert not (tmp_path / "evil.txt").exists()
    assert not staging.exists() or not any(staging.iterdir())
    assert report.records is None and report.header is None


@pytest.mark.catalogue(40)
def test_zip_with_a_symlink_member_is_refused(tmp_path):
    archive = contract_packet().zip(tmp_path / "packet.zip")
    with zipfile.ZipFile(archive, "a") as handle:
        info = zipfile.ZipInfo("documents/link.pdf")
        info.external_attr = (0o120777 << 16)
        handle.writestr(info, "/etc/passwd")

    report = validate_packet(archive, staging_dir=tmp_path / "staging")

    assert report.codes() == {UNSAFE_PATH}
    assert report.issues[0].file == "documents/link.pdf"
    assert "symbolic link" in report.issues[0].message


def test_zip_over_the_archive_limits_is_refused(tmp_path):
    archive = contract_packet().zip(tmp_path / "packet.zip")

    report = validate_packet(archive, limits=ArchiveLimits(max_members=2))

    assert report.codes() == {UNSAFE_PATH}
    assert "over the limit of 2" in report.issues[0].message


def test_file_that_is_neither_folder_nor_zip_is_unreadable(tmp_path):
    path = tmp_path / "packet.json"
    path.write_bytes(b"{}")

    report = validate_packet(path)

    assert report.codes() == {PACKET_UNREADABLE}
    assert report.issues[0].file == "packet.json"


def test_absent_source_is_unreadable_not_raised(tmp_path):
    report = validate_packet(tmp_path / "nowhere")

    assert report.codes() == {PACKET_UNREADABLE}
    assert report.sha256 is None


def test_amendment_names_the_packet_it_supersedes(tmp_path):
    packet = contract_packet()
    packet.fields["packet_id"] = f"EVP-CONTRACT-{ACME}-2025-A1"
    packet.fields["supersedes"] = f"EVP-CONTRACT-{ACME}-2025"

    report = validate_packet(packet.write(tmp_path / "packet"))

    assert report.status == ACCEPTED
    assert report.header.supersedes == f"EVP-CONTRACT-{ACME}-2025"
