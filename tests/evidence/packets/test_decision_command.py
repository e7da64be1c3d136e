"""`manage.py evidence_decision`: the authority rules answered from the evidence stored now, for packets
received through the real service (verification set in the test, see decision_support)."""
from __future__ import annotations

import pytest
from django.core.management.base import CommandError

from tests.evidence.packets.builders import (
    ACME,
    APIXABAN,
    ATORVASTATIN,
    BLUEWATER,
    SITAGLIPTIN,
    contract_packet,
    pricing_packet,
    rebate_packet,
    salesforce_packet,
)
from tests.evidence.packets.decision_support import (
    YEAR,
    command_json,
    command_text,
    govern,
    receive,
    withdraw,
)

pytestmark = pytest.mark.django_db

RETAIL_BRAND = ["--component", "retail/brand"]


def contract(*extra: str, client: str = ACME) -> dict:
    return command_json("contract_guarantee", "--client", client, "--period", YEAR, *(extra or RETAIL_BRAND))


def test_a_governed_contract_authorizes_the_contract_guarantee(tmp_path, olivia, arthur):
    revision = govern(receive(contract_packet(), tmp_path, olivia), arthur)

    answer = contract()

    assert answer["decision"] == "authorized"
    assert answer["governed_used"] == [{"kind": "contract", "class": "governed", "packet_id": revision.claimed_packet_id,
                                        "revision": 1, "sha256": revision.sha256}]
    assert answer["missing"] == [] and answer["candidates_seen"] == []
    assert answer["question"]["component"] == {"channel": "retail", "drug_class": "brand"}
    assert answer["question"]["period"] == {"start": "2025-01-01", "end": "2025-12-31"}


def test_the_combined_conclusion_needs_every_component_with_claims(tmp_path, olivia, arthur):
    packet = contract_packet()
    packet.rows = [row for row in packet.rows if row[3] != "specialty"]
    packet.fields["records"] = packet.records_entry()
    govern(receive(packet, tmp_path, olivia), arthur)

    covered = contract("--component", "retail/brand", "--component", "mail/generic")
    uncovered = contract("--component", "retail/brand,specialty/brand")

    assert covered["decision"] == "authorized"
    assert [c["channel"] for c in covered["question"]["components"]] == ["mail", "retail"]
    assert uncovered["decision"] == "not_concluded"
    (missing,) = uncovered["missing"]
    assert missing["component"] == {"channel": "specialty", "drug_class": "brand"}
    assert "has no terms row for specialty brand" in missing["reason"]


def test_a_contract_received_but_not_verified_is_only_indicative(tmp_path, olivia):
    revision = receive(contract_packet(), tmp_path, olivia)

    answer = contract()

    assert answer["decision"] == "indicative"
    assert answer["governed_used"] == []
    assert [(s["packet_id"], s["status"], s["class"]) for s in answer["candidates_seen"]] == [
        (revision.claimed_packet_id, "received", "candidate")]
    assert answer["missing"][0]["candidate_exists"] is True


def test_without_any_contract_nothing_is_concluded_and_the_contract_is_named_missing(olivia):
    answer = contract()

    assert answer["decision"] == "not_concluded"
    (missing,) = answer["missing"]
    assert (missing["kind"], missing["client"], missing["period"], missing["candidate_exists"]) == (
        "contract", ACME, {"start": "2025-01-01", "end": "2025-12-31"}, False)
    assert missing["reason"] == "no governed contract packet for the client covers these days"


def test_a_withdrawn_contract_no_longer_authorizes(tmp_path, olivia, arthur):
    revision = withdraw(govern(receive(contract_packet(), tmp_path, olivia), arthur))

    answer = contract()

    assert answer["decision"] != "authorized"
    assert answer["governed_used"] == []
    assert [(s["packet_id"], s["status"]) for s in answer["candidates_seen"]] == [
        (revision.claimed_packet_id, "withdrawn")]


def test_another_clients_governed_contract_never_authorizes(tmp_path, olivia, arthur):
    packet = contract_packet()
    packet.fields["packet_id"] = f"EVP-CONTRACT-{BLUEWATER}-2025"
    packet.fields["client_account_ids"] = [BLUEWATER]
    for row in packet.rows:
        row[1] = BLUEWATER
    govern(receive(packet, tmp_path, olivia), arthur)

    assert contract(client=BLUEWATER)["decision"] == "authorized"
    answer = contract(client=ACME)
    assert answer["decision"] == "not_concluded"
    assert answer["governed_used"] == [] and answer["candidates_seen"] == []


def test_a_later_revision_not_yet_verified_leaves_the_verified_one_in_force(tmp_path, olivia, arthur):
    first = govern(receive(contract_packet(), tmp_path, olivia), arthur)
    packet = contract_packet()
    packet.rows[0][5] = "0.1800"
    second = receive(packet, tmp_path, olivia)

    answer = contract()

    assert second.revision == 2
    assert answer["decision"] == "authorized"
    assert [u["revision"] for u in answer["governed_used"]] == [first.revision]
    assert [(s["revision"], s["status"]) for s in answer["candidates_seen"]] == [(2, "received")]


def test_a_pricing_finding_rests_on_the_contract_and_the_price_row(tmp_path, olivia, arthur):
    terms = govern(receive(contract_packet(), tmp_path, olivia), arthur)
    prices = receive(pricing_packet(), tmp_path, olivia)
    finding = ("pricing_finding", "--client", ACME, "--ndc", ATORVASTATIN, "--fill-date", "2025-08-14",
               "--component", "retail/generic")

    assert command_json(*finding)["decision"] == "indicative"  # the price row is candidate
    govern(prices, arthur)
    answer = command_json(*finding)

    assert answer["decision"] == "authorized"
    assert {u["packet_id"] for u in answer["governed_used"]} == {terms.claimed_packet_id, prices.claimed_packet_id}


def test_a_rebate_claim_needs_the_exact_ndc(tmp_path, olivia, arthur):
    # The Q1 packet's invoices are dated 2025-05-15, after its period: the quarter decides, not the date.
    govern(receive(rebate_packet(), tmp_path, olivia), arthur)

    exact = command_json("rebate_claim", "--client", ACME, "--quarter", "2025Q1", "--ndc", APIXABAN)
    other = command_json("rebate_claim", "--client", ACME, "--quarter", "2025Q1", "--ndc", ATORVASTATIN)
    later = command_json("rebate_claim", "--client", ACME, "--quarter", "2025Q2", "--ndc", SITAGLIPTIN)

    assert exact["decision"] == "authorized"
    assert other["decision"] == "not_concluded" and "matching client, quarter and NDC exactly" in (
        other["missing"][0]["reason"])
    assert later["decision"] == "not_concluded"


def test_client_scope_needs_a_governed_salesforce_account(tmp_path, olivia, arthur):
    revision = receive(salesforce_packet(), tmp_path, olivia)

    assert command_json("client_scope", "--client", BLUEWATER)["decision"] == "not_concluded"  # never indicative
    govern(revision, arthur)
    assert command_json("client_scope", "--client", BLUEWATER)["decision"] == "authorized"


def test_without_json_the_summary_says_the_decision_what_was_used_and_what_is_missing(tmp_path, olivia, arthur):
    packet = contract_packet()
    packet.rows = [row for row in packet.rows if row[3] != "mail"]
    packet.fields["records"] = packet.records_entry()
    govern(receive(packet, tmp_path, olivia), arthur)

    text = command_text("contract_guarantee", "--client", ACME, "--period", YEAR,
                        "--component", "retail/brand", "--component", "mail/brand")

    assert f"contract_guarantee for client {ACME}: NOT_CONCLUDED" in text
    assert f"governed revisions used: 1\n  contract   EVP-CONTRACT-{ACME}-2025 revision 1" in text
    assert "candidates seen: none" in text
    assert "missing: 1\n  contract   2025-01-01 to 2025-12-31, mail/brand: the governed contract" in text


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["contract_gurantee", "--client", ACME], "OUTPUT: 'contract_gurantee' is not one of contract_guarantee"),
        (["contract_guarantee", "--period", YEAR, *RETAIL_BRAND], "--client: contract_guarantee needs it"),
        (["contract_guarantee", "--client", "0015e00000Qm7AcAAK", "--period", YEAR, *RETAIL_BRAND],
         "--client: '0015e00000Qm7AcAAK' does not end in its checksum"),
        (["contract_guarantee", "--client", ACME, *RETAIL_BRAND], "--period: contract_guarantee needs it"),
        (["contract_guarantee", "--client", ACME, "--period", "2025-01-01..2025-12-31", *RETAIL_BRAND],
         "--period: '2025-01-01..2025-12-31' is not START:END"),
        (["contract_guarantee", "--client", ACME, "--period", "2025-12-31:2025-01-01", *RETAIL_BRAND],
         "--period: '2025-12-31:2025-01-01' starts after it ends"),
        (["contract_guarantee", "--client", ACME, "--period", "2025-02-30:2025-12-31", *RETAIL_BRAND],
         "--period: '2025-02-30' is not a real date"),
        (["contract_guarantee", "--client", ACME, "--period", YEAR], "--component: contract_guarantee needs it"),
        (["contract_guarantee", "--client", ACME, "--period", YEAR, "--component", "retail"],
         "--component: 'retail' is not CHANNEL/CLASS"),
        (["contract_guarantee", "--client", ACME, "--period", YEAR, *RETAIL_BRAND, "--ndc", APIXABAN],
         "--ndc: contract_guarantee does not take it"),
        (["pricing_finding", "--client", ACME, "--ndc", "93505601", "--fill-date", "2025-08-14"],
         "--ndc: '93505601' is not 11 digits"),
        (["pricing_finding", "--client", ACME, "--ndc", ATORVASTATIN, "--fill-date", "14/08/2025"],
         "--fill-date: '14/08/2025' is not a date YYYY-MM-DD"),
        (["pricing_finding", "--client", ACME, "--ndc", ATORVASTATIN], "--fill-date: pricing_finding needs it"),
        (["rebate_claim", "--client", ACME, "--quarter", "2025Q5", "--ndc", APIXABAN],
         "--quarter: '2025Q5' is not YYYYQn"),
        (["client_scope", "--client", ACME, "--period", YEAR], "--period: client_scope does not take it"),
    ],
)
def test_bad_arguments_are_refused_naming_the_argument(args, named):
    with pytest.raises(CommandError) as refused:
        command_text(*args, "--json")
    assert named in str(refused.value)
