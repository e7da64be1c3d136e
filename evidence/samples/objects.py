"""The Domo objects as Leaf IQ stores them: dataset metadata (both API shapes), PDP policies, the
directory, card definitions and the two DataFlow definitions."""
from __future__ import annotations

from datetime import timedelta

from evidence.samples.catalogue import (
    BEAST_MODES,
    BEAST_MODES_BY_KEY,
    BRAND_SCRIPTS,
    CARDS,
    CLAIMS,
    CONTRACT_TERMS,
    RECONCILIATION,
    BeastMode,
    CardSpec,
    Col,
)
from evidence.samples.helpers import _epoch_ms, _iso, _rng, _uuid4
from evidence.samples.world import _ANALYTICS_GROUP, _USERS, CLIENTS, Client, _Dataset, _World


# --- metadata, policies, directory ---------------------------------------------------------------
def _dataset_metadata(world: _World, ds: _Dataset, formulas: list[BeastMode]) -> dict:
    rnd = _rng(world.seed, f"metadata:{ds.role}")
    created = world.exported_at - timedelta(days=rnd.randrange(400, 900), seconds=rnd.randrange(86400))
    updated = world.exported_at - timedelta(hours=rnd.randrange(3, 20), seconds=rnd.randrange(3600))
    owner_id = world.user_ids["sam"]
    if ds.shape == "public":
        return {
            "id": ds.id,
            "name": ds.name,
            "description": ds.description,
            "rows": ds.rows,
            "columns": len(ds.columns),
            "owner": {"id": owner_id, "name": "Sam Okafor"},
            "createdAt": _iso(created),
            "updatedAt": _iso(updated),
            "dataCurrentAt": _iso(updated),
            "schema": {"columns": [{"type": type_, "name": name} for name, type_ in ds.columns]},
            "pdpEnabled": ds.policy_shape is not None,
        }
    return {
        "id": ds.id,
        "displayType": ds.provider,
        "dataProviderType": ds.provider,
        "type": "DataFlow" if ds.provider == "dataflow" else "Import",
        "name": ds.name,
        "description": ds.description,
        "owner": {"id": str(owner_id), "name": "Sam Okafor", "type": "USER", "group": False},
        "status": "SUCCESS",
        "state": "SUCCESS",
        "created": _epoch_ms(created),
        "lastTouched": _epoch_ms(updated),
        "lastUpdated": _epoch_ms(updated),
        "rowCount": ds.rows,
        "columnCount": len(ds.columns),
        "cardInfo": {"cardCount": sum(card.dataset == ds.role for card in CARDS), "cardViewCount": 0},
        "properties": {
            "formulas": {
                "formulas": {
                    bm.id: _beast_mode_json(bm) for bm in formulas
                }
            }
        },
        "tables": [{"columns": [{"name": name, "type": type_} for name, type_ in ds.columns]}],
        "adc": False,
        "cloudId": "domo",
        "pdpEnabled": ds.policy_shape is not None,
    }


def _beast_mode_json(bm: BeastMode) -> dict:
    return {
        "id": bm.id,
        "name": bm.name,
        "formula": bm.formula,
        "status": "VALID",
        "dataType": bm.data_type,
        "persistedOnDataSource": bm.persisted,
        "isAggregatable": True,
        "bignumber": False,
        "containsAggregation": bm.contains_aggregation,
    }


def _policies(world: _World, ds: _Dataset) -> list[dict]:
    """Policies keyed on the client account: All Rows, one per client group, and a few people."""
    uid, gid = world.user_ids, world.group_ids
    use_account_id = ds.role == CONTRACT_TERMS
    column = "Client Account ID" if use_account_id else "Client Account"

    def value(client: Client) -> str:
        return client.account_id if use_account_id else client.name

    specs = [("All Rows", "open", [], [uid["sam"]], [gid[_ANALYTICS_GROUP]])]
    for client in CLIENTS:
        specs.append((client.name, "user", [(column, [value(client)], "EQUALS", False)],
                      [], [gid[client.domo_group]]))
    west = [client for client in CLIENTS if client.short in ("ACME", "CHP")]
    specs.append(("Regional Account Manager, West", "user", [(column, [value(c) for c in west], "EQUALS", False)],
                  [uid["marcus"]], []))
    if ds.role in (CONTRACT_TERMS, CLAIMS):
        summit = next(client for client in CLIENTS if client.short == "SLG")
        specs.append(("Benefits Consultant (all but Summit)", "user",
                      [(column, [value(summit)], "EQUALS", True)], [uid["grace"]], []))
    first_id = _rng(world.seed, f"policies:{ds.role}").randrange(2, 40)
    policies = []
    for number, (name, type_, filters, users, groups) in enumerate(specs):
        if ds.policy_shape == "public":
            policies.append({
                "id": first_id + number,
                "type": type_,
                "name": name,
                "filters": [{"column": col, "values": vals, "operator": op, "not": neg}
                            for col, vals, op, neg in filters],
                "users": users,
                "virtualUsers": [],
                "groups": groups,
            })
        else:
            policies.append({
                "filterGroupId": first_id + number,
                "name": name,
                "type": type_,
                "dataSourceId": ds.id,
                "parameters": [{"type": "COLUMN", "name": col, "values": vals, "operator": op, "not": neg,
                                "ignoreCase": True} for col, vals, op, neg in filters],
                "userIds": users,
                "groupIds": groups,
                "virtualUserIds": [],
                "dataSourcePermissions": False,
            })
    return policies


def _users(world: _World) -> list[dict]:
    return [{"id": world.user_ids[key], "name": name, "email": email, "role": role, "title": title}
            for key, name, email, role, title in _USERS]


def _groups(world: _World) -> list[dict]:
    return [{"id": world.group_ids[name], "name": name, "type": "closed", "active": True,
             "memberCount": len(members), "userIds": members}
            for name, members in world.group_members.items()]


# --- cards ---------------------------------------------------------------------------------------
def _column_json(col: Col) -> dict:
    if col.formula:
        return {"formulaId": BEAST_MODES_BY_KEY[col.formula].id, "alias": col.header, "mapping": col.mapping}
    entry: dict = {"column": col.name}
    if col.aggregation:
        entry["aggregation"] = col.aggregation
    if col.alias:
        entry["alias"] = col.alias
    entry["mapping"] = col.mapping
    return entry


def _ref_json(col: Col) -> dict:
    return {"formulaId": BEAST_MODES_BY_KEY[col.formula].id} if col.formula else {"column": col.name}


def _subscription(card: CardSpec, columns: tuple[Col, ...]) -> dict:
    return {
        "columns": [_column_json(col) for col in columns],
        "filters": [dict(f) for f in card.filters],
        "groupBy": [_ref_json(col) for col in card.group_by],
        "orderBy": [{**_ref_json(col), "order": order} for col, order in card.order_by],
        "dateGrain": {"column": "Fill Date", "dateTimeElement": card.date_grain} if card.date_grain else None,
    }


def _card_beast_modes(card: CardSpec) -> list[BeastMode]:
    keys = []
    for col in card.columns + ((card.big_number,) if card.big_number else ()):
        if col.formula and col.formula not in keys:
            keys.append(col.formula)
    return [BEAST_MODES_BY_KEY[key] for key in keys]


# How Domo's internal API types a card's dataset columns (lower case, three kinds).
_CARD_COLUMN_TYPES = {"STRING": "string", "LONG": "numeric", "DOUBLE": "numeric", "DECIMAL": "numeric",
                      "DATE": "date", "DATETIME": "date"}


def _dataset_columns(ds: _Dataset, card_modes: list[BeastMode]) -> list[dict]:
    """The card's top-level columns[]: every column of its dataset, then the beast modes it can use (those
    saved on the dataset, then its own), as Domo's internal API lists them."""
    columns = [{"id": name, "name": name, "type": _CARD_COLUMN_TYPES[type_], "sourceId": ds.id,
                "isCalculation": False, "isAggregatable": type_ != "STRING", "hidden": False, "order": order}
               for order, (name, type_) in enumerate(ds.columns)]
    saved = [bm for bm in BEAST_MODES if bm.dataset == ds.role and bm.persisted]
    modes = saved + [bm for bm in card_modes if bm not in saved]
    columns += [{"id": bm.id, "name": bm.name, "type": _CARD_COLUMN_TYPES[bm.data_type], "sourceId": ds.id,
                 "isCalculation": True, "isAggregatable": True, "hidden": False, "order": len(ds.columns) + index}
                for index, bm in enumerate(modes)]
    return columns


def _presentation(card: CardSpec, ds: _Dataset) -> dict:
    """Keys of a real definition that the format does not name (formats, annotations, slicers, segments...);
    the readers ignore them. A few cards carry some content in them, as cards in use do."""
    formats: list[dict] = []
    annotations: list[dict] = []
    slicers: list[dict] = []
    if card.key == "effective_discount":
        formats.append({"id": 1, "applyToRow": False, "format": {"color": "#E45621", "textStyle": "bold"},
                        "condition": {"columnName": "Effective Discount Rate", "operator": "LESS_THAN",
                                      "values": [0.15], "dataType": "numeric"}})
    if card.key == "monthly_discount":
        annotations.append({"id": 1, "content": "MAC list refreshed", "dataPoint": {"point1": "2025-07-01"},
                            "color": "#72B0D7", "userId": None})
    if card.key == "paid_by_channel":
        slicers.append({"dataSourceId": ds.id, "column": "Channel", "name": "Channel", "type": "dropdown",
                        "selected": []})
    return {
        "conditionalFormats": {"card": formats, "datasource": []},
        "annotations": {"new": annotations, "modified": [], "deleted": []},
        "slicers": slicers,
        "segments": {"active": [], "create": [], "update": [], "delete": [], "definitions": []},
        "chartVersion": "12",
        "allowTableDrill": card.chart == "badge_table",
        "dynamicTitle": {"text": [{"text": card.title, "type": "TEXT"}]},
        "noDateRange": card.date_grain is None,
    }


def _card_definition(world: _World, card: CardSpec) -> dict:
    ds = world.datasets[card.dataset]
    used = _card_beast_modes(card)
    if used:
        formulas: dict | list = {
            "card": [_beast_mode_json(bm) for bm in used if not bm.persisted],
            "dsUpdated": [_beast_mode_json(bm) for bm in used if bm.persisted],
            "dsDeleted": [],
        }
    else:
        formulas = []
    subscriptions = {"main": _subscription(card, card.columns)}
    if card.big_number:
        subscriptions["big_number"] = {
            "columns": [_column_json(card.big_number)], "filters": [dict(f) for f in card.filters],
            "groupBy": [], "orderBy": [], "dateGrain": None,
        }
    card_id = world.card_ids[card.key]
    modified = world.exported_at - timedelta(days=_rng(world.seed, f"card:{card.key}").randrange(3, 200))
    return {
        "id": card_id,
        "urn": str(card_id),
        "title": card.title,
        "type": "kpi",
        "modified": _epoch_ms(modified),
        "datasources": [{"dataSourceId": ds.id, "dataSourceName": ds.name}],
        "definition": {
            "subscriptions": subscriptions,
            "formulas": formulas,
            "charts": {"main": {"component": "main", "chartType": card.chart, "overrides": {}, "goal": None}},
            "title": card.title,
            **_presentation(card, ds),
        },
        "columns": _dataset_columns(ds, used),
        "drillpath": [],
        "embedded": False,
        "dataSourceWrite": True,
    }


# --- dataflows -----------------------------------------------------------------------------------
_RECONCILIATION_SQL = """SELECT c.`Client Account`, t.`Component`, c.`Channel`, c.`Brand/Generic`, c.`Claims`,
       ROUND(c.`AWP Amount`, 2) AS `AWP Amount`,
       c.`Ingredient Cost Paid`,
       t.`AWP Discount Guarantee` AS `Guaranteed Rate`,
       ROUND(c.`AWP Amount` * t.`AWP Discount Guarantee`, 2) AS `Guaranteed Discount`,
       ROUND(c.`AWP Amount` - c.`Ingredient Cost Paid`, 2) AS `Actual Discount`,
       GREATEST(ROUND(c.`AWP Amount` * t.`AWP Discount Guarantee`, 2)
                - ROUND(c.`AWP Amount` - c.`Ingredient Cost Paid`, 2), 0) AS `Shortfall`,
       c.`Dispensing Fees Paid`,
       c.`Claims` * t.`Dispensing Fee Guarantee` AS `Guaranteed Fees`,
       t.`Period Start`, t.`Period End`
FROM `claims_by_component` c
JOIN `contract_terms_2025` t
  ON t.`Client Account` = c.`Client Account`
 AND t.`Channel` = c.`Channel`
 AND t.`Brand/Generic` = c.`Brand/Generic`
ORDER BY c.`Client Account`, t.`Component`"""

_CLAIMS_BY_COMPONENT_SQL = """SELECT `Client Account`, `Channel`, `Brand/Generic`,
       SUM(CASE WHEN `Claim Status` = 'REVERSED' THEN -1 ELSE 1 END) AS `Claims`,
       SUM(`AWP Unit Price` * `Quantity`) AS `AWP Amount`,
       SUM(`Ingredient Cost Paid`) AS `Ingredient Cost Paid`,
       SUM(`Dispensing Fee Paid`) AS `Dispensing Fees Paid`
FROM `pbm_claims_2025`
WHERE `AWP Unit Price` IS NOT NULL
GROUP BY `Client Account`, `Channel`, `Brand/Generic`"""


def _dataflows(world: _World) -> dict[str, dict]:
    ds = world.datasets
    rnd = _rng(world.seed, "dataflows")
    owner = {"id": world.user_ids["sam"], "name": "Sam Okafor"}

    def execution() -> dict:
        begin = world.exported_at - timedelta(hours=rnd.randrange(5, 30), seconds=rnd.randrange(3600))
        return {"id": rnd.randrange(10_000, 99_999), "state": "SUCCESS", "beginTime": _epoch_ms(begin),
                "endTime": _epoch_ms(begin + timedelta(seconds=rnd.randrange(40, 900)))}

    def action_id() -> str:
        return _uuid4(rnd)

    load_claims, load_terms, index, by_component, reconcile, publish = (action_id() for _ in range(6))
    mysql = {
        "id": world.dataflow_ids["reconciliation"],
        "name": "Guarantee Reconciliation 2025",
        "description": "AWP discount and dispensing fee guarantees per client and component.",
        "databaseType": "MYSQL",
        "owner": owner,
        "inputs": [{"dataSourceId": ds[CLAIMS].id, "dataSourceName": ds[CLAIMS].name},
                   {"dataSourceId": ds[CONTRACT_TERMS].id, "dataSourceName": ds[CONTRACT_TERMS].name}],
        "outputs": [{"dataSourceId": ds[RECONCILIATION].id, "dataSourceName": ds[RECONCILIATION].name}],
        "actions": [
            {"type": "LoadFromVault", "id": load_claims, "name": ds[CLAIMS].name, "tableName": "pbm_claims_2025",
             "dataSource": {"guid": ds[CLAIMS].id, "name": ds[CLAIMS].name}, "dependsOn": []},
            {"type": "LoadFromVault", "id": load_terms, "name": ds[CONTRACT_TERMS].name,
             "tableName": "contract_terms_2025",
             "dataSource": {"guid": ds[CONTRACT_TERMS].id, "name": ds[CONTRACT_TERMS].name}, "dependsOn": []},
            {"type": "SQL", "id": index, "name": "Index claims by component",
             "statements": ["ALTER TABLE `pbm_claims_2025` ADD INDEX `idx_component` "
                            "(`Client Account`(64), `Channel`(16), `Brand/Generic`(8))"],
             "dependsOn": [load_claims]},
            {"type": "GenerateTableAction", "id": by_component, "name": "claims_by_component",
             "tableName": "claims_by_component", "selectStatement": _CLAIMS_BY_COMPONENT_SQL,
             "dependsOn": [index]},
            {"type": "GenerateTableAction", "id": reconcile, "name": "guarantee_reconciliation",
             "tableName": "guarantee_reconciliation", "selectStatement": _RECONCILIATION_SQL,
             "dependsOn": [by_component, load_terms]},
            {"type": "PublishToVault", "id": publish, "name": ds[RECONCILIATION].name,
             "selectStatement": "SELECT * FROM `guarantee_reconciliation`",
             "dataSource": {"guid": ds[RECONCILIATION].id, "name": ds[RECONCILIATION].name},
             "dependsOn": [reconcile]},
        ],
        "lastExecution": execution(),
    }
    load, keep_brand, derive, group, publish = (action_id() for _ in range(5))
    magic = {
        "id": world.dataflow_ids["brand_scripts"],
        "name": "Brand Scripts by Quarter",
        "description": "Net brand scripts and ingredient cost per client and quarter, for rebate checks.",
        "databaseType": "MAGIC",
        "owner": owner,
        "inputs": [{"dataSourceId": ds[CLAIMS].id, "dataSourceName": ds[CLAIMS].name}],
        "outputs": [{"dataSourceId": ds[BRAND_SCRIPTS].id, "dataSourceName": ds[BRAND_SCRIPTS].name}],
        "actions": [
            {"type": "LoadFromVault", "id": load, "name": ds[CLAIMS].name, "dataSourceId": ds[CLAIMS].id,
             "executeFlowWhenUpdated": True, "dependsOn": []},
            {"type": "Filter", "id": keep_brand, "name": "Brand claims", "dependsOn": [load],
             "filterList": [{"filterType": "FORMULA", "expression": "`Brand/Generic` = 'Brand'"}]},
            {"type": "ExpressionEvaluator", "id": derive, "name": "Quarter and script sign", "dependsOn": [keep_brand],
             "expressions": [
                 {"fieldName": "Quarter", "expression": "CONCAT(YEAR(`Fill Date`), 'Q', QUARTER(`Fill Date`))",
                  "settings": {"type": "STRING"}},
                 {"fieldName": "Script Sign",
                  "expression": "CASE WHEN `Claim Status` = 'REVERSED' THEN -1 ELSE 1 END",
                  "settings": {"type": "LONG"}},
             ]},
            {"type": "GroupBy", "id": group, "name": "Scripts by client and quarter", "dependsOn": [derive],
             "groups": [{"name": "Client Account"}, {"name": "Quarter"}],
             "fields": [{"name": "Brand Scripts", "expression": "SUM(`Script Sign`)"},
                        {"name": "Brand Ingredient Cost", "expression": "SUM(`Ingredient Cost Paid`)"}]},
            {"type": "PublishToVault", "id": publish, "name": ds[BRAND_SCRIPTS].name, "dependsOn": [group],
             "dataSource": {"guid": ds[BRAND_SCRIPTS].id, "name": ds[BRAND_SCRIPTS].name}},
        ],
        "lastExecution": execution(),
    }
    return {"reconciliation": mysql, "brand_scripts": magic}
