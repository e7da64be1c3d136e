"""`manage.py analyze_formula` and POST /api/formulas/analyze/: one JSON shape for one formula's analysis."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from console.models import AuditEvent
from evidence.models import CalculationAnalysis

FLAWED = "SUM(`paid`) / COUNT(`member`)"
UNPARSEABLE = "SUM(`paid`"
SCHEMA = {"paid": "DECIMAL", "member": "STRING"}
TARGETS = {"tsql", "postgres", "sqlite", "duckdb"}
API = "/api/formulas/analyze/"


def command(*args: str) -> str:
    out = io.StringIO()
    call_command("analyze_formula", *args, stdout=out)
    return out.getvalue()


def command_json(*args: str) -> dict:
    return json.loads(command("--json", *args))


@pytest.fixture
def schema_file(tmp_path):
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(SCHEMA))
    return path


def assert_report_shape(report: dict) -> None:
    assert set(report) == {"parsed", "level", "columns", "flaws", "translations"}
    for flaw in report["flaws"]:
        assert set(flaw) == {"code", "severity", "snippet", "message", "suggestion"}
    assert set(report["translations"]) == TARGETS
    for translation in report["translations"].values():
        assert set(translation) == {"sql", "faithful", "problems"}


# --- the command -----------------------------------------------------------------------------------


def test_a_flawed_formula_prints_its_analysis_as_json(schema_file):
    report = command_json("--schema", str(schema_file), FLAWED)
    assert_report_shape(report)
    assert (report["parsed"], report["level"], report["columns"]) == (FLAWED, "aggregate", ["paid", "member"])
    (flaw,) = report["flaws"]
    assert (flaw["code"], flaw["severity"], flaw["snippet"]) == ("UNGUARDED_DIVISION", "warning", FLAWED)
    assert flaw["suggestion"] == "SUM(`paid`) / NULLIF(COUNT(`member`), 0)"
    assert "division-by-zero" in flaw["message"]
    assert "NULLIF(" in report["translations"]["postgres"]["sql"]


def test_an_unparseable_formula_says_where_it_stops():
    report = command_json(UNPARSEABLE)
    assert_report_shape(report)
    assert (report["parsed"], report["level"], report["columns"]) == (None, None, [])
    (flaw,) = report["flaws"]
    assert (flaw["code"], flaw["severity"], flaw["suggestion"]) == ("UNPARSEABLE", "error", None)
    assert "line 1, column 5" in flaw["message"]
    assert all(t["sql"] is None and t["faithful"] is False for t in report["translations"].values())


def test_a_schema_list_of_columns_reads_as_an_object(tmp_path, schema_file):
    listed = tmp_path / "listed.json"
    listed.write_text(json.dumps([{"name": n, "type": t} for n, t in SCHEMA.items()]))
    assert command_json("--schema", str(listed), "SUM(`nope`)") == command_json(
        "--schema", str(schema_file), "SUM(`nope`)"
    )
    assert [f["code"] for f in command_json("--schema", str(listed), "SUM(`nope`)")["flaws"]] == [
        "UNKNOWN_COLUMN"
    ]
    assert command_json("SUM(`nope`)")["flaws"] == []  # without a schema no column is unknown


def test_the_use_decides_the_flaws():
    window = "SUM(`paid`) / NULLIF(SUM(SUM(`paid`)) OVER (), 0)"
    assert command_json(window)["flaws"] == []
    codes = [f["code"] for f in command_json("--used-as", "filter", window)["flaws"]]
    assert codes == ["FIXED_OR_WINDOW_RESTRICTION"]


def test_without_json_the_analysis_is_a_listing(schema_file):
    text = command("--schema", str(schema_file), FLAWED)
    assert f"parsed:  {FLAWED}" in text and "level:   aggregate" in text and "columns: paid, member" in text
    assert (
        "warning UNGUARDED_DIVISION" in text
        and "suggestion: SUM(`paid`) / NULLIF(COUNT(`member`), 0)" in text
    )
    assert "translations:" in text and "duckdb" in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON"),
        ('"columns"', "a schema is a JSON object"),
        ('{"paid": 3}', "maps each column name to its type"),
        ('[{"type": "LONG"}]', "a schema list holds {name, type} objects"),
    ],
)
def test_a_bad_schema_file_is_refused_with_the_reason(tmp_path, content, message):
    path = tmp_path / "schema.json"
    path.write_text(content)
    with pytest.raises(CommandError, match=message):
        command("--schema", str(path), FLAWED)


def test_a_missing_schema_file_is_refused(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        command("--schema", str(tmp_path / "absent.json"), FLAWED)


# --- the API ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"formula": FLAWED, "schema": SCHEMA},
        {"formula": FLAWED, "schema": [{"name": n, "type": t} for n, t in SCHEMA.items()]},
        {"formula": UNPARSEABLE},
        {"formula": "  SUM(`paid`) / SUM(`member`)", "used_as": "dataflow"},
    ],
)
def test_the_api_answers_what_the_command_prints(client, olivia, tmp_path, body):
    args = []
    if "schema" in body:
        path = tmp_path / "schema.json"
        path.write_text(json.dumps(body["schema"]))
        args += ["--schema", str(path)]
    if "used_as" in body:
        args += ["--used-as", body["used_as"]]
    client.force_login(olivia)
    response = client.post(API, body, content_type="application/json")
    assert response.status_code == 200, response.content
    assert_report_shape(response.json())
    assert response.json() == command_json(*args, body["formula"])


def test_the_api_keeps_the_formula_as_sent(client, olivia):
    client.force_login(olivia)
    report = client.post(API, {"formula": "  SUM(`a`) / SUM(`b`)"}, content_type="application/json").json()
    assert report["flaws"][0]["snippet"] == "SUM(`a`) / SUM(`b`)"


def test_the_api_analysis_writes_nothing(client, cecilia):
    client.force_login(cecilia)
    events = AuditEvent.objects.count()
    assert client.post(API, {"formula": FLAWED}, content_type="application/json").status_code == 200
    assert AuditEvent.objects.count() == events and not CalculationAnalysis.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "formula"),
        ({"formula": FLAWED, "schema": "paid"}, "schema"),
        ({"formula": FLAWED, "used_as": "everywhere"}, "used_as"),
    ],
)
def test_the_api_refuses_what_it_cannot_analyze(client, olivia, body, field):
    client.force_login(olivia)
    response = client.post(API, body, content_type="application/json")
    assert response.status_code == 400 and field in response.json()


def test_anonymous_callers_are_refused(client, db):
    response = client.post(API, {"formula": FLAWED}, content_type="application/json")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Token")


def test_outsiders_are_refused(client, oscar):
    client.force_login(oscar)
    assert client.post(API, {"formula": FLAWED}, content_type="application/json").status_code == 403


def test_reading_is_not_allowed(client, olivia):
    client.force_login(olivia)
    assert client.get(API).status_code == 405


# --- the engine never fails on a formula -------------------------------------------------------------

WEEK_RANGE = (
    "CONCAT(DATE_FORMAT(SUBDATE(`Date`, WEEKDAY(`Date`) - 1), '%m/%d/%Y'), ' - ', "
    "DATE_FORMAT(ADDDATE(`Date`, 7 - WEEKDAY(`Date`)), '%m/%d/%Y'))"
)
DATEDIFF_OF_CASES = (
    "DATEDIFF(CASE WHEN `A` IS NULL THEN SUBDATE(`Date`, INTERVAL 3 DAY) ELSE `Date` END, "
    "CASE WHEN `B` > 0 THEN `Date` ELSE CURRENT_DATE() END)"
)
GARBAGE = (
    "‘Status’ = “x”",
    "CASE WHEN",
    ")))(((,,,",
    "DAYOFMONTH()",
    "AVG(VAR_POP(DATE_SUB())XED ())",
    "日本語 ¯\\_(ツ)_/¯ ;; DROP TABLE x",
    "(" * 3000 + "1" + ")" * 3000,
)


@pytest.mark.parametrize("formula", [WEEK_RANGE, DATEDIFF_OF_CASES])
def test_the_command_analyzes_formulas_that_used_to_crash_it(formula):
    report = command_json(formula)
    assert_report_shape(report)
    assert report["level"] == "row" and report["columns"][0] in {"Date", "A"}
    assert all(t["sql"] for t in report["translations"].values())


@pytest.mark.parametrize("formula", [WEEK_RANGE, DATEDIFF_OF_CASES, *GARBAGE])
def test_the_api_answers_every_formula_with_its_analysis(client, olivia, formula):
    client.force_login(olivia)
    response = client.post(API, {"formula": formula}, content_type="application/json")
    assert response.status_code == 200
    report = response.json()
    assert_report_shape(report)
    if report["parsed"] is None:
        assert report["flaws"][0]["code"] == "UNPARSEABLE"
    for translation in report["translations"].values():
        assert translation["sql"] is not None or translation["problems"]
