"""Calculation flaws behind a request's datasets, and their stable fingerprints."""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q
from django.urls import reverse

from evidence.models import CalculationFlaw, DomoCard, DomoDataset, SourceManifest

from .base import _card_link, _dataset_link, detail, sha256_of


def flaw_object(flaw: CalculationFlaw) -> tuple[str, str]:
    """(kind, stable id) of the object a flaw is in: a beast mode's formula id, or DataFlow/step/part."""
    analysis = flaw.analysis
    if analysis.beast_mode_id is not None:
        return "beast_mode", analysis.beast_mode.formula_id
    step = analysis.dataflow_step
    return "dataflow_step", f"{step.dataflow.domo_id}/{step.position}/{analysis.part}"


def flaw_fingerprint(flaw: CalculationFlaw) -> str:
    """Stable across re-analysis: the object, the code and the snippet, never the row's id."""
    kind, object_id = flaw_object(flaw)
    return sha256_of([kind, object_id, flaw.code, flaw.snippet])


def flaws_behind(manifest: SourceManifest, datasets: list[DomoDataset]):
    """Flaws of the beast modes on these datasets (or on their cards) and of the DataFlows that output them."""
    dataset_ids = [d.pk for d in datasets]
    domo_ids = {d.domo_id for d in datasets}
    card_ids = DomoCard.objects.filter(manifest=manifest, datasets__in=dataset_ids).values("pk")
    flow_ids = [f.pk for f in manifest.dataflows.all() if domo_ids & set(f.output_ids or [])]
    return (
        CalculationFlaw.objects.filter(manifest=manifest)
        .filter(
            Q(analysis__beast_mode__dataset__in=dataset_ids)
            | Q(analysis__beast_mode__card__in=card_ids)
            | Q(analysis__dataflow_step__dataflow__in=flow_ids)
        )
        .select_related(
            "analysis__beast_mode__card",
            "analysis__beast_mode__dataset",
            "analysis__dataflow_step__dataflow",
        )
        .order_by("pk")
    )


def _flaw_detail(flaw: CalculationFlaw, fingerprint: str) -> dict:
    analysis = flaw.analysis
    snippet = flaw.snippet if len(flaw.snippet) <= 120 else flaw.snippet[:117] + "..."
    if analysis.beast_mode_id is not None:
        beast = analysis.beast_mode
        what = f"{flaw.code} in beast mode {beast.name!r}: {snippet}"
        if beast.card_id is not None:
            where, link = f"card {beast.card.title!r}", _card_link(beast.card)
        else:
            where, link = f"dataset {beast.dataset.name!r}", _dataset_link(beast.dataset)
    else:
        step = analysis.dataflow_step
        what = f"{flaw.code} in DataFlow step {step.position} ({step.name or step.action_type}): {snippet}"
        where = f"DataFlow {step.dataflow.name!r}, step {step.position}, part {analysis.part}"
        link = reverse("evidence:dataflow-detail", args=[step.dataflow_id])
    return detail(what, where, link, code=flaw.code, fingerprint=fingerprint)


def dispositions_of(manifest: SourceManifest) -> dict[str, tuple[str, int]]:
    from promotion.models import FlawDisposition

    return {
        fp: (decision, pk)
        for fp, decision, pk in FlawDisposition.objects.filter(manifest=manifest).values_list(
            "fingerprint", "decision", "pk"
        )
    }


@dataclass
class FlawGroup:
    """The flaws behind some datasets that share one fingerprint (the same formula seen from several cards),
    with the operator's disposition of that fingerprint: one disposition covers every place."""

    fingerprint: str
    flaw: CalculationFlaw  # the first place it occurs
    also: list[CalculationFlaw]  # the other places
    disposition: object | None  # promotion.models.FlawDisposition

    @property
    def count(self) -> int:
        return 1 + len(self.also)

    @property
    def flaws(self) -> list[CalculationFlaw]:
        return [self.flaw, *self.also]


def flaw_groups(manifest: SourceManifest, datasets: list[DomoDataset]) -> list[FlawGroup]:
    """The flaws behind these datasets grouped by fingerprint, in the order they first occur, each with its
    disposition (or None): what the request's page and the API's flaw lists show."""
    from promotion.models import FlawDisposition

    decided = {d.fingerprint: d for d in FlawDisposition.objects.filter(manifest=manifest).select_related("decided_by")}
    groups: dict[str, FlawGroup] = {}
    for flaw in flaws_behind(manifest, datasets):
        fingerprint = flaw_fingerprint(flaw)
        if fingerprint in groups:
            groups[fingerprint].also.append(flaw)
        else:
            groups[fingerprint] = FlawGroup(fingerprint, flaw, [], decided.get(fingerprint))
    return list(groups.values())
