"""Every flaw code: formulas that must produce it and near-misses that must not."""

from __future__ import annotations

import pytest

from evidence.formulas import FLAW_CODES, analyze

CLAIMS = {
    "Claim ID": "STRING",
    "Member ID": "STRING",
    "Client Account": "STRING",
    "Channel": "STRING",
    "Brand/Generic": "STRING",
    "Fill Date": "DATE",
    "Adjudicated At": "DATETIME",
    "Days Supply": "LONG",
    "Quantity": "DOUBLE",
    "AWP Unit Price": "DECIMAL",
    "Ingredient Cost Paid": "DECIMAL",
    "Plan Paid": "DECIMAL",
    "Member Paid": "DECIMAL",
    "Period Start": "DATE",
    "Period End": "DATE",
    "Rx Number": "STRING",
    "memberId": "STRING",
    "Brand Claims": "LONG",
    "Rebate Amount": "DECIMAL",
}

POSITIVE = [
    # (code, formula, used_as, snippet)
    (
        "AGGREGATE_IN_CASE_CONDITION",
        "CASE WHEN SUM(`Plan Paid`) > 0 THEN 'Paid' ELSE 'Unpaid' END",
        "card_value",
        None,
    ),
    (
        "AGGREGATE_IN_CASE_CONDITION",
        "SUM(CASE WHEN COUNT(`Claim ID`) > 1 THEN 1 ELSE 0 END)",
        "card_value",
        None,
    ),
    (
        "AGGREGATE_IN_CASE_CONDITION",
        "CASE AVG(`Days Supply`) WHEN 30 THEN 'Monthly' ELSE 'Other' END",
        "card_value",
        None,
    ),
    (
        "AGGREGATE_IN_CASE_CONDITION",
        "CASE WHEN MAX(SUM(`Plan Paid`) FIXED (BY `Client Account`)) > 0 THEN 'x' END",
        "card_value",
        None,
    ),
    (
        "AGGREGATE_OF_ROW_RATIO",
        "SUM(`Plan Paid` / `Quantity`)",
        "card_value",
        "SUM(`Plan Paid` / `Quantity`)",
    ),
    ("AGGREGATE_OF_ROW_RATIO", "AVG(`Plan Paid` / NULLIF(`Quantity`, 0))", "filter", None),
    (
        "AGGREGATE_OF_ROW_RATIO",
        "`Plan Paid` / NULLIF(`Quantity`, 0)",
        "card_value",
        "`Plan Paid` / NULLIF(`Quantity`, 0)",
    ),
    (
        "AGGREGATE_OF_ROW_RATIO",
        "100 * (`Plan Paid` - `Member Paid`) / NULLIF(`Plan Paid`, 0)",
        "card_value",
        None,
    ),
    (
        "UNGUARDED_DIVISION",
        "SUM(`Plan Paid`) / SUM(`Quantity`)",
        "card_value",
        "SUM(`Plan Paid`) / SUM(`Quantity`)",
    ),
    ("UNGUARDED_DIVISION", "`Plan Paid` / `Quantity`", "dataflow", None),
    ("UNGUARDED_DIVISION", "SUM(`Plan Paid`) / COUNT(`Claim ID`)", "card_value", None),
    ("UNGUARDED_DIVISION", "SUM(`Plan Paid`) / 0", "card_value", None),
    ("UNGUARDED_DIVISION", "SUM(`Plan Paid`) / NULLIF(SUM(`Quantity`), 1)", "card_value", None),
    (
        "UNGUARDED_DIVISION",
        "CASE WHEN `Channel` = 'mail' THEN `Plan Paid` / `Quantity` END",
        "dataflow",
        None,
    ),
    (
        "UNGUARDED_DIVISION",
        "SUM(`Total Sales`) / SUM(SUM(`Total Sales`) FIXED (BY `Region`))",
        "card_value",
        None,
    ),
    ("NON_DETERMINISTIC", "DATEDIFF(CURDATE(), MAX(`Fill Date`))", "card_value", "CURDATE()"),
    (
        "NON_DETERMINISTIC",
        "CASE WHEN `Fill Date` >= CURRENT_DATE THEN 1 ELSE 0 END",
        "filter",
        "CURRENT_DATE",
    ),
    ("NON_DETERMINISTIC", "HOUR(CURRENT_TIMESTAMP())", "card_value", "CURRENT_TIMESTAMP()"),
    ("NON_DETERMINISTIC", "TIMEDIFF(NOW(), `Adjudicated At`)", "card_value", "NOW()"),
    ("NON_DETERMINISTIC", "RAND() < 0.1", "filter", "RAND()"),
    ("NON_DETERMINISTIC", "CONCAT(`Claim ID`, UUID())", "dataflow", "UUID()"),
    ("HARDCODED_ASSUMPTION", "SUM(`AWP Unit Price` * `Quantity`) * 0.17", "card_value", "0.17"),
    (
        "HARDCODED_ASSUMPTION",
        "SUM(CASE WHEN `Brand/Generic` = 'Brand' THEN 1 ELSE 0 END) * 200",
        "card_value",
        "200",
    ),
    (
        "HARDCODED_ASSUMPTION",
        "CASE WHEN SUM(`Plan Paid`) > 250000 THEN 'High' ELSE 'Low' END",
        "card_value",
        "250000",
    ),
    (
        "HARDCODED_ASSUMPTION",
        "CASE WHEN `Fill Date` >= '2025-01-01' THEN 'Plan year' END",
        "card_dimension",
        "'2025-01-01'",
    ),
    ("HARDCODED_ASSUMPTION", "CASE WHEN `Channel` = 'mail' THEN 0.23 ELSE 0.175 END", "card_value", "0.23"),
    ("HARDCODED_ASSUMPTION", "IFNULL(`Days Supply`, 30)", "card_value", "30"),
    (
        "HARDCODED_ASSUMPTION",
        "DATE_SUB(`Adjudicated At`, INTERVAL 3 HOUR)",
        "card_dimension",
        "INTERVAL 3 HOUR",
    ),
    ("HARDCODED_ASSUMPTION", "SUM(`Plan Paid`) - -250", "card_value", "-250"),
    ("HARDCODED_ASSUMPTION", "SUM(`Plan Paid`) * (1 + 0.035)", "card_value", "0.035"),
    ("COUNT_NOT_DISTINCT_ON_ID", "COUNT(`Claim ID`)", "card_value", "COUNT(`Claim ID`)"),
    ("COUNT_NOT_DISTINCT_ON_ID", "count(`member id`)", "card_value", None),
    ("COUNT_NOT_DISTINCT_ON_ID", "COUNT(`Rx Number`)", "card_value", None),
    ("COUNT_NOT_DISTINCT_ON_ID", "COUNT(`memberId`)", "card_value", None),
    (
        "COUNT_NOT_DISTINCT_ON_ID",
        "COUNT(CASE WHEN `Channel` = 'mail' THEN `Claim ID` END)",
        "card_value",
        None,
    ),
    ("STRING_LITERAL_AS_COLUMN", "YEAR('Fill Date')", "card_dimension", "YEAR('Fill Date')"),
    ("STRING_LITERAL_AS_COLUMN", "COUNT(DISTINCT 'Claim ID')", "card_value", "COUNT(DISTINCT 'Claim ID')"),
    ("STRING_LITERAL_AS_COLUMN", "SUM('Plan Paid')", "card_value", None),
    ("STRING_LITERAL_AS_COLUMN", "SUM('Plan Paid Amount')", "card_value", None),
    ("STRING_LITERAL_AS_COLUMN", "'Plan Paid' * 2", "card_value", None),
    ("STRING_LITERAL_AS_COLUMN", "DATEDIFF('Period End', 'Period Start')", "card_value", None),
    ("STRING_LITERAL_AS_COLUMN", "SUM(SUM(`Plan Paid`) FIXED (BY 'Channel'))", "card_value", None),
    ("NESTED_AGGREGATE", "SUM(COUNT(`Claim ID`))", "card_value", "SUM(COUNT(`Claim ID`))"),
    ("NESTED_AGGREGATE", "AVG(SUM(`Plan Paid`)) + 1", "card_value", "AVG(SUM(`Plan Paid`))"),
    ("NESTED_AGGREGATE", "SUM(SUM(SUM(`Plan Paid`)) FIXED ())", "card_value", None),
    ("NESTED_AGGREGATE", "MAX(SUM(`Plan Paid`) OVER ())", "card_value", None),
    (
        "DATE_ARITHMETIC",
        "MAX(`Period End`) - MIN(`Period Start`) + 1",
        "card_value",
        "MAX(`Period End`) - MIN(`Period Start`)",
    ),
    ("DATE_ARITHMETIC", "DATE(`Adjudicated At`) - DATE(`Fill Date`)", "card_value", None),
    ("DATE_ARITHMETIC", "YEAR(CURRENT_DATE() - 1)", "card_dimension", "CURRENT_DATE() - 1"),
    ("DATE_ARITHMETIC", "`Fill Date` + 30", "card_dimension", "`Fill Date` + 30"),
    ("DATE_ARITHMETIC", "`Order Date` - `Ship Date`", "dataflow", None),  # no schema: by name
    ("WEEK_MODE", "WEEK(`Fill Date`)", "card_dimension", "WEEK(`Fill Date`)"),
    ("WEEK_MODE", "YEARWEEK(`Fill Date`, 3)", "card_dimension", None),
    (
        "WEEK_MODE",
        "CASE WHEN DAYOFWEEK(`Fill Date`) = 0 THEN 'Sunday' END",
        "card_dimension",
        "DAYOFWEEK(`Fill Date`) = 0",
    ),
    ("WEEK_MODE", "DAYOFWEEK(`Fill Date`) IN (0, 6)", "filter", None),
    ("WEEK_MODE", "DATE_FORMAT(`Fill Date`, '%Y-%w')", "card_dimension", None),
    ("UNKNOWN_COLUMN", "SUM(`Ingredient Cost`)", "card_value", "`Ingredient Cost`"),
    ("UNKNOWN_COLUMN", "MAX(SUM(`Plan Paid`) FIXED (BY `Region`))", "card_value", "`Region`"),
    ("UNKNOWN_COLUMN", "SUM(SUM(`Plan Paid`)) OVER (PARTITION BY `Client`)", "card_value", "`Client`"),
    ("UNSUPPORTED_FUNCTION", "WEEKDAY(`Fill Date`)", "card_dimension", "WEEKDAY(`Fill Date`)"),
    ("UNSUPPORTED_FUNCTION", "SQRT(SUM(`Plan Paid`))", "card_value", "SQRT(SUM(`Plan Paid`))"),
    ("UNSUPPORTED_FUNCTION", "CONVERT_TZ(`Adjudicated At`, 'UTC', 'US/Central')", "card_dimension", None),
    ("UNSUPPORTED_FUNCTION", "MICROSECOND(`Adjudicated At`)", "card_dimension", None),
    ("UNSUPPORTED_FUNCTION", "IF(`Plan Paid` > 0, 'Paid', 'Unpaid')", "card_dimension", None),
    ("UNSUPPORTED_FUNCTION", "GREATEST(`Plan Paid`, `Member Paid`)", "dataflow", None),
    ("UNSUPPORTED_FUNCTION", "ROW_NUMBER() OVER (ORDER BY SUM(`Plan Paid`))", "card_value", None),
    ("UNPARSEABLE", "SUM(`Plan Paid`", "card_value", "`Plan Paid`"),
    (
        "FIXED_OR_WINDOW_RESTRICTION",
        "SUM(SUM(`Plan Paid`)) OVER () / NULLIF(MAX(SUM(`Plan Paid`) FIXED ()), 0)",
        "card_value",
        "SUM(SUM(`Plan Paid`)) OVER ()",
    ),
    ("FIXED_OR_WINDOW_RESTRICTION", "MAX(SUM(`Plan Paid`) FIXED (BY `Client Account`)) > 0", "filter", None),
    ("FIXED_OR_WINDOW_RESTRICTION", "RANK() OVER (ORDER BY SUM(`Plan Paid`)) <= 10", "filter", None),
    (
        "DISTINCT_COUNT_RECOMBINED",
        "SUM(COUNT(DISTINCT `Member ID`)) OVER (PARTITION BY `Client Account`)",
        "card_value",
        "SUM(COUNT(DISTINCT `Member ID`)) OVER (PARTITION BY `Client Account`)",
    ),
    ("DISTINCT_COUNT_RECOMBINED", "SUM(APPROXIMATE_COUNT_DISTINCT(`Member ID`)) OVER ()", "card_value", None),
    (
        "MIXED_AGGREGATION_LEVEL",
        "CASE WHEN `Channel` IN ('retail', 'mail') THEN SUM(`Plan Paid`) ELSE 0 END",
        "card_value",
        "CASE WHEN `Channel` IN ('retail', 'mail') THEN SUM(`Plan Paid`) ELSE 0 END",
    ),
]

NEGATIVE = [
    # (code, formula, used_as): the formula must not produce the code
    (
        "AGGREGATE_IN_CASE_CONDITION",
        "CASE WHEN `Channel` = 'mail' THEN 'Mail' ELSE 'Other' END",
        "card_dimension",
    ),
    (
        "AGGREGATE_IN_CASE_CONDITION",
        "SUM(CASE WHEN `Brand/Generic` = 'Brand' THEN `Plan Paid` END)",
        "card_value",
    ),
    (
        "AGGREGATE_IN_CASE_CONDITION",
        "CASE WHEN SUM(`Quantity`) = 0 THEN NULL ELSE SUM(`Plan Paid`) / SUM(`Quantity`) END",
        "card_value",
    ),
    (
        "AGGREGATE_IN_CASE_CONDITION",
        "CASE WHEN IFNULL(SUM(`Quantity`), 0) = 0 THEN 0 ELSE SUM(`Plan Paid`) / SUM(`Quantity`) END",
        "card_value",
    ),
    (
        "AGGREGATE_IN_CASE_CONDITION",
        "CASE WHEN SUM(`Plan Paid`) FIXED (BY `Member ID`) > 0 THEN 'Active' ELSE 'Inactive' END",
        "card_dimension",
    ),
    ("AGGREGATE_OF_ROW_RATIO", "SUM(`Plan Paid`) / NULLIF(SUM(`Quantity`), 0)", "card_value"),
    ("AGGREGATE_OF_ROW_RATIO", "`Plan Paid` / NULLIF(`Quantity`, 0)", "filter"),
    ("AGGREGATE_OF_ROW_RATIO", "`Plan Paid` / NULLIF(`Quantity`, 0)", "dataflow"),
    ("AGGREGATE_OF_ROW_RATIO", "`Plan Paid` / NULLIF(`Quantity`, 0)", "card_dimension"),
    ("AGGREGATE_OF_ROW_RATIO", "SUM(`Plan Paid` / 100)", "card_value"),
    ("AGGREGATE_OF_ROW_RATIO", "SUM(`AWP Unit Price` * `Quantity`)", "card_value"),
    ("AGGREGATE_OF_ROW_RATIO", "`Plan Paid` - `Member Paid`", "card_value"),
    (
        "AGGREGATE_OF_ROW_RATIO",
        "SUM(SUM(`Plan Paid`) / NULLIF(COUNT(DISTINCT `Claim ID`), 0)) OVER ()",
        "card_value",
    ),
    ("UNGUARDED_DIVISION", "SUM(`Plan Paid`) / NULLIF(SUM(`Quantity`), 0)", "card_value"),
    (
        "UNGUARDED_DIVISION",
        "CASE WHEN `Quantity` = 0 THEN NULL ELSE `Plan Paid` / `Quantity` END",
        "dataflow",
    ),
    ("UNGUARDED_DIVISION", "CASE WHEN `Quantity` <> 0 THEN `Plan Paid` / `Quantity` END", "dataflow"),
    (
        "UNGUARDED_DIVISION",
        "CASE WHEN IFNULL(SUM(`Quantity`), 0) = 0 THEN 0 ELSE SUM(`Plan Paid`) / SUM(`Quantity`) END",
        "card_value",
    ),
    ("UNGUARDED_DIVISION", "SUM(`Plan Paid`) / 100", "card_value"),
    (
        "UNGUARDED_DIVISION",
        "SUM(`Plan Paid`) / CASE WHEN SUM(`Quantity`) = 0 THEN NULL ELSE SUM(`Quantity`) END",
        "card_value",
    ),
    (
        "AGGREGATE_IN_CASE_CONDITION",
        "SUM(`Plan Paid`) / CASE WHEN SUM(`Quantity`) = 0 THEN NULL ELSE SUM(`Quantity`) END",
        "card_value",
    ),
    ("UNGUARDED_DIVISION", "SUM(`Plan Paid`) / (100 * 12)", "card_value"),
    ("UNGUARDED_DIVISION", "SUM(`Plan Paid`) / COUNT(*)", "card_value"),
    ("NON_DETERMINISTIC", "DATEDIFF(MAX(`Period End`), MIN(`Period Start`))", "card_value"),
    ("NON_DETERMINISTIC", "RAND(`Days Supply`)", "dataflow"),
    ("NON_DETERMINISTIC", "UNIX_TIMESTAMP(`Fill Date`)", "dataflow"),
    ("HARDCODED_ASSUMPTION", "SUM(CASE WHEN `Brand/Generic` = 'Brand' THEN 1 ELSE 0 END)", "card_value"),
    (
        "HARDCODED_ASSUMPTION",
        "CASE WHEN `Days Supply` >= 84 THEN 'Extended Supply' ELSE 'Standard' END",
        "card_dimension",
    ),
    ("HARDCODED_ASSUMPTION", "100 * SUM(`Plan Paid`) / NULLIF(SUM(`AWP Unit Price`), 0)", "card_value"),
    ("HARDCODED_ASSUMPTION", "ROUND(SUM(`Plan Paid`), 2)", "card_value"),
    ("HARDCODED_ASSUMPTION", "SUBSTRING(`Claim ID`, 1, 3)", "card_dimension"),
    ("HARDCODED_ASSUMPTION", "WEEK(`Fill Date`, 11)", "card_dimension"),
    ("HARDCODED_ASSUMPTION", "LAG(SUM(`Plan Paid`), 3) OVER (ORDER BY `Fill Date`)", "card_value"),
    ("HARDCODED_ASSUMPTION", "`Days Supply` IN (30, 90)", "filter"),
    ("HARDCODED_ASSUMPTION", "SUM(`Days Supply`) / 7", "card_value"),
    (
        "HARDCODED_ASSUMPTION",
        "CASE `Channel` WHEN 'mail' THEN 2 WHEN 'retail' THEN 3 ELSE 0 END",
        "card_dimension",
    ),
    ("HARDCODED_ASSUMPTION", "DATE_ADD(`Fill Date`, INTERVAL 1 DAY)", "card_dimension"),
    ("HARDCODED_ASSUMPTION", "COUNT(1)", "card_value"),
    ("HARDCODED_ASSUMPTION", "DATE_FORMAT(`Fill Date`, '%Y-%m')", "card_dimension"),
    ("COUNT_NOT_DISTINCT_ON_ID", "COUNT(DISTINCT `Claim ID`)", "card_value"),
    ("COUNT_NOT_DISTINCT_ON_ID", "COUNT(`Plan Paid`)", "card_value"),
    ("COUNT_NOT_DISTINCT_ON_ID", "COUNT(*)", "card_value"),
    (
        "COUNT_NOT_DISTINCT_ON_ID",
        "COUNT(DISTINCT CASE WHEN `Channel` = 'mail' THEN `Claim ID` END)",
        "card_value",
    ),
    ("COUNT_NOT_DISTINCT_ON_ID", "APPROXIMATE_COUNT_DISTINCT(`Claim ID`)", "card_value"),
    ("STRING_LITERAL_AS_COLUMN", "YEAR(`Fill Date`)", "card_dimension"),
    ("STRING_LITERAL_AS_COLUMN", "CASE WHEN `Channel` = 'Channel' THEN 1 ELSE 0 END", "card_value"),
    ("STRING_LITERAL_AS_COLUMN", "CONCAT(`Client Account`, ' - ', 'Channel')", "card_dimension"),
    ("STRING_LITERAL_AS_COLUMN", "DATEDIFF('2025-12-31', `Fill Date`)", "card_value"),
    ("STRING_LITERAL_AS_COLUMN", "STR_TO_DATE('01/31/2025', '%m/%d/%Y')", "card_dimension"),
    (
        "STRING_LITERAL_AS_COLUMN",
        "CASE WHEN `Plan Paid` > 0 THEN 'Plan Paid' ELSE 'Member Paid' END",
        "card_dimension",
    ),
    ("NESTED_AGGREGATE", "SUM(SUM(`Plan Paid`)) OVER (PARTITION BY `Client Account`)", "card_value"),
    ("NESTED_AGGREGATE", "MAX(SUM(`Plan Paid`) FIXED (BY `Client Account`))", "card_value"),
    ("NESTED_AGGREGATE", "RANK() OVER (ORDER BY SUM(`Plan Paid`) DESC)", "card_value"),
    ("NESTED_AGGREGATE", "FLOOR(SUM(`Plan Paid`)) + CEILING(AVG(`Quantity`))", "card_value"),
    ("NESTED_AGGREGATE", "LAG(SUM(`Plan Paid`), 1) OVER (ORDER BY `Fill Date`)", "card_value"),
    ("DATE_ARITHMETIC", "DATEDIFF(MAX(`Period End`), MIN(`Period Start`)) + 1", "card_value"),
    ("DATE_ARITHMETIC", "DATE_ADD(`Fill Date`, INTERVAL 30 DAY)", "card_dimension"),
    ("DATE_ARITHMETIC", "`Fill Date` + INTERVAL 1 DAY", "card_dimension"),
    ("DATE_ARITHMETIC", "`Days Supply` - 30", "card_value"),
    ("DATE_ARITHMETIC", "YEAR(`Fill Date`) - 1", "card_dimension"),
    ("WEEK_MODE", "WEEK(`Fill Date`, 11)", "card_dimension"),
    ("WEEK_MODE", "YEARWEEK(`Fill Date`, 22)", "card_dimension"),
    ("WEEK_MODE", "CASE WHEN DAYOFWEEK(`Fill Date`) IN (1, 7) THEN 'Weekend' END", "card_dimension"),
    ("WEEK_MODE", "DATE_FORMAT(`Fill Date`, '%Y-%m')", "card_dimension"),
    ("UNKNOWN_COLUMN", "SUM(`plan paid`)", "card_value"),
    ("UNKNOWN_COLUMN", "DATE_ADD(`Fill Date`, INTERVAL 1 DAY)", "card_dimension"),
    ("UNSUPPORTED_FUNCTION", "DAYOFWEEK(`Fill Date`)", "card_dimension"),
    ("UNSUPPORTED_FUNCTION", "IFNULL(`Plan Paid`, 0) + NULLIF(`Member Paid`, 0)", "card_value"),
    ("UNSUPPORTED_FUNCTION", "CASE WHEN `Plan Paid` > 0 THEN 'Paid' ELSE 'Unpaid' END", "card_dimension"),
    ("UNSUPPORTED_FUNCTION", "year(`Fill Date`) + Month(`Fill Date`)", "card_dimension"),
    ("UNPARSEABLE", "SUM(`Plan Paid`) -- comment", "card_value"),
    ("FIXED_OR_WINDOW_RESTRICTION", "MAX(SUM(`Plan Paid`) FIXED (BY `Client Account`))", "card_value"),
    ("FIXED_OR_WINDOW_RESTRICTION", "SUM(SUM(`Plan Paid`)) OVER ()", "card_value"),
    ("FIXED_OR_WINDOW_RESTRICTION", "SUM(`Plan Paid`) > 0", "filter"),
    ("DISTINCT_COUNT_RECOMBINED", "SUM(COUNT(`Member ID`)) OVER ()", "card_value"),
    ("DISTINCT_COUNT_RECOMBINED", "MAX(COUNT(DISTINCT `Member ID`)) OVER ()", "card_value"),
    ("DISTINCT_COUNT_RECOMBINED", "COUNT(DISTINCT `Member ID`)", "card_value"),
    (
        "MIXED_AGGREGATION_LEVEL",
        "SUM(CASE WHEN `Channel` IN ('retail', 'mail') THEN `Plan Paid` ELSE 0 END)",
        "card_value",
    ),
    ("MIXED_AGGREGATION_LEVEL", "SUM(SUM(`Plan Paid`)) OVER (PARTITION BY `Client Account`)", "card_value"),
]


def _schema(formula: str) -> dict[str, str] | None:
    # "no schema" cases name columns that CLAIMS does not hold.
    return None if any(name in formula for name in ("Order Date", "Total Sales")) else CLAIMS


@pytest.mark.parametrize(("code", "formula", "used_as", "snippet"), POSITIVE)
def test_flaw_is_found(code, formula, used_as, snippet):
    analysis = analyze(formula, schema=_schema(formula), used_as=used_as)
    found = [flaw for flaw in analysis.flaws if flaw.code == code]
    assert found, f"{code} not found in {formula!r}: {analysis.flaws}"
    flaw = found[0]
    assert flaw.message and flaw.message.endswith(".")
    assert flaw.severity in ("error", "warning", "info")
    if snippet is not None:
        assert flaw.snippet == snippet
    if flaw.start is not None:
        assert formula[flaw.start : flaw.end] == flaw.snippet


@pytest.mark.parametrize(("code", "formula", "used_as"), NEGATIVE)
def test_near_miss_is_not_flagged(code, formula, used_as):
    analysis = analyze(formula, schema=CLAIMS, used_as=used_as)
    assert code not in analysis.codes, [f for f in analysis.flaws if f.code == code]


def test_every_code_has_positive_and_negative_cases():
    assert {case[0] for case in POSITIVE} == set(FLAW_CODES)
    assert {case[0] for case in NEGATIVE} == set(FLAW_CODES)


# --- suggestions -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("formula", "code", "suggestion"),
    [
        (
            "AVG(1 - `Plan Paid` / NULLIF(`AWP Unit Price` * `Quantity`, 0))",
            "AGGREGATE_OF_ROW_RATIO",
            "1 - SUM(`Plan Paid`) / NULLIF(SUM(`AWP Unit Price` * `Quantity`), 0)",
        ),
        (
            "SUM(`Plan Paid` / `Quantity`)",
            "AGGREGATE_OF_ROW_RATIO",
            "SUM(`Plan Paid`) / NULLIF(SUM(`Quantity`), 0)",
        ),
        (
            "1 - `Plan Paid` / NULLIF(`Quantity`, 0)",
            "AGGREGATE_OF_ROW_RATIO",
            "1 - SUM(`Plan Paid`) / NULLIF(SUM(`Quantity`), 0)",
        ),
        (
            "CASE WHEN `Quantity` = 0 THEN NULL ELSE `Plan Paid` / `Quantity` END",
            "AGGREGATE_OF_ROW_RATIO",
            "SUM(`Plan Paid`) / NULLIF(SUM(`Quantity`), 0)",
        ),
        (
            "SUM(`Rebate Amount`) / SUM(`Brand Claims`)",
            "UNGUARDED_DIVISION",
            "SUM(`Rebate Amount`) / NULLIF(SUM(`Brand Claims`), 0)",
        ),
        ("COUNT(`Claim ID`)", "COUNT_NOT_DISTINCT_ON_ID", "COUNT(DISTINCT `Claim ID`)"),
        ("YEAR('fill date')", "STRING_LITERAL_AS_COLUMN", "YEAR(`Fill Date`)"),
        (
            "MAX(`Period End`) - MIN(`Period Start`) + 1",
            "DATE_ARITHMETIC",
            "DATEDIFF(MAX(`Period End`), MIN(`Period Start`))",
        ),
        ("`Fill Date` - 7", "DATE_ARITHMETIC", "DATE_SUB(`Fill Date`, INTERVAL 7 DAY)"),
        (
            "WEEK(`Fill Date`)",
            "WEEK_MODE",
            "WEEK(`Fill Date`, 11)  -- 11: Sunday to Saturday; 22: Monday to Sunday",
        ),
        ("SUM(`Ingredient Cost`)", "UNKNOWN_COLUMN", "`Ingredient Cost Paid`"),
        ("SQRT(`Quantity`)", "UNSUPPORTED_FUNCTION", "POWER(`Quantity`, 0.5)"),
        (
            "IF(`Plan Paid` > 0, 'Paid', 'Unpaid')",
            "UNSUPPORTED_FUNCTION",
            "CASE WHEN `Plan Paid` > 0 THEN 'Paid' ELSE 'Unpaid' END",
        ),
    ],
)
def test_suggested_correction(formula, code, suggestion):
    (flaw,) = [f for f in analyze(formula, schema=CLAIMS).flaws if f.code == code]
    assert flaw.suggestion == suggestion


def test_suggested_corrections_are_themselves_clean_of_the_flaw():
    for formula, code in [
        ("SUM(`Plan Paid` / `Quantity`)", "AGGREGATE_OF_ROW_RATIO"),
        ("SUM(`Rebate Amount`) / SUM(`Brand Claims`)", "UNGUARDED_DIVISION"),
        ("COUNT(`Claim ID`)", "COUNT_NOT_DISTINCT_ON_ID"),
        ("YEAR('Fill Date')", "STRING_LITERAL_AS_COLUMN"),
        ("MAX(`Period End`) - MIN(`Period Start`)", "DATE_ARITHMETIC"),
    ]:
        (flaw,) = [f for f in analyze(formula, schema=CLAIMS).flaws if f.code == code]
        assert analyze(flaw.suggestion, schema=CLAIMS).flaws == (), flaw.suggestion


# --- severities and messages -------------------------------------------------------------------
def test_unsupported_function_severity_follows_the_catalogue():
    def severity(formula: str) -> str:
        (flaw,) = [f for f in analyze(formula).flaws if f.code == "UNSUPPORTED_FUNCTION"]
        return flaw.severity

    assert severity("SQRT(`x`)") == "error"  # REF: no longer supported
    assert severity("WEEKDAY(`x`)") == "warning"  # silently replaced by DAYOFWEEK
    assert severity("GREATEST(`x`, 1)") == "warning"  # absent from the catalogue


def test_unknown_function_message_names_the_catalogue():
    (flaw,) = [f for f in analyze("GREATEST(`x`, `y`)").flaws if f.code == "UNSUPPORTED_FUNCTION"]
    assert flaw.message == "GREATEST is not in Domo's Beast Mode catalogue."


def test_weekday_message_says_what_domo_runs_instead():
    (flaw,) = analyze("WEEKDAY(`Fill Date`)").flaws
    assert "DAYOFWEEK" in flaw.message


def test_without_a_schema_no_column_is_unknown():
    assert "UNKNOWN_COLUMN" not in analyze("SUM(`anything`)").codes


def test_an_unknown_column_is_reported_once():
    flaws = [
        f
        for f in analyze("SUM(`Nope`) / NULLIF(COUNT(`nope`), 0)", schema=CLAIMS).flaws
        if f.code == "UNKNOWN_COLUMN"
    ]
    assert len(flaws) == 1


def test_flaws_are_ordered_by_position():
    analysis = analyze("CASE WHEN SUM(`Plan Paid`) > 250000 THEN SUM(`a`) / SUM(`b`) END")
    starts = [f.start for f in analysis.flaws]
    assert starts == sorted(starts)
