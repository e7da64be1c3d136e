"""Whatever text arrives as a formula, the engine answers: an analysis (UNPARSEABLE where it cannot
read the text) and, for every target, a translation that is faithful or states its problem.

The property test draws formulas from the function catalogue (strategies.py) and asserts that no
exception escapes and that the engine's last resort (a flaw or problem saying the engine itself
failed) was never needed, so a crash cannot hide behind it.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence.formulas import ENGINE_FAILURE, MAX_TYPE_CALL_NESTING, USES, analyze
from evidence.formulas.translate import TARGETS, TRANSLATION_FAILURE, translate_all
from tests.evidence.formulas.strategies import SCHEMA, formulas

WEEK_RANGE = (
    "CONCAT(DATE_FORMAT(SUBDATE(`Date`, WEEKDAY(`Date`) - 1), '%m/%d/%Y'), ' - ', "
    "DATE_FORMAT(ADDDATE(`Date`, 7 - WEEKDAY(`Date`)), '%m/%d/%Y'))"
)
DATEDIFF_OF_CASES = (
    "DATEDIFF(CASE WHEN `A` IS NULL THEN SUBDATE(`Date`, INTERVAL 3 DAY) ELSE `Date` END, "
    "CASE WHEN `B` > 0 THEN `Date` ELSE CURRENT_DATE() END)"
)


def assert_answered(formula: str, schema, used_as: str = "card_value") -> None:
    analysis = analyze(formula, schema=schema, used_as=used_as)
    assert not any(ENGINE_FAILURE in flaw.message for flaw in analysis.flaws), analysis.flaws
    translations = translate_all(analysis, schema)
    assert set(translations) == set(TARGETS)
    for translation in translations.values():
        assert not any(TRANSLATION_FAILURE in problem for problem in translation.problems), translation
        assert translation.faithful == (not translation.problems)
        assert translation.sql is not None or translation.problems  # no SQL only with a reason


# --- the formulas that crashed analyze_formula --------------------------------------------------


def test_a_week_range_label_built_with_subdate_of_weekday_is_translated_for_every_target():
    translations = translate_all(analyze(WEEK_RANGE, schema=SCHEMA), SCHEMA)
    for translation in translations.values():
        assert translation.faithful and translation.sql, translation
    assert "DATEADD(DAY, -(" in translations["tsql"].sql  # SUBDATE(d, n) goes n days back


def test_a_datediff_of_case_expressions_with_subdate_interval_is_translated_for_every_target():
    translations = translate_all(analyze(DATEDIFF_OF_CASES, schema=SCHEMA), SCHEMA)
    for translation in translations.values():
        assert translation.faithful and translation.sql, translation
    assert translations["tsql"].sql.startswith("DATEDIFF(DAY, CASE WHEN [B] > 0")  # T-SQL counts from b
    assert "DATEADD(DAY, -3, [Date])" in translations["tsql"].sql


def test_the_crashing_shapes_are_answered_without_a_schema_too():
    for formula in (WEEK_RANGE, DATEDIFF_OF_CASES):
        assert_answered(formula, None)


# --- what used to raise inside the engine -------------------------------------------------------


def test_a_call_without_the_arguments_its_function_takes_is_not_translated_and_says_why():
    for formula in ("DAYOFMONTH()", "ADDDATE(`Date`)", "REPLACE(`Status`, 'x')", "DAYNAME()"):
        for translation in translate_all(analyze(formula, schema=SCHEMA), SCHEMA).values():
            assert translation.sql is None
            name = formula.split("(")[0]
            reason = f"{formula} does not have the arguments {name} takes (Domo rejects it), so it is not translated."
            assert translation.problems == (reason,)


def test_text_the_parser_itself_trips_over_is_unparseable():
    analysis = analyze("AVG(VAR_POP(DATE_SUB())XED ())")
    (flaw,) = analysis.flaws
    assert (flaw.code, analysis.level) == ("UNPARSEABLE", None)
    assert flaw.message.startswith("The formula could not be read as one Beast Mode expression")


def test_a_formula_nested_too_deeply_is_unparseable():
    (flaw,) = analyze("(" * 3000 + "1" + ")" * 3000).flaws
    assert flaw.code == "UNPARSEABLE" and flaw.message.startswith("The formula is nested too deeply to be read")


@pytest.mark.parametrize("name", ["YEAR", "DATE", "TIMESTAMP", "CHAR", "BINARY", "DECIMAL"])
def test_calls_named_like_a_type_nested_past_the_limit_are_refused_with_the_place_not_parsed_for_hours(name):
    # Each such level doubles or triples the parser's time: BINARY nested 20 deep would take hours.
    formula = f"{name}(" * 20 + "`Fill Date`" + ")" * 20
    (flaw,) = analyze(formula).flaws
    deepest = len(name + "(") * MAX_TYPE_CALL_NESTING
    assert flaw.code == "UNPARSEABLE" and (flaw.start, flaw.end) == (deepest, deepest + len(name) + 1)
    assert f"the console reads at most {MAX_TYPE_CALL_NESTING} such levels" in flaw.message
    within = "YEAR(DATE(" * (MAX_TYPE_CALL_NESTING // 2) + "`Fill Date`" + "))" * (MAX_TYPE_CALL_NESTING // 2)
    assert analyze(within).level is not None  # the limit itself is read; other nesting has none of its own
    assert analyze("CASE WHEN `a` = 1 THEN " * 12 + "1" + " END" * 12).level is not None


def test_a_chain_too_long_to_translate_states_that_limit():
    formula = "`Units`" + " + 1" * 6000  # longer than the room left for the limit on nesting (nesting.ROOM)
    for translation in translate_all(analyze(formula, schema=SCHEMA), SCHEMA).values():
        assert translation.sql is None
        assert translation.problems[0].startswith("The formula is nested too deeply to be written for")


# --- the property -------------------------------------------------------------------------------


@settings(
    derandomize=True,
    deadline=None,
    max_examples=4000,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(formula=formulas(), used_as=st.sampled_from(USES), schema=st.sampled_from((SCHEMA, None)))
def test_every_formula_gets_an_analysis_and_a_translation_for_every_target(formula, used_as, schema):
    assert_answered(formula, schema, used_as)
