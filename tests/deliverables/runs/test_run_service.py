"""Calculation runs end to end in-process over the sample: inputs recorded, numbers decided, determinism."""
from __future__ import annotations

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
    print(run.summary)
    again = execute(runs.run_start(actor=olivia, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=False))
    assert again.result_sha256 == run.result_sha256


@CURATED_DB
def test_duckdb_and_postgresql_runs_store_the_same_numbers(contract_sample, olivia, settings):
    from django.db import connections
    if connections["curated"].vendor != "postgresql":
        return
    hashes = {}
    for kind in ("duckdb", "postgres"):
        settings.CALCULATION_ENGINE = kind
        run = execute(runs.run_start(actor=olivia, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=False))
        assert run.state == "succeeded", run.error
        assert run.engine == kind
        hashes[kind] = run.result_sha256
    assert hashes["duckdb"] == hashes["postgres"]
