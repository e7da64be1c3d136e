"""GET /api/evidence/decision/: the command's --json, byte for byte, for the same question; 400 naming the
parameter; every role reads it, an outsider does not; documented in the OpenAPI schema."""
from __future__ import annotations

import json

import pytest
import yaml
from django.core.management import call_command

from tests.evidence.packets.builders import (
    ACME,
    APIXABAN,
    ATORVASTATIN,
    contract_packet,
    pricing_packet,
    rebate_packet,
)
from tests.evidence.packets.decision_support import YEAR, command_text, govern, receive
from tests.support.api import Api

pytestmark = pytest.mark.django_db

API = "/api/evidence/decision/"
QUESTIONS = [
    ({"output": "contract_guarantee", "client": ACME, "period": YEAR, "component": "retail/brand"},
     ["contract_guarantee", "--client", ACME, "--period", YEAR, "--component", "retail/brand"]),
    ({"output": "contract_guarantee", "client": ACME, "period": YEAR, "component": ["retail/brand", "mail/brand"]},
     ["contract_guarantee", "--client", ACME, "--period", YEAR, "--component", "retail/brand",
      "--component", "mail/brand"]),
    ({"output": "pricing_finding", "client": ACME, "ndc": ATORVASTATIN, "fill_date": "2025-08-14"},
     ["pricing_finding", "--client", ACME, "--ndc", ATORVASTATIN, "--fill-date", "2025-08-14"]),
    ({"output": "rebate_claim", "client": ACME, "quarter": "2025Q1", "ndc": APIXABAN},
     ["rebate_claim", "--client", ACME, "--quarter", "2025Q1", "--ndc", APIXABAN]),
    ({"output": "client_scope", "client": ACME}, ["client_scope", "--client", ACME]),
]


@pytest.fixture
def stored(tmp_path, olivia, arthur):
    """A governed contract, a candidate price file and a governed rebate packet for ACME."""
    govern(receive(contract_packet(), tmp_path, olivia), arthur)
    receive(pricing_packet(), tmp_path, olivia)
    govern(receive(rebate_packet(), tmp_path, olivia), arthur)


@pytest.mark.parametrize(("query", "args"), QUESTIONS)
def test_the_api_answers_the_same_bytes_as_the_command(client, stored, cecilia, query, args):
    client.force_login(cecilia)

    response = client.get(API, query)

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    assert response.content.decode() + "\n" == command_text(*args, "--json")


def test_the_answer_says_what_the_evidence_supports(client, stored, audrey):
    client.force_login(audrey)

    answers = {q["output"] + str(q.get("component", "")): client.get(API, q).json() for q, _ in QUESTIONS}

    assert [a["decision"] for a in answers.values()] == [
        "authorized", "authorized", "indicative", "authorized", "not_concluded"]


@pytest.mark.parametrize(
    ("query", "parameter", "message"),
    [
        ({"client": ACME}, "output", "missing; one of contract_guarantee"),
        ({"output": "contract", "client": ACME}, "output", "'contract' is not one of"),
        ({"output": "client_scope"}, "client", "client_scope needs it"),
        ({"output": "client_scope", "client": "ACME"}, "client", "is not an 18-character Salesforce id"),
        ({"output": "contract_guarantee", "client": ACME, "component": "retail/brand", "period": "2025"},
         "period", "'2025' is not START:END"),
        ({"output": "contract_guarantee", "client": ACME, "period": YEAR, "component": "retail/brand,retail/brand"},
         "component", "a component is given twice"),
        ({"output": "pricing_finding", "client": ACME, "ndc": ATORVASTATIN, "fill_date": "2025-13-01"},
         "fill_date", "'2025-13-01' is not a real date"),
        ({"output": "rebate_claim", "client": ACME, "quarter": "Q1 2025", "ndc": APIXABAN},
         "quarter", "'Q1 2025' is not YYYYQn"),
        ({"output": "rebate_claim", "client": ACME, "quarter": "2025Q1", "ndc": APIXABAN, "fill_date": "2025-01-02"},
         "fill_date", "rebate_claim does not take it"),
        ({"output": "client_scope", "client": ACME, "clinet": ACME}, "clinet", "not a parameter"),
        ({"output": ["client_scope", "rebate_claim"], "client": ACME}, "output", "give it once, not 2 times"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_parameter(client, olivia, query, parameter, message):
    client.force_login(olivia)

    response = client.get(API, query)

    assert response.status_code == 400
    body = response.json()
    assert list(body) == [parameter]
    assert message in body[parameter][0]


@pytest.mark.parametrize("persona", ["olivia", "arthur", "cecilia", "audrey", "adam"])
def test_every_role_reads_decisions(client, request, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(API, {"output": "client_scope", "client": ACME}).status_code == 200


def test_outsiders_and_anonymous_callers_are_refused(client, oscar):
    assert client.get(API, {"output": "client_scope", "client": ACME}).status_code == 401
    client.force_login(oscar)
    assert client.get(API, {"output": "client_scope", "client": ACME}).status_code == 403


def test_the_decision_is_read_only(client, olivia):
    client.force_login(olivia)
    assert client.post(API, {"output": "client_scope", "client": ACME}).status_code == 405


def test_through_a_real_server_the_api_answers_what_the_command_prints(live_server, stored, cecilia):
    question, args = QUESTIONS[0]

    response = Api.with_token(live_server.url, cecilia).get(API, params=question)

    assert response.status_code == 200, response.text
    assert response.text + "\n" == command_text(*args, "--json")
    assert json.loads(response.text)["decision"] == "authorized"


def test_the_schema_documents_every_parameter_and_the_answer(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    operation = yaml.safe_load(target.read_text())["paths"][API]["get"]

    assert operation["operationId"] == "evidence_decision"
    assert {p["name"] for p in operation["parameters"]} == {
        "output", "client", "period", "component", "quarter", "ndc", "fill_date"}
    assert set(operation["responses"]) >= {"200", "400"}
