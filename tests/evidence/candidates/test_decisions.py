"""evidence_for gives the authority rules the registered Domo rows (the client's terms, invoices and accounts;
every price row), with their provenance; with only Domo rows a decision is indicative (client scope: not
concluded), never authorized, and its JSON names the load id, dataset id and row of each candidate seen."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evidence.packets.authority import (
    AUTHORIZED,
    CLIENT_SCOPE,
    CONTRACT_GUARANTEE,
    INDICATIVE,
    NOT_CONCLUDED,
    REBATE_CLAIM,
    decide,
)
from evidence.packets.selectors import evidence_for
from tests.evidence.candidates.conftest import ACCOUNTS, ACME, MAC_PRICING, REBATES, SUMMIT, dataset, register

pytestmark = pytest.mark.django_db

YEAR = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))


def test_evidence_for_gives_the_clients_domo_rows_with_their_provenance(manifest, olivia):
    register(olivia, manifest)

    rows = evidence_for(SUMMIT).domo_rows

    assert len(rows) == 6 and {row.kind for row in rows} == {"contract"}
    assert {row.record.client_account_id for row in rows} == {SUMMIT}
    assert {(row.load_id, row.dataset_id) for row in rows} == {(manifest.load_id, dataset(manifest).domo_id)}
    assert sorted(row.row for row in rows) == list(range(19, 25))  # Summit's rows are the last six
    assert evidence_for(SUMMIT, kinds=["rebate"]).domo_rows == ()


def test_every_price_row_is_given_to_every_client_in_one_query(manifest, olivia):
    register(olivia, manifest, MAC_PRICING, "pricing")
    prices = dataset(manifest, MAC_PRICING).silver_rows

    with CaptureQueriesContext(connection) as queries:
        evidence = evidence_for(ACME, kinds=["pricing"])

    assert len(evidence.domo_rows) == prices
    assert len(queries) == 2  # the revisions, and the Domo rows (no pricing revision: no records query)


def test_a_contract_conclusion_from_domo_rows_only_is_indicative_naming_them(manifest, olivia):
    register(olivia, manifest)

    decision = decide(CONTRACT_GUARANTEE, client=SUMMIT, period=YEAR, component=("retail", "brand"),
                      evidence=evidence_for(SUMMIT, period=YEAR))

    assert decision.decision == INDICATIVE and not decision.governed_used
    (seen,) = json.loads(decision.as_json())["candidates_seen"]
    assert (seen["class"], seen["source"], seen["load_id"], seen["dataset_id"], seen["row"]) == (
        "candidate", "domo", manifest.load_id, dataset(manifest).domo_id, 19)
    assert decision.missing[0].candidate_exists


def test_rebate_and_client_scope_from_domo_rows_only_are_never_authorized(manifest, olivia):
    register(olivia, manifest, REBATES, "rebate")
    register(olivia, manifest, ACCOUNTS, "salesforce", plan_year_start="")
    invoice = next(row for row in evidence_for(ACME).domo_rows if row.kind == "rebate").record

    rebate = decide(REBATE_CLAIM, client=ACME, quarter=invoice.quarter, ndc=invoice.ndc, evidence=evidence_for(ACME))
    scope = decide(CLIENT_SCOPE, client=ACME, evidence=evidence_for(ACME))

    assert rebate.decision == INDICATIVE and rebate.candidates_seen[0].source == "domo"
    assert scope.decision == NOT_CONCLUDED and scope.candidates_seen[0].source == "domo"  # Domo decides no access
    assert AUTHORIZED not in {rebate.decision, scope.decision}
