"""Deep nesting: refused past a stated limit, read up to it (issue 16, point 3).

A formula nested 32 or more levels deep raised RecursionError: a 500 at /api/formulas/analyze/, a
traceback at intake and the export's analyses left pending. Past nesting.MAX_NESTING levels of
parentheses, calls and CASE … END it is now UNPARSEABLE with a message, found by a scan of the tokens
that does not recurse; at the limit it parses, however deep the caller's own stack already is.
"""
from __future__ import annotations

import io
import json
import urllib.request

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from evidence.calculations.analysis import pending_analyses
from evidence.formulas import ENGINE_VERSION, analyze
from evidence.formulas.nesting import MAX_NESTING
from evidence.models import CalculationAnalysis, SourceManifest
from tests.evidence import exports

API = "/api/formulas/analyze/"
SCHEMA = {"paid": "DECIMAL", "member": "STRING"}
TOO_DEEP = "The formula is nested too deeply to be read"


def parens(levels: int) -> str:
    return "(" * (levels - 1) + "SUM(`paid`)" + ")" * (levels - 1)


def ifs(levels: int) -> str:
    return "IF(`paid` > 1, " * (levels - 1) + "SUM(`paid`)" + ", 0)" * (levels - 1)


def ifnulls(levels: int) -> str:
    return "IFNULL(" * (levels - 1) + "SUM(`paid`)" + ", 0)" * (levels - 1)


def cases(levels: int) -> str:
    return "CASE WHEN `member` = 'a' THEN " * (levels - 1) + "SUM(`paid`)" + " ELSE 0 END" * (levels - 1)


NESTINGS = {"parentheses": parens, "IF": ifs, "IFNULL": ifnulls, "CASE WHEN": cases}


def deep_stack(frames: int, call):
    """call() from `frames` frames deeper than here: a web request or a worker is never at the bottom."""
    return call() if frames == 0 else deep_stack(frames - 1, call)


def too_deep(analysis) -> bool:
    return any(flaw.message.startswith(TOO_DEEP) for flaw in analysis.flaws)


@pytest.mark.parametrize("kind", list(NESTINGS))
def test_ten_thousand_levels_are_unparseable_with_the_limit_named(kind):
    formula = NESTINGS[kind](10_000)
    analysis = analyze(formula, schema=SCHEMA)
    (flaw,) = analysis.flaws
    assert (flaw.code, analysis.level) == ("UNPARSEABLE", None)
    assert flaw.message.startswith(TOO_DEEP) and f"at most {MAX_NESTING}" in flaw.message
    assert flaw.start is not None and flaw.start > 0  # where the limit is passed


@pytest.mark.parametrize("kind", list(NESTINGS))
def test_one_level_past_the_limit_is_refused(kind):
    assert too_deep(analyze(NESTINGS[kind](MAX_NESTING + 1), schema=SCHEMA))


@pytest.mark.parametrize("caller_depth", [0, 400])
@pytest.mark.parametrize("kind", list(NESTINGS))
def test_the_limit_itself_and_29_levels_parse_whatever_the_callers_depth(kind, caller_depth):
    assert MAX_NESTING >= 29
    for levels in (29, MAX_NESTING):
        formula = NESTINGS[kind](levels)
        analysis = deep_stack(caller_depth, lambda formula=formula: analyze(formula, schema=SCHEMA))
        assert analysis.level == "aggregate", (levels, [f.message for f in analysis.flaws])
        assert not any(flaw.code == "UNPARSEABLE" for flaw in analysis.flaws)


def test_the_engine_version_says_the_analysis_changed():
    assert ENGINE_VERSION == "4"


@pytest.mark.parametrize("kind", list(NESTINGS))
def test_the_api_answers_unparseable_not_500(client, olivia, kind):
    client.force_login(olivia)
    levels = 10_000 if kind == "parentheses" else 1_000  # the API takes formulas up to 50,000 characters
    for formula in (NESTINGS[kind](levels), NESTINGS[kind](MAX_NESTING + 1)):
        response = client.post(API, {"formula": formula, "schema": SCHEMA}, content_type="application/json")
        assert response.status_code == 200, response.content[:300]
        [flaw] = response.json()["flaws"]
        assert flaw["code"] == "UNPARSEABLE" and flaw["message"].startswith(TOO_DEEP)
    response = client.post(API, {"formula": NESTINGS[kind](29), "schema": SCHEMA}, content_type="application/json")
    assert response.status_code == 200 and response.json()["level"] == "aggregate"


def test_the_api_through_a_real_server_answers_unparseable(live_server, olivia):
    token = Token.objects.create(user=olivia)
    for formula, level in ((parens(10_000), None), (cases(1_000), None), (ifs(29), "aggregate")):
        request = urllib.request.Request(
            live_server.url + API, data=json.dumps({"formula": formula, "schema": SCHEMA}).encode(),
            headers={"Authorization": f"Token {token.key}", "Content-Type": "application/json"}, method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 200
            report = json.loads(response.read())
        assert report["level"] == level
        if level is None:
            assert report["flaws"][0]["message"].startswith(TOO_DEEP)


def test_an_export_with_formulas_nested_ten_thousand_deep_is_received_and_every_analysis_done(db, tmp_path):
    export = exports.Export()
    card = export.files[exports.CARD_DEFINITION]
    card["definition"]["formulas"]["card"][0]["formula"] = cases(10_000)
    metadata = export.files[exports.PHARMACIES_METADATA]
    metadata["properties"]["formulas"]["formulas"][exports.DATASET_FORMULA]["formula"] = parens(10_000)
    flow = export.files[exports.DATAFLOW_DEFINITION]
    flow["actions"][2]["selectStatement"] = f"SELECT member AS pharmacy, {ifnulls(10_000)} AS total FROM claims"
    out = io.StringIO()
    call_command("ingest_export", str(export.write(tmp_path / "deep")), "--json", stdout=out)
    assert json.loads(out.getvalue())["status"] == "complete"
    manifest = SourceManifest.objects.get()
    assert pending_analyses(manifest) == 0
    deep = CalculationAnalysis.objects.filter(manifest=manifest, flaws__code="UNPARSEABLE").distinct()
    messages = {flaw.message for analysis in deep for flaw in analysis.flaws.all()}
    assert {analysis.kind for analysis in deep} == {"beast_mode", "sql"}, messages
    assert deep.filter(kind="beast_mode").count() == 2, messages
    assert all(f"more than {MAX_NESTING} levels" in message for message in messages), messages
