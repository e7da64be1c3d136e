"""Calculation runs end to end in-process over the sample: inputs recorded, numbers decided, determinism."""
from __future__ import annotations

import pytest

from deliverables.models import RunNumber
from deliverables.runs import services as runs
from tests.deliverables.runs.conftest import CURATED_DB, PERIOD, execute


@CURATED_DB
def test_a_run_over_the_sample_stores_decided_numbers_and_its_inputs(contract_sample, olivia, settings):
    settings.CALCULATION_ENGINE = "duckdb"
    run = execute(runs.run_start(actor=olivia, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=False))
    assert run.state == "succeeded", run.error
    assert run.inputs["claims"]["target"] == "contract"
    numbers = RunNumber.objects.filter(run=run)
    assert numbers.filter(decision="authorized").exists()
    assert numbers.filter(decision="not_concluded").exists()
    assert not numbers.filter(decision="not_concluded", amount__isnull=False).exists()
    again = execute(runs.run_start(actor=olivia, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=False))
    assert again.result_sha256 == run.result_sha256


@CURATED_DB
@pytest.mark.postgres_only  # the pushdown needs the curated store on PostgreSQL
def test_duckdb_and_postgresql_runs_store_the_same_numbers(contract_sample, olivia, settings):
    hashes = {}
    for kind in ("duckdb", "postgres"):
        settings.CALCULATION_ENGINE = kind
        run = execute(runs.run_start(actor=olivia, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=False))
        assert run.state == "succeeded", run.error
        assert run.engine == kind
        hashes[kind] = run.result_sha256
    assert hashes["duckdb"] == hashes["postgres"]


@CURATED_DB
def test_every_finding_carries_the_decision_the_authority_module_gives_it(contract_sample, olivia, settings):
    """The findings are decided in bulk (SQL over the evidence tables); each one's decision is decide()'s for
    that claim: PRICING_FINDING (NDC, fill date, component) for a MAC finding, the contract on the fill date
    for a brand-AWP or dispensing-fee finding; a duplicate needs no evidence."""
    import io

    import pyarrow.parquet as pq

    from console.lake import get_lake
    from evidence.packets.authority import CONTRACT_GUARANTEE, PRICING_FINDING, decide
    from evidence.packets.selectors import evidence_for

    settings.CALCULATION_ENGINE = "duckdb"
    run = execute(runs.run_start(actor=olivia, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=False))
    findings = pq.read_table(io.BytesIO(get_lake().read(run.findings_path))).to_pylist()
    assert {f["kind"] for f in findings} >= {"mac", "brand_awp", "dispensing_fee"}
    evidence = {}
    for finding in findings:
        client = finding["client_account_id"]
        found = evidence.setdefault(client, evidence_for(client, period=PERIOD))
        component = (finding["channel"], finding["drug_class"])
        day = finding["fill_date"]
        if finding["kind"] == "duplicate":
            expected = "authorized"
        elif finding["kind"] == "mac":
            expected = decide(PRICING_FINDING, client=client, ndc=finding["ndc"], fill_date=day, component=component,
                              evidence=found).decision
        else:
            expected = decide(CONTRACT_GUARANTEE, client=client, period=(day, day), component=component,
                              evidence=found).decision
        assert finding["decision"] == expected, finding
        assert (finding["overpayment"] is not None) == (expected == "authorized"), finding
