"""What a run may calculate on, and what it records it calculated on: refusals (migration-only claims, no
permission, a bad period) before anything is queued; the exact inputs of a run that succeeded."""
from __future__ import annotations

import datetime as dt

import pytest

from console.models import AuditEvent
from deliverables.calculations import definitions
from deliverables.models import CalculationRun
from deliverables.runs import compute
from deliverables.runs import services as runs
from deliverables.runs.inputs import RunRefused
from evidence.flags.services import claims_versions
from evidence.packets.models import PacketRevision
from evidence.samples.export import write_sample_export
from promotion.choices import PromotionTarget
from promotion.curated.aliases import curated_reader
from tests.deliverables.runs.conftest import (
    CURATED_DB,
    LATER,
    PERIOD,
    ROWS,
    execute,
    ingest,
    promote,
)
from tests.promotion.api_helpers import queued_tasks


def refusals() -> list[dict]:
    return [e.after for e in AuditEvent.objects.filter(action="deliverables.run.refused").order_by("seq")]


@CURATED_DB
def test_claims_promoted_for_migration_only_are_refused_and_nothing_is_queued(
        tmp_path, states, olivia, arthur, adam, curated_db, no_enqueue, broker):
    def build():
        manifest = ingest(write_sample_export(tmp_path / "export", rows=ROWS, exported_at=LATER).path)
        promote(manifest, olivia, arthur, target=PromotionTarget.MIGRATION)
        return manifest

    states.get("runs: sample claims promoted for migration and reconciliation only", build)
    with pytest.raises(RunRefused) as refused:
        runs.run_start(actor=olivia, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=True)
    message = str(refused.value)
    assert "migration and reconciliation only" in message
    assert "backend contract" in message
    assert not isinstance(refused.value, runs.RunForbidden)
    assert CalculationRun.objects.count() == 0
    assert queued_tasks(runs.RUN_QUEUE) == []
    [audited] = refusals()
    assert "migration and reconciliation only" in audited["reason"]
    assert audited["period"] == [str(PERIOD[0]), str(PERIOD[1])]


@pytest.mark.django_db
def test_a_user_without_build_deliverable_is_forbidden(cecilia, broker):
    with pytest.raises(runs.RunForbidden, match="build_deliverable"):
        runs.run_start(actor=cecilia, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=True)
    assert CalculationRun.objects.count() == 0
    assert queued_tasks(runs.RUN_QUEUE) == []
    [audited] = refusals()
    assert "build_deliverable" in audited["reason"]
    assert AuditEvent.objects.filter(action="deliverables.run.refused").get().actor == cecilia


@pytest.mark.django_db
@pytest.mark.parametrize(("start", "end", "client", "says"), [
    (dt.date(2025, 12, 31), dt.date(2025, 1, 1), "", "period: 2025-12-31 is after 2025-01-01"),
    (PERIOD[0], PERIOD[1], "not-an-account", "client: 'not-an-account' is not a Salesforce account id"),
])
def test_a_bad_period_or_client_is_refused(olivia, broker, start, end, client, says):
    with pytest.raises(RunRefused, match=says):
        runs.run_start(actor=olivia, period_start=start, period_end=end, client=client, enqueue=True)
    assert CalculationRun.objects.count() == 0
    assert queued_tasks(runs.RUN_QUEUE) == []
    assert [a["reason"] for a in refusals()] == [says + (" (15 or 18 letters and digits)" if client else "")]


@CURATED_DB
def test_a_run_records_the_dataset_version_evidence_revisions_calculation_version_and_parameters(
        contract_sample, olivia, settings):
    settings.CALCULATION_ENGINE = "duckdb"
    run = execute(runs.run_start(actor=olivia, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=False))
    assert run.state == "succeeded", run.error
    inputs = run.inputs

    [version] = [v for v in claims_versions(curated_reader()) if v["dataset_key"] == contract_sample.claims_key]
    claims = inputs["claims"]
    assert (claims["dataset_key"], claims["version"], claims["rows"], claims["checksum"]) == (
        contract_sample.claims_key, version["version"], int(version["rows"]), str(version["checksum"]))
    assert claims["rows"] > 0 and claims["checksum"]
    assert claims["target"] == "contract"

    assert inputs["evidence"], "the run names the evidence revisions it was handed"
    for entry in inputs["evidence"]:
        revision = PacketRevision.objects.get(claimed_packet_id=entry["packet_id"], revision=entry["revision"])
        assert entry["sha256"] == revision.sha256 and len(entry["sha256"]) == 64
        assert entry["class"] == revision.evidence_class
    unverified = [e for e in inputs["evidence"] if e["packet_id"] == contract_sample.evidence.unverified_packet_id]
    assert all(e["class"] != "governed" for e in unverified)

    for relation in ("terms", "prices", "invoices"):
        table = inputs["evidence_tables"][relation]
        assert table["path"].endswith(f"{table['sha256']}.parquet")

    versions = compute.calculation_versions()
    assert inputs["calculations"] == versions
    assert run.calculation_version == versions["all"]
    assert set(inputs["calculations"]) == {*definitions.DEFINITIONS, "all"}
    assert inputs["parameters"] == {"client": "", "period": [str(PERIOD[0]), str(PERIOD[1])],
                                    "dataset": contract_sample.claims_key, "engine": "duckdb"}
    assert run.inputs_sha256 == runs._sha256(inputs)


def test_the_calculation_version_changes_when_a_definitions_sql_changes(monkeypatch):
    before = compute.calculation_versions()
    assert before == compute.calculation_versions()  # stable
    changed = dict(definitions.DEFINITIONS)
    changed["rebate_guarantee"] = changed["rebate_guarantee"].replace("SELECT", "SELECT /* amended */", 1)
    monkeypatch.setattr(definitions, "DEFINITIONS", changed)
    after = compute.calculation_versions()
    assert after["rebate_guarantee"] != before["rebate_guarantee"]
    assert after["all"] != before["all"]  # the run's calculation_version moves too
    assert {k: v for k, v in after.items() if k not in ("rebate_guarantee", "all")} == {
        k: v for k, v in before.items() if k not in ("rebate_guarantee", "all")}
