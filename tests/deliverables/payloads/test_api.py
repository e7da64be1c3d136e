"""The payload API: the published JSON Schema (any signed-in user) and a client's payload of a run
(console.view_provenance): the builder's bytes, 404 for a client not in the run or no run, 409 for a run not
succeeded, 403 without the permission; documented in the OpenAPI schema."""
from __future__ import annotations

import json

import pytest
import yaml
from django.core.management import call_command
from jsonschema import Draft202012Validator

from deliverables.models import RunNumber
from deliverables.payloads import builder
from deliverables.payloads.schema import SCHEMA
from deliverables.runs import services as runs
from tests.deliverables.payloads.test_builder import held_client, sample_run  # noqa: F401 (fixture)
from tests.deliverables.runs.conftest import (  # noqa: F401 (fixtures)
    CURATED_DB,
    PERIOD,
    contract_sample,
    curated_db,
    execute,
    no_enqueue,
)

SCHEMA_URL = "/api/schemas/dashboard-payload-v1.json"


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["olivia", "cecilia", "audrey", "oscar"])
def test_the_schema_is_published_to_signed_in_users(who, client, request):
    client.force_login(request.getfixturevalue(who))

    answer = client.get(SCHEMA_URL)

    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/schema+json")
    published = json.loads(answer.content)
    Draft202012Validator.check_schema(published)
    assert published["$id"] == "http://testserver" + SCHEMA_URL
    assert {k: v for k, v in published.items() if k != "$id"} == SCHEMA


@pytest.mark.django_db
def test_the_schema_needs_a_signed_in_user(client):
    assert client.get(SCHEMA_URL).status_code in (401, 403)


@CURATED_DB
def test_a_clients_payload_of_a_run(sample_run, cecilia, client):  # noqa: F811
    target = held_client(sample_run)
    client.force_login(cecilia)  # a reviewer reads

    answer = client.get(f"/api/runs/{sample_run.pk}/payloads/{target}/")

    assert answer.status_code == 200 and answer["Content-Type"] == "application/json"
    expected = builder.payload_for(sample_run, target, "http://testserver")
    assert answer.content == builder.payload_bytes(expected)  # the canonical bytes, the same on every read
    assert client.get(f"/api/runs/{sample_run.pk}/payloads/{target}/").content == answer.content
    payload = answer.json()
    assert builder.errors(payload) == []
    held = [f for f in payload["figures"] if f["decision"] == "not_concluded"]
    assert held and all("amount" not in f and f["missing"] for f in held)
    first = payload["figures"][0]
    assert first["provenance_url"].startswith(f"http://testserver/runs/{sample_run.pk}/numbers/")
    assert client.get(first["provenance_url"].removeprefix("http://testserver")).status_code == 200


@CURATED_DB
def test_refusals(sample_run, olivia, oscar, client):  # noqa: F811
    target = held_client(sample_run)
    url = f"/api/runs/{sample_run.pk}/payloads/{target}/"

    assert client.get(url).status_code in (401, 403)  # not signed in
    client.force_login(oscar)  # signed in, without console.view_provenance
    assert client.get(url).status_code == 403

    client.force_login(olivia)
    other = client.get(f"/api/runs/{sample_run.pk}/payloads/001NOTINTHERUN0AAA/")
    assert other.status_code == 404 and "001NOTINTHERUN0AAA" in other.json()["detail"]
    assert client.get(f"/api/runs/{sample_run.pk + 1000}/payloads/{target}/").status_code == 404
    queued = runs.run_start(actor=olivia, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=False)
    answer = client.get(f"/api/runs/{queued.pk}/payloads/{target}/")
    assert answer.status_code == 409 and "queued" in answer.json()["detail"]
    assert RunNumber.objects.filter(run=queued).count() == 0


def test_the_openapi_schema_documents_the_payload_api(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    paths = yaml.safe_load(target.read_text())["paths"]
    assert "get" in paths[SCHEMA_URL]
    payload = paths["/api/runs/{run_id}/payloads/{client}/"]["get"]
    assert set(payload["responses"]) >= {"200", "403", "404", "409"}


@CURATED_DB
def test_through_a_real_server_by_token(sample_run, cecilia, live_server):  # noqa: F811
    from tests.support.api import Api

    target = held_client(sample_run)
    api = Api.with_token(live_server.url, cecilia)

    schema = api.get(SCHEMA_URL)
    answer = api.get(f"/api/runs/{sample_run.pk}/payloads/{target}/")

    assert schema.status_code == 200 and schema.json()["$id"] == live_server.url + SCHEMA_URL
    assert answer.status_code == 200
    assert answer.content == builder.payload_bytes(builder.payload_for(sample_run, target, live_server.url))
    assert all(f["provenance_url"].startswith(live_server.url + "/runs/") for f in answer.json()["figures"])
