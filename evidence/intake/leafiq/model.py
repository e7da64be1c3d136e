"""The Leaf IQ format's constants, LeafIQFormatError, and the frozen dataclasses the readers return."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

FORMAT = "leafiq-export/1"
COLUMN_TYPES = ("STRING", "LONG", "DOUBLE", "DECIMAL", "DATE", "DATETIME")
# The types of a card's dataset columns (its top-level columns[]), as Domo's internal API writes them.
CARD_COLUMN_TYPES = ("date", "string", "numeric")
POLICY_TYPES = ("user", "system", "open")
PDP_OPERATORS = (
    "EQUALS", "LIKE", "GREATER_THAN", "LESS_THAN", "GREATER_THAN_EQUAL", "LESS_THAN_EQUAL", "BETWEEN",
    "BEGINS_WITH", "ENDS_WITH", "CONTAINS",
)
DATAFLOW_TYPES = ("MYSQL", "MAGIC", "REDSHIFT")
MISSING_KINDS = ("dataset", "card", "dataflow", "policies", "golden")
# Where a card's beast mode came from: the card itself, or the dataset (as saved on the dataset, or
# as the card definition reports it: updated on, or deleted from, the dataset).
BEAST_MODE_ORIGINS = ("card", "dataset", "dataset_updated", "dataset_deleted")
# JSON files are read whole; this bounds the memory one file can take. Data travels as CSV.
MAX_JSON_BYTES = 256 * 1024 * 1024


class LeafIQFormatError(ValueError):
    """A file of an export does not hold what the Leaf IQ format says it holds."""

    def __init__(self, message: str, *, file: str | None = None, object: str | None = None,
                 field: str | None = None):
        self.message = message
        self.file = file
        self.object = object
        self.field = field
        where = ": ".join(part for part in (file, object, field) if part)
        super().__init__(f"{where}: {message}" if where else message)


# --- dataclasses ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    name: str
    type: str  # one of COLUMN_TYPES


@dataclass(frozen=True)
class BeastMode:
    id: str
    name: str
    formula: str
    data_type: str | None
    persisted_on_datasource: bool
    contains_aggregation: bool | None
    status: str | None
    origin: str  # one of BEAST_MODE_ORIGINS


@dataclass(frozen=True)
class DatasetMetadata:
    id: str
    name: str
    description: str | None
    row_count: int | None
    column_count: int | None
    owner_id: int | None
    owner_name: str | None
    created_at: datetime | None
    updated_at: datetime | None
    data_current_at: datetime | None
    pdp_enabled: bool | None
    columns: tuple[Column, ...]
    beast_modes: tuple[BeastMode, ...]
    api: str = field(default="public", compare=False)  # "public" or "internal": provenance only

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


@dataclass(frozen=True)
class PolicyFilter:
    column: str
    operator: str  # one of PDP_OPERATORS
    values: tuple[str, ...]
    negated: bool
    ignore_case: bool
    dynamic: bool = False  # internal API's DYNAMIC parameters take their values from the viewer


@dataclass(frozen=True)
class Policy:
    id: int
    name: str
    type: str  # one of POLICY_TYPES
    filters: tuple[PolicyFilter, ...]
    user_ids: tuple[int, ...]
    group_ids: tuple[int, ...]
    virtual_user_ids: tuple[str, ...]
    api: str = field(default="public", compare=False)


@dataclass(frozen=True)
class CardColumn:
    column: str | None  # a dataset column, or None for a beast mode
    formula_id: str | None
    aggregation: str | None
    alias: str | None
    mapping: str | None

    @property
    def label(self) -> str | None:
        """The heading of this column in the card's output (golden.csv), where the card alone says it."""
        return self.alias or self.column


@dataclass(frozen=True)
class CardFilter:
    column: str | None
    formula_id: str | None
    operator: str | None
    values: tuple[str, ...]
    negated: bool


@dataclass(frozen=True)
class CardOrder:
    column: str | None
    formula_id: str | None
    descending: bool


@dataclass(frozen=True)
class DateGrain:
    column: str | None
    grain: str | None


@dataclass(frozen=True)
class Subscription:
    name: str
    columns: tuple[CardColumn, ...]
    filters: tuple[CardFilter, ...]
    group_by: tuple[CardColumn, ...]
    order_by: tuple[CardOrder, ...]
    date_grain: DateGrain | None


@dataclass(frozen=True)
class CardDatasetColumn:
    """A dataset column the card can use: an entry of the definition's top-level columns[]. Metadata only:
    what the card shows is its subscriptions' columns."""

    id: str
    name: str
    type: str  # one of CARD_COLUMN_TYPES
    source_id: str | None  # the dataset it comes from
    is_calculation: bool | None  # a beast mode rather than a column of the dataset
    is_aggregatable: bool | None
    hidden: bool | None
    order: int | None


@dataclass(frozen=True)
class CardDatasource:
    id: str
    name: str | None


@dataclass(frozen=True)
class CardDefinition:
    id: int
    title: str
    datasources: tuple[CardDatasource, ...]
    dataset_columns: tuple[CardDatasetColumn, ...]  # the top-level columns[]: what the card can use
    subscriptions: tuple[Subscription, ...]
    beast_modes: tuple[BeastMode, ...]

    @property
    def main(self) -> Subscription | None:
        return next((s for s in self.subscriptions if s.name == "main"), None)

    def formula_references(self) -> tuple[tuple[str, str], ...]:
        """(formula id, field) of every column, filter and sort that names a beast mode, first use first.

        Only the subscriptions count: they are what the card shows. The top-level columns[] lists what the
        card could use, beast modes of its datasets included, whether it uses them or not."""
        seen: dict[str, str] = {}
        for sub in self.subscriptions:
            base = f"definition.subscriptions.{sub.name}"
            for part, items in (("columns", sub.columns), ("filters", sub.filters),
                                ("groupBy", sub.group_by), ("orderBy", sub.order_by)):
                for index, item in enumerate(items):
                    if item.formula_id:
                        seen.setdefault(item.formula_id, f"{base}.{part}[{index}].formulaId")
        return tuple(seen.items())


@dataclass(frozen=True)
class DataflowEndpoint:
    dataset_id: str
    name: str | None


@dataclass(frozen=True)
class DataflowAction:
    id: str | None
    type: str
    name: str | None
    depends_on: tuple[str, ...]
    sql: tuple[str, ...]  # SQL flows: the select statement or the statements of the action
    expressions: tuple[str, ...]  # Magic ETL: the expressions of Filter, ExpressionEvaluator, GroupBy


@dataclass(frozen=True)
class DataflowExecution:
    id: int | None
    state: str | None
    started_at: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True)
class Dataflow:
    id: int
    name: str
    database_type: str  # one of DATAFLOW_TYPES
    inputs: tuple[DataflowEndpoint, ...]
    outputs: tuple[DataflowEndpoint, ...]
    actions: tuple[DataflowAction, ...]
    last_execution: DataflowExecution | None

    @property
    def sql(self) -> tuple[str, ...]:
        return tuple(statement for action in self.actions for statement in action.sql)

    @property
    def expressions(self) -> tuple[str, ...]:
        return tuple(expression for action in self.actions for expression in action.expressions)


@dataclass(frozen=True)
class DirectoryUser:
    id: int
    name: str | None
    email: str | None
    role: str | None


@dataclass(frozen=True)
class DirectoryGroup:
    id: int
    name: str | None
    user_ids: tuple[int, ...]


# The manifest, as validation.check_manifest builds it from a manifest that passed its checks.
@dataclass(frozen=True)
class ManifestFile:
    path: str
    sha256: str
    bytes: int


@dataclass(frozen=True)
class MissingObject:
    kind: str  # one of MISSING_KINDS
    id: str | int
    reason: str


@dataclass(frozen=True)
class DatasetEntry:
    id: str
    metadata: str
    data: str
    policies: str | None


@dataclass(frozen=True)
class CardEntry:
    id: int
    definition: str
    golden: str | None
    golden_captured_at: datetime | None


@dataclass(frozen=True)
class DataflowEntry:
    id: int
    definition: str


@dataclass(frozen=True)
class Manifest:
    format: str
    load_id: str
    exported_at: datetime
    domo_instance: str
    exporter_name: str
    exporter_version: str
    status: str  # the exporter's claim: "complete" or "partial"
    missing: tuple[MissingObject, ...]
    files: tuple[ManifestFile, ...]
    datasets: tuple[DatasetEntry, ...]
    cards: tuple[CardEntry, ...]
    dataflows: tuple[DataflowEntry, ...]
    users: str | None  # directory/users.json, when the export has it
    groups: str | None
