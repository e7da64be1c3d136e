"""Golden reconciliation over the sample, through the real services: mappings versioned and audited, variances
explained by their planted flaws, adjudications remembered by fingerprint (and reopened when a value changes),
four eyes, retirement, a new run re-reconciling the mapped cards, tampered golden rows refused."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Group

from console import roles
from console.models import AuditEvent
from deliverables.choices import CardState, RunState, Trigger, Verdict
from deliverables.models import CardMapping, CardRetirement, Reconciliation, ReconciliationItem
from deliverables.reconciliation import selectors, services, sources
from deliverables.runs import services as runs
from tests.conftest import make_persona
from tests.deliverables.reconciliation.conftest import (
    BRAND_REBATE,
    EFFECTIVE,
    REBATE_PER_CLAIM,
    reconcile,
)
from tests.deliverables.runs.conftest import execute

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "curated"])


def _item(recon: Reconciliation, label: str, measure: str) -> ReconciliationItem:
    return recon.items.get(key_label=label, measure=measure)


def _status(recon: Reconciliation, label: str, measure: str) -> selectors.ItemStatus:
    return next(s for s in selectors.item_statuses(recon) if s.item.key_label == label and s.item.measure == measure)


def _accept_all_open(recon: Reconciliation, approver, comment: str) -> int:
    opened = [s.item for s in selectors.item_statuses(recon) if s.is_open]
    for item in opened:
        services.adjudicate(actor=approver, item=item, verdict=Verdict.ACCEPTED, comment=comment)
    return len(opened)


# --- mappings ------------------------------------------------------------------------------------------------
def test_the_proposal_matches_golden_columns_to_an_output_by_names_with_the_recorded_flaws(mapped):
    proposal = services.mapping_proposal("card", mapped.subject(REBATE_PER_CLAIM).id)
    assert proposal["output"] == "rebate_guarantee_lines"
    assert [(k["golden"], k["backend"]) for k in proposal["keys"]] == [("Client Account", "client_name"),
                                                                       ("Quarter", "quarter")]
    measures = {m["golden"]: m["backend"] for m in proposal["measures"]}
    assert measures["Rebate Amount"] == "rebates_received"

    brand = services.mapping_proposal("card", mapped.subject(BRAND_REBATE).id)
    flaws = {m["golden"]: [f["code"] for f in m["flaws"]] for m in brand["measures"]}
    assert flaws["Est. Brand Rebates"] == ["HARDCODED_ASSUMPTION"]
    assert flaws["Guaranteed Discount (17%)"] == ["HARDCODED_ASSUMPTION"]


def test_a_mapping_change_is_a_new_version_audited_with_before_and_after_and_the_same_one_is_unchanged(mapped, olivia):
    subject = mapped.subject(REBATE_PER_CLAIM)
    first = services.current_mapping("card", subject.id)
    assert first.version == 1 and first.source == "shipped" and first.created_by == olivia

    same, created = services.mapping_save(actor=olivia, kind="card", subject_id=subject.id, output=first.output,
                                          keys=first.keys, measures=first.measures, note=first.note)
    assert (same.pk, created) == (first.pk, False)

    measures = [{**m, "abs_tolerance": "0.05"} if m["golden"] == "Rebate Amount" else m for m in first.measures]
    second, created = services.mapping_save(actor=olivia, kind="card", subject_id=subject.id, output=first.output,
                                            keys=first.keys, measures=measures, note="five cents: invoice rounding")
    assert created and second.version == 2
    first.refresh_from_db()
    assert first.measures[0]["abs_tolerance"] == "0.01"  # the earlier version is never changed
    event = AuditEvent.objects.filter(action="deliverables.mapping.saved", object_id=f"card:{subject.id}").last()
    assert event.actor == olivia
    assert event.before["version"] == 1 and event.after["version"] == 2
    assert event.after["measures"][0]["abs_tolerance"] == "0.05"


def test_a_mapping_naming_a_column_the_golden_rows_lack_is_refused_naming_it_and_nothing_is_stored(mapped, olivia):
    subject = mapped.subject(REBATE_PER_CLAIM)
    before = CardMapping.objects.count()
    with pytest.raises(services.Refused, match=r"key 1 \(Client Name\): golden column 'Client Name' is not in"):
        services.mapping_save(actor=olivia, kind="card", subject_id=subject.id, output="rebate_guarantee_lines",
                              keys=[{"golden": "Client Name", "backend": "client_name"}],
                              measures=[{"golden": "Rebate Amount", "backend": "rebates_received"}])
    with pytest.raises(services.Refused, match=r"measure 1 \(Rebate Amount\): absolute tolerance: '-1' must be zero"):
        services.mapping_save(actor=olivia, kind="card", subject_id=subject.id, output="rebate_guarantee_lines",
                              keys=[{"golden": "Client Account", "backend": "client_name"}],
                              measures=[{"golden": "Rebate Amount", "backend": "rebates_received",
                                         "abs_tolerance": "-1"}])
    assert CardMapping.objects.count() == before
    assert AuditEvent.objects.filter(action="deliverables.mapping.refused").count() == 2


@pytest.mark.parametrize(("typed", "said"), [
    ("1E+30", "has more than 30 digits"),  # the API's limit: never expanded into a 31-digit tolerance
    ("1E+100000", "has more than 30 digits"),
    ("0.0000000000000000001", "has more than 18 decimal places"),
    ("Infinity", "must be zero or more"),
])
def test_a_tolerance_past_the_apis_limits_is_refused_naming_the_measure_and_nothing_is_stored(
        mapped, olivia, typed, said):
    subject = mapped.subject(REBATE_PER_CLAIM)
    before = list(CardMapping.objects.values_list("pk", "version"))
    with pytest.raises(services.Refused, match=rf"measure 1 \(Rebate Amount\): absolute tolerance: '{re.escape(typed)}' {said}"):
        services.mapping_save(actor=olivia, kind="card", subject_id=subject.id, output="rebate_guarantee_lines",
                              keys=[{"golden": "Client Account", "backend": "client_name"}],
                              measures=[{"golden": "Rebate Amount", "backend": "rebates_received",
                                         "abs_tolerance": typed}])
    assert list(CardMapping.objects.values_list("pk", "version")) == before


def test_a_tolerance_at_the_limits_is_kept_as_plain_decimal_text_and_minus_zero_is_zero(mapped, olivia):
    subject = mapped.subject(REBATE_PER_CLAIM)
    services.mapping_save(actor=olivia, kind="card", subject_id=subject.id, output="rebate_guarantee_lines",
                          keys=[{"golden": "Client Account", "backend": "client_name"}],
                          measures=[{"golden": "Rebate Amount", "backend": "rebates_received",
                                     "abs_tolerance": "1E+2", "rel_tolerance": "-0"}])
    saved = services.current_mapping("card", subject.id).measures[0]
    assert (saved["abs_tolerance"], saved["rel_tolerance"]) == ("100", "0")


def test_a_reviewer_cannot_map_a_card(mapped, cecilia):
    subject = mapped.subject(REBATE_PER_CLAIM)
    with pytest.raises(services.Forbidden, match="build_deliverable"):
        services.mapping_save(actor=cecilia, kind="card", subject_id=subject.id, output="rebate_guarantee_lines",
                              keys=[{"golden": "Client Account", "backend": "client_name"}],
                              measures=[{"golden": "Rebate Amount", "backend": "rebates_received"}])


# --- the reconciliation --------------------------------------------------------------------------------------
def test_a_reconciliation_records_its_inputs_and_explains_the_planted_flaws(mapped, olivia):
    subject = mapped.subject(BRAND_REBATE)
    recon = reconcile(olivia, subject)
    assert recon.run == mapped.run and recon.mapping.version == 1
    assert recon.golden["source"] == "golden.csv" and len(recon.golden["sha256"]) == 64
    assert recon.artifact_path == f"reconciliations/{recon.artifact_sha256}.parquet"
    assert recon.worker_pid and recon.attempts == 1 and len(recon.trace_id) == 32

    rebates = _item(recon, "ACME Manufacturing", "Est. Brand Rebates")
    assert rebates.item_class == "variance"
    assert rebates.explanation["code"] == "HARDCODED_ASSUMPTION"
    assert "* 200" in rebates.explanation["formula"]
    assert "Est. Brand Rebates" in rebates.explanation["how"]
    discount = _item(recon, "ACME Manufacturing", "Guaranteed Discount (17%)")
    assert discount.explanation["code"] == "HARDCODED_ASSUMPTION" and "0.17" in discount.explanation["formula"]
    # the difference is exact: backend - golden
    from decimal import Decimal
    assert Decimal(discount.difference) == Decimal(discount.backend_value) - Decimal(discount.golden_value)
    assert _status(recon, "ACME Manufacturing", "Est. Brand Rebates").status == "explained"


def test_a_variance_no_recorded_flaw_accounts_for_stays_open(mapped, olivia):
    recon = reconcile(olivia, mapped.subject(REBATE_PER_CLAIM))
    item = _item(recon, "Bluewater County Schools / 2025Q3", "Rebate Amount")
    assert item.item_class == "variance" and item.explanation is None
    assert item.backend_value == "0.00" and item.golden_value != "0.00"  # the governed evidence has no invoices
    assert _status(recon, "Bluewater County Schools / 2025Q3", "Rebate Amount").status == "open"
    assert selectors.card_state("card", recon.subject_id).state == CardState.OPEN


def test_a_changed_golden_file_is_refused_and_the_reconciliation_fails_saying_so(mapped, olivia):
    from console.lake import get_lake

    subject = mapped.subject(REBATE_PER_CLAIM)
    golden = sources.golden("card", subject.id)
    path = get_lake().root / golden.path
    path.chmod(0o644)
    path.write_bytes(path.read_bytes().replace(b"2025Q1", b"2025Q9", 1))
    queued = services.reconciliation_start(actor=olivia, kind="card", subject_id=subject.id, enqueue=False)
    done = services.reconciliation_execute(reconciliation_id=queued.pk)
    assert done.state == RunState.FAILED
    assert "the file changed after it was received" in done.error and golden.path in done.error
    assert not done.items.exists()


# --- adjudication --------------------------------------------------------------------------------------------
def test_an_adjudication_is_carried_to_the_next_reconciliation_and_the_card_becomes_reconciled(mapped, olivia, arthur):
    subject = mapped.subject(REBATE_PER_CLAIM)
    first = reconcile(olivia, subject)
    assert _accept_all_open(first, arthur, "Domo shows invoices the governed rebate packet does not hold") > 0
    assert selectors.card_state("card", subject.id).state == CardState.RECONCILED
    event = AuditEvent.objects.filter(action="deliverables.adjudication.recorded").last()
    assert event.actor == arthur and event.after["verdict"] == "accepted" and event.before is None

    second = reconcile(olivia, subject)
    status = _status(second, "Bluewater County Schools / 2025Q3", "Rebate Amount")
    assert status.status == "accepted" and status.adjudication.decided_by == arthur
    assert status.adjudication.reconciliation == first
    assert selectors.card_state("card", subject.id).state == CardState.RECONCILED


def test_an_adjudication_comes_back_as_new_when_a_value_changes_showing_the_earlier_one(mapped, olivia, arthur):
    subject = mapped.subject(EFFECTIVE)
    first = reconcile(olivia, subject)
    item = _item(first, "ACME Manufacturing", "Effective Discount Rate")
    assert item.item_class == "variance"
    services.adjudicate(actor=arthur, item=item, verdict=Verdict.INVESTIGATING, comment="zero-balance exclusion?")
    assert _status(first, "ACME Manufacturing", "Effective Discount Rate").status == "investigating"

    # A later run over the first half of the year: the backend's rate for ACME is another value.
    half = execute(runs.run_start(actor=olivia, period_start=dt.date(2025, 1, 1), period_end=dt.date(2025, 6, 30),
                                  enqueue=False))
    second = Reconciliation.objects.get(run=half, subject_id=subject.id)  # queued by the new run
    assert second.trigger == Trigger.AFTER_RUN
    second = services.reconciliation_execute(reconciliation_id=second.pk)
    again = _item(second, "ACME Manufacturing", "Effective Discount Rate")
    assert again.backend_value != item.backend_value and again.golden_value == item.golden_value
    status = _status(second, "ACME Manufacturing", "Effective Discount Rate")
    assert status.status == "open" and status.adjudication is None
    assert status.earlier.verdict == "investigating" and status.earlier.backend_value == item.backend_value


def test_self_adjudication_is_refused_for_whoever_mapped_the_card_and_audited(mapped, olivia, arthur, seeded_roles):
    subject = mapped.subject(REBATE_PER_CLAIM)
    recon = reconcile(olivia, subject)
    item = _item(recon, "Bluewater County Schools / 2025Q3", "Rebate Amount")
    with pytest.raises(services.Forbidden, match="approver"):  # the operator who mapped it is no approver
        services.adjudicate(actor=olivia, item=item, verdict=Verdict.ACCEPTED, comment="fine")
    # An approver who also maps (both roles) maps the card: from then on they cannot adjudicate its variances.
    both = make_persona("ada")
    both.groups.set([Group.objects.get(name=roles.APPROVER), Group.objects.get(name=roles.OPERATOR)])
    mapping = services.current_mapping("card", subject.id)
    services.mapping_save(actor=both, kind="card", subject_id=subject.id, output=mapping.output, keys=mapping.keys,
                          measures=mapping.measures, note="re-checked")
    with pytest.raises(services.Forbidden, match="four eyes"):
        services.adjudicate(actor=both, item=item, verdict=Verdict.ACCEPTED, comment="fine")
    refusals = AuditEvent.objects.filter(action="deliverables.adjudication.refused")
    assert refusals.count() == 2 and refusals.last().actor == both
    assert not item.reconciliation.adjudications.exists()


def test_a_verdict_needs_a_comment_and_an_explained_variance_is_not_adjudicated(mapped, olivia, arthur):
    recon = reconcile(olivia, mapped.subject(BRAND_REBATE))
    explained = _item(recon, "ACME Manufacturing", "Est. Brand Rebates")
    with pytest.raises(services.Refused, match="explained by a flaw"):
        services.adjudicate(actor=arthur, item=explained, verdict=Verdict.ACCEPTED, comment="yes")
    other = reconcile(olivia, mapped.subject(REBATE_PER_CLAIM))
    item = _item(other, "Bluewater County Schools / 2025Q3", "Rebate Amount")
    with pytest.raises(services.Refused, match="comment: say why"):
        services.adjudicate(actor=arthur, item=item, verdict=Verdict.ACCEPTED, comment="   ")


def test_a_backend_defect_keeps_the_card_open_and_it_cannot_be_retired(mapped, olivia, arthur):
    subject = mapped.subject(REBATE_PER_CLAIM)
    recon = reconcile(olivia, subject)
    _accept_all_open(recon, arthur, "Domo's extra rows")
    item = _item(recon, "Bluewater County Schools / 2025Q3", "Rebate Amount")
    services.adjudicate(actor=arthur, item=item, verdict=Verdict.BACKEND_DEFECT, comment="ours misses an invoice")
    assert selectors.card_state("card", subject.id).state == CardState.OPEN
    # counted for every card at once (the scoreboard's one query) as for this one: the defect alone stays open
    other = reconcile(olivia, mapped.subject(BRAND_REBATE))
    assert selectors.open_counts([recon, other]) == {
        r.pk: selectors.items_with_status(r, "open").count() for r in (recon, other)} == {
        recon.pk: 1, other.pk: selectors.items_with_status(other, "open").count()}
    assert selectors.items_with_status(other, "open").count() > 0
    with pytest.raises(services.Refused, match="only a reconciled card"):
        services.retire(actor=arthur, kind="card", subject_id=subject.id)
    assert not CardRetirement.objects.exists()


# --- retirement ----------------------------------------------------------------------------------------------
def test_an_approver_retires_a_reconciled_card_and_it_shows_retired(mapped, olivia, arthur):
    subject = mapped.subject(BRAND_REBATE)
    recon = reconcile(olivia, subject)
    _accept_all_open(recon, arthur, "the test sample names no contract for this client")
    assert selectors.card_state("card", subject.id).state == CardState.RECONCILED
    with pytest.raises(services.Forbidden):
        services.retire(actor=olivia, kind="card", subject_id=subject.id)
    services.retire(actor=arthur, kind="card", subject_id=subject.id, comment="the backend output replaces it")
    assert selectors.card_state("card", subject.id).state == CardState.RETIRED
    event = AuditEvent.objects.get(action="deliverables.card.retired")
    assert event.actor == arthur and event.before == {"state": "reconciled"}
    rows, counts = selectors.scoreboard(state=CardState.RETIRED)
    assert [r.title for r in rows] == [BRAND_REBATE] and counts["retired"] == 1


# --- a new run -----------------------------------------------------------------------------------------------
def test_a_new_run_over_every_client_re_reconciles_every_mapped_card_and_a_clients_own_run_does_not(mapped, olivia):
    mapped_subjects = set(CardMapping.objects.values_list("subject_kind", "subject_id").distinct())
    later = execute(runs.run_start(actor=olivia, period_start=dt.date(2025, 1, 1), period_end=dt.date(2025, 12, 31),
                                   enqueue=False))
    queued = Reconciliation.objects.filter(run=later)
    assert {(r.subject_kind, r.subject_id) for r in queued} == mapped_subjects
    assert {r.trigger for r in queued} == {Trigger.AFTER_RUN} and {r.state for r in queued} == {RunState.QUEUED}
    assert {r.requested_by for r in queued} == {olivia}
    client = later.numbers.first().client_account_id
    own = execute(runs.run_start(actor=olivia, period_start=dt.date(2025, 1, 1), period_end=dt.date(2025, 12, 31),
                                 client=client, enqueue=False))
    assert not Reconciliation.objects.filter(run=own).exists()


def test_the_scoreboard_reads_each_cards_newest_reconciliation_and_its_newest_succeeded_one(mapped, olivia):
    subject = mapped.subject(BRAND_REBATE)
    reconcile(olivia, subject)
    second = reconcile(olivia, subject)
    queued = services.reconciliation_start(actor=olivia, kind=subject.kind, subject_id=subject.id, enqueue=False)
    row = selectors.card_state(subject.kind, subject.id)
    assert row.reconciliation.pk == second.pk and row.latest.pk == queued.pk  # the state is the succeeded one's
    assert row.open == selectors.items_with_status(second, "open").count()
