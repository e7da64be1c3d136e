"""The flags of the sample: every planted gap flagged, agreement with decide() for every need, resolution by
verification (covered, audited), new flags on withdrawal (same keys), no_longer_needed after a rollback of the
claims, determinism."""
from __future__ import annotations

import datetime as dt

import pytest

from console.models import AuditEvent
from evidence.flags import columnar, needs
from evidence.flags.models import ClientNeeds, FlagRun, MissingEvidenceFlag
from evidence.flags.services import claims_sources, claims_versions
from evidence.packets.authority import AUTHORIZED, INDICATIVE, PRICING_FINDING, REBATE_CLAIM, decide
from evidence.packets.selectors import evidence_for
from evidence.packets.verification import packet_verify, packet_withdraw
from promotion import services as promotion
from promotion import tasks as promotion_tasks
from promotion.curated.aliases import curated_reader
from tests.evidence.flags.conftest import FLAGS_DB, ROWS, recompute
from tests.promotion.conftest import approve, checked

pytestmark = FLAGS_DB


def open_flags(**filters):
    return MissingEvidenceFlag.objects.filter(status="open", **filters)


def test_the_triggers_queued_one_run_and_it_flags_every_planted_gap(sample):
    queued = list(FlagRun.objects.filter(status="queued"))
    assert len(queued) == 1  # the promotions', receipts' and verifications' triggers coalesced

    run = recompute()

    assert run.pk == queued[0].pk and run.attempts == 1 and run.worker == "test"
    gaps = sample.evidence
    # no contract packet: every component of the client is flagged, nothing in the packets stands in
    summit = open_flags(kind="contract", client_account_id=gaps.client_without_contract)
    assert summit.exists() and all(f.holds_back == ["contract_guarantee"] for f in summit)
    assert all(f.reason.startswith(f"No governed contract covers {f.component} for {gaps.client_without_contract} "
                                   "in 2025-01-01…2025-12-31: ") for f in summit)
    assert not any(f.candidate_exists for f in summit)  # Domo's terms are not registered as candidate evidence
    # the unverified contract: flagged, and candidate evidence exists (indicative)
    unverified = open_flags(kind="contract", client_account_id=sample.client_of(gaps.unverified_packet_id))
    assert unverified.exists() and all(f.candidate_exists for f in unverified)
    assert all(c["packet_id"] == gaps.unverified_packet_id for f in unverified for c in f.candidates)
    # the amended contract covers its client: no contract flag
    assert not open_flags(kind="contract", client_account_id=sample.client_of(gaps.amended_packet_id)).exists()
    # the pricing gap: flagged per client and month, holding back the pricing findings
    gap = gaps.pricing_gap
    priced = open_flags(kind="pricing", ndc=gap.ndc, period_start__lte=gap.last_day, period_end__gte=gap.first_day)
    assert priced.exists()
    assert all(f.holds_back == ["pricing_finding"] and not f.candidate_exists for f in priced)
    assert any(f.detail["no_price_row"] and gap.price_list in f.reason for f in priced)
    # the missing rebate quarter: every brand NDC of the client in that quarter
    client, quarter = gaps.missing_rebate
    rebates = open_flags(kind="rebate", client_account_id=client, quarter=quarter)
    assert rebates.exists() and all(f.holds_back == ["rebate_claim"] and not f.candidate_exists for f in rebates)
    assert not open_flags(kind="rebate", client_account_id=client).exclude(quarter=quarter).exists()
    # raised, audited, with the run's needs and inputs
    assert AuditEvent.objects.filter(action="evidence.flag.raised").count() == open_flags().count()
    assert run.summary["raised"] == open_flags().count() and run.summary["resolved"] == 0
    assert ClientNeeds.objects.filter(run=run).count() == run.summary["needs"]["client_periods"]
    assert run.inputs["curated"][0]["dataset_key"] == sample.claims_key and run.inputs["curated"][0]["rows"] == ROWS
    assert {r["packet_id"] for r in run.inputs["revisions"]} == {p for p, _, _ in gaps.packets}
    assert len(run.inputs_sha256) == 64


def test_pricing_and_rebate_flags_agree_with_decide_for_every_need_of_the_sample(sample):
    with claims_sources(claims_versions(curated_reader())) as sources:  # the needs read the files: stay inside
        con = needs.connect(memory_limit="256MB", threads=1)
        needs.build_needs(con, sources)
        clients = [c for (c,) in con.execute("SELECT DISTINCT client FROM contract_needs ORDER BY 1").fetchall()]
        evidence = {client: evidence_for(client) for client in clients}
        columnar.pricing_coverage(con, evidence)
        columnar.rebate_coverage(con, evidence)

        pricing = {row[:4]: row[4] for row in con.execute(
            "SELECT client, channel, ndc, fill_date, indicative FROM pricing_flagged").fetchall()}
        rebate = {row[:3]: row[3] for row in con.execute(
            "SELECT client, ndc, quarter, indicative FROM rebate_flagged").fetchall()}
        generic = con.execute("SELECT client, channel, ndc, fill_date FROM generic_needs").fetchall()
        for client, channel, ndc, day in generic:
            decision = decide(PRICING_FINDING, client=client, ndc=ndc, fill_date=day, component=(channel, "generic"),
                              evidence=evidence[client]).decision
            assert ((client, channel, ndc, day) in pricing) == (decision != AUTHORIZED), (client, channel, ndc, day)
            assert pricing.get((client, channel, ndc, day), False) == (decision == INDICATIVE)
        for client, ndc, quarter in con.execute("SELECT client, ndc, quarter FROM brand_needs").fetchall():
            decision = decide(REBATE_CLAIM, client=client, ndc=ndc, quarter=quarter,
                              evidence=evidence[client]).decision
            assert ((client, ndc, quarter) in rebate) == (decision != AUTHORIZED), (client, ndc, quarter)
            assert rebate.get((client, ndc, quarter), False) == (decision == INDICATIVE)
        assert pricing and rebate and len(generic) > len(pricing)
        con.close()


def test_verifying_the_candidate_contract_resolves_its_flags_as_covered_by_it_and_withdrawing_it_raises_them_again(
    sample, arthur, ada
):
    recompute()
    packet_id = sample.evidence.unverified_packet_id
    client = sample.client_of(packet_id)
    before = {f.pk: f.key for f in open_flags(kind="contract", client_account_id=client)}
    revision = sample.revision(packet_id)

    packet_verify(actor=arthur, revision=revision, sha256=revision.sha256, comment="matches the executed contract")
    run = recompute()

    covered = MissingEvidenceFlag.objects.filter(pk__in=before)
    assert all(f.status == "resolved" and f.resolution == "covered" for f in covered)
    assert {f.resolved_by_revision_id for f in covered} == {revision.pk}
    assert {f.resolved_by_run_id for f in covered} == {run.pk}
    events = AuditEvent.objects.filter(action="evidence.flag.resolved", object_id__in=[str(pk) for pk in before])
    assert events.count() == len(before)
    assert all(e.before["status"] == "open" and e.after["resolution"] == "covered"
               and e.after["resolved_by_revision"] == revision.pk for e in events)

    packet_withdraw(actor=ada if ada.has_perm("console.verify_evidence") else arthur, revision=revision,
                    sha256=revision.sha256, reason="keyed from the draft")
    recompute()

    again = open_flags(kind="contract", client_account_id=client)
    assert sorted(f.key for f in again) == sorted(before.values())
    assert not set(again.values_list("pk", flat=True)) & set(before)  # new flags, the old ones stay resolved


def test_a_rollback_of_the_claims_resolves_the_flags_whose_claims_are_gone_as_no_longer_needed(
    sample, olivia, arthur
):
    recompute()
    opened = set(open_flags().values_list("pk", flat=True))
    rollback = checked(promotion.promotion_rollback_request(actor=olivia, dataset_key=sample.claims_key, version=1,
                                                            enqueue=False))
    approve(rollback, arthur)
    promotion_tasks.promotion_load(rollback.pk)
    assert FlagRun.objects.filter(status="queued", trigger="curated.rolled_back").exists()

    run = recompute()

    gone = MissingEvidenceFlag.objects.filter(pk__in=opened, status="resolved")
    assert gone.exists() and {f.resolution for f in gone} == {"no_longer_needed"}
    assert all(f.resolved_by_revision_id is None and f.resolved_by_run_id == run.pk for f in gone)
    assert run.inputs["curated"][0]["version"] == 1 and run.inputs["curated"][0]["rows"] == 30
    assert run.summary["resolved"] == gone.count()


def test_recomputing_unchanged_inputs_keeps_the_same_flags_keys_and_inputs_hash(sample):
    first = recompute()
    keys = sorted(open_flags().values_list("key", flat=True))
    flags = sorted(open_flags().values_list("pk", flat=True))

    second = recompute()

    assert sorted(open_flags().values_list("key", flat=True)) == keys
    assert sorted(open_flags().values_list("pk", flat=True)) == flags  # the same flags, seen again
    assert set(open_flags().values_list("last_seen_run", flat=True)) == {second.pk}
    assert second.inputs_sha256 == first.inputs_sha256 and second.summary["raised"] == 0
    assert dt.date(2025, 1, 1) <= open_flags().order_by("period_start").first().period_start


@pytest.mark.parametrize("name", ["CLIENT ACCOUNT ID", "client account id"])
def test_claims_columns_are_matched_case_insensitively(name):
    found = needs.claims_columns([name, "channel", "BRAND/GENERIC", "Ndc", "Fill Date", "Drug Name"])

    assert found["Client Account ID"] == name and found["Brand/Generic"] == "BRAND/GENERIC"
    assert needs.claims_columns(["Client Account ID", "Channel", "NDC", "Fill Date"]) is None
