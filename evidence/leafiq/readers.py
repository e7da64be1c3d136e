"""Leaf IQ export objects: typed readers for the Domo responses an export holds.

Plain module, no Django, no third-party imports. Leaf IQ stores Domo's API responses as they came,
and Domo has two API families that name the same things differently (see
../shared/leafiq-export-v1.md); every reader here accepts both and returns one frozen dataclass, so
nothing downstream needs to know which API a file came from. A reader that meets something it
cannot read raises LeafIQFormatError naming the file, the object and the field.

Where the format leaves a shape open (card filters, sort and date grain, Magic ETL tiles, directory
entries), the readers take what they recognise and ignore the rest rather than refuse the file:
only what the format names is required.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

FORMAT = "leafiq-export/1"
COLUMN_TYPES = ("STRING", "LONG", "DOUBLE", "DECIMAL", "DATE", "DATETIME")
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
class CardDatasource:
    id: str
    name: str | None


@dataclass(frozen=True)
class CardDefinition:
    id: int
    title: str
    datasources: tuple[CardDatasource, ...]
    columns: tuple[CardColumn, ...]
    subscriptions: tuple[Subscription, ...]
    beast_modes: tuple[BeastMode, ...]

    @property
    def main(self) -> Subscription | None:
        return next((s for s in self.subscriptions if s.name == "main"), None)

    def formula_references(self) -> tuple[tuple[str, str], ...]:
        """(formula id, field) of every column, filter and sort that names a beast mode, first use first."""
        seen: dict[str, str] = {}
        for index, column in enumerate(self.columns):
            if column.formula_id:
                seen.setdefault(column.formula_id, f"columns[{index}].formulaId")
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


# --- reading helpers -----------------------------------------------------------------------------
def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes, *, file: str) -> Any:
    """The JSON value of raw: UTF-8 (a BOM is tolerated), strict JSON (no NaN or Infinity)."""
    try:
        return json.loads(raw.decode("utf-8-sig"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise LeafIQFormatError(f"not UTF-8 (byte {exc.start})", file=file) from None
    except RecursionError:
        raise LeafIQFormatError("nested too deeply to read", file=file) from None
    except ValueError as exc:
        raise LeafIQFormatError(f"not valid JSON: {exc}", file=file) from None


def load_json(path: Path, *, file: str | None = None) -> Any:
    """The JSON value of the file at path, at most MAX_JSON_BYTES of it (see parse_json)."""
    file = file or path.name
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise LeafIQFormatError(f"{size} bytes, over the {MAX_JSON_BYTES}-byte limit for JSON files", file=file)
        raw = path.read_bytes()
    except OSError as exc:
        raise LeafIQFormatError(f"cannot be read: {exc.strerror or exc}", file=file) from None
    return parse_json(raw, file=file)


def parse_timestamp(value: Any) -> datetime | None:
    """Domo's two ways of writing an instant: ISO 8601 (public API) or epoch milliseconds (internal)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("a boolean is not a timestamp")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.astimezone(timezone.utc)
    raise ValueError(f"expected an ISO 8601 string or epoch milliseconds, got {type(value).__name__}")


_JSON_TYPE_NAMES = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
                    float: "a number", type(None): "null"}


def json_kind(value: Any) -> str:
    """How a JSON value is named in messages: \"an object\", \"a list\", \"a string\"..."""
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


class _Node:
    """A JSON object being read, carrying the file, object and field path that every error names."""

    def __init__(self, data: Any, *, file: str, object: str | None, path: str = ""):
        self.file, self.object, self.path = file, object, path
        if not isinstance(data, dict):
            raise self.error(f"expected an object, got {json_kind(data)}")
        self.data: dict[str, Any] = data

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, message: str, key: str | None = None) -> LeafIQFormatError:
        where = self.at(key) if key is not None else (self.path or None)
        return LeafIQFormatError(message, file=self.file, object=self.object, field=where)

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def first_key(self, *keys: str) -> str:
        """The first of keys present (not null), or the first key, for the error message."""
        return next((key for key in keys if self.has(key)), keys[0])

    def str(self, key: str, *, required: bool = True) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.error("required", key)
            return None
        if not isinstance(value, str):
            raise self.error(f"expected a string, got {json_kind(value)}", key)
        return value

    def int(self, key: str, *, required: bool = True) -> int | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.error("required", key)
            return None
        try:
            return _as_int(value)
        except ValueError as exc:
            raise self.error(str(exc), key) from None

    def id(self, key: str, *, required: bool = True) -> str | None:
        """An identifier Domo writes as a string or a number; kept as a string."""
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.error("required", key)
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.error(f"expected a string or an integer id, got {json_kind(value)}", key)
        return str(value)

    def bool(self, key: str, default: bool | None = None) -> bool | None:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(f"expected true or false, got {json_kind(value)}", key)
        return value

    def timestamp(self, key: str) -> datetime | None:
        try:
            return parse_timestamp(self.data.get(key))
        except (ValueError, OverflowError, OSError) as exc:
            raise self.error(f"not a timestamp: {exc}", key) from None

    def node(self, key: str, *, required: bool = True) -> _Node | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.error("required", key)
            return None
        return _Node(value, file=self.file, object=self.object, path=self.at(key))

    def list(self, key: str, *, required: bool = False) -> list[Any]:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.error("required", key)
            return []
        if not isinstance(value, list):
            raise self.error(f"expected a list, got {json_kind(value)}", key)
        return value

    def nodes(self, key: str, *, required: bool = False) -> list[_Node]:
        return [_Node(item, file=self.file, object=self.object, path=f"{self.at(key)}[{index}]")
                for index, item in enumerate(self.list(key, required=required))]

    def ints(self, key: str) -> tuple[int, ...]:
        """A list of ids, written as numbers, digit strings or objects with an id."""
        result = []
        for index, item in enumerate(self.list(key)):
            if isinstance(item, dict):
                item = item.get("id", item.get("userId", item.get("groupId")))
            try:
                result.append(_as_int(item))
            except ValueError as exc:
                raise self.error(str(exc), f"{key}[{index}]") from None
        return tuple(result)

    def strings(self, key: str) -> tuple[str, ...]:
        """A list of scalar values, as strings (PDP values are strings; numbers are written as given)."""
        result = []
        for index, item in enumerate(self.list(key)):
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                raise self.error(f"expected a string or a number, got {json_kind(item)}", f"{key}[{index}]")
            result.append(item if isinstance(item, str) else json.dumps(item))
        return tuple(result)

    def choice(self, key: str, choices: tuple[str, ...], *, required: bool = True,
               normalize=lambda value: value) -> str | None:
        value = self.str(key, required=required)
        if value is None:
            return None
        value = normalize(value)
        if value not in choices:
            raise self.error(f"{value!r} is not one of {', '.join(choices)}", key)
        return value


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    raise ValueError(f"expected an integer, got {json_kind(value)} {value!r}"[:120])


def _read(path: Path, parser, file: str | None):
    file = file or path.name
    return parser(load_json(path, file=file), file=file)


# --- dataset metadata ----------------------------------------------------------------------------
def parse_dataset_metadata(data: Any, *, file: str = "metadata.json") -> DatasetMetadata:
    """DataSet metadata from the public API (schema.columns) or the internal one (tables[0].columns)."""
    root = _Node(data, file=file, object="dataset")
    dataset_id = root.id("id")
    root = _Node(data, file=file, object=f"dataset {dataset_id}")
    if root.has("schema"):
        api = "public"
        columns_node, columns_key = root.node("schema"), "columns"
        row_count, column_count = root.int("rows", required=False), root.int("columns", required=False)
        created, updated = root.timestamp("createdAt"), root.timestamp("updatedAt")
    elif root.has("tables"):
        api = "internal"
        tables = root.nodes("tables")
        if not tables:
            raise root.error("has no table", "tables")
        columns_node, columns_key = tables[0], "columns"
        row_count, column_count = root.int("rowCount", required=False), root.int("columnCount", required=False)
        created, updated = root.timestamp("created"), root.timestamp("lastUpdated")
    else:
        raise root.error("has neither schema.columns (public API) nor tables[0].columns (internal API)", "schema")
    columns = []
    for node in columns_node.nodes(columns_key, required=True):
        columns.append(Column(name=node.str("name"), type=node.choice("type", COLUMN_TYPES, normalize=str.upper)))
    owner = root.node("owner", required=False)
    beast_modes: tuple[BeastMode, ...] = ()
    if api == "internal":
        properties = root.node("properties", required=False)
        formulas = properties.node("formulas", required=False) if properties else None
        saved = formulas.node("formulas", required=False) if formulas else None
        if saved:
            beast_modes = tuple(
                _beast_mode(_Node(value, file=file, object=root.object, path=saved.at(key)), "dataset", default_id=key)
                for key, value in saved.data.items()
            )
    return DatasetMetadata(
        id=dataset_id,
        name=root.str("name"),
        description=root.str("description", required=False),
        row_count=row_count,
        column_count=column_count,
        owner_id=owner.int("id", required=False) if owner else None,
        owner_name=owner.str("name", required=False) if owner else None,
        created_at=created,
        updated_at=updated,
        data_current_at=root.timestamp(root.first_key("dataCurrentAt", "lastTouched")),
        pdp_enabled=root.bool("pdpEnabled"),
        columns=tuple(columns),
        beast_modes=beast_modes,
        api=api,
    )


def _beast_mode(node: _Node, origin: str, *, default_id: str | None = None) -> BeastMode:
    formula_id = node.id("id", required=default_id is None) or default_id
    return BeastMode(
        id=formula_id,
        name=node.str("name"),
        formula=node.str("formula"),
        data_type=node.str("dataType", required=False),
        persisted_on_datasource=bool(node.bool("persistedOnDataSource", default=origin != "card")),
        contains_aggregation=node.bool("containsAggregation"),
        status=node.str("status", required=False),
        origin=origin,
    )


# --- PDP policies --------------------------------------------------------------------------------
def parse_policies(data: Any, *, file: str = "policies.json") -> tuple[Policy, ...]:
    """The PDP policies of one dataset: a JSON list of policies in either API's shape."""
    if not isinstance(data, list):
        raise LeafIQFormatError(f"expected a list of policies, got {json_kind(data)}", file=file)
    return tuple(parse_policy(item, file=file, index=index) for index, item in enumerate(data))


def parse_policy(data: Any, *, file: str = "policies.json", index: int = 0) -> Policy:
    node = _Node(data, file=file, object=f"policy #{index}")
    internal = node.has("filterGroupId") or node.has("parameters")
    policy_id = node.int("filterGroupId" if internal else "id")
    node = _Node(data, file=file, object=f"policy {policy_id}")
    filters = tuple(
        _policy_filter(item, internal=internal) for item in node.nodes("parameters" if internal else "filters")
    )
    name = node.str("name")
    if node.has("type"):
        policy_type = node.choice("type", POLICY_TYPES, normalize=str.lower)
    else:
        # The internal API does not always say; Domo's built-in "All Rows" policy is the open one.
        policy_type = "open" if name == "All Rows" and not filters else "user"
    return Policy(
        id=policy_id,
        name=name,
        type=policy_type,
        filters=filters,
        user_ids=node.ints("userIds" if internal else "users"),
        group_ids=node.ints("groupIds" if internal else "groups"),
        virtual_user_ids=node.strings(node.first_key("virtualUserIds", "virtualUsers") if internal
                                      else node.first_key("virtualUsers", "virtualUserIds")),
        api="internal" if internal else "public",
    )


def _policy_filter(node: _Node, *, internal: bool) -> PolicyFilter:
    kind = node.choice("type", ("COLUMN", "DYNAMIC"), required=False, normalize=str.upper) if internal else None
    return PolicyFilter(
        column=node.str("name" if internal else "column"),
        operator=node.choice("operator", PDP_OPERATORS, normalize=str.upper),
        values=node.strings("values"),
        negated=bool(node.bool("not", default=False)),
        # domolibrary's default; the public API does not carry the flag.
        ignore_case=bool(node.bool("ignoreCase", default=True)),
        dynamic=kind == "DYNAMIC",
    )


# --- cards ---------------------------------------------------------------------------------------
def parse_card_definition(data: Any, *, file: str = "definition.json") -> CardDefinition:
    root = _Node(data, file=file, object="card")
    card_id = root.int("id")
    root = _Node(data, file=file, object=f"card {card_id}")
    definition = root.node("definition", required=False)
    title = root.str("title", required=False) or (definition.str("title", required=False) if definition else None)
    if title is None:
        raise root.error("required", "title")
    datasources = tuple(
        CardDatasource(id=node.id("dataSourceId"), name=node.str("dataSourceName", required=False))
        for node in root.nodes("datasources")
    )
    subscriptions: list[Subscription] = []
    beast_modes: tuple[BeastMode, ...] = ()
    if definition:
        subs = definition.node("subscriptions", required=False)
        if subs:
            # main first, then the others in the order the definition gives them
            names = sorted(subs.data, key=lambda name: name != "main")
            subscriptions = [_subscription(name, subs.node(name)) for name in names if subs.has(name)]
        beast_modes = _card_formulas(definition)
    return CardDefinition(
        id=card_id,
        title=title,
        datasources=datasources,
        columns=tuple(_card_column(node) for node in root.nodes("columns")),
        subscriptions=tuple(subscriptions),
        beast_modes=beast_modes,
    )


def _card_column(node: _Node) -> CardColumn:
    if node.has("formulaId"):
        column, formula_id = None, node.id("formulaId")
    else:
        column, formula_id = node.str("column"), None
    return CardColumn(
        column=column,
        formula_id=formula_id,
        aggregation=node.str("aggregation", required=False),
        alias=node.str("alias", required=False),
        mapping=node.str("mapping", required=False),
    )


def _subscription(name: str, node: _Node) -> Subscription:
    filters = []
    for item in node.nodes("filters"):
        filters.append(CardFilter(
            column=item.str("column", required=False),
            formula_id=item.id("formulaId", required=False),
            operator=item.str(item.first_key("operator", "operand"), required=False),
            values=item.strings("values"),
            negated=bool(item.bool("not", default=False)),
        ))
    order_by = []
    for index, item in enumerate(node.list("orderBy")):
        if isinstance(item, str):
            order_by.append(CardOrder(column=item, formula_id=None, descending=False))
            continue
        item = _Node(item, file=node.file, object=node.object, path=f"{node.at('orderBy')}[{index}]")
        direction = item.str(item.first_key("order", "direction", "sortOrder"), required=False) or ""
        order_by.append(CardOrder(
            column=item.str("column", required=False),
            formula_id=item.id("formulaId", required=False),
            descending=direction.upper().startswith("DESC"),
        ))
    group_by = []
    for index, item in enumerate(node.list("groupBy")):
        if isinstance(item, str):
            group_by.append(CardColumn(column=item, formula_id=None, aggregation=None, alias=None, mapping=None))
        else:
            group_by.append(_card_column(
                _Node(item, file=node.file, object=node.object, path=f"{node.at('groupBy')}[{index}]")
            ))
    date_grain = None
    raw_grain = node.data.get("dateGrain")
    if isinstance(raw_grain, str):
        date_grain = DateGrain(column=None, grain=raw_grain)
    elif raw_grain is not None:
        grain = node.node("dateGrain")
        date_grain = DateGrain(
            column=grain.str("column", required=False),
            grain=grain.str(grain.first_key("dateTimeElement", "grain", "dateGrain"), required=False),
        )
    return Subscription(
        name=name,
        columns=tuple(_card_column(item) for item in node.nodes("columns")),
        filters=tuple(filters),
        group_by=tuple(group_by),
        order_by=tuple(order_by),
        date_grain=date_grain,
    )


def _card_formulas(definition: _Node) -> tuple[BeastMode, ...]:
    raw = definition.data.get("formulas")
    if raw is None:
        return ()
    if isinstance(raw, list):  # a card without beast modes of its own: a bare list
        return tuple(_beast_mode(node, "card") for node in definition.nodes("formulas"))
    formulas = definition.node("formulas")
    result = []
    for key, origin in (("card", "card"), ("dsUpdated", "dataset_updated"), ("dsDeleted", "dataset_deleted")):
        result.extend(_beast_mode(node, origin) for node in formulas.nodes(key))
    return tuple(result)


# --- dataflows -----------------------------------------------------------------------------------
_SQL_KEYS = ("selectStatement", "statement", "sql", "query")
_EXPRESSION_KEYS = ("expression", "formula")
_MAGIC_EXPRESSION_ACTIONS = ("Filter", "ExpressionEvaluator", "GroupBy")


def parse_dataflow(data: Any, *, file: str = "dataflow.json") -> Dataflow:
    root = _Node(data, file=file, object="dataflow")
    dataflow_id = root.int("id")
    root = _Node(data, file=file, object=f"dataflow {dataflow_id}")
    last = root.node("lastExecution", required=False)
    return Dataflow(
        id=dataflow_id,
        name=root.str("name"),
        database_type=root.choice("databaseType", DATAFLOW_TYPES, normalize=str.upper),
        inputs=tuple(_endpoint(node) for node in root.nodes("inputs")),
        outputs=tuple(_endpoint(node) for node in root.nodes("outputs")),
        actions=tuple(_action(node) for node in root.nodes("actions")),
        last_execution=DataflowExecution(
            id=last.int("id", required=False),
            state=last.str("state", required=False),
            started_at=last.timestamp("beginTime"),
            ended_at=last.timestamp("endTime"),
        ) if last else None,
    )


def _endpoint(node: _Node) -> DataflowEndpoint:
    return DataflowEndpoint(dataset_id=node.id("dataSourceId"), name=node.str("dataSourceName", required=False))


def _action(node: _Node) -> DataflowAction:
    action_type = node.str("type")
    sql: list[str] = []
    expressions: list[str] = []
    if action_type == "GenerateTableAction":
        sql.append(node.str("selectStatement"))
    elif action_type in ("SQL", "SqlAction"):
        sql.extend(node.strings("statements"))
        sql.extend(value for key in _SQL_KEYS if (value := node.str(key, required=False)))
        if not sql:
            raise node.error("a SQL action needs statements or a statement", "statements")
    elif action_type in _MAGIC_EXPRESSION_ACTIONS:
        # Magic ETL tiles nest their expressions at different depths (filter lists, calculated fields,
        # aggregations); every "expression" or "formula" string below the action is one.
        _collect_expressions(node.data, expressions)
    depends_on = tuple(str(item) for item in node.list("dependsOn") if isinstance(item, (str, int)))
    return DataflowAction(
        id=node.id("id", required=False),
        type=action_type,
        name=node.str("name", required=False),
        depends_on=depends_on,
        sql=tuple(sql),
        expressions=tuple(expressions),
    )


def _collect_expressions(value: Any, into: list[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _EXPRESSION_KEYS and isinstance(item, str):
                into.append(item)
            else:
                _collect_expressions(item, into)
    elif isinstance(value, list):
        for item in value:
            _collect_expressions(item, into)


# --- directory -----------------------------------------------------------------------------------
def _entries(data: Any, key: str, file: str) -> list[_Node]:
    """A directory file holds a JSON list, or an object with the list under its kind's name."""
    if isinstance(data, dict) and isinstance(data.get(key), list):
        data = data[key]
        path = key
    else:
        path = ""
    if not isinstance(data, list):
        raise LeafIQFormatError(f"expected a list of {key}, got {json_kind(data)}", file=file)
    return [_Node(item, file=file, object=None, path=f"{path}[{index}]") for index, item in enumerate(data)]


def parse_users(data: Any, *, file: str = "users.json") -> tuple[DirectoryUser, ...]:
    users = []
    for node in _entries(data, "users", file):
        user_id = node.int(node.first_key("id", "userId"))
        node.object = f"user {user_id}"
        role = node.data.get("role", node.data.get("roleId"))
        users.append(DirectoryUser(
            id=user_id,
            name=node.str(node.first_key("name", "displayName"), required=False),
            email=node.str(node.first_key("email", "emailAddress"), required=False),
            role=None if role is None else str(role),
        ))
    return tuple(users)


def parse_groups(data: Any, *, file: str = "groups.json") -> tuple[DirectoryGroup, ...]:
    groups = []
    for node in _entries(data, "groups", file):
        group_id = node.int(node.first_key("id", "groupId"))
        node.object = f"group {group_id}"
        groups.append(DirectoryGroup(
            id=group_id,
            name=node.str("name", required=False),
            user_ids=node.ints(node.first_key("userIds", "users", "members")),
        ))
    return tuple(groups)


# --- files ---------------------------------------------------------------------------------------
def read_dataset_metadata(path: Path, *, file: str | None = None) -> DatasetMetadata:
    return _read(path, parse_dataset_metadata, file)


def read_policies(path: Path, *, file: str | None = None) -> tuple[Policy, ...]:
    return _read(path, parse_policies, file)


def read_card_definition(path: Path, *, file: str | None = None) -> CardDefinition:
    return _read(path, parse_card_definition, file)


def read_dataflow(path: Path, *, file: str | None = None) -> Dataflow:
    return _read(path, parse_dataflow, file)


def read_users(path: Path, *, file: str | None = None) -> tuple[DirectoryUser, ...]:
    return _read(path, parse_users, file)


def read_groups(path: Path, *, file: str | None = None) -> tuple[DirectoryGroup, ...]:
    return _read(path, parse_groups, file)
