"""The sample evidence packets: deterministic, every one accepted, the takeover's gaps present in the
typed records, consistent with the sample export of the same seed, and the command writes what it says."""
from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from evidence.packets.model import CONTRACT, PRICING, REBATE, SALESFORCE
from evidence.packets.validation import validate_packet
from evidence.samples.evidence import AMENDMENT_START, write_sample_evidence
from evidence.samples.export import (
    CONTRACT_TERMS,
    MAC_PRICING,
    PLAN_YEAR,
    REBATE_INVOICES,
    SALESFORCE_ACCOUNTS,
    write_sample_export,
)

ROWS = 600


def _tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def _reports(summary) -> dict[str, object]:
    reports = {}
    for packet_id, _kind, path in summary.packets:
        reports[packet_id] = validate_packet(path)
    return reports


def _by_kind(reports, kind):
    return {packet_id: report for packet_id, report in reports.items() if report.kind == kind}


def _domo(export, role) -> list[dict[str, str]]:
    path = export.path / f"datasets/{export.datasets[role]}/data.csv"
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


@pytest.fixture(scope="module", params=[7, 11])
def sample(request, tmp_path_factory):
    seed = request.param
    root = tmp_path_factory.mktemp(f"sample-evidence-{seed}")
    export = write_sample_export(root / "export", rows=ROWS, seed=seed)
    summary = write_sample_evidence(root / "evidence", seed=seed, rows=ROWS)
    return export, summary, _reports(summary)


# --- deterministic -------------------------------------------------------------------------------
@pytest.mark.parametrize("as_zip", [False, True])
def test_two_runs_are_byte_identical(tmp_path, as_zip):
    first = write_sample_evidence(tmp_path / "one", seed=7, rows=ROWS, zip=as_zip)
    second = write_sample_evidence(tmp_path / "two", seed=7, rows=ROWS, zip=as_zip)
    assert _tree(tmp_path / "one") == _tree(tmp_path / "two")
    assert first.gaps() == second.gaps()
    other = write_sample_evidence(tmp_path / "three", seed=8, rows=ROWS, zip=as_zip)
    assert _tree(tmp_path / "three") != _tree(tmp_path / "one")
    assert other.packets


def test_zip_holds_the_folder_with_fixed_timestamps_and_order(tmp_path):
    folders = write_sample_evidence(tmp_path / "folders", seed=7, rows=ROWS)
    zips = write_sample_evidence(tmp_path / "zips", seed=7, rows=ROWS, zip=True)
    assert [p[:2] for p in folders.packets] == [p[:2] for p in zips.packets]
    for (_id, _kind, folder), (_, _, archive_path) in zip(folders.packets, zips.packets):
        with zipfile.ZipFile(archive_path) as archive:
            names = archive.namelist()
            assert names[0] == "packet.json" and names[1:] == sorted(names[1:])
            assert {name: archive.read(name) for name in names} == _tree(folder)
            assert {info.date_time for info in archive.infolist()} == {(2026, 11, 20, 3, 0, 0)}
        assert validate_packet(archive_path).accepted


# --- accepted ------------------------------------------------------------------------------------
def test_every_packet_is_accepted_and_lists_one_text_document(sample):
    _export, summary, reports = sample
    assert {report.kind for report in reports.values()} == {CONTRACT, PRICING, REBATE, SALESFORCE}
    for packet_id, report in reports.items():
        assert report.accepted, (packet_id, [(i.code, i.message) for i in report.issues])
        assert report.packet_id == packet_id
        (document,) = report.header.documents
        assert document.path.startswith("documents/") and document.media_type == "text/plain"
        assert (report.root / document.path).read_text(encoding="utf-8").strip()


# --- the gaps ------------------------------------------------------------------------------------
def test_one_client_has_no_contract_packet_only_domo_terms(sample):
    export, summary, reports = sample
    covered = {c for r in _by_kind(reports, CONTRACT).values() for c in r.header.client_account_ids}
    domo_clients = {row["Client Account ID"] for row in _domo(export, CONTRACT_TERMS)}
    assert summary.client_without_contract in domo_clients
    assert summary.client_without_contract not in covered
    assert covered == domo_clients - {summary.client_without_contract}


def test_the_unverified_contract_is_present_and_accepted(sample):
    _export, summary, reports = sample
    report = reports[summary.unverified_packet_id]
    assert report.accepted and report.kind == CONTRACT and report.header.supersedes is None
    assert summary.unverified_packet_id not in (summary.amended_packet_id, summary.amendment_packet_id)
    assert any(summary.unverified_packet_id in gap for gap in summary.gaps())


def test_the_price_file_leaves_days_of_the_year_uncovered_for_one_ndc(sample):
    _export, summary, reports = sample
    gap = summary.pricing_gap
    (report,) = _by_kind(reports, PRICING).values()
    rows = [row for row in report.records if row.ndc == gap.ndc and row.price_list == gap.price_list]
    uncovered = [day for day in _days(date(PLAN_YEAR, 1, 1), date(PLAN_YEAR, 12, 31))
                 if not any(row.in_force(day) for row in rows)]
    assert uncovered == list(_days(gap.first_day, gap.last_day)) and uncovered
    # Every other NDC of the list has a price in force every day of the plan year.
    others = {row.ndc for row in report.records} - {gap.ndc}
    for ndc in others:
        ndc_rows = [row for row in report.records if row.ndc == ndc]
        for day in _days(date(PLAN_YEAR, 1, 1), date(PLAN_YEAR, 12, 31)):
            assert any(row.in_force(day) for row in ndc_rows), (ndc, day)


def _days(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def test_one_client_misses_a_quarter_of_rebate_invoices(sample):
    export, summary, reports = sample
    client, quarter = summary.missing_rebate
    invoiced = {(r.client_account_id, r.quarter) for rep in _by_kind(reports, REBATE).values() for r in rep.records}
    assert (client, quarter) not in invoiced
    assert any(q.startswith(str(PLAN_YEAR)) for c, q in invoiced if c == client)  # other quarters are there
    domo = {(row["Client Account ID"], row["Quarter"]) for row in _domo(export, REBATE_INVOICES)}
    assert (client, quarter) in domo  # Domo has them: only candidate evidence
    assert invoiced == domo - {(client, quarter)}


def test_one_contract_is_amended_mid_year(sample):
    _export, summary, reports = sample
    original, amendment = reports[summary.amended_packet_id], reports[summary.amendment_packet_id]
    assert amendment.header.supersedes == summary.amended_packet_id
    assert original.header.client_account_ids == amendment.header.client_account_ids
    assert (original.header.period_start, original.header.period_end) == (date(PLAN_YEAR, 1, 1),
                                                                          date(PLAN_YEAR, 12, 31))
    assert (amendment.header.period_start, amendment.header.period_end) == (AMENDMENT_START, date(PLAN_YEAR, 12, 31))
    assert AMENDMENT_START == summary.amendment_start and date(PLAN_YEAR, 1, 1) < AMENDMENT_START
    assert {term.period_start for term in amendment.records} == {AMENDMENT_START}
    before = {(t.channel, t.drug_class): t for t in original.records}
    after = {(t.channel, t.drug_class): t for t in amendment.records}
    assert before.keys() == after.keys()
    changed = {key for key in before if before[key].awp_discount_guarantee != after[key].awp_discount_guarantee}
    assert changed == {("retail", "generic")}
    assert after[("retail", "generic")].awp_discount_guarantee == (
        before[("retail", "generic")].awp_discount_guarantee + Decimal("0.0100"))


# --- consistent with the export ------------------------------------------------------------------
def test_contract_terms_match_domo_contract_terms(sample):
    export, summary, reports = sample
    domo = {(row["Client Account ID"], row["Channel"], row["Brand/Generic"].lower()): row
            for row in _domo(export, CONTRACT_TERMS)}
    prices = {row["MAC List"] for row in _domo(export, MAC_PRICING)}
    for packet_id, report in _by_kind(reports, CONTRACT).items():
        if packet_id == summary.amendment_packet_id:
            continue
        assert len(report.records) == 6
        for term in report.records:
            row = domo[(term.client_account_id, term.channel, term.drug_class)]
            assert term.contract_id == row["Contract ID"]
            assert term.awp_discount_guarantee == Decimal(row["AWP Discount Guarantee"])
            assert term.dispensing_fee_guarantee == Decimal(row["Dispensing Fee Guarantee"])
            assert term.rebate_per_brand_claim == (Decimal(row["Rebate per Brand Claim"])
                                                   if row["Rebate per Brand Claim"] else None)
            assert term.guarantee_basis == row["Guarantee Basis"].replace("-", "_")
            assert ("zero_balance" in term.exclusions) == (row["Excludes Zero Balance"] == "Y")
            assert (term.period_start.isoformat(), term.period_end.isoformat()) == (row["Period Start"],
                                                                                    row["Period End"])
            assert term.price_list in prices


def test_price_rows_are_domo_mac_rows_but_the_gap(sample):
    export, summary, reports = sample
    (report,) = _by_kind(reports, PRICING).values()
    packet = {(r.price_list, r.ndc, r.drug_name, r.mac_unit_price, r.effective_date, r.end_date)
              for r in report.records}
    domo = {(row["MAC List"], row["NDC"], row["Drug Name"], Decimal(row["MAC Unit Price"]),
             date.fromisoformat(row["Effective Date"]),
             date.fromisoformat(row["End Date"]) if row["End Date"] else None) for row in _domo(export, MAC_PRICING)}
    (dropped,) = domo - packet
    assert packet < domo
    gap = summary.pricing_gap
    assert (dropped[1], dropped[4], dropped[5]) == (gap.ndc, gap.first_day, gap.last_day)
    assert {r[1] for r in packet} == {r[1] for r in domo}  # the same NDCs


def test_rebate_invoices_and_accounts_match_domo(sample):
    export, _summary, reports = sample
    domo = {(row["Invoice ID"], row["Client Account ID"], row["Quarter"], row["NDC"], int(row["Brand Claims"]),
             Decimal(row["Rebate Amount"]), row["Invoice Date"]) for row in _domo(export, REBATE_INVOICES)}
    packet = {(r.invoice_id, r.client_account_id, r.quarter, r.ndc, r.brand_claims, r.rebate_amount,
               r.invoice_date.isoformat()) for rep in _by_kind(reports, REBATE).values() for r in rep.records}
    assert packet and packet < domo
    (report,) = _by_kind(reports, SALESFORCE).values()
    accounts = {(a.account_id, a.account_name, a.type, a.domo_group) for a in report.records}
    assert accounts == {(row["Account ID"], row["Account Name"], row["Type"], row["Domo Group"])
                        for row in _domo(export, SALESFORCE_ACCOUNTS)}


# --- the command ---------------------------------------------------------------------------------
def test_command_writes_what_it_says(tmp_path):
    out = io.StringIO()
    call_command("make_sample_evidence", str(tmp_path / "cmd"), "--seed", "11", "--rows", str(ROWS), "--zip",
                 stdout=out)
    text = out.getvalue()
    summary = write_sample_evidence(tmp_path / "api", seed=11, rows=ROWS, zip=True)
    assert text.splitlines()[0].startswith(f"{len(summary.packets)} evidence packets for seed 11 ({ROWS} claims")
    for packet_id, kind, path in summary.packets:
        written = tmp_path / "cmd" / path.name
        assert f"{kind:<10} {packet_id}  {written}" in text
        assert written.read_bytes() == path.read_bytes()
    for gap in summary.gaps():
        assert gap in text
    assert sorted(p.name for p in (tmp_path / "cmd").iterdir()) == sorted(p.name for _, _, p in summary.packets)


def test_too_few_claims_for_the_missing_rebate_quarter_is_an_error_and_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match="give more rows"):
        write_sample_evidence(tmp_path / "few", seed=7, rows=20)
    assert list(tmp_path.iterdir()) == []
