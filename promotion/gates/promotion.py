"""The gates of a promotion: the manifest, its load id, the datasets, their schemas, the flaws behind
them and their cards' golden packets."""
from __future__ import annotations

from django.urls import reverse

from console.chain import canonical_json
from evidence.calculations.analysis import pending_analyses
from evidence.choices import ManifestStatus
from evidence.formulas import ENGINE_VERSION
from evidence.intake.validation.manifest import load_id_problem
from evidence.models import DomoCard, GoldenReproduction, SourceManifest
from promotion import curated
from promotion.choices import PROMOTION_LOADED, PromotionKind
from promotion.curated.aliases import curated_reader

from .base import (
    Gate,
    GateRun,
    _card_link,
    _dataset_link,
    _manifest_link,
    _verdict,
    curated_schema_of,
    detail,
    requested_datasets,
    schema_columns,
    sha256_of,
)
from .flaws import _flaw_detail, dispositions_of, flaw_fingerprint, flaw_object, flaws_behind
from .golden import golden_held_back


class ManifestComplete(Gate):
    name, version, title = "manifest_complete", "1", "The console's verdict on the export is complete"

    def run(self, request) -> GateRun:
        m = SourceManifest.objects.get(pk=request.manifest_id)
        details = []
        if m.status != ManifestStatus.COMPLETE:
            details.append(
                detail(
                    f"the console found the export {m.status} (the exporter claimed {m.claimed_status or 'nothing'})",
                    f"manifest {m.load_id}",
                    _manifest_link(m),
                )
            )
        return _verdict(details, [m.pk, m.status, m.claimed_status, m.manifest_sha256, m.missing])


class LoadId(Gate):
    name, version, title = "load_id", "2", "The load id is well-formed and not promoted with other content"

    def run(self, request) -> GateRun:
        from promotion.models import PromotionRequest

        m = SourceManifest.objects.get(pk=request.manifest_id)
        details = []
        problem = load_id_problem(m.load_id)
        if problem:
            details.append(detail(f"the load id is malformed: {problem}", f"manifest {m.load_id}", _manifest_link(m)))
        domo_ids = [d.domo_id for d in requested_datasets(request)]
        # Promotions only: a rollback to a version of the other content re-points what a promotion
        # (listed here already) loaded; it never loads content of its own.
        conflicts = (
            PromotionRequest.objects.filter(kind=PromotionKind.PROMOTION, state__in=PROMOTION_LOADED,
                                            manifest__load_id=m.load_id)
            .exclude(manifest__manifest_sha256=m.manifest_sha256)
            .filter(datasets__domo_id__in=domo_ids)
            .exclude(pk=request.pk)
            .select_related("manifest")
            .distinct()
            .order_by("pk")
        )
        seen = []
        for other in conflicts:
            seen.append([other.pk, other.state, other.manifest.manifest_sha256])
            details.append(
                detail(
                    f"load id {m.load_id} is already {other.state} by promotion #{other.pk} with other content "
                    f"(manifest sha256 {other.manifest.manifest_sha256[:12]}...)",
                    f"promotion #{other.pk}",
                    _manifest_link(other.manifest),
                )
            )
        return _verdict(details, [m.load_id, m.manifest_sha256, problem, sorted(domo_ids), seen])


class DatasetIds(Gate):
    name, version, title = (
        "dataset_ids", "2", "Every dataset has its Domo id, its silver data and a schema the curated store can hold"
    )

    def run(self, request) -> GateRun:
        details, inputs = [], []
        datasets = requested_datasets(request)
        if not datasets:
            details.append(detail("the request names no dataset", f"promotion #{request.pk}"))
        for d in datasets:
            inputs.append([d.pk, d.manifest_id, d.domo_id, d.silver_path, d.silver_sha256, d.silver_rows, d.schema])
            where, link = f"dataset {d.name!r}", _dataset_link(d)
            if d.manifest_id != request.manifest_id:
                details.append(detail("the dataset belongs to another manifest", where, link))
            if not d.domo_id:
                details.append(detail("the dataset has no Domo id", where, link))
            if not d.silver_path or d.silver_rows is None:
                details.append(detail("the dataset has no silver data (it failed its checks)", where, link))
            if not d.schema:
                details.append(detail("the dataset has no schema", where, link))
            try:
                curated.sql_identifiers([str(c.get("name", "")) for c in d.schema or []])
            except curated.InvalidIdentifier as exc:
                details.append(detail(f"the curated table cannot hold its columns: {exc}", where, link))
        return _verdict(details, inputs)


class SchemaCompatible(Gate):
    name, version, title = "schema_compatible", "1", "Schemas match the current curated versions, or the drift is acknowledged"

    def run(self, request) -> GateRun:
        from promotion.models import SchemaDriftAcknowledgement

        details, inputs = [], []
        for d in requested_datasets(request):
            ours = schema_columns(d.schema)
            curated = curated_schema_of(d)
            if curated is None:
                inputs.append([d.pk, sha256_of(ours), None])
                continue
            theirs = schema_columns(curated.schema)
            ack = None
            if ours != theirs:
                ack = (
                    SchemaDriftAcknowledgement.objects.filter(
                        dataset=d, curated_version=curated.version, schema_sha256=sha256_of(ours)
                    )
                    .values_list("pk", flat=True)
                    .first()
                )
                if ack is None:
                    added = [c[0] for c in ours if c[0] not in {t[0] for t in theirs}]
                    removed = [t[0] for t in theirs if t[0] not in {c[0] for c in ours}]
                    changed = [c[0] for c in ours if c[0] in dict(theirs) and dict(theirs)[c[0]] != c[1]]
                    details.append(
                        detail(
                            f"the schema differs from curated version {curated.version}: added {added}, "
                            f"removed {removed}, type changed {changed}; acknowledge the drift or fix the export",
                            f"dataset {d.name!r}",
                            _dataset_link(d),
                            schema_sha256=sha256_of(ours),
                            curated_version=curated.version,
                        )
                    )
            inputs.append([d.pk, sha256_of(ours), curated.version, sha256_of(theirs), ack])
        return _verdict(details, inputs)


class CalculationFlawsDispositioned(Gate):
    name, version, title = (
        "calculation_flaws_dispositioned",
        "1",
        "Every flaw behind the datasets has an operator's disposition",
    )

    def run(self, request) -> GateRun:
        manifest = request.manifest
        details = []
        pending = pending_analyses(manifest)
        if pending:
            details.append(
                detail(
                    f"{pending} beast modes or DataFlow steps await analysis at engine {ENGINE_VERSION}; re-analyze first",
                    f"manifest {manifest.load_id}",
                    reverse("evidence:calculation-flaws", args=[manifest.pk]),
                )
            )
        decided = dispositions_of(manifest)
        inputs = []
        for flaw in flaws_behind(manifest, requested_datasets(request)):
            fp = flaw_fingerprint(flaw)
            inputs.append([fp, decided.get(fp)])
            if fp not in decided:
                details.append(_flaw_detail(flaw, fp))
        return _verdict(details, [ENGINE_VERSION, pending, sorted(inputs, key=canonical_json)])


class GoldenReproduced(Gate):
    name, version, title = (
        "golden_reproduced",
        "2",
        "Each golden packet is reproduced from silver, or its differences are explained by dispositioned flaws",
    )

    def run(self, request) -> GateRun:
        manifest = request.manifest
        datasets = requested_datasets(request)
        decided = dispositions_of(manifest)
        cards = (
            DomoCard.objects.filter(manifest=manifest, datasets__in=[d.pk for d in datasets])
            .distinct()
            .prefetch_related("beast_modes", "datasets__beast_modes")
            .order_by("pk")
        )
        flaws_by_formula: dict[str, list[str]] = {}
        for flaw in flaws_behind(manifest, datasets):
            flaws_by_formula.setdefault(flaw_object(flaw)[1], []).append(flaw_fingerprint(flaw))
        details, notes, inputs = [], [], []
        requested, reader = {d.pk for d in datasets}, curated_reader()
        for card in cards:
            if not card.golden_path:
                continue
            where, link = f"card {card.title!r}", _card_link(card)
            held_back = golden_held_back(card, requested, manifest, reader)
            if held_back:  # not loaded with this request: nothing of it to check now
                inputs.append([card.pk, card.golden_path, "held back", held_back])
                notes.append(detail(held_back, where, link, note=True))
                continue
            try:
                rep = card.reproduction
            except GoldenReproduction.DoesNotExist:
                rep = None
            if rep is None:
                inputs.append([card.pk, card.golden_path, None])
                details.append(detail("the golden packet was never reproduced", where, link))
                continue
            explained = self._explained_columns(card, flaws_by_formula, decided)
            differing = sorted({str(d.get("column")) for d in rep.differing})
            inputs.append(
                [card.pk, card.golden_path, rep.pk, rep.status, rep.engine_version, str(rep.reproduced_at),
                 differing, rep.only_in_golden_count, rep.only_in_ours_count,
                 sorted(explained.items())]
            )
            if rep.status == "reproduced":
                continue
            if rep.status == "not_reproducible":
                problems = "; ".join(rep.problems) or "no reason recorded"
                details.append(detail(f"the golden packet could not be rebuilt from silver: {problems}", where, link))
                continue
            unexplained = [c for c in differing if not explained.get(c)]
            if (rep.only_in_golden_count or rep.only_in_ours_count) and not any(explained.values()):
                unexplained.append("(rows present on one side only)")
            if unexplained:
                details.append(
                    detail(
                        f"the golden packet differs ({rep.differing_count} values, {rep.only_in_golden_count} rows "
                        f"only in Domo, {rep.only_in_ours_count} only ours) in {', '.join(unexplained)}, "
                        "not explained by a dispositioned flaw",
                        where,
                        link,
                    )
                )
        verdict = _verdict(details, inputs)
        return GateRun(verdict.outcome, details + notes, verdict.inputs_fingerprint)

    @staticmethod
    def _explained_columns(card: DomoCard, flaws_by_formula: dict[str, list[str]], decided) -> dict[str, bool]:
        """{column label: True} for each card column computed by a beast mode whose flaws are all dispositioned.

        The stored differences are the first ones (evidence.intake.reproduction.SHOWN); their columns stand for all.
        """
        names = {b.formula_id: b.name for d in card.datasets.all() for b in d.beast_modes.all()}
        names.update({b.formula_id: b.name for b in card.beast_modes.all()})
        explained = {}
        for column in (card.main or {}).get("columns", []):
            formula_id = column.get("formula_id")
            if not formula_id:
                continue
            label = column.get("alias") or names.get(formula_id) or formula_id
            fps = flaws_by_formula.get(formula_id, [])
            explained[label] = bool(fps) and all(fp in decided for fp in fps)
        return explained


GATES: tuple[Gate, ...] = (
    ManifestComplete(),
    LoadId(),
    DatasetIds(),
    SchemaCompatible(),
    CalculationFlawsDispositioned(),
    GoldenReproduced(),
)
