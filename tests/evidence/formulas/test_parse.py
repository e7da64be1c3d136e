"""The Beast Mode dialect: FIXED and window forms, Domo names kept, columns, level, positions.

No database: the engine is a plain module.
"""

from __future__ import annotations

import time

import pytest
import sqlglot
from sqlglot import exp

from evidence.formulas import ENGINE_VERSION, FLAW_CODES, FormulaSyntaxError, analyze, catalogue, parse
from evidence.formulas.dialect import Fixed
from evidence.samples import export as se

FIXED_FORMS = [
    # (formula, kind, columns, filter mode, filter columns)
    ("SUM(`Total Sales`) FIXED ()", None, (), "all", ()),
    ("SUM(`Total Sales`) FIXED (BY `Region`)", "by", ("Region",), "all", ()),
    ("SUM(`Total Sales`) FIXED (BY `Region`, `State`)", "by", ("Region", "State"), "all", ()),
    ("SUM(`Total Sales`) FIXED (ADD `City`)", "add", ("City",), "all", ()),
    ("AVG(`Unit Price`) FIXED (REMOVE `Product Category`)", "remove", ("Product Category",), "all", ()),
    ("SUM(`Total Sales`) FIXED (BY `Region` FILTER NONE)", "by", ("Region",), "none", ()),
    (
        "SUM(`Total Sales`) FIXED (BY `Region` FILTER ALLOW `Product Category`)",
        "by",
        ("Region",),
        "allow",
        ("Product Category",),
    ),
    (
        "SUM(`Total Sales`) FIXED (BY `Region` FILTER DENY `State`, `City`)",
        "by",
        ("Region",),
        "deny",
        ("State", "City"),
    ),
    ("SUM(`Total Sales`) FIXED (FILTER NONE)", None, (), "none", ()),
    ("SUM(`Total Sales`) FIXED (FILTER ALLOW `Region`)", None, (), "allow", ("Region",)),
]

WINDOW_FORMS = [
    "SUM(SUM(`Sales`)) OVER (PARTITION BY `Region`)",
    "SUM(SUM(`Sales`)) OVER (PARTITION BY `Region`, `State` ORDER BY `Month`)",
    "AVG(AVG(`Sales`)) OVER ()",
    "MAX(MAX(`Sales`)) OVER (ORDER BY `Month` ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)",
    "LAG(SUM(`Sales`), 1) OVER (ORDER BY `Month`)",
    "LEAD(SUM(`Sales`), 1, 0) OVER (PARTITION BY `Region` ORDER BY `Month`)",
    "RANK() OVER (ORDER BY SUM(`Sales`) DESC)",
    "NTILE(4) OVER (ORDER BY SUM(`Sales`))",
    "COUNT(COUNT(`Order ID`)) OVER (PARTITION BY `Region`)",
]

# One call per catalogue function (arguments where one `x` will not do), to prove that each
# parses and comes back under its Domo name.
CALL_ARGUMENTS = {
    "DATEDIFF": "`a`, `b`",
    "DATE_ADD": "`d`, INTERVAL 3 DAY",
    "DATE_SUB": "`d`, INTERVAL 3 DAY",
    "ADDDATE": "`d`, 3",
    "SUBDATE": "`d`, 3",
    "ADDTIME": "`d`, '01:00:00'",
    "SUBTIME": "`d`, '01:00:00'",
    "MOD": "`a`, 3",
    "POWER": "`a`, 2",
    "POW": "`a`, 2",
    "ROUND": "`a`, 2",
    "NULLIF": "`a`, 0",
    "IFNULL": "`a`, 0",
    "NVL": "`a`, 0",
    "COALESCE": "`a`, `b`, 0",
    "INSTR": "`s`, 'x'",
    "LEFT": "`s`, 2",
    "RIGHT": "`s`, 2",
    "REPLACE": "`s`, 'a', 'b'",
    "SUBSTRING": "`s`, 1, 3",
    "CONCAT": "`s`, '-', `t`",
    "DATE_FORMAT": "`d`, '%Y-%m'",
    "TIME_FORMAT": "`d`, '%H'",
    "STR_TO_DATE": "`s`, '%Y-%m-%d'",
    "PERIOD_ADD": "`p`, 2",
    "PERIOD_DIFF": "`p`, `q`",
    "TIMEDIFF": "`a`, `b`",
    "WEEK": "`d`, 11",
    "YEARWEEK": "`d`, 22",
    "LPAD": "`s`, 5, '0'",
    "RPAD": "`s`, 5, '0'",
    "LAG": "`x`, 1",
    "LEAD": "`x`, 1",
    "NTILE": "4",
    "RANK": "",
    "PERCENTILE_RANK": "",
    "CURDATE": "",
    "CURTIME": "",
    "NOW": "",
    "CURRENT_DATE": "",
    "CURRENT_TIME": "",
    "CURRENT_TIMESTAMP": "",
    "SYSDATE": "",
    "RAND": "",
    "RANDOM": "",
    "UNIX_TIMESTAMP": "",
    "PERCENTILE": "`x`, 0.5",
    "PERCENTILE_CONT": "0.5",
    "CORR": "`x`, `y`",
    "WIDTH_BUCKET": "`x`, 0, 10, 5",
    "LOG": "10, `x`",
    "TRUNC": "`x`, 2",
    "TO_CHAR": "`d`, 'YYYY'",
    "TO_DATE": "`s`, 'YYYY-MM-DD'",
    "DATE_TRUNC": "'month', `d`",
    "STRPOS": "`s`, 'x'",
    "CONVERT_TZ": "`d`, 'UTC', 'US/Central'",
}


def _call(name: str) -> str:
    call = f"{name}({CALL_ARGUMENTS.get(name, '`x`')})"
    return f"{call} OVER (ORDER BY `d`)" if catalogue.CATALOGUE[name].kind == "window" else call


def _round_trips(formula: str) -> str:
    tree = parse(formula)
    text = tree.sql(dialect="beastmode")
    assert parse(text) == tree
    return text


# --- FIXED -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("formula", "kind", "columns", "mode", "filter_columns"), FIXED_FORMS)
def test_fixed_forms_parse_into_a_fixed_node(formula, kind, columns, mode, filter_columns):
    tree = parse(formula)
    assert isinstance(tree, Fixed)
    assert isinstance(tree.this, exp.AggFunc)
    assert tree.kind == kind
    assert tree.filter_mode == mode
    analysis = analyze(formula)
    (clause,) = analysis.fixed
    assert (clause.kind, clause.columns, clause.filter_mode, clause.filter_columns) == (
        kind,
        columns,
        mode,
        filter_columns,
    )
    assert clause.snippet == formula
    assert analysis.level == "fixed"


@pytest.mark.parametrize("formula", [form[0] for form in FIXED_FORMS])
def test_fixed_forms_round_trip_verbatim(formula):
    assert _round_trips(formula) == formula


@pytest.mark.parametrize(
    "formula",
    [
        "SUM(SUM(`Total Sales`) FIXED ())",
        "MAX(SUM(`Total Sales`) FIXED (ADD `City`))",
        "AVG(AVG(`Unit Price`) FIXED (REMOVE `Product Category`))",
        "SUM(`Total Sales`) / NULLIF(SUM(SUM(`Total Sales`) FIXED (BY `Region`)), 0)",
        "SUM(SUM(`Total Sales`) FIXED (BY `Region` FILTER DENY `State`))",
    ],
)
def test_an_aggregate_wrapped_around_fixed_is_a_fixed_level_formula_without_flaws(formula):
    analysis = analyze(formula)
    assert analysis.level == "fixed"
    assert len(analysis.fixed) == 1
    assert analysis.flaws == ()
    assert _round_trips(formula) == formula


def test_fixed_clause_reports_the_schema_spelling_of_its_columns():
    analysis = analyze(
        "MAX(SUM(`sales`) FIXED (BY `region` FILTER ALLOW `STATE`))",
        schema={"Sales": "DECIMAL", "Region": "STRING", "State": "STRING"},
    )
    (clause,) = analysis.fixed
    assert clause.columns == ("Region",)
    assert clause.filter_columns == ("State",)
    assert clause.aggregate == "SUM(`sales`)"
    assert analysis.columns == ("Sales", "Region", "State")


@pytest.mark.parametrize(
    "formula",
    [
        "SUM(x) FIXED (BY)",
        "SUM(x) FIXED (FILTER MAYBE)",
        "SUM(x) FIXED (FILTER ALLOW)",
        "SUM(x) FIXED (BY a",
    ],
)
def test_malformed_fixed_is_unparseable_with_a_position(formula):
    (flaw,) = analyze(formula).flaws
    assert flaw.code == "UNPARSEABLE"
    assert flaw.start is not None and 0 <= flaw.start <= len(formula)


def test_fixed_is_only_a_keyword_after_a_function():
    assert analyze("`fixed` + 1", schema={"fixed": "LONG"}).columns == ("fixed",)


# --- windows -----------------------------------------------------------------------------------
@pytest.mark.parametrize("formula", WINDOW_FORMS)
def test_window_functions_over_aggregates_parse_and_round_trip(formula):
    analysis = analyze(formula)
    assert analysis.level == "window"
    assert isinstance(analysis.parsed, exp.Window)
    assert not {"NESTED_AGGREGATE", "UNPARSEABLE"} & analysis.codes
    assert _round_trips(formula) == formula


def test_window_partition_columns_are_columns_of_the_formula():
    analysis = analyze("SUM(SUM(`Sales`)) OVER (PARTITION BY `Region` ORDER BY `Month`)")
    assert analysis.columns == ("Sales", "Region", "Month")


# --- the dialect and the catalogue -------------------------------------------------------------
def test_the_dialect_is_registered_with_sqlglot():
    tree = sqlglot.parse_one("SUM(`x`) FIXED (BY `a`)", read="beastmode")
    assert isinstance(tree, Fixed)
    assert tree.sql(dialect="beastmode") == "SUM(`x`) FIXED (BY `a`)"


@pytest.mark.parametrize("name", sorted(n for n in catalogue.CATALOGUE if n != "CASE"))
def test_every_catalogue_function_parses_and_keeps_its_domo_name(name):
    formula = _call(name)
    assert _round_trips(formula) == formula


@pytest.mark.parametrize(
    "formula",
    [
        "CASE WHEN `a` > 1 THEN 'x' WHEN `a` < 0 THEN 'y' ELSE 'z' END",
        "CASE `Channel` WHEN 'mail' THEN 1 ELSE 0 END",
        "IFNULL(`a`, 0) + NVL(`b`, 0) + COALESCE(`c`, `d`, 0)",
        "CURDATE() + CURRENT_DATE + CURRENT_DATE() + NOW()",
        "`Channel` IN ('mail', 'retail') AND `Drug Name` LIKE 'Ins%'",
        "DATE_SUB(`d`, INTERVAL 3 HOUR)",
        "year(`d`) + Month(`d`)",
        "`a` - -1",
        "`Brand/Generic` = 'Brand'",
    ],
)
def test_domo_text_round_trips_to_the_same_tree(formula):
    _round_trips(formula)


def test_function_names_are_case_insensitive():
    assert parse("year(`Fill Date`)") == parse("YEAR(`Fill Date`)")


def test_back_quoted_names_keep_spaces_slashes_and_hashes():
    analysis = analyze("COUNT(DISTINCT `Claim #`) + SUM(`Brand/Generic Flag`)")
    assert analysis.columns == ("Claim #", "Brand/Generic Flag")


def test_columns_are_matched_case_insensitively_to_the_schema_spelling():
    analysis = analyze("SUM(`ingredient cost paid`)", schema={"Ingredient Cost Paid": "DECIMAL"})
    assert analysis.columns == ("Ingredient Cost Paid",)
    assert analysis.flaws == ()


@pytest.mark.parametrize(
    ("formula", "level"),
    [
        ("`a` / NULLIF(`b`, 0)", "row"),
        ("CASE WHEN `a` > 0 THEN 'x' ELSE 'y' END", "row"),
        ("SUM(`a`)", "aggregate"),
        ("COUNT(DISTINCT `Claim ID`)", "aggregate"),
        ("SUM(SUM(`a`)) OVER ()", "window"),
        ("MAX(SUM(`a`) FIXED (BY `b`))", "fixed"),
    ],
)
def test_aggregation_level(formula, level):
    assert analyze(formula).level == level


def test_snippets_carry_offsets_into_the_formula():
    formula = "1 + DATEDIFF(CURDATE(), MAX(`Fill Date`))"
    (flaw,) = analyze(formula).flaws
    assert flaw.code == "NON_DETERMINISTIC"
    assert formula[flaw.start : flaw.end] == flaw.snippet == "CURDATE()"


# --- unparseable -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("formula", "line", "column", "text"),
    [
        ("SUM(`x`", 1, 5, "`x`"),
        ("SUM(`a`)\n  + (`b`", 2, 6, "`b`"),
        ("CASE WHEN `a` > 1 THEN 2", 1, 24, "2"),
        ("YEAR(‘Fill Date’)", 1, 6, "‘"),
        ("`a` `b`", 1, 5, "`b`"),
        ("`a`; `b`", 1, 4, ";"),
    ],
)
def test_unparseable_reports_line_column_and_offset(formula, line, column, text):
    analysis = analyze(formula)
    (flaw,) = analysis.flaws
    assert flaw.code == "UNPARSEABLE" and flaw.severity == "error"
    assert analysis.parsed is None and analysis.level is None
    assert formula[flaw.start : flaw.end] == flaw.snippet
    assert text in flaw.snippet or flaw.snippet in text
    assert f"line {line}, column {column}" in flaw.message


def test_unparseable_explains_typographic_quotes():
    (flaw,) = analyze("YEAR(‘Fill Date’)").flaws
    assert "typographic quotes" in flaw.message


@pytest.mark.parametrize("formula", ["", "   ", "SELECT 1", "'open string", "`open name", "INTERVAL 1 DAY"])
def test_empty_statements_and_unclosed_quotes_are_unparseable(formula):
    assert analyze(formula).codes == {"UNPARSEABLE"}


def test_parse_raises_a_syntax_error_with_its_position():
    with pytest.raises(FormulaSyntaxError) as caught:
        parse("SUM(`x`")
    assert (caught.value.line, caught.value.column, caught.value.start) == (1, 5, 4)


# --- public surface ------------------------------------------------------------------------------
def test_flaw_codes_table_covers_every_code_the_rules_emit():
    assert set(se.FLAW_CODES) <= set(FLAW_CODES)
    for code in FLAW_CODES.values():
        assert code.severity in ("error", "warning", "info")
        assert code.title and code.description.endswith(".")
    assert ENGINE_VERSION


def test_used_as_must_be_a_known_use():
    with pytest.raises(ValueError):
        analyze("SUM(`a`)", used_as="chart")


def test_analysis_is_fast():
    formulas = [bm.formula for bm in se.BEAST_MODES]
    analyze(formulas[0])  # warm-up
    started = time.perf_counter()
    for _ in range(5):
        for formula in formulas:
            analyze(formula)
    per_formula = (time.perf_counter() - started) / (5 * len(formulas))
    assert per_formula < 0.010
