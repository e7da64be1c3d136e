"""The promotion gates: each passes and fails with the details an operator needs, and goes stale."""
from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from console.models import AuditEvent
from evidence.calculations.analysis import calculations_analyze_manifest
from evidence.models import CalculationFlaw, DomoDataset, GoldenReproduction, SourceManifest
from promotion import gates, services
from promotion.gates import CuratedSchema, flaw_fingerprint, flaws_behind, gate_named, run_gate
from promotion.models import FlawDisposition, PromotionRequest
from tests.promotion.conftest import CONTRACT_TERMS, checked, dataset, disposition_all, forced


def run(name: str, request: PromotionRequest) -> gates.GateRun:
    return run_gate(gate_named(name), request)


@pytest.fixture
def request_(manifest, olivia) -> PromotionRequest:
    """A checking request for the claims dataset, nothing dispositioned."""
    return services.promotion_request(actor=olivia, manifest=manifest, datasets=[dataset(manifest)])


def assert_actionable(details: list[dict]) -> None:
    assert details
    for item in details:
        assert item["what"] and item["where"]
        assert "link" in item


# --- every gate on a prepared request ------------------------------------------------------------


def test_every_gate_passes_on_a_dispositioned_complete_request(ready_request):
    results = {r.gate: r for r in ready_request.gate_results.filter(current=True)}
    assert set(results) == {g.name for g in gates.GATES}
    assert {r.outcome for r in results.values()} == {"passed"}
    assert {r.manifest_sha256 for r in results.values()} == {ready_request.manifest.manifest_sha256}


def test_a_gate_run_is_audited_with_every_outcome(ready_request):
    event = AuditEvent.objects.filter(action="promotion.checked", object_id=str(ready_request.pk)).get()
    assert event.after["state"] == "ready"
    assert set(event.after["gates"]) == {g.name for g in gates.GATES}


# --- manifest_complete -----------------------------------------------------------------------------


def test_manifest_complete_fails_on_a_partial_manifest_with_a_link(partial_manifest, olivia):
    request = forced(partial_manifest, requested_by=olivia, state="checking")
    result = run("manifest_complete", request)
    assert result.outcome == "failed"
    assert_actionable(result.details)
    assert "partial" in result.details[0]["what"]
    assert result.details[0]["link"] == f"/sources/{partial_manifest.pk}/"


def test_manifest_complete_follows_the_consoles_verdict_not_the_exporters_claim(invalid_manifest, olivia):
    assert invalid_manifest.claimed_status == "complete"
    request = forced(invalid_manifest, requested_by=olivia, state="checking")
    assert run("manifest_complete", request).outcome == "failed"


def test_manifest_complete_passes_on_a_complete_manifest(request_):
    assert run("manifest_complete", request_).outcome == "passed"


# --- load_id -------------------------------------------------------------------------------------


def test_load_id_passes_when_well_formed_and_never_promoted(request_):
    assert run("load_id", request_).outcome == "passed"


def test_load_id_fails_when_malformed(request_):
    SourceManifest.objects.filter(pk=request_.manifest_id).update(load_id="LIQ-2026-13")
    result = run("load_id", request_)
    assert result.outcome == "failed"
    assert "malformed" in result.details[0]["what"]


def other_content(manifest: SourceManifest) -> tuple[SourceManifest, DomoDataset]:
    """Another manifest under the same load id (other content), with the claims dataset's twin."""
    claims = dataset(manifest)
    other = SourceManifest.objects.create(
        load_id=manifest.load_id, manifest_sha256="f" * 64, status="complete", bronze_prefix="bronze/other",
        intake_run=manifest.intake_run,
    )
    return other, DomoDataset.objects.create(manifest=other, domo_id=claims.domo_id, name=claims.name,
                                             api_shape="public")


def test_load_id_fails_when_promoted_for_these_datasets_with_other_content(request_, manifest, olivia):
    other, twin = other_content(manifest)
    promoted = forced(other, requested_by=olivia, state="promoted", datasets=[twin])
    result = run("load_id", request_)
    assert result.outcome == "failed"
    assert f"promotion #{promoted.pk}" in result.details[0]["where"]
    assert result.details[0]["link"] == f"/sources/{other.pk}/"


def test_load_id_names_the_promotion_of_other_content_not_the_rollbacks_to_it(request_, manifest, olivia, adam):
    other, twin = other_content(manifest)
    promoted = forced(other, requested_by=olivia, state="promoted", datasets=[twin])
    rollback = PromotionRequest.objects.create(
        manifest=other, requested_by=olivia, approved_by=adam, state="promoted", kind="rollback",
        rollback_key=twin.domo_id, rollback_version=1, rollback_from_version=2,
    )
    rollback.datasets.set([twin])

    result = run("load_id", request_)

    assert result.outcome == "failed"
    assert [d["where"] for d in result.details] == [f"promotion #{promoted.pk}"]


def test_load_id_ignores_a_promotion_of_the_same_content(request_, manifest, olivia):
    forced(manifest, requested_by=olivia, state="promoted")
    assert run("load_id", request_).outcome == "passed"


# --- dataset_ids ---------------------------------------------------------------------------------


def test_dataset_ids_passes_with_id_silver_and_schema(request_):
    assert run("dataset_ids", request_).outcome == "passed"


def test_dataset_ids_fails_without_silver_data(request_, manifest):
    DomoDataset.objects.filter(pk=dataset(manifest).pk).update(silver_path="", silver_rows=None)
    result = run("dataset_ids", request_)
    assert result.outcome == "failed"
    assert_actionable(result.details)
    assert "silver" in result.details[0]["what"]
    assert result.details[0]["link"] == f"/sources/datasets/{dataset(manifest).pk}/"


def test_dataset_ids_fails_without_schema_or_domo_id(request_, manifest):
    DomoDataset.objects.filter(pk=dataset(manifest).pk).update(schema=[], domo_id="")
    whats = [d["what"] for d in run("dataset_ids", request_).details]
    assert any("schema" in w for w in whats) and any("Domo id" in w for w in whats)


# --- schema_compatible ---------------------------------------------------------------------------


def test_schema_compatible_passes_with_no_curated_version(request_):
    assert run("schema_compatible", request_).outcome == "passed"


def test_schema_compatible_passes_when_the_curated_schema_matches(request_, manifest):
    claims = dataset(manifest)
    with gates.use_curated_schema_source(lambda d: CuratedSchema("v1", claims.schema)):
        assert run("schema_compatible", request_).outcome == "passed"


def test_schema_compatible_fails_on_drift_until_it_is_acknowledged(request_, manifest, olivia):
    claims = dataset(manifest)
    curated = CuratedSchema("v3", [*claims.schema[1:], {"name": "Legacy Column", "type": "STRING"}])
    with gates.use_curated_schema_source(lambda d: curated if d.pk == claims.pk else None):
        result = run("schema_compatible", request_)
        assert result.outcome == "failed"
        assert_actionable(result.details)
        assert "v3" in result.details[0]["what"] and "Legacy Column" in result.details[0]["what"]
        services.schema_drift_acknowledge(actor=olivia, dataset=claims, note="the legacy column is gone upstream")
        acknowledged = run("schema_compatible", request_)
        assert acknowledged.outcome == "passed"
        assert acknowledged.inputs_fingerprint != result.inputs_fingerprint
    assert AuditEvent.objects.filter(action="promotion.schema_drift_acknowledged").count() == 1


# --- calculation_flaws_dispositioned ---------------------------------------------------------------


def test_flaws_gate_fails_naming_each_undispositioned_flaw(request_, manifest):
    result = run("calculation_flaws_dispositioned", request_)
    assert result.outcome == "failed"
    assert_actionable(result.details)
    codes = {d["code"] for d in result.details}
    assert "COUNT_NOT_DISTINCT_ON_ID" in codes
    assert all(d["link"].startswith("/sources/") for d in result.details)


def test_flaws_gate_passes_once_every_flaw_is_dispositioned(request_, manifest, olivia):
    assert disposition_all(olivia, manifest, [dataset(manifest)]) > 0
    assert run("calculation_flaws_dispositioned", request_).outcome == "passed"
    assert AuditEvent.objects.filter(action="promotion.flaw_dispositioned").exists()


def test_flaws_gate_only_looks_behind_the_requested_datasets(manifest, olivia):
    terms = dataset(manifest, CONTRACT_TERMS)
    request = services.promotion_request(actor=olivia, manifest=manifest, datasets=[terms])
    result = run("calculation_flaws_dispositioned", request)
    assert {d["code"] for d in result.details} == {"DATE_ARITHMETIC"}


def test_dispositions_survive_a_reanalysis_at_a_new_engine_version(request_, manifest, olivia):
    disposition_all(olivia, manifest, [dataset(manifest)])
    before = run("calculation_flaws_dispositioned", request_)
    old_ids = set(CalculationFlaw.objects.filter(manifest=manifest).values_list("pk", flat=True))
    calculations_analyze_manifest(manifest=manifest, force=True)
    assert old_ids.isdisjoint(CalculationFlaw.objects.filter(manifest=manifest).values_list("pk", flat=True))
    after = run("calculation_flaws_dispositioned", request_)
    assert after.outcome == "passed"
    assert after.inputs_fingerprint == before.inputs_fingerprint


def test_a_disposition_needs_a_note(manifest, olivia):
    flaw = flaws_behind(manifest, [dataset(manifest)]).first()
    with pytest.raises(services.PromotionRefused, match="note"):
        services.flaw_disposition_set(
            actor=olivia, manifest=manifest, fingerprint=flaw_fingerprint(flaw), decision="not_applicable", note="  "
        )
    assert AuditEvent.objects.filter(action="promotion.refused", after__attempt="disposition").exists()
    with pytest.raises(IntegrityError), transaction.atomic():
        FlawDisposition.objects.create(
            manifest=manifest, fingerprint="x", code=flaw.code, decision="not_applicable", note="", decided_by=olivia
        )


def test_a_disposition_of_an_unknown_fingerprint_is_refused(manifest, olivia):
    with pytest.raises(services.PromotionRefused, match="fingerprint"):
        services.flaw_disposition_set(
            actor=olivia, manifest=manifest, fingerprint="0" * 64, decision="not_applicable", note="n/a"
        )


def test_only_an_operator_dispositions_flaws(manifest, oscar):
    flaw = flaws_behind(manifest, [dataset(manifest)]).first()
    with pytest.raises(services.PromotionRefused):
        services.flaw_disposition_set(
            actor=oscar, manifest=manifest, fingerprint=flaw_fingerprint(flaw), decision="not_applicable", note="x"
        )


# --- golden_reproduced ---------------------------------------------------------------------------


def _flawed_card_column(manifest, claims):
    """(card, column label) of a claims card whose column is computed by a flawed beast mode."""
    flawed = {gates.flaw_object(f)[1] for f in flaws_behind(manifest, [claims])}
    for card in claims.cards.exclude(golden_path="").order_by("pk"):
        names = {b.formula_id: b.name for b in [*card.beast_modes.all(), *claims.beast_modes.all()]}
        for column in card.main.get("columns", []):
            if column.get("formula_id") in flawed:
                return card, column.get("alias") or names[column["formula_id"]]
    raise AssertionError("the sample has a card with a flawed beast mode column")


def test_golden_gate_passes_when_every_packet_is_reproduced(request_):
    assert run("golden_reproduced", request_).outcome == "passed"


def test_golden_gate_fails_when_a_packet_is_not_reproducible(request_, manifest):
    card = dataset(manifest).cards.exclude(golden_path="").first()
    GoldenReproduction.objects.filter(card=card).update(status="not_reproducible", problems=["no date column"])
    result = run("golden_reproduced", request_)
    assert result.outcome == "failed"
    assert_actionable(result.details)
    assert "no date column" in result.details[0]["what"]
    assert result.details[0]["link"] == f"/sources/cards/{card.pk}/"


def test_golden_gate_fails_on_a_difference_no_dispositioned_flaw_explains(request_, manifest):
    card, label = _flawed_card_column(manifest, dataset(manifest))
    GoldenReproduction.objects.filter(card=card).update(
        status="differs", differing_count=1,
        differing=[{"key": ["A"], "column": label, "golden": "1", "ours": "2", "difference": "1"}],
    )
    result = run("golden_reproduced", request_)
    assert result.outcome == "failed"
    assert label in result.details[0]["what"]


def test_golden_gate_passes_when_the_difference_is_a_dispositioned_flaw(request_, manifest, olivia):
    card, label = _flawed_card_column(manifest, dataset(manifest))
    GoldenReproduction.objects.filter(card=card).update(
        status="differs", differing_count=1,
        differing=[{"key": ["A"], "column": label, "golden": "1", "ours": "2", "difference": "1"}],
    )
    disposition_all(olivia, manifest, [dataset(manifest)])
    assert run("golden_reproduced", request_).outcome == "passed"


def test_golden_gate_fails_when_a_plain_column_differs(request_, manifest, olivia):
    card = dataset(manifest).cards.exclude(golden_path="").first()
    GoldenReproduction.objects.filter(card=card).update(
        status="differs", differing_count=1,
        differing=[{"key": ["A"], "column": "Channel", "golden": "x", "ours": "y", "difference": None}],
    )
    disposition_all(olivia, manifest, [dataset(manifest)])
    assert run("golden_reproduced", request_).outcome == "failed"


# --- errors and staleness ------------------------------------------------------------------------


def test_a_gate_that_raises_is_an_error_and_blocks_the_request(request_):
    # A dataset row damaged in the database (its schema a list of names, not of columns): the gate cannot run.
    DomoDataset.objects.filter(pk__in=request_.datasets.values("pk")).update(schema=["amount"])
    result = run("dataset_ids", request_)
    assert result.outcome == "error"
    assert result.details[0]["what"].startswith("the gate could not run: AttributeError")
    assert checked(request_).state == "blocked"


def test_a_result_goes_stale_when_what_it_looked_at_changes(ready_request, manifest, olivia):
    stored = ready_request.gate_results.get(gate="calculation_flaws_dispositioned", current=True)
    services.flaw_disposition_clear(actor=olivia, manifest=manifest, fingerprint=FlawDisposition.objects.first().fingerprint)
    assert run("calculation_flaws_dispositioned", ready_request).inputs_fingerprint != stored.inputs_fingerprint
    assert AuditEvent.objects.filter(action="promotion.flaw_disposition_cleared").count() == 1
