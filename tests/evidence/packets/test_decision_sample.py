"""The sample evidence (make_sample_evidence, seed 7) received through the real service, the verifiable
packets verified (in the test, see decision_support): the decisions show the takeover's gaps."""
from __future__ import annotations

import pytest

from evidence.models import PacketRevision, RebateInvoiceRow
from evidence.packets.services import packet_receive
from evidence.samples.evidence import write_sample_evidence
from tests.evidence.packets.builders import SUMMIT
from tests.evidence.packets.decision_support import YEAR, command_json, govern

pytestmark = pytest.mark.django_db

ROWS = 600


@pytest.fixture
def sample(tmp_path, olivia, arthur):
    summary = write_sample_evidence(tmp_path / "evidence", seed=7, rows=ROWS)
    for packet_id, _kind, path in summary.packets:
        outcome = packet_receive(actor=olivia, source=path, original_name=path.name)
        assert outcome.status == "accepted", (packet_id, [i.message for i in outcome.revision.issues.all()])
        if packet_id != summary.unverified_packet_id:
            govern(outcome.revision, arthur)
    return summary


def contract(client: str) -> dict:
    return command_json("contract_guarantee", "--client", client, "--period", YEAR,
                        "--component", "retail/brand", "--component", "retail/generic")


def test_summit_has_no_contract_so_nothing_is_concluded_and_the_contract_is_named_missing(sample):
    assert sample.client_without_contract == SUMMIT

    answer = contract(SUMMIT)

    assert answer["decision"] == "not_concluded"
    assert answer["governed_used"] == []
    assert {(m["kind"], m["client"], m["period"]["start"], m["period"]["end"]) for m in answer["missing"]} == {
        ("contract", SUMMIT, "2025-01-01", "2025-12-31")}
    assert {m["reason"] for m in answer["missing"]} == {
        "no governed contract packet for the client covers these days"}


def test_the_unverified_contract_is_only_indicative(sample):
    client = PacketRevision.objects.get(claimed_packet_id=sample.unverified_packet_id).packet.client_account_ids[0]

    answer = contract(client)

    assert answer["decision"] == "indicative"
    assert {s["packet_id"] for s in answer["candidates_seen"]} == {sample.unverified_packet_id}


def test_the_amended_contract_authorizes_with_both_packets_each_on_its_days(sample):
    client = PacketRevision.objects.get(claimed_packet_id=sample.amended_packet_id).packet.client_account_ids[0]

    answer = contract(client)

    assert answer["decision"] == "authorized"
    assert {u["packet_id"] for u in answer["governed_used"]} == {sample.amended_packet_id, sample.amendment_packet_id}


def test_rebates_are_authorized_but_for_the_missing_quarter(sample):
    client, missing_quarter = sample.missing_rebate
    invoice = RebateInvoiceRow.objects.filter(client_account_id=client).order_by("quarter", "ndc").first()

    present = command_json("rebate_claim", "--client", client, "--quarter", invoice.quarter, "--ndc", invoice.ndc)
    absent = command_json("rebate_claim", "--client", client, "--quarter", missing_quarter, "--ndc", invoice.ndc)

    assert present["decision"] == "authorized"
    assert absent["decision"] == "not_concluded"
    assert absent["missing"][0]["reason"] == f"no governed rebate invoice for the client in {missing_quarter} for NDC {invoice.ndc}"


def test_the_pricing_gap_is_not_concluded_on_its_days(sample):
    gap = sample.pricing_gap
    client = PacketRevision.objects.get(claimed_packet_id=sample.amended_packet_id).packet.client_account_ids[0]
    finding = ("pricing_finding", "--client", client, "--ndc", gap.ndc, "--component", "retail/generic")

    inside = command_json(*finding, "--fill-date", gap.first_day.isoformat())

    assert inside["decision"] == "not_concluded"
    assert [m["kind"] for m in inside["missing"]] == ["pricing"]
    assert inside["missing"][0]["price_list"] == gap.price_list
