"""The authority rules (evidence/packets/authority): the spec's authority table row by row, each refused
substitution, withdrawal and revision order, a mid-year amendment, a pricing gap and a partial rebate match.
Plain values in, a decision out: no database, no mocks."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from evidence.packets.authority import (
    AUTHORIZED,
    CONTRACT_GUARANTEE,
    INDICATIVE,
    NOT_CONCLUDED,
    PRICING_FINDING,
    RECEIVED,
    VERIFIED,
    WITHDRAWN,
    Evidence,
    Revision,
    Used,
    decide,
)
from evidence.packets.model import CONTRACT, PRICING, REBATE, SALESFORCE, FileEntry, PacketHeader
from tests.evidence.packets.authority_builders import (
    BRAND_NDC,
    CLIENT,
    MAIL_GENERIC,
    NDC,
    OTHER,
    QUESTIONS,
    RETAIL_BRAND,
    RETAIL_GENERIC,
    YEAR,
    account,
    contract,
    day,
    domo,
    evidence,
    invoice,
    price,
    pricing,
    rebate,
    salesforce,
    term,
)


def ask(name: str, given, **override):
    kwargs, _ = QUESTIONS[name]
    kwargs = {**kwargs, **override}
    return decide(kwargs.pop("output"), client=CLIENT, evidence=given, **kwargs)


def used(revision) -> Used:
    return Used(packet_id=revision.packet_id, revision=revision.revision, sha256=revision.sha256, kind=revision.kind)


# --- the authority table: every output, authorized / indicative / not concluded ------------------------------

TABLE = [
    ("contract, one component", "governed contract", lambda: evidence(contract()), AUTHORIZED),
    ("contract, one component", "candidate terms only (received packet)",
     lambda: evidence(contract(status=RECEIVED)), INDICATIVE),
    ("contract, one component", "candidate terms only (Domo webform)",
     lambda: evidence(domo_rows=[domo(CONTRACT, term(RETAIL_GENERIC))]), INDICATIVE),
    ("contract, one component", "no contract evidence", lambda: evidence(), NOT_CONCLUDED),
    ("contract, combined", "governed contract covering every component with claims",
     lambda: evidence(contract()), AUTHORIZED),
    ("contract, combined", "a component with claims only in candidate terms",
     lambda: evidence(contract([term(RETAIL_BRAND)]), domo_rows=[domo(CONTRACT, term(RETAIL_GENERIC))]), INDICATIVE),
    ("contract, combined", "a component with claims in no terms",
     lambda: evidence(contract([term(RETAIL_BRAND)])), NOT_CONCLUDED),
    ("pricing finding", "governed contract and price row in force", lambda: evidence(contract(), pricing()),
     AUTHORIZED),
    ("pricing finding", "candidate price row only (Domo MAC rows)",
     lambda: evidence(contract(), domo_rows=[domo(PRICING, price())]), INDICATIVE),
    ("pricing finding", "candidate contract and price packet only",
     lambda: evidence(contract(status=RECEIVED), pricing(status=RECEIVED)), INDICATIVE),
    ("pricing finding", "no price row", lambda: evidence(contract()), NOT_CONCLUDED),
    ("rebate claim", "governed invoice matching client, quarter and NDC", lambda: evidence(rebate()), AUTHORIZED),
    ("rebate claim", "candidate invoices only (Domo rebate table)",
     lambda: evidence(domo_rows=[domo(REBATE, invoice())]), INDICATIVE),
    ("rebate claim", "no invoices", lambda: evidence(), NOT_CONCLUDED),
    ("rebate claim", "a partial match (client and quarter, another NDC)",
     lambda: evidence(rebate([invoice(ndc=NDC)])), NOT_CONCLUDED),
    ("client scope", "governed Salesforce account", lambda: evidence(salesforce()), AUTHORIZED),
    ("client scope", "candidate account only (Domo's copy): never indicative",
     lambda: evidence(domo_rows=[domo(SALESFORCE, account())]), NOT_CONCLUDED),
    ("client scope", "candidate account only (packet not verified): never indicative",
     lambda: evidence(salesforce(status=RECEIVED)), NOT_CONCLUDED),
    ("client scope", "no account", lambda: evidence(), NOT_CONCLUDED),
]


@pytest.mark.parametrize(("question", "given", "expected"), [(q, g, e) for q, _, g, e in TABLE],
                         ids=[f"{q}: {what}" for q, what, _, _ in TABLE])
def test_authority_table(question, given, expected):
    decision = ask(question, given())

    assert decision.decision == expected, decision.as_json()
    if expected == AUTHORIZED:
        assert decision.governed_used and not decision.missing
    elif expected == INDICATIVE:
        assert decision.candidates_seen and all(m.candidate_exists for m in decision.missing)
    else:
        assert decision.missing and all(m.reason for m in decision.missing)


def test_candidates_are_shown_beside_an_authorized_output_with_their_provenance():
    governed = contract()
    decision = ask("contract, one component", evidence(governed, contract(number=2, status=RECEIVED),
                                                       domo_rows=[domo(CONTRACT, term(RETAIL_GENERIC), row=41)]))

    assert decision.decision == AUTHORIZED
    assert decision.governed_used == (used(governed),)
    seen = decision.to_dict()["candidates_seen"]
    assert [(s["source"], s["status"], s["revision"], s["load_id"], s["dataset_id"], s["row"]) for s in seen] == [
        ("domo", None, None, "LOAD-7", "ds-contract", 41),
        ("packet", "received", 2, None, None, None),
    ]


# --- no substitution ------------------------------------------------------------------------------------------

def test_a_candidate_row_does_not_fill_a_component_the_governed_contract_lacks():
    decision = ask("contract, one component", evidence(contract([term(RETAIL_BRAND)]),
                                                       domo_rows=[domo(CONTRACT, term(RETAIL_GENERIC))]))

    assert decision.decision == INDICATIVE
    (missing,) = decision.missing
    assert (missing.kind, missing.component, missing.start, missing.end) == (CONTRACT, RETAIL_GENERIC, *YEAR)
    assert "has no terms row for retail generic" in missing.reason


def test_an_earlier_periods_contract_is_not_used():
    decision = ask("contract, one component", evidence(contract(start="2024-01-01", end="2024-12-31",
                                                                terms=[term(RETAIL_GENERIC, start="2024-01-01",
                                                                            end="2024-12-31")])))

    assert decision.decision == NOT_CONCLUDED
    assert decision.governed_used == ()
    assert decision.missing[0].reason.startswith("no governed contract packet for the client covers these days")


def test_another_clients_packet_is_not_used():
    others = contract(clients=(OTHER,), terms=[term(RETAIL_GENERIC, client=OTHER)])

    decision = ask("contract, one component", evidence(others))

    assert decision.decision == NOT_CONCLUDED
    assert decision.governed_used == () and decision.candidates_seen == ()


def test_a_packet_naming_the_client_but_holding_only_another_clients_rows_is_not_used():
    shared = contract(clients=(CLIENT, OTHER), terms=[term(RETAIL_GENERIC, client=OTHER)])

    decision = ask("contract, one component", evidence(shared))

    assert decision.decision == NOT_CONCLUDED
    assert "has no terms row for retail generic" in decision.missing[0].reason


def test_another_components_rate_is_no_default_for_a_component_without_terms():
    decision = ask("contract, combined", evidence(contract()), components=[RETAIL_BRAND, RETAIL_GENERIC, MAIL_GENERIC])

    assert decision.decision == NOT_CONCLUDED
    assert [m.component for m in decision.missing] == [MAIL_GENERIC]


def test_another_clients_rebate_invoice_is_not_used():
    decision = ask("rebate claim", evidence(rebate([invoice(client=OTHER)], clients=(CLIENT, OTHER))))

    assert decision.decision == NOT_CONCLUDED
    assert decision.missing[0].reason.startswith("no governed rebate invoice for the client in 2025Q2")


def test_another_clients_contract_does_not_name_the_price_list():
    decision = ask("pricing finding", evidence(contract(clients=(OTHER,), terms=[term(RETAIL_GENERIC, client=OTHER)]),
                                               pricing()))

    assert decision.decision == NOT_CONCLUDED
    assert [m.kind for m in decision.missing] == [CONTRACT]
    assert decision.missing[0].reason.endswith("so the claim's price list is not known")


def test_channel_and_drug_class_compare_case_insensitively():
    shouting = dataclasses.replace(term(RETAIL_GENERIC), channel="Retail", drug_class="GENERIC")

    assert ask("contract, one component", evidence(contract([shouting])),
               component=("RETAIL", "Generic")).decision == AUTHORIZED


def test_a_blank_guarantee_is_the_contracts_answer_not_a_gap():
    blank = contract([term(RETAIL_GENERIC, awp="", fee="", rebate="")])

    assert ask("contract, one component", evidence(blank)).decision == AUTHORIZED


# --- revision order and withdrawal ----------------------------------------------------------------------------

def test_a_withdrawn_revision_is_candidate_and_authorizes_nothing():
    withdrawn = contract(status=WITHDRAWN)

    decision = ask("contract, one component", evidence(withdrawn))

    assert decision.decision == INDICATIVE
    assert decision.governed_used == ()
    assert [(s.packet_id, s.status) for s in decision.candidates_seen] == [(withdrawn.packet_id, WITHDRAWN)]


def test_the_latest_verified_revision_is_the_packet():
    first = contract()
    second = contract(number=2, terms=[term(RETAIL_BRAND)])  # the correction dropped retail generic

    decision = ask("contract, one component", evidence(first, second))

    assert decision.decision == NOT_CONCLUDED
    assert "EVP-CONTRACT-2025 (revision 2) has no terms row for retail generic" in decision.missing[0].reason


def test_a_later_revision_not_yet_verified_leaves_the_verified_one_in_force():
    first = contract()
    second = contract(number=2, status=RECEIVED, terms=[term(RETAIL_BRAND)])

    decision = ask("contract, one component", evidence(first, second))

    assert decision.decision == AUTHORIZED
    assert decision.governed_used == (used(first),)


def test_withdrawing_the_latest_revision_hands_the_packet_back_to_the_verified_one_before():
    first = contract()
    second = contract(number=2, status=WITHDRAWN, terms=[term(RETAIL_BRAND)])

    assert ask("contract, one component", evidence(first, second)).governed_used == (used(first),)


# --- supersession: an amendment taking over mid-year ----------------------------------------------------------

def amendment(terms=None, **kwargs):
    kwargs = {"packet_id": "EVP-CONTRACT-2025-AMD1", "start": "2025-07-01", "end": "2025-12-31",
              "supersedes": "EVP-CONTRACT-2025", **kwargs}
    rows = terms if terms is not None else [term(c, start="2025-07-01", fee="1.10") for c in (RETAIL_BRAND,
                                                                                               RETAIL_GENERIC)]
    return contract(rows, **kwargs)


def test_an_amendment_takes_over_mid_year_and_both_govern_their_days():
    original, amended = contract(), amendment()

    decision = ask("contract, combined", evidence(original, amended))

    assert decision.decision == AUTHORIZED
    assert decision.governed_used == tuple(sorted([used(original), used(amended)]))


def test_the_superseded_contract_does_not_fill_what_the_amendment_lacks():
    amended = amendment([term(RETAIL_BRAND, start="2025-07-01")])

    decision = ask("contract, one component", evidence(contract(), amended))

    assert decision.decision == NOT_CONCLUDED
    (missing,) = decision.missing
    assert (missing.start, missing.end) == (day("2025-07-01"), day("2025-12-31"))


def test_days_after_an_amendment_that_ends_early_are_missing():
    amended = amendment(end="2025-09-30", terms=[term(c, start="2025-07-01", end="2025-09-30")
                                                 for c in (RETAIL_BRAND, RETAIL_GENERIC)])

    decision = ask("contract, one component", evidence(contract(), amended))

    assert decision.decision == NOT_CONCLUDED
    (missing,) = decision.missing
    assert (missing.start, missing.end) == (day("2025-10-01"), day("2025-12-31"))
    assert "EVP-CONTRACT-2025 (superseded from 2025-07-01) no longer governs it" in missing.reason


@pytest.mark.parametrize("status", [RECEIVED, WITHDRAWN])
def test_an_amendment_not_verified_or_withdrawn_does_not_take_over(status):
    decision = ask("contract, one component", evidence(contract(), amendment(status=status)))

    assert decision.decision == AUTHORIZED
    assert [s.packet_id for s in decision.candidates_seen] == ["EVP-CONTRACT-2025-AMD1"]


def test_two_governed_contracts_for_the_same_days_without_supersession_conflict():
    decision = ask("contract, one component", evidence(contract(), amendment(supersedes=None)))

    assert decision.decision == NOT_CONCLUDED
    (missing,) = decision.missing
    assert (missing.start, missing.end) == (day("2025-07-01"), day("2025-12-31"))
    assert "neither supersedes the other" in missing.reason


def test_a_period_is_covered_by_two_consecutive_contracts():
    first_half = contract(end="2025-06-30", terms=[term(RETAIL_GENERIC, end="2025-06-30")])
    second_half = contract(packet_id="EVP-CONTRACT-2025-H2", start="2025-07-01",
                           terms=[term(RETAIL_GENERIC, start="2025-07-01")])

    assert ask("contract, one component", evidence(first_half, second_half)).decision == AUTHORIZED
    assert ask("contract, one component", evidence(first_half)).missing[0].start == day("2025-07-01")


# --- pricing: the contract's price list, and a price row in force on the fill date ----------------------------

GAP = [price(effective="2025-01-01", end="2025-03-31", mac="0.1234"), price(effective="2025-05-01", mac="0.1190")]


@pytest.mark.parametrize(("fill_date", "expected"), [
    ("2025-03-31", AUTHORIZED),  # the end date is in force
    ("2025-04-01", NOT_CONCLUDED),
    ("2025-04-30", NOT_CONCLUDED),
    ("2025-05-01", AUTHORIZED),
])
def test_a_gap_between_two_price_rows_is_missing(fill_date, expected):
    decision = ask("pricing finding", evidence(contract(), pricing(GAP)), fill_date=day(fill_date))

    assert decision.decision == expected


def test_the_pricing_gap_says_which_rows_surround_it():
    decision = ask("pricing finding", evidence(contract(), pricing(GAP)), fill_date=day("2025-04-15"))

    (missing,) = decision.missing
    assert (missing.kind, missing.price_list, missing.ndc, missing.start) == (PRICING, "MAC-A", NDC, day("2025-04-15"))
    assert missing.reason == (
        "no governed price row for NDC 00093015001 on price list MAC-A is in force on 2025-04-15: the row effective "
        "2025-01-01 ends 2025-03-31 and the next is effective from 2025-05-01"
    )


def test_a_price_row_on_another_price_list_is_not_used():
    decision = ask("pricing finding", evidence(contract(), pricing([price(price_list="MAC-B")])))

    assert decision.decision == NOT_CONCLUDED
    assert decision.missing[0].price_list == "MAC-A"


def test_the_claims_component_picks_the_price_list_when_the_terms_name_several():
    terms = [term(RETAIL_GENERIC, price_list="MAC-A"), term(MAIL_GENERIC, price_list="MAC-MAIL")]
    given = evidence(contract(terms), pricing([price(price_list="MAC-MAIL")]))

    unsure = ask("pricing finding", given)
    mail = ask("pricing finding", given, component=MAIL_GENERIC)
    retail = ask("pricing finding", given, component=RETAIL_GENERIC)

    assert unsure.decision == NOT_CONCLUDED and "name several price lists" in unsure.missing[0].reason
    assert mail.decision == AUTHORIZED
    assert retail.decision == NOT_CONCLUDED and retail.missing[0].price_list == "MAC-A"


def test_without_a_governed_contract_a_governed_price_row_is_only_indicative():
    decision = ask("pricing finding", evidence(contract(status=RECEIVED), pricing()))

    assert decision.decision == INDICATIVE
    assert [m.kind for m in decision.missing] == [CONTRACT]


def test_governed_price_rows_that_disagree_conflict():
    decision = ask("pricing finding", evidence(contract(), pricing(), pricing([price(mac="0.2000")],
                                                                            packet_id="EVP-PRICING-2025-B")))

    assert decision.decision == NOT_CONCLUDED
    assert "disagree" in decision.missing[0].reason


def test_a_superseding_price_file_replaces_the_old_one_from_its_start():
    old = pricing([price(mac="0.1234")])
    new = pricing([price(effective="2025-06-01", mac="0.1100")], packet_id="EVP-PRICING-2025-06", start="2025-06-01",
                  supersedes="EVP-PRICING-2025")
    given = evidence(contract(), old, new)

    assert ask("pricing finding", given, fill_date=day("2025-05-31")).governed_used == tuple(
        sorted([used(contract()), used(old)]))
    assert ask("pricing finding", given, fill_date=day("2025-06-01")).governed_used == tuple(
        sorted([used(contract()), used(new)]))


# --- rebate: client, quarter and NDC exactly ------------------------------------------------------------------

def test_a_rebate_match_on_client_and_quarter_but_not_ndc_is_not_concluded():
    decision = ask("rebate claim", evidence(rebate([invoice(ndc="00169413212")])))

    assert decision.decision == NOT_CONCLUDED
    (missing,) = decision.missing
    assert (missing.kind, missing.quarter, missing.ndc) == (REBATE, "2025Q2", BRAND_NDC)
    assert missing.reason == (
        "governed invoices for the client in 2025Q2 (EVP-REBATE-2025 (revision 1)) hold no invoice for NDC "
        "00006027731: a rebate is concluded only from invoices matching client, quarter and NDC exactly"
    )


def test_an_invoice_for_another_quarter_is_not_used():
    assert ask("rebate claim", evidence(rebate([invoice(quarter="2025Q1")]))).decision == NOT_CONCLUDED


def test_the_same_invoice_in_two_governed_packets_is_a_conflict_not_a_double_count():
    decision = ask("rebate claim", evidence(rebate(), rebate(packet_id="EVP-REBATE-2025-RESENT")))

    assert decision.decision == NOT_CONCLUDED
    assert "INV-25Q2-001" in decision.missing[0].reason


# --- the answer as JSON, and questions that are incomplete ----------------------------------------------------

def test_the_decision_prints_as_json_with_a_stable_shape():
    decision = ask("rebate claim", evidence(rebate([invoice(ndc=NDC)]), domo_rows=[domo(REBATE, invoice())]))

    printed = json.loads(decision.as_json())

    assert list(printed) == ["output", "decision", "question", "governed_used", "candidates_seen", "missing"]
    assert printed["decision"] == INDICATIVE
    assert list(printed["missing"][0]) == ["kind", "client", "period", "date", "component", "ndc", "quarter",
                                           "price_list", "candidate_exists", "reason"]
    assert decision.as_json() == ask("rebate claim", evidence(rebate([invoice(ndc=NDC)]),
                                                              domo_rows=[domo(REBATE, invoice())])).as_json()


@pytest.mark.parametrize(("output", "kwargs", "message"), [
    (CONTRACT_GUARANTEE, {"component": RETAIL_BRAND}, "needs the reporting period"),
    (CONTRACT_GUARANTEE, {"period": YEAR}, "needs a component"),
    (CONTRACT_GUARANTEE, {"period": (YEAR[1], YEAR[0]), "component": RETAIL_BRAND}, "starts after it ends"),
    (CONTRACT_GUARANTEE, {"period": YEAR, "component": ("retail", "biosimilar")}, "is not a channel"),
    (PRICING_FINDING, {"ndc": NDC}, "needs the claim's fill date"),
    (PRICING_FINDING, {"ndc": "0093-0150-01", "fill_date": YEAR[0]}, "is not 11 digits"),
    ("savings", {}, "is not one of"),
])
def test_an_incomplete_question_is_refused(output, kwargs, message):
    with pytest.raises(ValueError, match=message):
        decide(output, client=CLIENT, evidence=evidence(), **kwargs)


# --- client scope ---------------------------------------------------------------------------------------------

def test_a_superseded_salesforce_packet_no_longer_scopes_the_client():
    old = salesforce()
    new = salesforce([account(client=OTHER)], packet_id="EVP-SALESFORCE-2026-12", clients=(CLIENT, OTHER),
                     start="2026-12-01", end="2026-12-31", supersedes=old.packet_id)

    decision = ask("client scope", evidence(old, new))

    assert decision.decision == NOT_CONCLUDED
    assert decision.missing[0].reason == (
        "no governed Salesforce account row for the client's account id "
        "(EVP-SALESFORCE-2026 (revision 1) held one but is superseded)"
    )


# --- the inputs -----------------------------------------------------------------------------------------------

def test_a_revision_is_built_from_its_packet_header():
    header = PacketHeader(
        packet_id="EVP-CONTRACT-0015e00000Qm7AcAAJ-2025", kind=CONTRACT, source_system="contract-repository",
        source_reference="CLM-2024-0113", received_at=dt.datetime(2026, 11, 18, 14, 2, tzinfo=dt.UTC),
        client_account_ids=(CLIENT,), period_start=YEAR[0], period_end=YEAR[1],
        records=FileEntry(path="terms.csv", sha256="0" * 64, rows=1), documents=(),
        keyed_by="ana.ferreira@leafhealth.com", supersedes=None,
    )

    built = Revision.from_header(header, revision=1, sha256="a" * 64, status=VERIFIED, records=(term(RETAIL_GENERIC),))

    assert ask("contract, one component", evidence(built)).governed_used == (used(built),)


def test_records_of_another_kind_are_refused():
    with pytest.raises(ValueError, match="a contract record must be a ContractTerm, not PriceRow"):
        contract([price()])


def test_one_revision_given_twice_with_two_hashes_is_refused():
    first = contract()
    with pytest.raises(ValueError, match="given twice, with two hashes"):
        Evidence(revisions=(first, dataclasses.replace(first, sha256="b" * 64)))
