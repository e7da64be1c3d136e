"""The flaw classes real Beast Modes carry (issue 10): typographic quotes, a row value beside an
aggregate, hard-coded periods and labels, hand-made week starts. Positive and negative cases."""

from __future__ import annotations

import pytest

from evidence.formulas import analyze


def test_typographic_quotes_are_unparseable_at_their_position():
    formula = "CASE\nWHEN `Country` = ‘United States’ THEN 'Yes' END"
    (flaw,) = analyze(formula).flaws
    assert flaw.code == "UNPARSEABLE"
    assert (flaw.start, flaw.end, flaw.snippet) == (22, 23, "‘")
    assert "line 2, column 18" in flaw.message and "ASCII" in flaw.message


def test_a_string_opened_with_an_ascii_quote_and_closed_with_a_typographic_one_is_located():
    formula = "CASE WHEN `Column_1` = 'Value_1’ THEN 1 END"
    (flaw,) = analyze(formula).flaws
    assert flaw.code == "UNPARSEABLE" and formula[flaw.start] == "’"


@pytest.mark.parametrize(
    "formula",
    [
        "CASE WHEN `Customer` = 'O’Brien' THEN 1 ELSE 0 END",  # text inside a closed ASCII string
        "SUM(`Owner’s Share`)",  # part of a back-quoted name
        "SUM(`x`) /* ‘draft’ */",  # a comment
    ],
)
def test_typographic_quotes_inside_strings_names_and_comments_are_text(formula):
    assert "UNPARSEABLE" not in analyze(formula).codes


def test_a_row_condition_choosing_an_aggregate_is_mixed_aggregation_level():
    formula = "CASE WHEN `Status` IN ('New','Renewed') THEN SUM(`Revenue`) ELSE 0 END"
    (flaw,) = [f for f in analyze(formula).flaws if f.code == "MIXED_AGGREGATION_LEVEL"]
    assert flaw.snippet == formula and "SUM(CASE WHEN" in flaw.suggestion


@pytest.mark.parametrize(
    "formula",
    [
        "SUM(CASE WHEN `Status` IN ('New','Renewed') THEN `Revenue` ELSE 0 END)",
        "SUM(SUM(`Revenue`)) OVER (PARTITION BY `Region`)",
        "MAX(SUM(`Revenue`) FIXED (BY `Region`))",
        "CASE WHEN `Status` = 'New' THEN `Revenue` ELSE 0 END",
    ],
)
def test_conditions_inside_the_aggregate_are_not_mixed(formula):
    assert "MIXED_AGGREGATION_LEVEL" not in analyze(formula).codes


@pytest.mark.parametrize(
    ("formula", "snippet"),
    [
        ("SUM(CASE WHEN `Year` = 2021 THEN `Sales` END)", "2021"),
        ("CASE WHEN YEAR(`Order Date`) IN (2020, 2021) THEN 'Old' END", "2020"),
        ("CASE WHEN `Fiscal Year` = '2023' THEN `Sales` END", "'2023'"),
        ("CONCAT('<b>2021</b> sales: ', SUM(`Sales`))", "'<b>2021</b> sales: '"),
        ("CASE WHEN HOUR(CURRENT_TIMESTAMP()) < 8 THEN 1 END", "8"),
    ],
)
def test_hard_coded_periods_and_labels_are_assumptions(formula, snippet):
    flaws = [f for f in analyze(formula).flaws if f.code == "HARDCODED_ASSUMPTION"]
    assert snippet in [f.snippet for f in flaws]


@pytest.mark.parametrize(
    "formula",
    [
        "CASE WHEN YEAR(`Order Date`) = `Fiscal Year` THEN `Sales` END",  # a year against a column
        "CASE WHEN YEAR(`Order Date`) = YEAR(CURRENT_DATE()) - 1 THEN `Sales` END",
        "CASE WHEN `Days Open` > 2021 THEN 'Old' END",  # not a year
        "DATE_FORMAT(`Order Date`, '%Y-%m')",
        "CASE WHEN HOUR(`Created At`) < 8 THEN 'Night' END",  # the row's hour, not the clock's
    ],
)
def test_years_compared_with_columns_and_formats_are_not_assumptions(formula):
    assert "HARDCODED_ASSUMPTION" not in analyze(formula).codes


@pytest.mark.parametrize(
    "formula",
    [
        "SUBDATE(`Date`, DAYOFWEEK(`Date`) - 1)",
        "SUBDATE(`Date`, DAYOFWEEK(`Date`) + 5)",
        "SUBDATE(`Date`, WEEKDAY(`Date`) - 1)",
        "DATE_SUB(`Date`, INTERVAL (DAYOFWEEK(`Date`) - 1) DAY)",
        "WEEKOFYEAR(`Date`)",
    ],
)
def test_hand_made_week_starts_and_iso_weeks_are_week_mode(formula):
    assert "WEEK_MODE" in analyze(formula).codes


@pytest.mark.parametrize(
    "formula",
    [
        "SUBDATE(`Date`, DAYOFMONTH(`Date`) - 1)",  # a month start
        "DATE_SUB(`Date`, INTERVAL 7 DAY)",
        "WEEK(`Date`, 11)",
        "CASE WHEN DAYOFWEEK(`Date`) IN (1, 7) THEN 'Weekend' END",
    ],
)
def test_other_date_shifts_are_not_week_mode(formula):
    assert "WEEK_MODE" not in analyze(formula).codes
