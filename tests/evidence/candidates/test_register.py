"""candidate_register: a received Domo dataset as candidate evidence of a kind, its columns mapped onto the kind's
record columns; refused whole (every issue located) when the mapping loses a required column, names a Domo
column the dataset does not have, or a value does not parse; unchanged on repeat; audited; never governed."""
from __future__ import annotations

import pytest

from console.models import AuditEvent
from evidence.candidates.models import DomoCandidateRow, DomoCandidateSet
from evidence.candidates.services import (
    REGISTERED,
    UNCHANGED,
    CandidateRefused,
    candidate_register,
    mapping_proposal,
)
from evidence.packets import verification
from tests.evidence.candidates.conftest import (
    ACCOUNTS,
    ACME,
    MAC_PRICING,
    REBATES,
    dataset,
    proposed,
    register,
)

pytestmark = pytest.mark.django_db


def test_the_proposal_matches_columns_by_name_and_by_domo_synonyms(manifest):
    lines = {line.column: line for line in mapping_proposal(dataset(manifest), "contract")}

    assert (lines["client_account_id"].domo_column, lines["client_account_id"].matched_by) == (
        "Client Account ID", "name")
    assert (lines["period_start"].domo_column, lines["awp_discount_guarantee"].domo_column) == (
        "Period Start", "AWP Discount Guarantee")
    assert (lines["drug_class"].domo_column, lines["drug_class"].matched_by) == ("Brand/Generic", "synonym")
    assert lines["drug_class"].required and not lines["price_list"].required
    assert (lines["price_list"].domo_column, lines["exclusions"].domo_column) == ("", "")
    assert proposed(dataset(manifest, MAC_PRICING), "pricing")["price_list"] == "MAC List"
    assert proposed(dataset(manifest, ACCOUNTS), "salesforce")["account_id"] == "Account ID"


def test_every_row_keeps_where_it_came_from(manifest, olivia):
    outcome = register(olivia, manifest)

    candidate_set = outcome.candidate_set
    contract_terms = dataset(manifest)
    assert outcome.status == REGISTERED
    assert (candidate_set.load_id, candidate_set.dataset_domo_id, candidate_set.kind) == (
        manifest.load_id, contract_terms.domo_id, "contract")
    assert candidate_set.rows == contract_terms.silver_rows == 24
    assert len(candidate_set.client_account_ids) == 4
    rows = list(DomoCandidateRow.objects.filter(candidate_set=candidate_set).order_by("row"))
    assert [row.row for row in rows] == list(range(1, 25))
    first = rows[0]
    assert first.values["drug_class"] == "brand" and first.values["channel"] == "retail"  # Domo's "Brand"
    assert first.values["awp_discount_guarantee"].startswith("0.")
    assert first.values["price_list"] == "" and first.values["exclusions"] == ""
    assert first.client_account_id == ACME and str(first.start_date) == "2025-01-01"


def test_every_kind_of_sample_dataset_registers_with_its_proposal(manifest, olivia):
    # The prospect's account (row 5) has no plan year: Salesforce registers with that optional column unmapped.
    with pytest.raises(CandidateRefused, match="row 5, column 'Plan Year Start', field plan_year_start: is blank"):
        register(olivia, manifest, ACCOUNTS, "salesforce")
    for name, kind, changes in ((MAC_PRICING, "pricing", {}), (REBATES, "rebate", {}),
                                (ACCOUNTS, "salesforce", {"plan_year_start": ""})):
        outcome = register(olivia, manifest, name, kind, **changes)
        assert (outcome.status, outcome.candidate_set.rows) == (REGISTERED, dataset(manifest, name).silver_rows)
    pricing = DomoCandidateRow.objects.filter(candidate_set__kind="pricing").first()
    assert pricing.price_list == "LEAF-MAC" and len(pricing.ndc) == 11
    account = DomoCandidateRow.objects.filter(candidate_set__kind="salesforce").first()
    assert len(account.values["last_modified"]) == 10  # Domo's DATETIME as the record's date


def test_a_mapping_that_loses_a_required_column_is_refused_naming_it(manifest, olivia):
    with pytest.raises(CandidateRefused) as refused:
        register(olivia, manifest, period_end="")

    (issue,) = refused.value.issues
    assert issue.field == "period_end" and "required" in issue.message
    assert issue.object.startswith(f"dataset {dataset(manifest).domo_id}")
    assert "period_end" in str(refused.value)
    assert not DomoCandidateSet.objects.exists() and not DomoCandidateRow.objects.exists()


def test_a_domo_column_the_dataset_does_not_have_is_refused(manifest, olivia):
    with pytest.raises(CandidateRefused) as refused:
        register(olivia, manifest, price_list="MAC List")

    (issue,) = refused.value.issues
    assert (issue.field, issue.column) == ("price_list", "MAC List") and "not in the dataset" in issue.message


def test_an_unknown_kind_or_record_column_is_refused(manifest, olivia):
    with pytest.raises(CandidateRefused, match="'invoices' is not an evidence kind"):
        candidate_register(actor=olivia, dataset=dataset(manifest), kind="invoices", mapping={})
    with pytest.raises(CandidateRefused) as refused:
        register(olivia, manifest, price="Channel")
    assert refused.value.issues[0].field == "price" and "not a contract record column" in str(refused.value)


def test_every_bad_value_is_located_and_nothing_is_kept(manifest, olivia):
    with pytest.raises(CandidateRefused) as refused:
        register(olivia, manifest, client_account_id="Client Account", channel="Component")

    issues = refused.value.issues
    first = issues[0]
    assert (first.file, first.row, first.column, first.field) == (
        dataset(manifest).silver_path, 1, "Client Account", "client_account_id")
    assert {(i.field, i.row) for i in issues} == {
        (field, row) for field in ("client_account_id", "channel") for row in range(1, 21)
    } | {("client_account_id", None), ("channel", None)}  # 20 listed per column, the other 4 counted
    assert "and 4 more values" in next(i.message for i in issues if i.row is None)
    assert "'Retail Brand' is not one of retail, mail, specialty" in next(
        i.message for i in issues if i.field == "channel")
    assert not DomoCandidateSet.objects.exists() and not DomoCandidateRow.objects.exists()
    assert not AuditEvent.objects.filter(action="evidence.candidate.registered").exists()


def test_a_dataset_without_silver_data_is_refused(manifest, olivia):
    contract_terms = dataset(manifest)
    contract_terms.silver_path = ""

    with pytest.raises(CandidateRefused, match="no silver data"):
        candidate_register(actor=olivia, dataset=contract_terms, kind="contract",
                           mapping=proposed(contract_terms, "contract"))


def test_the_same_registration_again_is_unchanged(manifest, olivia):
    first = register(olivia, manifest)

    again = register(olivia, manifest)

    assert (again.status, again.candidate_set.pk) == (UNCHANGED, first.candidate_set.pk)
    assert DomoCandidateRow.objects.count() == 24
    assert AuditEvent.objects.filter(action="evidence.candidate.registered").count() == 1
    other = register(olivia, manifest, component="")  # another mapping is another registration
    assert other.status == REGISTERED and DomoCandidateSet.objects.count() == 2


def test_the_registration_is_audited_with_counts_kind_and_mapping(manifest, olivia):
    candidate_set = register(olivia, manifest).candidate_set

    event = AuditEvent.objects.get(action="evidence.candidate.registered")
    assert (event.actor_label, event.object_type, event.object_id) == (
        "olivia", "evidence.domocandidateset", str(candidate_set.pk))
    assert event.before is None
    after = event.after
    assert (after["class"], after["kind"], after["rows"], after["clients"], after["load_id"]) == (
        "candidate", "contract", 24, 4, manifest.load_id)
    assert after["mapping"]["drug_class"] == "Brand/Generic"


def test_a_candidate_set_can_never_be_verified(manifest, olivia, arthur):
    candidate_set = register(olivia, manifest).candidate_set

    with pytest.raises(verification.VerificationRefused, match="candidate evidence from Domo is never governed"):
        verification.packet_verify(actor=arthur, revision=candidate_set, sha256=candidate_set.mapping_sha256,
                                   comment="checked")
    with pytest.raises(verification.VerificationRefused, match="only a packet revision"):
        verification.packet_withdraw(actor=arthur, revision=candidate_set, sha256="", reason="no")
