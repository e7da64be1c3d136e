"""Recording the Domo objects of a received export: datasets, policies, cards, beast modes,
DataFlows and the directory, read with evidence.intake.leafiq from the export's files.

Called inside the intake's recording transaction. An object file the validator already reported
as unreadable is recorded as far as it can be, never guessed.
"""
from __future__ import annotations

from pathlib import Path

from evidence.intake import leafiq
from evidence.models import (
    BeastMode,
    DataflowStep,
    DirectoryEntry,
    DomoCard,
    DomoDataflow,
    DomoDataset,
    PdpPolicy,
    SourceManifest,
)


def _read(reader, root: Path, relative: str | None):
    if not relative or not (root / relative).is_file():
        return None
    try:
        return reader(root / relative, file=relative)
    except (leafiq.LeafIQFormatError, OSError, ValueError):
        return None  # the validator reported it; the object is shown as absent


def record_objects(manifest: SourceManifest, manifest_obj: leafiq.Manifest, root: Path, silver_outputs) -> dict[int, DomoCard]:
    """Record the Domo objects of the export; returns the cards by Domo id."""
    datasets: dict[str, DomoDataset] = {}
    cards: dict[int, DomoCard] = {}
    for entry in manifest_obj.datasets:
        metadata = _read(leafiq.read_dataset_metadata, root, entry.metadata)
        output = silver_outputs.get(entry.id)
        dataset = DomoDataset.objects.create(
            manifest=manifest, domo_id=entry.id,
            name=metadata.name if metadata else entry.id,
            description=(metadata.description or "") if metadata else "",
            api_shape=metadata.api if metadata else "",
            declared_rows=metadata.row_count if metadata else None,
            schema=[{"name": c.name, "type": c.type} for c in metadata.columns] if metadata else [],
            owner_name=(metadata.owner_name or "") if metadata else "",
            pdp_enabled=metadata.pdp_enabled if metadata else None,
            silver_path=str(output.path) if output else "",
            silver_sha256=output.sha256 if output else "",
            silver_rows=output.rows if output else None,
        )
        datasets[entry.id] = dataset
        for beast in metadata.beast_modes if metadata else ():
            _beast_mode(manifest, beast, dataset=dataset)
        for policy in _read(leafiq.read_policies, root, entry.policies) or ():
            PdpPolicy.objects.create(
                dataset=dataset, policy_id=policy.id, name=policy.name, type=policy.type,
                filters=[
                    {"column": f.column, "operator": f.operator, "values": list(f.values), "negated": f.negated,
                     "ignore_case": f.ignore_case, "dynamic": f.dynamic}
                    for f in policy.filters
                ],
                user_ids=list(policy.user_ids), group_ids=list(policy.group_ids), api_shape=policy.api,
            )
    for entry in manifest_obj.cards:
        card_def = _read(leafiq.read_card_definition, root, entry.definition)
        main = card_def.main if card_def else None
        card = DomoCard.objects.create(
            manifest=manifest, domo_id=entry.id, title=card_def.title if card_def else str(entry.id),
            datasource_ids=[d.id for d in card_def.datasources] if card_def else [],
            main=_subscription_json(main) if main else {},
            golden_path=entry.golden if entry.golden and (root / entry.golden).is_file() else "",
            golden_captured_at=entry.golden_captured_at,
        )
        cards[entry.id] = card
        if card_def:
            card.datasets.set([datasets[d.id] for d in card_def.datasources if d.id in datasets])
            for beast in card_def.beast_modes:
                _beast_mode(manifest, beast, card=card)
    for entry in manifest_obj.dataflows:
        flow = _read(leafiq.read_dataflow, root, entry.definition)
        if flow is None:
            continue
        dataflow = DomoDataflow.objects.create(
            manifest=manifest, domo_id=flow.id, name=flow.name, database_type=flow.database_type,
            input_ids=[i.dataset_id for i in flow.inputs], output_ids=[o.dataset_id for o in flow.outputs],
        )
        DataflowStep.objects.bulk_create(
            DataflowStep(
                dataflow=dataflow, position=position, action_type=action.type, name=action.name or "",
                sql=list(action.sql), expressions=list(action.expressions),
            )
            for position, action in enumerate(flow.actions)
        )
    for user in _read(leafiq.read_users, root, manifest_obj.users) or ():
        DirectoryEntry.objects.create(
            manifest=manifest, kind="user", domo_id=user.id, name=user.name or "", email=user.email or ""
        )
    for group in _read(leafiq.read_groups, root, manifest_obj.groups) or ():
        DirectoryEntry.objects.create(
            manifest=manifest, kind="group", domo_id=group.id, name=group.name or "", member_ids=list(group.user_ids)
        )
    return cards


def _beast_mode(manifest, beast: leafiq.BeastMode, *, card=None, dataset=None) -> BeastMode:
    return BeastMode.objects.create(
        manifest=manifest, card=card, dataset=dataset, scope="card" if card else "dataset",
        formula_id=beast.id, name=beast.name, formula=beast.formula, data_type=beast.data_type or "",
        status=beast.status or "", persisted_on_dataset=beast.persisted_on_datasource,
    )


def _subscription_json(sub: leafiq.Subscription) -> dict:
    def col(c):
        return {"column": c.column, "formula_id": c.formula_id, "aggregation": c.aggregation,
                "alias": c.alias, "mapping": c.mapping}

    return {
        "columns": [col(c) for c in sub.columns],
        "filters": [{"column": f.column, "formula_id": f.formula_id, "operator": f.operator,
                     "values": list(f.values), "negated": f.negated} for f in sub.filters],
        "group_by": [col(c) for c in sub.group_by],
        "order_by": [{"column": o.column, "formula_id": o.formula_id, "descending": o.descending} for o in sub.order_by],
        "date_grain": {"column": sub.date_grain.column, "grain": sub.date_grain.grain} if sub.date_grain else None,
    }
