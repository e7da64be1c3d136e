"""The translation's text and its reports: T-SQL (which cannot run here) checked as text and parsed
back with sqlglot's T-SQL reader, and every construct that cannot be translated faithfully
reported with a sentence, never passed off as faithful SQL.

Values on real engines: test_translate_engines.py and test_translate_samples.py.
"""

from __future__ import annotations

import dataclasses

import pytest
import sqlglot

from evidence.formulas import analyze
from evidence.formulas.translate import TARGETS, Translation, translate, translate_all
from tests.evidence.formulas.test_translate_engines import GROUPED_CASES, ROW_CASES, SCHEMA


def _translate(formula: str, target: str, *, columns=SCHEMA, used_as: str = "card_value") -> Translation:
    return translate(analyze(formula, schema=columns, used_as=used_as), target, columns=columns)


def _tsql(formula: str) -> str:
    translation = _translate(formula, "tsql")
    assert translation.faithful, translation.problems
    sqlglot.parse_one(translation.sql, read="tsql")  # valid T-SQL
    return translation.sql


# --- API ------------------------------------------------------------------------------------------
def test_translate_all_gives_one_translation_per_target():
    translations = translate_all(analyze("`Units` + 1", schema=SCHEMA), SCHEMA)
    assert tuple(translations) == TARGETS == ("tsql", "postgres", "sqlite", "duckdb")
    assert all(t.target == target and t.faithful for target, t in translations.items())
    assert translations["postgres"].sql == '"Units" + 1'
    assert translations["tsql"].sql == "[Units] + 1"


def test_a_translation_is_frozen():
    translation = _translate("`Units` + 1", "duckdb")
    with pytest.raises(dataclasses.FrozenInstanceError):
        translation.sql = "1"


def test_an_unknown_target_is_refused():
    with pytest.raises(ValueError, match="target must be one of"):
        translate(analyze("1"), "mysql")


def test_columns_take_the_datasets_spelling_and_quoting():
    columns = {'Cost ]"Paid': "DECIMAL", "Units": "LONG"}
    analysis = analyze('`cost ]"paid` * `units`', schema=columns)
    sqls = {target: t.sql for target, t in translate_all(analysis, columns).items()}
    assert sqls["tsql"] == '[Cost ]]"Paid] * [Units]'
    assert sqls["postgres"] == sqls["duckdb"] == '"Cost ]""Paid" * "Units"'


def test_an_unparseable_formula_has_no_sql():
    translation = translate(analyze("SUM(`Units`"), "postgres")
    assert translation.sql is None and not translation.faithful
    assert translation.problems[0].startswith("The formula does not parse:")


# --- T-SQL text ------------------------------------------------------------------------------------
def test_tsql_division_casts_the_numerator_and_guards_the_denominator():
    assert _tsql("`Units` / `Packs`") == "CAST([Units] AS FLOAT) / NULLIF([Packs], 0)"


def test_an_existing_nullif_guard_is_not_doubled():
    assert _tsql("`Units` / NULLIF(`Packs`, 0)") == "CAST([Units] AS FLOAT) / NULLIF([Packs], 0)"


def test_tsql_datediff_counts_from_the_second_argument():
    assert _tsql("DATEDIFF(`Paid Date`, `Fill Date`)") == "DATEDIFF(DAY, [Fill Date], [Paid Date])"


def test_tsql_concat_keeps_nulls_and_writes_dates_as_iso_text():
    sql = _tsql("CONCAT(`Drug`, '-', `Units`, ' ', `Fill Date`, ' ', `Claimed At`)")
    assert "CONCAT(" not in sql  # T-SQL's CONCAT() would skip NULLs
    assert sql == (
        "([Drug] + '-' + CAST([Units] AS NVARCHAR(MAX)) + ' ' + CONVERT(VARCHAR(10), [Fill Date], 23)"
        " + ' ' + CONVERT(VARCHAR(19), [Claimed At], 120))"
    )


def test_tsql_comparisons_become_numbers_and_numbers_conditions():
    assert _tsql("`Units` > 3") == "CASE WHEN [Units] > 3 THEN 1 WHEN NOT ([Units] > 3) THEN 0 END"
    assert _tsql("CASE WHEN `Units` THEN 1 END") == "CASE WHEN ([Units]) <> 0 THEN 1 END"


def test_tsql_day_of_week_does_not_depend_on_datefirst():
    assert _tsql("DAYOFWEEK(`Fill Date`)") == "(((DATEPART(WEEKDAY, [Fill Date]) + @@DATEFIRST - 1) % 7) + 1)"


def test_tsql_like_ignores_case_and_reads_brackets_literally():
    sql = _tsql("`Note` LIKE 'a[b]\\%'")
    assert "[Note] COLLATE Latin1_General_100_CI_AS LIKE 'a\\[b]\\%' ESCAPE '\\'" in sql


def test_tsql_replace_and_instr_compare_exactly():
    assert _tsql("REPLACE(`Note`, 'a', '*')") == "REPLACE([Note] COLLATE Latin1_General_100_BIN2, 'a', '*')"
    assert _tsql("INSTR(`Drug`, 'p')") == "CHARINDEX('p', [Drug] COLLATE Latin1_General_100_BIN2)"


def test_tsql_length_counts_trailing_spaces():
    assert _tsql("LENGTH(`Note`)") == "(LEN([Note] + N'.') - 1)"


def test_tsql_date_add_and_format():
    assert _tsql("DATE_ADD(`Fill Date`, INTERVAL 1 MONTH)") == "DATEADD(MONTH, 1, [Fill Date])"
    assert (
        _tsql("DATE_ADD(`Fill Date`, INTERVAL 3 HOUR)") == "DATEADD(HOUR, 3, CAST([Fill Date] AS DATETIME2))"
    )
    assert (
        _tsql("DATE_FORMAT(`Fill Date`, '%M %e, %Y')") == "FORMAT([Fill Date], 'MMMM\\ d\\,\\ yyyy', 'en-US')"
    )


def test_tsql_round_rounds_the_decimal_value():
    assert _tsql("ROUND(`Rate`, 2)") == "ROUND(CAST([Rate] AS DECIMAL(38, 10)), 2)"
    assert _tsql("ROUND(`Paid`)") == "ROUND([Paid], 0)"


def test_tsql_avg_of_integers_does_not_truncate():
    assert _tsql("AVG(`Units`)") == "AVG(CAST([Units] AS FLOAT))"


@pytest.mark.parametrize("formula", [c[0] for c in ROW_CASES + GROUPED_CASES])
def test_every_tested_formula_is_valid_tsql(formula):
    translation = _translate(formula, "tsql")
    assert translation.sql is not None, translation.problems
    tree = sqlglot.parse_one(f"SELECT {translation.sql} FROM t", read="tsql")
    assert tree.find(sqlglot.exp.Select) is not None


@pytest.mark.parametrize("target", TARGETS)
def test_concat_never_uses_a_null_skipping_function(target):
    sql = _translate("CONCAT(`Drug`, `Note`)", target).sql
    assert "CONCAT(" not in sql.upper()


@pytest.mark.parametrize("target", TARGETS)
def test_every_division_is_guarded(target):
    sql = _translate("SUM(`Paid`) / SUM(`Units`)", target).sql
    assert sql.endswith("/ NULLIF(SUM([Units]), 0)" if target == "tsql" else '/ NULLIF(SUM("Units"), 0)')


# --- what cannot be translated faithfully ---------------------------------------------------------
# (formula, targets, whether SQL is still given, words of the problem sentence)
UNFAITHFUL = [
    ("SUM(`Paid`) FIXED (BY `Region` FILTER NONE)", TARGETS, True, "FILTER NONE"),
    ("SUM(`Paid`) FIXED (BY `Region` FILTER DENY `Drug`)", TARGETS, True, "FILTER DENY"),
    ("SUM(`Paid`) FIXED (ADD `Drug`)", TARGETS, False, "depends on the card's grouping"),
    ("AVG(`Paid`) FIXED (REMOVE `Drug`)", TARGETS, False, "depends on the card's grouping"),
    ("SUM(`Units` / (SUM(`Units`) FIXED ()))", TARGETS, False, "needs a subquery"),
    ("`Units` / (SUM(`Units`) FIXED ())", TARGETS, False, "row-level column `Units`"),
    ("COUNT(DISTINCT `Drug`) FIXED (BY `Region`)", TARGETS, False, "cannot be recombined"),
    ("SUM(`Units`) FIXED (BY `Region`) - SUM(SUM(`Units`)) OVER ()", TARGETS, False, "Domo refuses"),
    ("DATE_FORMAT(`Fill Date`, '%w')", TARGETS, True, "Domo documents %w as 1-7"),
    ("DATE_FORMAT(`Fill Date`, '%U')", TARGETS, False, "%U is not in Domo's date format table"),
    ("DATE_FORMAT(`Fill Date`, `Note`)", TARGETS, False, "only a written format"),
    ("WEEK(`Fill Date`)", TARGETS, True, "Domo does not document its default"),
    ("WEEK(`Fill Date`, 3)", TARGETS, False, "only the WEEK modes 11 and 22"),
    ("YEARWEEK(`Fill Date`, 0)", TARGETS, False, "only the YEARWEEK modes 11 and 22"),
    ("WEEKOFYEAR(`Fill Date`)", TARGETS, True, "MySQL's definition"),
    ("`Fill Date` - 1", TARGETS, False, "YYYYMMDD"),
    ("MAX(`Paid Date`) - MIN(`Fill Date`) + 1", TARGETS, False, "YYYYMMDD"),
    ("IF(`Units` > 1, 1, 0)", TARGETS, False, "not a Beast Mode function"),
    ("SQRT(`Units`)", TARGETS, False, "not supported by Beast Mode"),
    ("MEDIAN(`Units`)", TARGETS, False, "has no translation"),
    ("RAND()", TARGETS, False, "has no translation"),
    ("SUM(SUM(`Units`) FIXED (BY `Region`))", TARGETS, True, "no rule for adding up a FIXED (BY"),
    ("COUNT(SUM(`Units`) FIXED ())", TARGETS, False, "counts rows carrying a FIXED value"),
    ("APPROXIMATE_COUNT_DISTINCT(`Drug`)", TARGETS, True, "exact COUNT(DISTINCT"),
    ("`Nope` + 1", TARGETS, True, "`Nope` is not a column"),
    ("SUBSTRING(`Note`, `Units`, 2)", TARGETS, True, "computed position"),
    ("COUNT(DISTINCT `Drug`, `Note`)", TARGETS, False, "several columns"),
    ("DATE_ADD(`Fill Date`, INTERVAL '1:30' HOUR_MINUTE)", TARGETS, False, "HOUR_MINUTE"),
    ("CONCAT('rate ', `Rate`)", TARGETS, True, "floating-point number turned into text"),
    ("YEAR(`Note`)", ("tsql", "postgres", "duckdb"), True, "text read as a date"),
    ("STDDEV_POP(`Units`)", ("sqlite",), False, "SQLite has no STDDEV_POP"),
    ("UPPER(`Drug`)", ("sqlite",), True, "ASCII letters only"),
    ("LPAD(`Drug`, 8, '*')", ("sqlite", "tsql"), False, "LPAD"),
    ("SUM(`Paid`)", ("sqlite",), True, "binary float"),
    ("CONCAT(`Drug`, ': ', `Paid`)", ("sqlite",), True, "drops its trailing zeros"),
    ("ROUND(`Rate`, -1)", ("sqlite",), False, "no negative"),
    ("DATE_ADD(`Claimed At`, INTERVAL 5 MICROSECOND)", ("sqlite",), False, "milliseconds"),
]


@pytest.mark.parametrize(
    ("formula", "targets", "has_sql", "words"), UNFAITHFUL, ids=[u[0] for u in UNFAITHFUL]
)
def test_unfaithful_constructs_are_reported(formula, targets, has_sql, words):
    for target in targets:
        translation = _translate(formula, target)
        assert not translation.faithful, target
        assert (translation.sql is not None) == has_sql, (target, translation.sql)
        assert any(words in problem for problem in translation.problems), (target, translation.problems)
        for problem in translation.problems:  # one sentence each, naming the construct
            assert problem.endswith("."), problem
            assert problem.count(". ") == 0 or "e.g." in problem, problem


@pytest.mark.parametrize(
    ("formula", "faithful_on"),
    [
        ("STDDEV_POP(`Units`)", ("tsql", "postgres", "duckdb")),
        ("UPPER(`Drug`)", ("tsql", "postgres", "duckdb")),
        ("LPAD(`Drug`, 8, '*')", ("postgres", "duckdb")),
        ("SUM(`Paid`)", ("tsql", "postgres", "duckdb")),
        ("YEAR('2024-01-31')", TARGETS),
    ],
)
def test_a_limit_of_one_engine_does_not_mark_the_others(formula, faithful_on):
    for target in faithful_on:
        translation = _translate(formula, target)
        assert translation.faithful and translation.sql, (target, translation.problems)


def test_without_the_datasets_columns_type_dependent_choices_are_reported():
    analysis = analyze("DATE_ADD(`Fill Date`, INTERVAL 1 MONTH)")
    postgres = translate(analysis, "postgres")
    assert not postgres.faithful and "type of `Fill Date` is unknown" in postgres.problems[0]
    assert translate(analysis, "tsql").faithful  # DATEADD keeps the argument's type
    assert translate(analysis, "sqlite").faithful  # decided per row from the text's form
    concat = translate(analyze("CONCAT('x', `Amount`)"), "tsql")
    assert not concat.faithful and "no known type" in concat.problems[0]


# --- notes: conditions of use ---------------------------------------------------------------------
def test_a_window_notes_the_grouped_query_it_needs():
    translation = _translate("SUM(SUM(`Units`)) OVER (PARTITION BY `Region`)", "postgres")
    assert translation.faithful
    assert any("grouped by the card's axes" in note for note in translation.notes)


def test_sum_of_a_whole_dataset_fixed_value_is_the_value():
    translation = _translate("SUM(`Units`) / SUM(SUM(`Units`) FIXED ())", "postgres")
    assert translation.faithful
    assert translation.sql == 'CAST(SUM("Units") AS NUMERIC) / NULLIF(SUM(SUM("Units")) OVER (), 0)'


def test_a_fixed_notes_the_columns_the_grouping_needs():
    translation = _translate("SUM(`Units`) FIXED (BY `Region`)", "duckdb")
    assert translation.faithful
    assert translation.sql == 'SUM(SUM("Units")) OVER (PARTITION BY "Region")'
    assert any("must include `Region`" in note for note in translation.notes)


@pytest.mark.parametrize("target", TARGETS)
def test_the_current_date_is_translated_with_a_note(target):
    translation = _translate("DATEDIFF(CURDATE(), `Fill Date`)", target)
    assert translation.faithful
    assert any(note.startswith("CURDATE() is read when the query runs") for note in translation.notes)


@pytest.mark.parametrize("target", TARGETS)
def test_a_date_function_of_text_that_is_no_date_is_null(target):
    translation = _translate("YEAR('Fill Date')", target)
    assert translation.faithful and "NULL" in translation.sql
    assert any("text that is no date" in note for note in translation.notes)


def test_weekday_runs_as_dayofweek_as_in_domo():
    translation = _translate("WEEKDAY(`Fill Date`)", "postgres")
    assert translation.faithful
    assert translation.sql == _translate("DAYOFWEEK(`Fill Date`)", "postgres").sql


def test_a_filter_formula_stays_a_condition():
    translation = _translate("`Units` > 3", "tsql", used_as="filter")
    assert translation.sql == "[Units] > 3"


def test_a_window_or_fixed_filter_is_refused_as_domo_does():
    translation = _translate("SUM(`Units`) FIXED (BY `Region`) > 5", "duckdb", used_as="filter")
    assert translation.sql is None
    assert "cannot be a card or dashboard filter" in translation.problems[0]
