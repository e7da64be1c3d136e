"""The readers: one per kind of Domo object an export holds, each accepting both of Domo's API shapes
and returning one frozen dataclass (see the package docstring)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from evidence.intake.leafiq.json import _Node, json_kind, load_json
from evidence.intake.leafiq.model import (
    CARD_COLUMN_TYPES,
    COLUMN_TYPES,
    DATAFLOW_TYPES,
    PDP_OPERATORS,
    POLICY_TYPES,
    BeastMode,
    CardColumn,
    CardDatasetColumn,
    CardDatasource,
    CardDefinition,
    CardFilter,
    CardOrder,
    Column,
    Dataflow,
    DataflowAction,
    DataflowEndpoint,
    DataflowExecution,
    DatasetMetadata,
    DateGrain,
    DirectoryGroup,
    DirectoryUser,
    LeafIQFormatError,
    Policy,
    PolicyFilter,
    Subscription,
)


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
        saved_raw = formulas.data.get("formulas") if formulas else None
        if isinstance(saved_raw, list):
            # The format keys them by id; a bare list of beast modes (each naming its id) reads the same.
            beast_modes = tuple(_beast_mode(node, "dataset") for node in formulas.nodes("formulas"))
        elif saved_raw is not None:
            saved = formulas.node("formulas")
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
    """A card: what it shows (definition.subscriptions), its beast modes (definition.formulas, an object or a
    bare list), its datasets (datasources) and the dataset columns it can use (the top-level columns[]).
    Real definitions carry many more keys (urn, conditionalFormats, annotations, slicers, drillpath...):
    they are ignored."""
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
        dataset_columns=tuple(_dataset_column(node) for node in root.nodes("columns")),
        subscriptions=tuple(subscriptions),
        beast_modes=beast_modes,
    )


def _dataset_column(node: _Node) -> CardDatasetColumn:
    return CardDatasetColumn(
        id=node.id("id"),
        name=node.str("name"),
        type=node.choice("type", CARD_COLUMN_TYPES, normalize=str.lower),
        source_id=node.id("sourceId", required=False),
        is_calculation=node.bool("isCalculation"),
        is_aggregatable=node.bool("isAggregatable"),
        hidden=node.bool("hidden"),
        order=node.int("order", required=False),
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
def _read(path: Path, parser, file: str | None):
    file = file or path.name
    return parser(load_json(path, file=file), file=file)


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
