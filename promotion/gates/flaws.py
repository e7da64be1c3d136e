"""Calculation flaws behind a request's datasets, and their stable fingerprints."""
from __future__ import annotations

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
