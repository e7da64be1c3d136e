"""evidence_for: the client's accepted revisions as the authority rules' input (status from class and
withdrawal, typed records, supersession), nothing of another client, in a fixed number of queries."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evidence.packets.authority import RECEIVED, VERIFIED, WITHDRAWN
from evidence.packets.model import (
    CONTRACT,
    PRICING,
    REBATE,
    SALESFORCE,
    ContractTerm,
    PriceRow,
    RebateInvoice,
)
from evidence.packets.selectors import evidence_for, evidence_for_clients
from tests.evidence.packets.builders import (
    ACME,
    BLUEWATER,
    contract_packet,
    pricing_packet,
    rebate_packet,
    salesforce_packet,
)
from tests.evidence.packets.decision_support import govern, receive, withdraw

pytestmark = pytest.mark.django_db

YEAR = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))


def _bluewater_contract():
    packet = contract_packet()
    packet.fields["packet_id"] = f"EVP-CONTRACT-{BLUEWATER}-2025"
    packet.fields["client_account_ids"] = [BLUEWATER]
    for row in packet.rows:
        row[1] = BLUEWATER
    return packet


def test_a_governed_revision_comes_with_its_typed_records(tmp_path, olivia, arthur):
    stored = govern(receive(contract_packet(), tmp_path, olivia), arthur)

    (revision,) = evidence_for(ACME).revisions

    assert (revision.packet_id, revision.revision, revision.sha256, revision.kind, revision.status) == (
        stored.claimed_packet_id, 1, stored.sha256, CONTRACT, VERIFIED)
    assert (revision.client_account_ids, revision.period_start, revision.period_end, revision.supersedes) == (
        (ACME,), *YEAR, None)
    assert len(revision.records) == 6 and all(isinstance(t, ContractTerm) for t in revision.records)
    first = revision.records[0]
    assert (first.channel, first.drug_class, first.awp_discount_guarantee, first.rebate_per_brand_claim) == (
        "retail", "brand", Decimal("0.1750"), Decimal("200.00"))
    assert first.exclusions == ("zero_balance", "usual_and_customary")
    assert isinstance(first.period_start, dt.date) and first.price_list == "LEAF-MAC-2025"


def test_status_is_received_until_verified_and_withdrawn_after_withdrawal(tmp_path, olivia, arthur):
    received = receive(contract_packet(), tmp_path, olivia)
    assert [r.status for r in evidence_for(ACME).revisions] == [RECEIVED]
    govern(received, arthur)
    assert [r.status for r in evidence_for(ACME).revisions] == [VERIFIED]
    withdraw(received)
    assert [r.status for r in evidence_for(ACME).revisions] == [WITHDRAWN]


def test_another_clients_packets_are_not_loaded_but_a_price_list_for_every_client_is(tmp_path, olivia, arthur):
    govern(receive(_bluewater_contract(), tmp_path, olivia), arthur)
    govern(receive(pricing_packet(), tmp_path, olivia), arthur)
    govern(receive(rebate_packet(), tmp_path, olivia), arthur)

    acme = evidence_for(ACME)
    bluewater = evidence_for(BLUEWATER)

    assert sorted(r.kind for r in acme.revisions) == [PRICING, REBATE]
    assert sorted(r.kind for r in bluewater.revisions) == [CONTRACT, PRICING]
    (prices,) = acme.of_kind(PRICING)
    assert all(isinstance(p, PriceRow) for p in prices.records) and len(prices.records) == 4
    assert prices.records[0].mac_unit_price == Decimal("0.0712") and prices.records[3].end_date is None
    (invoices,) = acme.of_kind(REBATE)
    assert {type(i) for i in invoices.records} == {RebateInvoice} and invoices.records[0].brand_claims == 412


def test_a_packet_for_several_clients_brings_only_the_clients_rows(tmp_path, olivia):
    receive(salesforce_packet(), tmp_path, olivia)

    (revision,) = evidence_for(BLUEWATER, kinds=[SALESFORCE]).revisions

    assert [a.account_id for a in revision.records] == [BLUEWATER]


def test_kinds_and_period_bound_what_is_loaded(tmp_path, olivia):
    receive(contract_packet(), tmp_path, olivia)
    receive(rebate_packet(), tmp_path, olivia)

    assert [r.kind for r in evidence_for(ACME, kinds=[REBATE]).revisions] == [REBATE]
    assert evidence_for(ACME, period=(dt.date(2024, 1, 1), dt.date(2024, 12, 31))).revisions == ()
    # A packet that ended before the period stays: it may supersede another from a day before it.
    later = (dt.date(2026, 1, 1), dt.date(2026, 6, 30))
    assert sorted(r.kind for r in evidence_for(ACME, period=later).revisions) == [CONTRACT, REBATE]
    with pytest.raises(ValueError, match="'contracts' is not one of contract"):
        evidence_for(ACME, kinds=["contracts"])


def test_supersedes_and_revision_numbers_are_read(tmp_path, olivia, arthur):
    receive(contract_packet(), tmp_path, olivia)
    changed = contract_packet()
    changed.rows[0][5] = "0.1800"
    receive(changed, tmp_path, olivia)
    amendment = contract_packet()
    amendment.fields.update(packet_id=f"EVP-CONTRACT-{ACME}-2025-A1", supersedes=f"EVP-CONTRACT-{ACME}-2025",
                            period={"start": "2025-07-01", "end": "2025-12-31"})
    for row in amendment.rows:
        row[11] = "2025-07-01"
    receive(amendment, tmp_path, olivia)

    revisions = evidence_for(ACME).revisions

    original = f"EVP-CONTRACT-{ACME}-2025"
    assert [(r.packet_id, r.revision, r.supersedes) for r in revisions] == [
        (original, 1, None), (original, 2, None), (f"{original}-A1", 1, original)]
    assert revisions[1].records[0].awp_discount_guarantee == Decimal("0.18")


def _queries(client: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        evidence_for(client)
    return len(queries)


def test_the_query_count_does_not_grow_with_the_revisions(tmp_path, olivia, arthur):
    for make in (contract_packet, pricing_packet, rebate_packet, salesforce_packet):
        receive(make(), tmp_path, olivia)
    few = _queries(ACME)

    for number in range(2, 7):  # five more revisions of each packet, some governed
        for make in (contract_packet, pricing_packet, rebate_packet, salesforce_packet):
            packet = make()
            packet.fields["source"]["reference"] = f"resend {number}"
            revision = receive(packet, tmp_path, olivia)
            if number % 2:
                govern(revision, arthur)

    assert len(evidence_for(ACME).revisions) == 24
    assert _queries(ACME) == few == 6  # the revisions, then one per kind, then the Domo candidate rows


def test_many_clients_evidence_in_one_read_is_each_clients_own_in_the_same_queries(tmp_path, olivia, arthur):
    govern(receive(_bluewater_contract(), tmp_path, olivia), arthur)
    govern(receive(contract_packet(), tmp_path, olivia), arthur)
    govern(receive(pricing_packet(), tmp_path, olivia), arthur)
    receive(rebate_packet(), tmp_path, olivia)
    receive(salesforce_packet(), tmp_path, olivia)  # one packet for several clients: each gets only its rows
    unknown = "0015e00000ZZZZZAAA"

    with CaptureQueriesContext(connection) as read:
        together = evidence_for_clients([ACME, BLUEWATER, unknown, ACME], period=YEAR)

    assert list(together) == [ACME, BLUEWATER, unknown]
    assert len(read.captured_queries) == 6  # as for one client: the revisions, one per kind, the Domo rows
    for client in (ACME, BLUEWATER, unknown):
        assert together[client] == evidence_for(client, period=YEAR), client
    assert [r.kind for r in together[unknown].revisions] == [PRICING]  # a price list serves every client
    (accounts,) = together[BLUEWATER].of_kind(SALESFORCE)
    assert {a.account_id for a in accounts.records} == {BLUEWATER}
