"""Calculation analysis of received exports: every beast mode and DataFlow step is analyzed at intake,
planted flaws are found where they are planted, re-analysis only redoes what an older engine did."""

from __future__ import annotations

import io
from collections import Counter
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection

from console.models import AuditEvent
from evidence.calculations import analysis as calculations
from evidence.calculations.analysis import (
    analyze_in_uses,
    beast_mode_uses,
    calculations_analyze_manifest,
    card_uses,
    pending_analyses,
)
from evidence.calculations.reports import mark_spans
from evidence.formulas import ENGINE_VERSION
from evidence.models import BeastMode, CalculationAnalysis, CalculationFlaw, DataflowStep, SourceManifest
from evidence.samples.export import CLEAN_FORMULAS, PLANTED_FLAWS, write_sample_export
from tests.evidence.conftest import ingest


def reanalyze(*args: str) -> str:
    out = io.StringIO()
    call_command("reanalyze_calculations", *args, stdout=out)
    return out.getvalue()


def codes_of(beast: BeastMode) -> set[str]:
    return set(CalculationFlaw.objects.filter(analysis__beast_mode=beast).values_list("code", flat=True))


def rows(manifest: SourceManifest) -> list[tuple]:
    return list(
        CalculationAnalysis.objects.filter(manifest=manifest)
        .order_by("id")
        .values_list("id", "beast_mode_id", "dataflow_step_id", "part", "engine_version")
    )


# --- at intake -------------------------------------------------------------------------------------


def test_ingesting_the_sample_export_analyzes_every_beast_mode_once(received_sample):
    beast_modes = BeastMode.objects.filter(manifest=received_sample)
    assert beast_modes.count() > 0
    for beast in beast_modes:
        (analysis,) = CalculationAnalysis.objects.filter(beast_mode=beast)
        assert (analysis.engine_version, analysis.kind, analysis.part) == (ENGINE_VERSION, "beast_mode", 0)
        assert analysis.formula == beast.formula and analysis.manifest_id == received_sample.pk


def test_ingesting_the_sample_export_analyzes_every_statement_and_expression_of_every_step(received_sample):
    steps = DataflowStep.objects.filter(dataflow__manifest=received_sample)
    kinds = set()
    for step in steps:
        parts = list(step.analyses.order_by("part").values_list("kind", "part", "formula"))
        texts = [("sql", i, text) for i, text in enumerate(step.sql)]
        texts += [("expression", i, text) for i, text in enumerate(step.expressions)]
        assert parts == texts, step.action_type
        kinds |= {kind for kind, _p, _t in parts}
    assert kinds == {"sql", "expression"}  # the sample holds a MySQL and a Magic ETL DataFlow
    assert pending_analyses(received_sample) == 0


@pytest.mark.parametrize("planted", PLANTED_FLAWS, ids=lambda p: p.name)
def test_every_planted_flaw_is_recorded_on_its_beast_mode(received_sample, planted):
    beast_modes = BeastMode.objects.filter(manifest=received_sample, formula_id=planted.beast_mode_id)
    assert beast_modes.exists()
    for beast in beast_modes:  # saved on its dataset and, when a card carries a copy, on the card
        assert planted.code in codes_of(beast), beast.scope


@pytest.mark.parametrize(("bm_id", "name", "formula"), CLEAN_FORMULAS, ids=[c[1] for c in CLEAN_FORMULAS])
def test_no_clean_formula_has_a_flaw(received_sample, bm_id, name, formula):
    beast_modes = BeastMode.objects.filter(manifest=received_sample, formula_id=bm_id)
    assert beast_modes.exists()
    for beast in beast_modes:
        assert codes_of(beast) == set(), beast.scope


def test_each_beast_mode_is_analyzed_for_how_its_cards_use_it(received_sample):
    used_as = dict(
        CalculationAnalysis.objects.filter(manifest=received_sample, beast_mode__isnull=False).values_list(
            "beast_mode__name", "used_as"
        )
    )
    assert used_as["Claim Discount Rate"] == "card_value"  # a VALUE column: Domo sums it
    assert used_as["Channel Group"] == "card_dimension"  # an ITEM column and a group-by
    assert used_as["Unit Cost Paid"] == "dataset"  # saved on the dataset, on no card


def test_flaws_keep_the_engines_order_and_their_place_in_the_text(received_sample):
    analyses = CalculationAnalysis.objects.filter(manifest=received_sample).prefetch_related("flaws")
    placed = 0
    for analysis in analyses:
        flaws = list(analysis.flaws.all())
        assert [f.position for f in flaws] == list(range(len(flaws)))
        for flaw in flaws:
            if flaw.start is not None:
                assert analysis.formula[flaw.start : flaw.end] == flaw.snippet, flaw.code
                placed += 1
    assert placed >= len(PLANTED_FLAWS)


def test_the_intake_audits_one_analysis_event_with_counts_by_code(received_sample):
    (event,) = AuditEvent.objects.filter(action="calculations.analyzed")
    assert (event.object_type, event.object_id) == ("evidence.sourcemanifest", str(received_sample.pk))
    assert event.actor_label == "system:command:ingest_export"
    recorded = Counter(
        CalculationFlaw.objects.filter(manifest=received_sample).values_list("code", flat=True)
    )
    assert event.after["flaws"] == dict(recorded)
    assert event.after["engine_version"] == ENGINE_VERSION and event.after["skipped"] == 0
    assert event.after["beast_modes"] == BeastMode.objects.filter(manifest=received_sample).count()
    assert event.before is None


@pytest.mark.postgres_only  # the failure is a PostgreSQL trigger refusing the analysis rows
def test_an_analyzer_failure_leaves_the_receipt_and_the_command_analyzes_it_later(db, tmp_path):
    table = CalculationAnalysis._meta.db_table
    with connection.cursor() as cursor:  # the analyses cannot be stored (a real failure, no code replaced)
        cursor.execute("CREATE FUNCTION test_refuse_analysis() RETURNS trigger LANGUAGE plpgsql AS "
                       "$$ BEGIN RAISE EXCEPTION 'analysis store unavailable'; END $$")
        cursor.execute(f'CREATE TRIGGER test_refuse_analysis BEFORE INSERT ON "{table}" '
                       "FOR EACH ROW EXECUTE FUNCTION test_refuse_analysis()")
    with pytest.raises(DatabaseError, match="analysis store unavailable"):
        ingest(write_sample_export(tmp_path / "sample", rows=20).path)
    manifest = SourceManifest.objects.get()  # the receipt committed before the analysis ran
    assert not CalculationAnalysis.objects.exists()
    assert pending_analyses(manifest) > 0
    with connection.cursor() as cursor:
        cursor.execute(f'DROP TRIGGER test_refuse_analysis ON "{table}"')
        cursor.execute("DROP FUNCTION test_refuse_analysis()")
    assert "calculation(s) analyzed" in reanalyze()
    assert pending_analyses(manifest) == 0


# --- re-analysis -----------------------------------------------------------------------------------


def test_reanalysis_at_the_same_engine_version_changes_nothing(received_sample):
    before = rows(received_sample)
    events = AuditEvent.objects.count()
    output = reanalyze()
    assert output.strip() == f"engine {ENGINE_VERSION}: 0 calculation(s) analyzed"
    assert rows(received_sample) == before
    assert AuditEvent.objects.count() == events


@pytest.mark.catalogue(18)  # QuerySet.delete and two bulk_create through the service: the event counts each
def test_force_replaces_every_analysis_in_one_audited_event(received_sample):
    before = rows(received_sample)
    flaws_before = Counter(CalculationFlaw.objects.values_list("code", flat=True))
    output = reanalyze("--manifest", str(received_sample.pk), "--force")
    after = rows(received_sample)
    assert len(after) == len(before) and {r[0] for r in after}.isdisjoint(r[0] for r in before)
    assert [r[1:] for r in after] == [r[1:] for r in before]
    assert Counter(CalculationFlaw.objects.values_list("code", flat=True)) == flaws_before
    event = AuditEvent.objects.filter(action="calculations.analyzed").latest("seq")
    assert event.actor_label == "system:command:reanalyze_calculations"
    assert event.after["force"] is True and event.after["flaws"] == dict(flaws_before)
    assert event.before == {"engine_versions": [ENGINE_VERSION], "flaws": dict(sorted(flaws_before.items())),
                            "analyses": len(before)}
    assert event.after["analyses"] == len(after)
    assert sum(event.after["flaws"].values()) == CalculationFlaw.objects.filter(manifest=received_sample).count()
    assert f"manifest #{received_sample.pk}" in output


def test_a_new_engine_version_makes_every_analysis_stale(received_sample, monkeypatch):
    monkeypatch.setattr(calculations, "ENGINE_VERSION", "next")
    total = len(rows(received_sample))
    assert pending_analyses(received_sample) > 0
    reanalyze()
    assert {r[4] for r in rows(received_sample)} == {"next"}
    assert len(rows(received_sample)) == total
    assert pending_analyses(received_sample) == 0


def test_only_what_has_no_current_analysis_is_redone(received_sample):
    beast = BeastMode.objects.filter(manifest=received_sample).first()
    CalculationAnalysis.objects.filter(beast_mode=beast).update(engine_version="0")
    untouched = [r for r in rows(received_sample) if r[1] != beast.pk]
    summary = calculations_analyze_manifest(manifest=received_sample)
    assert (summary.beast_modes, summary.dataflow_steps) == (1, 0)
    assert [r for r in rows(received_sample) if r[1] != beast.pk] == untouched
    assert CalculationAnalysis.objects.get(beast_mode=beast).engine_version == ENGINE_VERSION


def test_the_command_refuses_an_unknown_manifest(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="manifest #999 does not exist"):
        reanalyze("--manifest", "999")


# --- uses (pure) -----------------------------------------------------------------------------------


def card(pk: int, **main) -> SimpleNamespace:
    return SimpleNamespace(pk=pk, main={"columns": [], "filters": [], "group_by": [], **main})


def test_card_uses_read_values_dimensions_and_filters():
    uses = card_uses(
        [
            card(
                1,
                columns=[
                    {"formula_id": "v", "mapping": "VALUE", "aggregation": None},
                    {"formula_id": "a", "mapping": "ITEM", "aggregation": "SUM"},
                    {"formula_id": "d", "mapping": "SERIES", "aggregation": None},
                    {"column": "plain", "mapping": "VALUE"},
                ],
                group_by=[{"formula_id": "g"}],
                filters=[{"formula_id": "f", "operator": "IN", "values": ["x"]}],
            )
        ]
    )
    assert uses == {
        (1, "v"): {"card_value"},
        (1, "a"): {"card_value"},
        (1, "d"): {"card_dimension"},
        (1, "g"): {"card_dimension"},
        (1, "f"): {"filter"},
    }


def test_a_card_beast_mode_counts_only_its_own_card_and_a_dataset_one_every_card():
    uses = {(1, "x"): {"filter"}, (2, "x"): {"card_value"}}
    on_card = SimpleNamespace(formula_id="x", card_id=2)
    on_dataset = SimpleNamespace(formula_id="x", card_id=None)
    unused = SimpleNamespace(formula_id="y", card_id=None)
    assert beast_mode_uses(on_card, uses) == ["card_value"]
    assert beast_mode_uses(on_dataset, uses) == ["card_value", "filter"]
    assert beast_mode_uses(unused, uses) == ["dataset"]


def test_a_formula_used_two_ways_gets_the_flaws_of_both():
    window = "SUM(`paid`) / NULLIF(SUM(SUM(`paid`)) OVER (), 0)"
    analysis = analyze_in_uses(window, schema={"paid": "DECIMAL"}, uses=["card_value", "filter"])
    assert analysis.used_as == "card_value"
    assert "FIXED_OR_WINDOW_RESTRICTION" in analysis.codes  # only reported for the filter use


# --- marking (pure) --------------------------------------------------------------------------------


def flaw(code: str, start: int | None, end: int | None, severity: str = "warning") -> SimpleNamespace:
    return SimpleNamespace(code=code, start=start, end=end, severity=severity)


def test_marks_cut_the_text_at_every_flaw_edge_and_overlaps_list_both():
    segments = mark_spans("CASE WHEN SUM(x) > 10 THEN 1 END", [flaw("A", 0, 32), flaw("B", 19, 21, "error")])
    assert [(s.text, s.codes, s.severity) for s in segments] == [
        ("CASE WHEN SUM(x) > ", ("A",), "warning"),
        ("10", ("A", "B"), "error"),
        (" THEN 1 END", ("A",), "warning"),
    ]


def test_flaws_without_a_place_mark_nothing():
    segments = mark_spans("SUM(x", [flaw("UNPARSEABLE", None, None), flaw("EMPTY", 3, 3), flaw("OUT", 2, 99)])
    assert [(s.text, s.marked) for s in segments] == [("SU", False), ("M(x", True)]
    assert "".join(s.text for s in mark_spans("", [])) == ""


# --- database constraints --------------------------------------------------------------------------


def test_one_current_analysis_per_beast_mode_is_held_by_the_database(received_sample):
    analysis = CalculationAnalysis.objects.filter(beast_mode__isnull=False).first()
    analysis.pk = None
    with pytest.raises(IntegrityError):
        analysis.save()


def test_an_analysis_is_of_a_beast_mode_or_a_step_never_both(received_sample):
    analysis = CalculationAnalysis.objects.filter(beast_mode__isnull=False).first()
    analysis.pk = None
    analysis.dataflow_step = DataflowStep.objects.filter(dataflow__manifest=received_sample).first()
    with pytest.raises(IntegrityError):
        analysis.save()
