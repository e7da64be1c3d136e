"""The typed readers of evidence.intake.leafiq: both Domo API shapes come out as one dataclass."""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone

import pytest

from evidence.intake import leafiq
from tests.evidence import exports
from tests.evidence.exports import CARD, CARD_FORMULA, CLAIMS, DATASET_FORMULA, DOMO_CARD_KEYS, PHARMACIES

# What Domo adds that the format does not name: a key no reader knows, holding things that would be
# refused if a reader looked at them.
UNNAMED = {"domoOnly": {"urn": None, "columns": [{"weird": True}], "type": 7, "formulas": {"card": "no"}}}


def with_unnamed_keys(value, *, maps: tuple[tuple[str, ...], ...] = (), path: tuple[str, ...] = ()):
    """value with UNNAMED added to every object in it, but to the objects keyed by id (at the paths in maps)."""
    if isinstance(value, list):
        return [with_unnamed_keys(item, maps=maps, path=path) for item in value]
    if not isinstance(value, dict):
        return value
    result = {key: with_unnamed_keys(item, maps=maps, path=(*path, key)) for key, item in value.items()}
    if not any(path[len(path) - len(suffix):] == suffix for suffix in maps if len(path) >= len(suffix)):
        result.update(UNNAMED)
    return result


def public_and_internal_metadata():
    public = exports.claims_metadata()
    internal = {
        "id": CLAIMS, "name": "Claims", "description": "Adjudicated pharmacy claims",
        "rowCount": public["rows"], "columnCount": public["columns"], "owner": {"id": "27", "name": "Dana Owner"},
        "created": 1767323045000, "lastUpdated": 1795125600000, "lastTouched": 1795125600000, "pdpEnabled": True,
        "tables": [{"columns": [{"name": c["name"], "type": c["type"]} for c in public["schema"]["columns"]]}],
        "properties": {"formulas": {"formulas": {}}},
    }
    return public, internal


def test_metadata_shapes_normalize_to_the_same_dataset():
    public, internal = public_and_internal_metadata()

    from_public = leafiq.parse_dataset_metadata(public)
    from_internal = leafiq.parse_dataset_metadata(internal)

    assert from_public == from_internal
    assert (from_public.api, from_internal.api) == ("public", "internal")
    assert from_public.row_count == 3
    assert from_public.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert from_public.column_names == ("claim_id", "member", "fill_date", "paid", "ingredient_cost", "adjudicated_at")
    assert from_public.columns[2] == leafiq.Column("fill_date", "DATE")


def test_internal_metadata_carries_the_dataset_beast_modes():
    metadata = leafiq.parse_dataset_metadata(exports.pharmacies_metadata())

    assert metadata.id == PHARMACIES
    assert metadata.owner_id == 27
    assert metadata.beast_modes == (leafiq.BeastMode(
        id=DATASET_FORMULA, name="Total with fee", formula="SUM(`total`) + 1.5", data_type="DECIMAL",
        persisted_on_datasource=True, contains_aggregation=True, status="VALID", origin="dataset",
    ),)


def test_metadata_without_a_schema_names_file_object_and_field():
    public, _ = public_and_internal_metadata()
    del public["schema"]

    with pytest.raises(leafiq.LeafIQFormatError) as raised:
        leafiq.parse_dataset_metadata(public, file="datasets/x/metadata.json")

    error = raised.value
    assert (error.file, error.object, error.field) == ("datasets/x/metadata.json", f"dataset {CLAIMS}", "schema")
    assert "internal API" in error.message


def test_metadata_of_either_shape_ignores_keys_the_format_does_not_name():
    public, internal = public_and_internal_metadata()
    pharmacies = exports.pharmacies_metadata()

    for metadata in (public, internal, pharmacies):
        extended = with_unnamed_keys(metadata, maps=(("formulas", "formulas"),))
        assert leafiq.parse_dataset_metadata(extended) == leafiq.parse_dataset_metadata(metadata)


def test_metadata_of_either_shape_needs_only_id_name_and_schema():
    public = leafiq.parse_dataset_metadata({"id": CLAIMS, "name": "Claims",
                                            "schema": {"columns": [{"name": "a", "type": "STRING"}]}})
    internal = leafiq.parse_dataset_metadata({"id": CLAIMS, "name": "Claims",
                                              "tables": [{"columns": [{"name": "a", "type": "string"}]}]})

    assert public == internal
    assert (public.row_count, public.owner_id, public.created_at, public.pdp_enabled, public.beast_modes) == (
        None, None, None, None, ())


def test_internal_metadata_reads_its_saved_beast_modes_written_as_a_list():
    metadata = exports.pharmacies_metadata()
    saved = metadata["properties"]["formulas"]["formulas"]
    metadata["properties"]["formulas"]["formulas"] = list(saved.values())

    assert leafiq.parse_dataset_metadata(metadata) == leafiq.parse_dataset_metadata(exports.pharmacies_metadata())


def test_unknown_column_type_names_the_column_field():
    public, _ = public_and_internal_metadata()
    public["schema"]["columns"][3]["type"] = "MONEY"

    with pytest.raises(leafiq.LeafIQFormatError) as raised:
        leafiq.parse_dataset_metadata(public)

    assert raised.value.field == "schema.columns[3].type"
    assert "'MONEY' is not one of" in raised.value.message


def test_policy_shapes_normalize_to_the_same_policy():
    public = {"id": 3, "type": "user", "name": "Own pharmacy",
              "filters": [{"column": "pharmacy", "values": ["P-1", 2], "operator": "EQUALS", "not": True}],
              "users": [102], "virtualUsers": ["vu:1"], "groups": [7]}
    internal = {"filterGroupId": 3, "name": "Own pharmacy", "type": "user",
                "parameters": [{"name": "pharmacy", "values": ["P-1", "2"], "type": "COLUMN", "operator": "EQUALS",
                                "not": True, "ignoreCase": True}],
                "userIds": [102], "groupIds": [7], "virtualUserIds": ["vu:1"]}

    from_public = leafiq.parse_policies([public])
    from_internal = leafiq.parse_policies([internal])

    assert from_public == from_internal
    assert from_public[0] == leafiq.Policy(
        id=3, name="Own pharmacy", type="user",
        filters=(leafiq.PolicyFilter(column="pharmacy", operator="EQUALS", values=("P-1", "2"), negated=True,
                                     ignore_case=True),),
        user_ids=(102,), group_ids=(7,), virtual_user_ids=("vu:1",),
    )
    assert (from_public[0].api, from_internal[0].api) == ("public", "internal")


def test_policies_of_either_shape_ignore_keys_the_format_does_not_name():
    policies = exports.sample_files()[exports.CLAIMS_POLICIES] + exports.sample_files()[exports.PHARMACIES_POLICIES]

    assert leafiq.parse_policies(with_unnamed_keys(policies)) == leafiq.parse_policies(policies)


def test_policies_of_either_shape_need_only_id_and_name():
    public = leafiq.parse_policy({"id": 3, "name": "Nobody yet", "type": "user"})
    internal = leafiq.parse_policy({"filterGroupId": 3, "name": "Nobody yet"})

    assert public == internal
    assert (public.filters, public.user_ids, public.group_ids, public.virtual_user_ids) == ((), (), (), ())


def test_internal_all_rows_policy_without_a_type_is_open():
    policy = leafiq.parse_policy({"filterGroupId": 9, "name": "All Rows", "parameters": [], "userIds": [1]})

    assert policy.type == "open"


def test_dynamic_internal_parameter_is_marked_dynamic():
    policy = leafiq.parse_policy({"filterGroupId": 9, "name": "Region", "parameters": [
        {"name": "region", "values": ["region"], "type": "DYNAMIC", "operator": "EQUALS", "not": False,
         "ignoreCase": False}]})

    assert policy.filters[0].dynamic is True
    assert policy.filters[0].ignore_case is False


def test_unknown_pdp_operator_names_the_policy_and_field():
    with pytest.raises(leafiq.LeafIQFormatError) as raised:
        leafiq.parse_policies([{"id": 4, "type": "user", "name": "x",
                                "filters": [{"column": "a", "values": [], "operator": "NEAR"}]}], file="p.json")

    assert (raised.value.file, raised.value.object, raised.value.field) == ("p.json", "policy 4", "filters[0].operator")


def test_card_reads_both_column_kinds_and_its_formulas():
    card = leafiq.parse_card_definition(exports.sample_files()[exports.CARD_DEFINITION])

    assert card.id == CARD and card.title == "Paid by member"
    assert card.datasources == (leafiq.CardDatasource(id=CLAIMS, name="Claims"),)
    assert card.main.columns == (
        leafiq.CardColumn(column="member", formula_id=None, aggregation=None, alias=None, mapping="ITEM"),
        leafiq.CardColumn(column=None, formula_id=CARD_FORMULA, aggregation=None, alias="Paid share", mapping="VALUE"),
    )
    assert [mode.id for mode in card.beast_modes] == [CARD_FORMULA]
    assert card.beast_modes[0].origin == "card" and card.beast_modes[0].persisted_on_datasource is False
    assert card.main.group_by[0].column == "member"
    assert card.formula_references() == ((CARD_FORMULA, "definition.subscriptions.main.columns[1].formulaId"),)


def test_card_top_level_columns_are_the_dataset_columns_it_can_use():
    card = leafiq.parse_card_definition(exports.sample_files()[exports.CARD_DEFINITION])

    assert card.dataset_columns[0] == leafiq.CardDatasetColumn(
        id="claim_id", name="claim_id", type="numeric", source_id=CLAIMS, is_calculation=False,
        is_aggregatable=True, hidden=False, order=0,
    )
    assert [(c.name, c.type) for c in card.dataset_columns[1:3]] == [("member", "string"), ("fill_date", "date")]
    assert card.dataset_columns[-1] == leafiq.CardDatasetColumn(
        id=CARD_FORMULA, name=CARD_FORMULA, type="numeric", source_id=CLAIMS, is_calculation=True,
        is_aggregatable=None, hidden=None, order=None,
    )


@pytest.mark.parametrize("definition", [exports.CARD_DEFINITION, exports.CARD2_DEFINITION],
                         ids=["formulas object", "formulas bare list"])
def test_card_with_every_key_of_a_real_definition_reads_as_without_them(definition):
    real = exports.sample_files()[definition]
    bare = {key: value for key, value in real.items() if key not in DOMO_CARD_KEYS and key != "columns"}
    bare["definition"] = {key: value for key, value in real["definition"].items() if key not in DOMO_CARD_KEYS}
    # Every named key at the top and inside the definition, whichever of the two Domo put it in.
    for key in DOMO_CARD_KEYS:
        assert key in real or key in real["definition"]
        real.setdefault(key, real["definition"].get(key))
        real["definition"].setdefault(key, real[key])
    real = with_unnamed_keys(real, maps=(("subscriptions",),))

    from_real = leafiq.parse_card_definition(real)
    from_bare = leafiq.parse_card_definition(bare)

    assert from_real.dataset_columns and from_bare.dataset_columns == ()
    assert dataclasses.replace(from_real, dataset_columns=()) == from_bare


def test_card_needs_no_top_level_columns_formulas_or_charts():
    card = leafiq.parse_card_definition({"id": 8, "definition": {"title": "t", "subscriptions": {
        "main": {"columns": [{"column": "paid", "aggregation": "SUM", "mapping": "VALUE"}]}}}})

    assert (card.title, card.datasources, card.dataset_columns, card.beast_modes) == ("t", (), (), ())
    assert card.main.columns[0].column == "paid"


def test_card_formulas_as_a_bare_list_of_beast_modes_are_the_cards_own():
    card = leafiq.parse_card_definition({"id": 9, "title": "t", "definition": {
        "formulas": [{"id": "calculation_c", "name": "C", "formula": "SUM(`paid`)", "bignumber": False}]}})

    assert [(m.id, m.origin, m.persisted_on_datasource) for m in card.beast_modes] == [("calculation_c", "card", False)]


def test_card_formulas_as_a_bare_list_and_from_the_dataset():
    bare = leafiq.parse_card_definition(exports.sample_files()[exports.CARD2_DEFINITION])
    with_origins = leafiq.parse_card_definition({
        "id": 5, "title": "t", "datasources": [], "columns": [],
        "definition": {"formulas": {
            "card": [],
            "dsUpdated": [{"id": "calculation_a", "name": "A", "formula": "1"}],
            "dsDeleted": [{"id": "calculation_b", "name": "B", "formula": "2"}],
        }},
    })

    assert bare.beast_modes == ()
    assert [(m.id, m.origin, m.persisted_on_datasource) for m in with_origins.beast_modes] == [
        ("calculation_a", "dataset_updated", True), ("calculation_b", "dataset_deleted", True)]


def test_card_subscriptions_read_filters_sorts_and_grain():
    card = leafiq.parse_card_definition({
        "id": 6, "title": "t", "datasources": [], "columns": [],
        "definition": {"subscriptions": {
            "big_number": {"columns": [{"column": "paid", "aggregation": "SUM"}]},
            "main": {"columns": [{"column": "fill_date", "mapping": "ITEM"}],
                     "filters": [{"column": "member", "operand": "IN", "values": ["M-1"]}],
                     "orderBy": [{"column": "fill_date", "order": "DESCENDING"}],
                     "dateGrain": {"column": "fill_date", "dateTimeElement": "MONTH"}},
        }},
    })

    assert [s.name for s in card.subscriptions] == ["main", "big_number"]
    assert card.main.filters == (leafiq.CardFilter("member", None, "IN", ("M-1",), False),)
    assert card.main.order_by == (leafiq.CardOrder("fill_date", None, True),)
    assert card.main.date_grain == leafiq.DateGrain("fill_date", "MONTH")


def test_card_column_without_column_or_formula_is_refused():
    with pytest.raises(leafiq.LeafIQFormatError) as raised:
        leafiq.parse_card_definition({"id": 7, "title": "t", "definition": {"subscriptions": {
            "main": {"columns": [{"alias": "x"}]}}}}, file="cards/7/definition.json")

    assert (raised.value.file, raised.value.object, raised.value.field) == (
        "cards/7/definition.json", "card 7", "definition.subscriptions.main.columns[0].column")


@pytest.mark.parametrize(("entry", "field", "message"), [
    ({"id": "paid", "type": "numeric"}, "columns[1].name", "required"),
    ({"id": "paid", "name": "paid", "type": "money"}, "columns[1].type", "'money' is not one of date, string, numeric"),
    ({"id": "paid", "name": "paid", "type": "numeric", "sourceId": ["x"]}, "columns[1].sourceId", "expected a string"),
    ("paid", "columns[1]", "expected an object, got a string"),
])
def test_malformed_dataset_column_of_a_card_names_file_object_and_field(entry, field, message):
    good = {"id": "member", "name": "member", "type": "STRING", "sourceId": CLAIMS}

    with pytest.raises(leafiq.LeafIQFormatError) as raised:
        leafiq.parse_card_definition({"id": 7, "title": "t", "columns": [good, entry]}, file="cards/7/definition.json")

    assert (raised.value.file, raised.value.object, raised.value.field) == ("cards/7/definition.json", "card 7", field)
    assert raised.value.message.startswith(message)


def test_mysql_dataflow_sql_comes_from_generate_table_and_sql_actions():
    dataflow = leafiq.parse_dataflow(exports.sample_files()[exports.DATAFLOW_DEFINITION])

    assert dataflow.database_type == "MYSQL"
    assert [i.dataset_id for i in dataflow.inputs] == [CLAIMS]
    assert [o.dataset_id for o in dataflow.outputs] == [PHARMACIES]
    assert dataflow.sql == (
        "CREATE INDEX m ON claims (member)",
        "SELECT member AS pharmacy, SUM(paid) AS total FROM claims GROUP BY member",
    )
    assert dataflow.actions[2].depends_on == ("a2",)


def test_magic_etl_expressions_come_from_filter_expression_and_group_by_tiles():
    dataflow = leafiq.parse_dataflow({
        "id": 9, "name": "magic", "databaseType": "MAGIC", "inputs": [], "outputs": [],
        "lastExecution": {"id": 3, "state": "SUCCESS", "beginTime": 1767323045000, "endTime": 1767323046000},
        "actions": [
            {"type": "Filter", "id": "f", "filterList": [{"expression": "`paid` > 0"}]},
            {"type": "ExpressionEvaluator", "id": "e", "expressions": [
                {"fieldName": "net", "expression": "`paid` - `fee`"}]},
            {"type": "GroupBy", "id": "g", "fields": [{"name": "total", "formula": "SUM(`net`)"}]},
            {"type": "SelectValues", "id": "s", "fields": [{"expression": "ignored: not an expression tile"}]},
        ],
    })

    assert dataflow.expressions == ("`paid` > 0", "`paid` - `fee`", "SUM(`net`)")
    assert dataflow.sql == ()
    assert dataflow.last_execution.state == "SUCCESS"
    assert dataflow.last_execution.started_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def test_dataflows_ignore_keys_the_format_does_not_name():
    mysql = exports.sample_files()[exports.DATAFLOW_DEFINITION]
    magic = {"id": 9, "name": "magic", "databaseType": "MAGIC", "inputs": [{"dataSourceId": CLAIMS}], "outputs": [],
             "actions": [{"type": "ExpressionEvaluator", "id": "e",
                          "expressions": [{"fieldName": "net", "expression": "`paid` - 1"}]}]}

    for dataflow in (mysql, magic):
        assert leafiq.parse_dataflow(with_unnamed_keys(dataflow)) == leafiq.parse_dataflow(dataflow)


def test_dataflow_needs_only_id_name_and_database_type():
    dataflow = leafiq.parse_dataflow({"id": 1, "name": "x", "databaseType": "redshift"})

    assert (dataflow.database_type, dataflow.inputs, dataflow.outputs, dataflow.actions, dataflow.last_execution) == (
        "REDSHIFT", (), (), (), None)


def test_dataflow_of_unknown_database_type_is_refused():
    with pytest.raises(leafiq.LeafIQFormatError) as raised:
        leafiq.parse_dataflow({"id": 1, "name": "x", "databaseType": "SPARK"})

    assert (raised.value.object, raised.value.field) == ("dataflow 1", "databaseType")


def test_directory_users_and_groups():
    users = leafiq.parse_users(exports.sample_files()[exports.USERS])
    groups = leafiq.parse_groups({"groups": [{"groupId": "7", "name": "G", "users": [{"id": 101}, 102]}]})

    assert users[0] == leafiq.DirectoryUser(id=101, name="Ann Analyst", email="ann@example.org", role="Participant")
    assert groups == (leafiq.DirectoryGroup(id=7, name="G", user_ids=(101, 102)),)


def test_directory_ignores_keys_the_format_does_not_name():
    users = exports.sample_files()[exports.USERS]
    groups = {"groups": exports.sample_files()[exports.GROUPS]}

    assert leafiq.parse_users(with_unnamed_keys(users)) == leafiq.parse_users(users)
    assert leafiq.parse_groups(with_unnamed_keys(groups)) == leafiq.parse_groups(groups)


def test_read_from_a_file_names_the_file_on_bad_json(tmp_path):
    path = tmp_path / "definition.json"
    path.write_text('{"id": 1, "title": NaN}')

    with pytest.raises(leafiq.LeafIQFormatError) as raised:
        leafiq.read_card_definition(path, file="cards/1/definition.json")

    assert raised.value.file == "cards/1/definition.json"
    assert "not valid JSON" in raised.value.message


def test_readers_return_frozen_dataclasses():
    metadata = leafiq.parse_dataset_metadata(exports.claims_metadata())

    with pytest.raises(dataclasses.FrozenInstanceError):
        metadata.name = "other"  # type: ignore[misc]
    assert json.dumps(dataclasses.asdict(metadata.columns[0])) == '{"name": "claim_id", "type": "LONG"}'
