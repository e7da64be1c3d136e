"""Calculation analysis of received exports: every beast mode and DataFlow step through the formula engine.

`calculations_analyze_manifest` runs when an export is ingested and again on demand (the
`reanalyze_calculations` command, the flaws page's button): it analyzes what has no analysis at the
engine's current version (everything with `force`) and replaces those rows in one transaction.

The engine (evidence.formulas) is pure Python; this module only chooses each formula's schema and
use, and records what the engine found.

How an analysis is shown (the JSON report of an ad-hoc one, a formula cut where its flaws are, flaw
titles, a schema a user gives) is evidence.calculations.reports.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db import transaction

from console import clock
from console.audit import audit_record
from evidence.calculations.reports import schema_mapping, translations_of
from evidence.choices import CalculationKind, CalculationUse
from evidence.formulas import ENGINE_VERSION, USES, Analysis, Flaw, analyze
from evidence.formulas.dataflows import StepAnalysis, analyze_dataflow
from evidence.intake import leafiq
from evidence.models import (
    BeastMode,
    CalculationAnalysis,
    CalculationFlaw,
    DataflowStep,
    DomoCard,
    DomoDataflow,
    DomoDataset,
    SourceManifest,
)

# --- uses of beast modes ---------------------------------------------------------------------------


def card_uses(cards: Iterable[DomoCard]) -> dict[tuple[int, str], set[str]]:
    """{(card id, formula id): uses} from each card's main subscription.

    A column with an aggregation or the VALUE role is a value (Domo sums a bare value by default);
    any other column role (ITEM, SERIES, ...) and every group-by is a dimension; a filter is a filter.
    Sorting by a beast mode decides nothing.
    """
    uses: dict[tuple[int, str], set[str]] = {}

    def add(card: DomoCard, item: Mapping, use: str) -> None:
        if item.get("formula_id"):
            uses.setdefault((card.pk, item["formula_id"]), set()).add(use)

    for card in cards:
        main = card.main or {}
        for column in main.get("columns", []):
            value = column.get("aggregation") or (column.get("mapping") or "").upper() == "VALUE"
            add(card, column, CalculationUse.CARD_VALUE if value else CalculationUse.CARD_DIMENSION)
        for column in main.get("group_by", []):
            add(card, column, CalculationUse.CARD_DIMENSION)
        for condition in main.get("filters", []):
            add(card, condition, CalculationUse.FILTER)
    return uses


def beast_mode_uses(beast: BeastMode, uses: Mapping[tuple[int, str], set[str]]) -> list[str]:
    """The uses of one beast mode, in the engine's order: a card beast mode on its card, a dataset one
    on any card of the export; "dataset" when no card uses it."""
    found: set[str] = set()
    for (card_id, formula_id), card_use in uses.items():
        if formula_id == beast.formula_id and (beast.card_id is None or card_id == beast.card_id):
            found |= card_use
    return [use for use in USES if use in found] or [CalculationUse.DATASET]


def analyze_in_uses(formula: str, *, schema: Mapping[str, str] | None, uses: list[str]) -> Analysis:
    """One analysis for a formula used in several ways: the first use's, with the flaws every other use
    adds (a ratio is only a flaw as a value, a window only as a filter)."""
    first = analyze(formula, schema=schema, used_as=uses[0])
    flaws: dict[tuple, Flaw] = {_flaw_key(f): f for f in first.flaws}
    for use in uses[1:]:
        for flaw in analyze(formula, schema=schema, used_as=use).flaws:
            flaws.setdefault(_flaw_key(flaw), flaw)
    if len(flaws) == len(first.flaws):
        return first
    ordered = sorted(flaws.values(), key=lambda f: (f.start if f.start is not None else -1, f.code))
    return dataclasses.replace(first, flaws=tuple(ordered))


def _flaw_key(flaw: Flaw) -> tuple:
    return (flaw.code, flaw.start, flaw.end, flaw.snippet)


# --- the manifest's analysis -----------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """One analyzed text of an object: a beast mode's formula, or a statement or expression of a step."""

    kind: str
    part: int
    used_as: str
    formula: str
    level: str  # "" when it does not parse, and for a whole SQL statement
    columns: tuple[str, ...]
    sql: str
    flaws: tuple[Flaw, ...]
    translations: dict[str, dict]


@dataclass(frozen=True)
class ObjectAnalysis:
    beast_mode: BeastMode | None
    step: DataflowStep | None
    pieces: list[Piece]

    @property
    def key(self) -> tuple[str, int]:
        return ("beast_mode", self.beast_mode.pk) if self.beast_mode is not None else ("step", self.step.pk)


@dataclass(frozen=True)
class AnalysisSummary:
    manifest_id: int
    engine_version: str
    beast_modes: int  # analyzed by this run
    dataflow_steps: int  # analyzed by this run
    skipped: int  # already analyzed at this engine version
    flaws_by_code: dict[str, int]  # of what this run analyzed

    @property
    def analyzed(self) -> int:
        return self.beast_modes + self.dataflow_steps

    @property
    def flaws(self) -> int:
        return sum(self.flaws_by_code.values())


def calculations_analyze_manifest(
    *, manifest: SourceManifest, actor=None, force: bool = False
) -> AnalysisSummary:
    """Analyze every beast mode and DataFlow step of a manifest that has no analysis at ENGINE_VERSION
    (every one with `force`), replace their analyses and flaws, and audit it.

    The engine runs before the write transaction (CPU work only, no reason to hold the manifest's
    lock during it); rows are replaced and the event recorded in one transaction.
    """
    current = _current_objects(manifest)
    beast_modes = list(
        manifest.beast_modes.select_related("dataset", "card").prefetch_related("card__datasets")
    )
    steps = list(DataflowStep.objects.filter(dataflow__manifest=manifest).select_related("dataflow"))
    analyzable = [step for step in steps if _analyzable(step)]
    wanted_beasts = [b for b in beast_modes if force or ("beast_mode", b.pk) not in current]
    wanted_steps = {s.pk for s in analyzable if force or ("step", s.pk) not in current}
    results: list[ObjectAnalysis] = []
    if wanted_beasts:
        uses = card_uses(manifest.cards.all())
        results += [_analyze_beast_mode(beast, uses) for beast in wanted_beasts]
    if wanted_steps:
        datasets = {dataset.domo_id: dataset for dataset in manifest.datasets.all()}
        flows: dict[int, list[DataflowStep]] = {}
        for step in steps:
            flows.setdefault(step.dataflow_id, []).append(step)
        for flow_steps in flows.values():
            if any(step.pk in wanted_steps for step in flow_steps):
                results += [r for r in _analyze_flow(flow_steps, datasets) if r.step.pk in wanted_steps]
    return _record(
        manifest=manifest,
        results=results,
        actor=actor,
        force=force,
        objects=len(beast_modes) + len(analyzable),
    )


def _current_objects(manifest: SourceManifest) -> set[tuple[str, int]]:
    """("beast_mode", id) and ("step", id) of the objects analyzed at the current engine version."""
    rows = CalculationAnalysis.objects.filter(manifest=manifest, engine_version=ENGINE_VERSION).values_list(
        "beast_mode_id", "dataflow_step_id"
    )
    return {("beast_mode", b) if b is not None else ("step", s) for b, s in rows}


# beast modes


def _beast_schema(beast: BeastMode) -> dict[str, str] | None:
    """The dataset's schema for a dataset beast mode; the union of the card's datasets for a card one.

    None (no column check) when the export holds no schema for it: every column would look unknown.
    """
    if beast.dataset_id is not None:
        columns = beast.dataset.schema or []
    elif beast.card_id is not None:
        columns = [column for dataset in beast.card.datasets.all() for column in dataset.schema or []]
    else:
        columns = []
    return schema_mapping(columns) or None


def _analyze_beast_mode(beast: BeastMode, uses: Mapping[tuple[int, str], set[str]]) -> ObjectAnalysis:
    schema = _beast_schema(beast)
    analysis = analyze_in_uses(beast.formula, schema=schema, uses=beast_mode_uses(beast, uses))
    piece = _formula_piece(CalculationKind.BEAST_MODE, 0, analysis, schema)
    return ObjectAnalysis(beast_mode=beast, step=None, pieces=[piece])


def _formula_piece(kind: str, part: int, analysis: Analysis, schema: Mapping[str, str] | None) -> Piece:
    return Piece(
        kind=kind,
        part=part,
        used_as=analysis.used_as,
        formula=analysis.formula,
        level=analysis.level or "",
        columns=analysis.columns,
        sql=analysis.sql,
        flaws=analysis.flaws,
        translations=translations_of(analysis, schema),
    )


# DataFlow steps


def _analyzable(step: DataflowStep) -> bool:
    """A step with SQL or Magic ETL expressions (loads and publishes have neither)."""
    return bool(step.sql or step.expressions)


def _analyze_flow(steps: list[DataflowStep], datasets: Mapping[str, DomoDataset]) -> list[ObjectAnalysis]:
    """The analyses of one DataFlow's steps (in position order), through analyze_dataflow.

    The flow is rebuilt from its recorded steps. They keep each action's type, name, SQL and
    expressions but not its id nor what it depends on: analyze_dataflow reads a Magic ETL flow with
    one input as a chain in step order, and one with several inputs without the columns that reach
    its tiles (no UNKNOWN_COLUMN there, dates known by name only).
    """
    flow = steps[0].dataflow
    inputs = [datasets.get(domo_id) for domo_id in flow.input_ids]
    schemas = {d.domo_id: schema_mapping(d.schema) for d in inputs if d is not None and d.schema}
    found = analyze_dataflow(_reader_flow(flow, steps, datasets), schemas=schemas)
    pieces: dict[int, list[Piece]] = {}
    for step_analysis in found:
        pieces.setdefault(step_analysis.action_index, []).append(_step_piece(step_analysis))
    return [ObjectAnalysis(beast_mode=None, step=steps[i], pieces=items) for i, items in pieces.items()]


def _reader_flow(
    flow: DomoDataflow, steps: list[DataflowStep], datasets: Mapping[str, DomoDataset]
) -> leafiq.Dataflow:
    def endpoint(domo_id: str) -> leafiq.DataflowEndpoint:
        dataset = datasets.get(domo_id)
        return leafiq.DataflowEndpoint(dataset_id=domo_id, name=dataset.name if dataset else None)

    return leafiq.Dataflow(
        id=flow.domo_id,
        name=flow.name,
        database_type=flow.database_type,
        inputs=tuple(endpoint(i) for i in flow.input_ids),
        outputs=tuple(endpoint(o) for o in flow.output_ids),
        actions=tuple(
            leafiq.DataflowAction(
                id=None,
                type=step.action_type,
                name=step.name or None,
                depends_on=(),
                sql=tuple(step.sql),
                expressions=tuple(step.expressions),
            )
            for step in steps
        ),
        last_execution=None,
    )


def _step_piece(step: StepAnalysis) -> Piece:
    """A Magic ETL expression is one formula (level, normalized text, translations); a SQL statement is
    shown as written, its flaws at their places in it."""
    whole = [a.analysis for a in step.analyses if (a.start, a.end) == (0, len(step.text))]
    formula = whole[0] if step.kind == CalculationKind.EXPRESSION and len(whole) == 1 else None
    return Piece(
        kind=step.kind,
        part=step.part,
        used_as=CalculationUse.DATAFLOW,
        formula=step.text,
        level=(formula.level or "") if formula else "",
        columns=step.columns,
        sql=formula.sql if formula else step.text,
        flaws=step.flaws,
        translations=translations_of(formula, None) if formula else {},
    )


# recording


@transaction.atomic
def _record(
    *, manifest: SourceManifest, results: list[ObjectAnalysis], actor, force: bool, objects: int
) -> AnalysisSummary:
    # Analyses of one manifest (the intake, the command, the page's button) take turns.
    SourceManifest.objects.select_for_update().filter(pk=manifest.pk).values_list("pk").first()
    replaced = CalculationAnalysis.objects.filter(manifest=manifest)
    if not force:
        # Under the lock: what another run analyzed meanwhile is current now, and stays.
        current = _current_objects(manifest)
        results = [result for result in results if result.key not in current]
        replaced = replaced.exclude(engine_version=ENGINE_VERSION)
    summary = _summary(manifest, results, objects=objects)
    if not results:
        return summary
    before = Counter(CalculationFlaw.objects.filter(analysis__in=replaced).values_list("code", flat=True))
    before_versions = sorted(set(replaced.values_list("engine_version", flat=True)))
    replaced_count = replaced.count()
    replaced.delete()  # their flaws go with them
    now = clock.now()
    pieces = [(result, piece) for result in results for piece in result.pieces]
    created = CalculationAnalysis.objects.bulk_create(
        CalculationAnalysis(
            manifest=manifest,
            beast_mode=result.beast_mode,
            dataflow_step=result.step,
            kind=piece.kind,
            part=piece.part,
            used_as=piece.used_as,
            formula=piece.formula,
            engine_version=ENGINE_VERSION,
            level=piece.level,
            columns=list(piece.columns),
            sql=piece.sql,
            translations=piece.translations,
            analyzed_at=now,
        )
        for result, piece in pieces
    )
    CalculationFlaw.objects.bulk_create(
        CalculationFlaw(
            analysis=row,
            manifest=manifest,
            position=position,
            code=flaw.code,
            severity=flaw.severity,
            snippet=flaw.snippet or "",
            message=flaw.message,
            suggestion=flaw.suggestion or "",
            start=flaw.start,
            end=flaw.end,
        )
        for row, (_result, piece) in zip(created, pieces, strict=True)
        for position, flaw in enumerate(piece.flaws)
    )
    audit_record(
        actor=actor,
        action="calculations.analyzed",
        object_type="evidence.sourcemanifest",
        object_id=str(manifest.pk),
        before={"engine_versions": before_versions, "flaws": dict(sorted(before.items())), "analyses": replaced_count}
        if before_versions
        else None,
        after={
            "engine_version": ENGINE_VERSION,
            "force": force,
            "beast_modes": summary.beast_modes,
            "dataflow_steps": summary.dataflow_steps,
            "skipped": summary.skipped,
            "flaws": summary.flaws_by_code,
            "analyses": len(created),  # rows written: one per analyzed piece
        },
    )
    return summary


def _summary(manifest: SourceManifest, results: list[ObjectAnalysis], *, objects: int) -> AnalysisSummary:
    codes = Counter(flaw.code for result in results for piece in result.pieces for flaw in piece.flaws)
    beast_modes = sum(1 for result in results if result.beast_mode is not None)
    return AnalysisSummary(
        manifest_id=manifest.pk,
        engine_version=ENGINE_VERSION,
        beast_modes=beast_modes,
        dataflow_steps=len(results) - beast_modes,
        skipped=objects - len(results),
        flaws_by_code=dict(sorted(codes.items())),
    )


def pending_analyses(manifest: SourceManifest) -> int:
    """Beast modes and DataFlow steps of the manifest with no analysis at ENGINE_VERSION (two queries)."""
    beast_modes = manifest.beast_modes.exclude(analyses__engine_version=ENGINE_VERSION).count()
    steps = (
        DataflowStep.objects.filter(dataflow__manifest=manifest)
        .exclude(sql=[], expressions=[])
        .exclude(analyses__engine_version=ENGINE_VERSION)
        .count()
    )
    return beast_modes + steps
