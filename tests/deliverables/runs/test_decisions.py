"""The decisions a run stores over the sample: a client whose contract is unverified gets no authorized
guarantee, and its evidence names the missing contract with the flag it raises; a verified contract's lines
carry their shortfall owed as the amount; savings add up; two runs over the same inputs store the same numbers,
whatever DuckDB's thread count."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pyarrow.parquet as pq

from console.lake import get_lake
from deliverables.models import RunNumber
from deliverables.runs import services as runs
from evidence.flags.computed import flag_key
from tests.deliverables.runs.conftest import CURATED_DB, PERIOD, execute
from tests.deliverables.runs.test_worker import big_contract_sample  # noqa: F401 (fixture)

SHA256 = re.compile(r"^[0-9a-f]{64}$")
GUARANTEES = ("awp_guarantee", "fee_guarantee")


def a_run(olivia, settings, *, engine="duckdb", threads=None):
    settings.CALCULATION_ENGINE = engine
    settings.RUN_DUCKDB_THREADS = threads
    run = execute(runs.run_start(actor=olivia, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=False))
    assert run.state == "succeeded", run.error
    return run


@CURATED_DB
def test_decisions_follow_the_evidence_and_savings_add_up(contract_sample, olivia, settings):
    run = a_run(olivia, settings)
    numbers = RunNumber.objects.filter(run=run)
    summary = contract_sample.evidence

    # The client whose contract packet was received but never verified: no guarantee is authorized.
    unverified = contract_sample.client_of(summary.unverified_packet_id)
    held = list(numbers.filter(client_account_id=unverified, kind__in=GUARANTEES))
    assert held, "the unverified client's guarantees are numbers too"
    for number in held:
        assert number.decision in ("not_concluded", "indicative"), number.key
        assert number.amount is None, number.key
        if number.decision == "not_concluded":
            assert number.indicative_amount is None, number.key
        missing = number.evidence["missing"]
        assert missing, f"{number.key}: names what is missing"
        for entry in missing:
            assert entry["kind"] == "contract" and "contract" in entry["reason"], entry
            assert entry["reason"] == "no governed contract packet for the client covers these days"
            assert SHA256.match(entry["flag_key"]), entry
        if number.figures.get("channel"):  # a component line: its flag is the contract flag of that component
            component = f"{number.figures['channel']}/{number.figures['drug_class']}"
            assert flag_key("contract", unverified, dt.date(2025, 1, 1), component) in {
                m["flag_key"] for m in missing}
        # the unverified packet was seen (a candidate), never used
        assert not number.evidence["used"]
        assert summary.unverified_packet_id in {s.get("packet_id") for s in number.evidence["seen"]}, number.key

    # A client with a verified contract: its AWP lines are authorized, the amount being the shortfall owed.
    verified = [c for c in numbers.filter(kind="awp_guarantee", decision="authorized")
                .values_list("client_account_id", flat=True).distinct()
                if c not in (unverified, summary.client_without_contract)]
    assert verified
    owed_somewhere = False
    for client in verified:
        for number in numbers.filter(client_account_id=client, kind="awp_guarantee"):
            assert number.decision == "authorized", number.key
            assert number.amount == Decimal(number.figures["shortfall_owed"]), number.key
            assert number.indicative_amount is None and not number.evidence["missing"]
            assert number.evidence["used"] and all(u["kind"] == "contract" and SHA256.match(u["sha256"])
                                                   for u in number.evidence["used"])
            owed_somewhere |= number.amount > 0
    assert owed_somewhere, "the sample has an authorized shortfall owed"

    # Savings: three numbers per client; the authorized total is the sum of its parts and of its members.
    by_key = {n.key: n for n in numbers}
    for client in numbers.exclude(kind="savings").values_list("client_account_id", flat=True).distinct():
        savings = {n.decision: n for n in numbers.filter(client_account_id=client, kind="savings")}
        assert set(savings) == {"authorized", "indicative", "not_concluded"}, client
        authorized = savings["authorized"]
        parts = [Decimal(authorized.figures[p]) for p in ("guarantee_shortfalls", "rebate_shortfalls",
                                                          "overpayments")]
        assert authorized.amount == Decimal(authorized.figures["total"]) == sum(parts), client
        members = [by_key[k] for k in authorized.evidence["numbers"]]
        assert all(m.decision == "authorized" and m.client_account_id == client for m in members)
        added = [m.amount for m in members
                 if m.kind != "finding" or m.key.split(":")[2] in ("mac", "duplicate")]
        assert authorized.amount == sum(added, Decimal("0.00")), client
        assert savings["indicative"].amount is None
        assert savings["indicative"].indicative_amount == Decimal(savings["indicative"].figures["total"])
        assert savings["not_concluded"].amount is None and savings["not_concluded"].indicative_amount is None
    unverified_savings = numbers.get(key=f"savings:{unverified}:authorized")
    assert unverified_savings.amount == sum(
        (n.amount for n in numbers.filter(client_account_id=unverified, decision="authorized")
         .exclude(kind="savings") if n.kind != "finding" or n.key.split(":")[2] in ("mac", "duplicate")),
        Decimal("0.00"))


@CURATED_DB
def test_two_runs_over_the_same_inputs_store_the_same_numbers_and_findings_whatever_the_thread_count(
        big_contract_sample, olivia, settings):  # noqa: F811 (the fixture)
    # Big enough (tens of thousands of claims, thousands of findings) for DuckDB to hand its rows back in
    # several batches: the order they come in must not show in the stored numbers, the findings or their hash.
    from django.db import connections

    one = a_run(olivia, settings, threads=1)
    four = a_run(olivia, settings, threads=4)
    again = a_run(olivia, settings, threads=4)
    runs_made = [one, four, again]
    if connections["curated"].vendor == "postgresql":
        runs_made.append(a_run(olivia, settings, engine="postgres", threads=4))
    assert len({r.result_sha256 for r in runs_made}) == 1
    assert len({r.findings_sha256 for r in runs_made}) == 1
    assert len({r.findings_path for r in runs_made}) == 1  # content-addressed: written once
    assert one.inputs_sha256 == again.inputs_sha256

    def stored(run):
        return [(n.key, n.decision, n.amount, n.indicative_amount, n.figures, n.evidence, n.row_count,
                 n.rows_checksum, n.predicate) for n in RunNumber.objects.filter(run=run).order_by("position")]

    assert stored(one) == stored(four) == stored(again) == stored(runs_made[-1])

    with get_lake().open(one.findings_path) as stream:
        findings = pq.read_table(stream).to_pylist()
    assert len(findings) == one.findings_count > 2048
    order = [(f["kind"], f["client_account_id"], f["claim_id"]) for f in findings]
    assert order == sorted(order)  # the artifact's documented order
    named = 0
    for f in findings:
        if f["decision"] != "authorized" and f["kind"] != "mac":
            # each finding names the contract flag of its own component
            assert f["flag_key"] == flag_key("contract", f["client_account_id"], dt.date(f["fill_date"].year, 1, 1),
                                             f"{f['channel']}/{f['drug_class']}"), f
            named += 1
    assert named


@CURATED_DB
def test_a_rebate_line_on_candidate_terms_names_the_contract_flag_of_each_brand_component(contract_sample, olivia,
                                                                                       settings):
    from deliverables.payloads.builder import payload_for
    from evidence.flags.models import MissingEvidenceFlag
    from evidence.flags.services import flag_run_execute, request_flags_recompute

    flag_run_execute(run_id=request_flags_recompute(trigger="test", enqueue=False).pk, task_id="test")
    run = a_run(olivia, settings)
    named = 0
    for line in RunNumber.objects.filter(run=run, kind="rebate_guarantee").order_by("position"):
        contract = [m for m in line.evidence["missing"] if m["kind"] == "contract"]
        if not contract:
            continue
        assert line.decision != "authorized", line.key  # on candidate terms: never a conclusion
        year = dt.date(line.period_start.year, 1, 1)
        for missing in contract:
            component = missing["component"]
            assert component["drug_class"] == "brand" and missing["candidate_exists"], missing
            assert missing["flag_key"] == flag_key("contract", line.client_account_id, year,
                                                   f"{component['channel']}/brand"), missing
            assert MissingEvidenceFlag.objects.filter(key=missing["flag_key"], status="open").exists(), missing
        figure = next(f for f in payload_for(run, line.client_account_id, "https://console.example")["figures"]
                      if f["key"] == line.key)
        assert {m["flag_key"] for m in figure["missing"] if m["kind"] == "contract"} == {
            m["flag_key"] for m in contract}
        named += 1
    assert named, "the sample has rebate lines on candidate contract terms"
