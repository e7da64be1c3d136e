"""Reads of one object's page (dataset, card, DataFlow): the object with its analyses in a fixed number
of queries, and its previews from the lake.

Lake reads (the silver preview, a golden packet's first rows) happen outside any transaction and never
fail a page: a file that is missing or fails its hash check is reported on the page instead of its rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Q
from django.shortcuts import get_object_or_404

from console.lake import LakeError, get_lake
from evidence.intake import pdp, silver
from evidence.intake.csvfields import field_limit
from evidence.models import (
    BeastMode,
    DataflowStep,
    DirectoryEntry,
    DomoCard,
    DomoDataflow,
    DomoDataset,
    GoldenReproduction,
    ManifestFile,
    PdpPolicy,
)
from evidence.selectors.manifests import ANALYSES, PREVIEW_ROWS

# --- previews from the lake ------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    columns: list[str] = field(default_factory=list)
    rows: list[list[str | None]] = field(default_factory=list)  # None is NULL
    problem: str = ""  # why there are no rows to show
    total: int | None = None

    @property
    def shown(self) -> int:
        return len(self.rows)


def _cell(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(sep="T")
    if isinstance(value, dt.date | decimal.Decimal):
        return str(value)
    return str(value)


def silver_preview(dataset: DomoDataset, limit: int = PREVIEW_ROWS) -> Preview:
    """The first rows of a dataset's silver Parquet, read through the lake's verified stream."""
    if not dataset.silver_path:
        return Preview(
            problem="No silver data: this dataset did not pass its checks, so only its bronze copy is kept."
        )
    lake = get_lake()
    try:
        if dataset.silver_sha256 and lake.sha256(dataset.silver_path) != dataset.silver_sha256:
            return Preview(
                problem=f"The silver file at {dataset.silver_path} is not the one this intake recorded "
                "(its SHA-256 differs); nothing is shown."
            )
        with lake.open(dataset.silver_path) as handle:
            table = silver.head(handle, limit)
    except LakeError as exc:
        return Preview(problem=f"The silver file could not be read: {exc}")
    columns = table.column_names
    rows = [[_cell(record[name]) for name in columns] for record in table.to_pylist()]
    return Preview(columns=columns, rows=rows, total=dataset.silver_rows)


def golden_preview(card: DomoCard, bronze_path: str | None, limit: int = PREVIEW_ROWS) -> Preview:
    """The first rows of a card's golden packet, as the export captured them (read from bronze)."""
    if not card.golden_path:
        return Preview(problem="The export holds no golden output for this card.")
    if not bronze_path:
        return Preview(problem=f"{card.golden_path} was not received, so there is nothing to show.")
    try:
        with get_lake().open(bronze_path) as handle, field_limit(settings.INTAKE_MAX_FIELD_BYTES):
            text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="replace", newline="")
            reader = csv.reader(text)
            header = next(reader, [])
            rows = []
            for row in reader:
                if len(rows) >= limit:
                    break
                rows.append(row)
    except (LakeError, csv.Error) as exc:
        return Preview(problem=f"The golden packet could not be read: {exc}")
    return Preview(columns=header, rows=rows)


# --- dataset ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyLine:
    policy: PdpPolicy
    sentence: str


@dataclass(frozen=True)
class DatasetDetail:
    dataset: DomoDataset
    policies: list[PolicyLine]
    beast_modes: list[BeastMode]
    cards: list[DomoCard]
    feeds: list[DomoDataflow]  # dataflows that read this dataset
    fed_by: list[DomoDataflow]  # dataflows that write it
    preview: Preview


def directories_for(policies: list[PdpPolicy]) -> dict[int, pdp.Directory]:
    """{manifest id: the users and groups its policies name}, from the exports' directories: one query.

    The policies must come with their dataset (select_related) for the manifest id.
    """
    wanted: dict[int, tuple[set[int], set[int]]] = {}
    for policy in policies:
        users, groups = wanted.setdefault(policy.dataset.manifest_id, (set(), set()))
        users.update(int(u) for u in policy.user_ids or ())
        groups.update(int(g) for g in policy.group_ids or ())
    condition = Q(pk__in=[])
    for manifest_id, (users, groups) in wanted.items():
        condition |= Q(manifest_id=manifest_id) & (
            Q(kind="user", domo_id__in=users) | Q(kind="group", domo_id__in=groups)
        )
    found: dict[int, list[tuple[str, int, str]]] = {manifest_id: [] for manifest_id in wanted}
    if any(users or groups for users, groups in wanted.values()):
        for manifest_id, kind, domo_id, name in DirectoryEntry.objects.filter(condition).values_list(
            "manifest_id", "kind", "domo_id", "name"
        ):
            found[manifest_id].append((kind, domo_id, name))
    return {manifest_id: pdp.directory_from(entries) for manifest_id, entries in found.items()}


def policy_lines(policies: list[PdpPolicy], directory: pdp.Directory) -> list[PolicyLine]:
    return [
        PolicyLine(
            policy=p,
            sentence=pdp.describe_policy(
                {"type": p.type, "filters": p.filters, "user_ids": p.user_ids, "group_ids": p.group_ids},
                directory,
            ),
        )
        for p in policies
    ]


def dataset_detail(pk: int) -> DatasetDetail:
    dataset = get_object_or_404(DomoDataset.objects.select_related("manifest"), pk=pk)
    policies = list(dataset.policies.all())
    for policy in policies:
        policy.dataset = dataset  # already at hand: no query per policy
    flows = list(DomoDataflow.objects.filter(manifest_id=dataset.manifest_id))
    directory = directories_for(policies).get(dataset.manifest_id, pdp.Directory(users={}, groups={}))
    return DatasetDetail(
        dataset=dataset,
        policies=policy_lines(policies, directory),
        beast_modes=list(dataset.beast_modes.prefetch_related(ANALYSES)),
        cards=list(dataset.cards.all()),
        feeds=[f for f in flows if dataset.domo_id in (f.input_ids or [])],
        fed_by=[f for f in flows if dataset.domo_id in (f.output_ids or [])],
        preview=silver_preview(dataset),
    )


# --- card ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardColumnLine:
    heading: str
    source: str  # "column Paid" or "beast mode Paid share"
    aggregation: str
    mapping: str
    beast_mode: BeastMode | None


@dataclass(frozen=True)
class CardDetail:
    card: DomoCard
    datasets: list[DomoDataset]
    missing_datasets: list[str]  # datasource ids the export does not hold
    columns: list[CardColumnLine]
    filters: list[str]
    group_by: list[str]
    order_by: list[str]
    date_grain: str
    beast_modes: list[BeastMode]  # saved on the card, and the dataset ones it uses
    preview: Preview
    reproduction: GoldenReproduction | None
    reproduction_one_sided: list[tuple[str, list]]


def card_detail(pk: int) -> CardDetail:
    card = get_object_or_404(DomoCard.objects.select_related("manifest", "reproduction"), pk=pk)
    # A missing reverse one-to-one raises RelatedObjectDoesNotExist, an AttributeError.
    reproduction = getattr(card, "reproduction", None)
    main = card.main or {}
    used = {
        c.get("formula_id")
        for c in [
            *main.get("columns", []),
            *main.get("filters", []),
            *main.get("group_by", []),
            *main.get("order_by", []),
        ]
    } - {None}
    beast_modes = list(
        BeastMode.objects.filter(manifest_id=card.manifest_id)
        .filter(Q(card=card) | Q(formula_id__in=used, scope="dataset"))
        .select_related("dataset")
        .prefetch_related(ANALYSES)
        .order_by("scope", "name", "id")
    )
    by_formula = {b.formula_id: b for b in beast_modes}
    datasets = list(card.datasets.all())
    held = {d.domo_id for d in datasets}
    golden_bronze = (  # asked even without a golden path, so that every card page costs the same
        ManifestFile.objects.filter(manifest_id=card.manifest_id, path=card.golden_path)
        .values_list("bronze_path", flat=True)
        .first()
    )

    def source(item) -> tuple[str, BeastMode | None]:
        if item.get("formula_id"):
            beast = by_formula.get(item["formula_id"])
            name = beast.name if beast else f"{item['formula_id']} (not in the export)"
            return f"beast mode {name}", beast
        return f"column {item.get('column') or '(none)'}", None

    columns = []
    for item in main.get("columns", []):
        text, beast = source(item)
        heading = (
            item.get("alias") or item.get("column") or (beast.name if beast else item.get("formula_id") or "")
        )
        columns.append(
            CardColumnLine(
                heading=heading,
                source=text,
                aggregation=item.get("aggregation") or "",
                mapping=item.get("mapping") or "",
                beast_mode=beast,
            )
        )
    filters = []
    for item in main.get("filters", []):
        text, _beast = source(item)
        filters.append(
            f"{text} "
            + pdp.describe_condition(
                {
                    "operator": item.get("operator"),
                    "values": item.get("values"),
                    "negated": item.get("negated"),
                }
            )
        )
    grain = main.get("date_grain") or {}
    return CardDetail(
        card=card,
        datasets=datasets,
        missing_datasets=[i for i in card.datasource_ids if i not in held],
        columns=columns,
        filters=filters,
        group_by=[source(item)[0] for item in main.get("group_by", [])],
        order_by=[
            source(item)[0] + (" (descending)" if item.get("descending") else "")
            for item in main.get("order_by", [])
        ],
        date_grain=f"{grain.get('column')} by {str(grain.get('grain') or '').lower()}" if grain else "",
        beast_modes=beast_modes,
        preview=golden_preview(card, golden_bronze),
        reproduction=reproduction,
        reproduction_one_sided=[
            ("Rows only in the golden packet", reproduction.only_in_golden if reproduction else []),
            ("Rows only in the rebuild", reproduction.only_in_ours if reproduction else []),
        ],
    )


# --- dataflow --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataflowDetail:
    dataflow: DomoDataflow
    inputs: list[tuple[str, DomoDataset | None]]  # (Domo id, the dataset of this export or None)
    outputs: list[tuple[str, DomoDataset | None]]
    steps: list[DataflowStep]


def dataflow_detail(pk: int) -> DataflowDetail:
    flow = get_object_or_404(DomoDataflow.objects.select_related("manifest"), pk=pk)
    ids = [*flow.input_ids, *flow.output_ids]
    held = {d.domo_id: d for d in DomoDataset.objects.filter(manifest_id=flow.manifest_id, domo_id__in=ids)}
    return DataflowDetail(
        dataflow=flow,
        inputs=[(i, held.get(i)) for i in flow.input_ids],
        outputs=[(o, held.get(o)) for o in flow.output_ids],
        steps=list(flow.steps.prefetch_related(ANALYSES)),
    )
