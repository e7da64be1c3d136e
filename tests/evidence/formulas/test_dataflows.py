"""DataFlow analysis: the sample export's MySQL and Magic ETL flows, planted issues, Magic ETL's
NULL-comparison rule, and SQL that does not parse."""

from __future__ import annotations

import copy
import json

import pytest

from evidence.formulas import FLAW_CODES, STEP_FLAW_CODES, analyze
from evidence.formulas.dataflows import NULL_RULE, analyze_dataflow, null_comparisons, table_name
from evidence.intake import leafiq
from evidence.samples import export as se


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> dict:
    """The sample export's two flows (as JSON, to plant issues in copies) and dataset schemas."""
    root = tmp_path_factory.mktemp("sample") / "x"
    se.write_sample_export(root, rows=50)
    schemas = {}
    for path in (root / "datasets").glob("*/metadata.json"):
        metadata = leafiq.read_dataset_metadata(path)
        schemas[metadata.id] = {column.name: column.type for column in metadata.columns}
    flows = {}
    for path in (root / "dataflows").glob("*.json"):
        data = json.loads(path.read_text())
        flows[data["databaseType"]] = data
    return {"schemas": schemas, "flows": flows}


def steps_of(sample: dict, database_type: str, change=None):
    data = copy.deepcopy(sample["flows"][database_type])
    if change is not None:
        change(data)
    return analyze_dataflow(leafiq.parse_dataflow(data), schemas=sample["schemas"])


def action(data: dict, action_type: str, nth: int = 0) -> dict:
    return [a for a in data["actions"] if a["type"] == action_type][nth]


def only(steps, code: str):
    found = [(step, flaw) for step in steps for flaw in step.flaws if flaw.code == code]
    assert len(found) == 1, found
    return found[0]


def assert_located(step, flaw) -> None:
    assert flaw.start is not None
    assert step.text[flaw.start : flaw.end] == flaw.snippet


# --- the sample export's flows -------------------------------------------------------------------
def test_mysql_flow_steps_are_its_sql_statements_with_tables_read_and_written(sample):
    steps = steps_of(sample, "MYSQL")
    assert [(s.action_type, s.action_name, s.kind) for s in steps] == [
        ("SQL", "Index claims by component", "sql"),
        ("GenerateTableAction", "claims_by_component", "sql"),
        ("GenerateTableAction", "guarantee_reconciliation", "sql"),
    ]
    by_component, reconciliation = steps[1], steps[2]
    assert by_component.tables == ("pbm_claims_2025",)
    assert by_component.writes == ("claims_by_component",)
    assert set(reconciliation.tables) == {"claims_by_component", "contract_terms_2025"}
    assert {"Claim Status", "AWP Unit Price", "Dispensing Fee Paid"} <= set(by_component.columns)


def test_mysql_flow_expressions_are_every_select_where_and_join_condition(sample):
    by_component, reconciliation = steps_of(sample, "MYSQL")[1:]
    clauses = [(a.clause, a.analysis.formula) for a in by_component.analyses]
    assert clauses[3] == ("select", "SUM(CASE WHEN `Claim Status` = 'REVERSED' THEN -1 ELSE 1 END)")
    assert clauses[-1] == ("where", "`AWP Unit Price` IS NOT NULL")
    assert [a.analysis.level for a in by_component.analyses].count("aggregate") == 4
    join = [a for a in reconciliation.analyses if a.clause == "join"]
    assert len(join) == 1 and join[0].analysis.formula.startswith("t.`Client Account` = c.`Client Account`")
    for step in (by_component, reconciliation):
        for item in step.analyses:
            assert step.text[item.start : item.end] == item.analysis.formula


def test_the_sample_flows_are_clean(sample):
    """The sample's SQL and Magic ETL are correct: no false alarm, GREATEST (not Beast Mode) and the
    columns of the generated table included."""
    for database_type in ("MYSQL", "MAGIC"):
        steps = steps_of(sample, database_type)
        assert steps
        assert [flaw for step in steps for flaw in step.flaws] == []


def test_magic_flow_steps_are_its_expressions_each_analyzed_as_a_dataflow_use(sample):
    steps = steps_of(sample, "MAGIC")
    assert [(s.action_type, s.part, s.text) for s in steps] == [
        ("Filter", 0, "`Brand/Generic` = 'Brand'"),
        ("ExpressionEvaluator", 0, "CONCAT(YEAR(`Fill Date`), 'Q', QUARTER(`Fill Date`))"),
        ("ExpressionEvaluator", 1, "CASE WHEN `Claim Status` = 'REVERSED' THEN -1 ELSE 1 END"),
        ("GroupBy", 0, "SUM(`Script Sign`)"),
        ("GroupBy", 1, "SUM(`Ingredient Cost Paid`)"),
    ]
    assert all(s.kind == "expression" and s.tables == ("PBM Claims 2025",) for s in steps)
    assert {a.analysis.used_as for s in steps for a in s.analyses} == {"dataflow"}
    assert steps[3].analyses[0].clause == "group_by" and steps[3].analyses[0].analysis.level == "aggregate"


# --- planted issues ------------------------------------------------------------------------------
def plant_sql(sql: str):
    def change(data):
        action(data, "GenerateTableAction")["selectStatement"] = sql

    return change


def test_planted_sql_flaws_are_found_at_their_place_in_the_statement(sample):
    sql = (
        "SELECT `Client Account`,\n"
        "       SUM(`Ingredient Cost Paid`) / SUM(`Quantity`) AS `Unit Cost`,\n"
        "       COUNT(`Claim ID`) AS `Claims`,\n"
        "       DATEDIFF(CURDATE(), MAX(`Fill Date`)) AS `Days Since`,\n"
        "       SUM(`AWP Unit Price` * `Quantity`) * 0.17 AS `Guaranteed`\n"
        "FROM `pbm_claims_2025`\n"
        "WHERE `Fill Date` - `Adjudicated At` > 0\n"
        "GROUP BY `Client Account`"
    )
    steps = steps_of(sample, "MYSQL", plant_sql(sql))
    step = steps[1]
    expected = {
        "UNGUARDED_DIVISION": "SUM(`Ingredient Cost Paid`) / SUM(`Quantity`)",
        "COUNT_NOT_DISTINCT_ON_ID": "COUNT(`Claim ID`)",
        "NON_DETERMINISTIC": "CURDATE()",
        "HARDCODED_ASSUMPTION": "0.17",
        "DATE_ARITHMETIC": "`Fill Date` - `Adjudicated At`",
    }
    assert step.codes == set(expected)
    for flaw in step.flaws:
        assert flaw.snippet == expected[flaw.code]
        assert_located(step, flaw)
    assert next(f for f in step.flaws if f.code == "UNGUARDED_DIVISION").suggestion == (
        "SUM(`Ingredient Cost Paid`) / NULLIF(SUM(`Quantity`), 0)"
    )


def test_flaws_inside_a_subquery_and_a_cte_are_found_once(sample):
    sql = (
        "WITH recent AS (SELECT `Claim ID`, `Quantity` * 3.5 AS q FROM `pbm_claims_2025`)\n"
        "SELECT r.`Claim ID` FROM recent r\n"
        "WHERE r.q > (SELECT AVG(`Ingredient Cost Paid` / `Quantity`) FROM `pbm_claims_2025`)"
    )
    step = steps_of(sample, "MYSQL", plant_sql(sql))[1]
    assert sorted(f.code for f in step.flaws) == [
        "AGGREGATE_OF_ROW_RATIO", "HARDCODED_ASSUMPTION", "UNGUARDED_DIVISION",
    ]  # fmt: skip
    for flaw in step.flaws:
        assert_located(step, flaw)


def test_unknown_columns_are_judged_per_table_with_qualifiers_aliases_and_earlier_steps(sample):
    def change(data):
        reconcile = action(data, "GenerateTableAction", 1)
        reconcile["selectStatement"] = (
            "SELECT c.`Client Account`, c.`AWP Amount`, t.`Claims`, `Ingredient Cost` AS x\n"
            "FROM `claims_by_component` c JOIN `contract_terms_2025` t ON t.`Channel` = c.`Channel`\n"
            "HAVING x > 0"
        )

    step = steps_of(sample, "MYSQL", change)[2]
    unknown = [f for f in step.flaws if f.code == "UNKNOWN_COLUMN"]
    # `AWP Amount` is a column the previous step generated; `Claims` is one, but of c, not of t.
    assert [f.snippet for f in unknown] == ["t.`Claims`", "`Ingredient Cost`"]
    assert unknown[0].message == "`Claims` is not a column of contract_terms_2025 (t)."
    assert unknown[1].suggestion == "`Ingredient Cost Paid`"


def test_a_table_no_step_knows_is_read_but_not_judged(sample):
    step = steps_of(sample, "MYSQL", plant_sql("SELECT `Whatever` FROM `other_table`"))[1]
    assert step.tables == ("other_table",)
    assert step.flaws == ()


def test_beast_mode_only_codes_are_not_reported_on_mysql(sample):
    sql = "SELECT GREATEST(`Quantity`, 0), WEEK(`Fill Date`), IF(`Quantity` > 0, 1, 0) FROM `pbm_claims_2025`"
    step = steps_of(sample, "MYSQL", plant_sql(sql))[1]
    assert step.flaws == ()
    assert analyze("WEEK(`Fill Date`)").codes == {"WEEK_MODE"}  # in a Beast Mode it is one


# --- Magic ETL: a comparison with NULL drops the row ---------------------------------------------
def plant_filter(expression: str):
    def change(data):
        action(data, "Filter")["filterList"] = [{"filterType": "FORMULA", "expression": expression}]

    return change


def test_a_magic_filter_excluding_a_value_drops_null_rows_too(sample):
    steps = steps_of(sample, "MAGIC", plant_filter("`Claim Status` <> 'REVERSED'"))
    step, flaw = only(steps, NULL_RULE)
    assert (step.action_type, flaw.severity, flaw.snippet) == (
        "Filter",
        "warning",
        "`Claim Status` <> 'REVERSED'",
    )
    assert_located(step, flaw)
    assert flaw.suggestion == "IFNULL(`Claim Status`, '') <> 'REVERSED'"
    assert "`Claim Status` is NULL" in flaw.message
    assert flaw.title == STEP_FLAW_CODES[NULL_RULE].title


@pytest.mark.parametrize(
    ("condition", "snippet", "suggestion"),
    [
        (
            "`Channel` NOT IN ('mail', 'retail')",
            None,
            "(`Channel` NOT IN ('mail', 'retail') OR `Channel` IS NULL)",
        ),
        ("`Drug Name` NOT LIKE '%Pen%'", None, "(`Drug Name` NOT LIKE '%Pen%' OR `Drug Name` IS NULL)"),
        ("NOT `Channel` = 'mail'", None, "(NOT `Channel` = 'mail' OR `Channel` IS NULL)"),
        (
            "`Brand/Generic` = 'Brand' AND NOT (`Channel` = 'mail' AND `Quantity` > 3)",
            "NOT (`Channel` = 'mail' AND `Quantity` > 3)",
            "(NOT (`Channel` = 'mail' AND `Quantity` > 3) OR `Channel` IS NULL OR `Quantity` IS NULL)",
        ),
        ("`Days Supply` * 2 <> 60", None, "(`Days Supply` * 2 <> 60 OR `Days Supply` IS NULL)"),
        (
            "`Days Supply` NOT BETWEEN 1 AND 30",
            None,
            "(`Days Supply` NOT BETWEEN 1 AND 30 OR `Days Supply` IS NULL)",
        ),
    ],
)
def test_negative_comparisons_on_a_nullable_column_are_reported(condition, snippet, suggestion):
    [flaw] = null_comparisons(condition, analyze(condition, used_as="dataflow").parsed)
    assert flaw.snippet == (snippet or condition)
    assert condition[flaw.start : flaw.end] == flaw.snippet
    assert flaw.suggestion == suggestion


@pytest.mark.parametrize(
    "condition",
    [
        "`Brand/Generic` = 'Brand'",  # positive: dropping NULL rows is what it says
        "`Channel` IN ('mail', 'retail')",
        "`Days Supply` >= 84",
        "NOT `Channel` <> 'mail'",
        "IFNULL(`Claim Status`, '') <> 'REVERSED'",
        "COALESCE(`Channel`, '') NOT IN ('mail')",
        "`Claim Status` <> 'REVERSED' OR `Claim Status` IS NULL",
        "`Claim Status` IS NOT NULL AND `Claim Status` <> 'REVERSED'",  # NULL rows dropped on purpose
        "`Channel` <=> 'mail'",
        "`Channel` IS NOT NULL",
    ],
)
def test_positive_or_guarded_comparisons_are_not_reported(condition):
    assert list(null_comparisons(condition, analyze(condition, used_as="dataflow").parsed)) == []


def test_a_comparison_with_the_null_literal_drops_every_row(sample):
    steps = steps_of(sample, "MAGIC", plant_filter("`Claim Status` = NULL"))
    _step, flaw = only(steps, NULL_RULE)
    assert flaw.severity == "error"
    assert flaw.suggestion == "`Claim Status` IS NULL"
    assert "drops every row" in flaw.message


def test_the_null_rule_is_for_filters_only(sample):
    def change(data):
        action(data, "ExpressionEvaluator")["expressions"][1]["expression"] = (
            "CASE WHEN `Claim Status` <> 'REVERSED' THEN 1 ELSE -1 END"
        )

    assert NULL_RULE not in {code for step in steps_of(sample, "MAGIC", change) for code in step.codes}


def test_magic_columns_added_by_a_tile_are_not_unknown_but_input_columns_are_checked(sample):
    def change(data):
        action(data, "Filter")["filterList"] = [
            {"filterType": "FORMULA", "expression": "`Brand Generic` = 'Brand'"}
        ]

    steps = steps_of(sample, "MAGIC", change)
    step, flaw = only(steps, "UNKNOWN_COLUMN")
    assert step.action_type == "Filter" and flaw.suggestion == "`Brand/Generic`"
    # `Script Sign` comes from the ExpressionEvaluator: its GroupBy is not flagged.
    assert steps[3].text == "SUM(`Script Sign`)" and steps[3].flaws == ()


# --- SQL that does not parse ---------------------------------------------------------------------
def test_bad_sql_is_unparseable_with_its_position(sample):
    sql = "SELECT `Client Account`, SUM(`Quantity`\nFROM `pbm_claims_2025`\nGROUP BY `Client Account`"
    step = steps_of(sample, "MYSQL", plant_sql(sql))[1]
    [flaw] = step.flaws
    assert flaw.code == "UNPARSEABLE" and flaw.severity == FLAW_CODES["UNPARSEABLE"].severity
    assert flaw.start is not None and step.text[flaw.start : flaw.end] == flaw.snippet
    assert "line 2" in flaw.message
    assert step.analyses == ()


def test_an_unclosed_quote_points_at_where_it_opens(sample):
    sql = "SELECT `Channel`, 'retail AS kind\nFROM `pbm_claims_2025`"
    step = steps_of(sample, "MYSQL", plant_sql(sql))[1]
    [flaw] = step.flaws
    assert flaw.code == "UNPARSEABLE"
    assert (flaw.start, flaw.end) == (sql.index("'"), len(sql))
    assert "not closed (line 1, column 19)" in flaw.message


def test_other_steps_are_still_analyzed_after_a_bad_one(sample):
    steps = steps_of(sample, "MYSQL", plant_sql("SELECT FROM WHERE"))
    assert steps[1].codes == {"UNPARSEABLE"}
    assert steps[1].flaws[0].snippet == "WHERE"
    assert len(steps[2].analyses) > 10


# --- Redshift --------------------------------------------------------------------------------------
def test_redshift_sql_is_analyzed_with_redshift_semantics(sample):
    def change(data):
        data["databaseType"] = "REDSHIFT"
        action(data, "GenerateTableAction")["selectStatement"] = (
            'SELECT "Client Account", SUM("Ingredient Cost Paid") / SUM("Quantity") AS unit_cost,\n'
            '       MAX("Fill Date") - MIN("Fill Date") AS days, COUNT("Claim ID") AS claims, "Nope"\n'
            "FROM pbm_claims_2025 WHERE \"Channel\" <> 'mail' GROUP BY 1"
        )

    step = steps_of(sample, "MYSQL", change)[1]
    # Redshift subtracts dates as days: no DATE_ARITHMETIC there; double quotes are names.
    assert sorted(f.code for f in step.flaws) == [
        "COUNT_NOT_DISTINCT_ON_ID",
        "UNGUARDED_DIVISION",
        "UNKNOWN_COLUMN",
    ]
    for flaw in step.flaws:
        assert_located(step, flaw)


def test_dataset_names_become_mysql_table_names():
    assert table_name("PBM Claims 2025") == "pbm_claims_2025"
    assert table_name("Rebate Invoices (2025) - v2") == "rebate_invoices_2025_v2"


def test_a_magic_flow_without_links_is_read_as_a_chain_from_its_one_input(sample):
    """As the intake rebuilds flows from stored steps: no action ids, no dependsOn."""

    def unlink(data):
        for item in data["actions"]:
            item.pop("id", None)
            item["dependsOn"] = []
        action(data, "Filter")["filterList"] = [
            {"filterType": "FORMULA", "expression": "`Brand Generic` = 'Brand'"}
        ]

    steps = steps_of(sample, "MAGIC", unlink)
    step, flaw = only(steps, "UNKNOWN_COLUMN")
    assert step.action_type == "Filter" and flaw.snippet == "`Brand Generic`"
    assert all(s.tables == ("PBM Claims 2025",) for s in steps)
    assert steps[3].text == "SUM(`Script Sign`)" and steps[3].flaws == ()
