"""The publication API says what the services say (201/200, 403 for who asks, 409 for what or when), and a
dashboard payload goes from its build to its publication through a real HTTP server."""
from __future__ import annotations

import hashlib
import json

import pytest

from console.lake import get_lake
from deliverables.choices import PublicationState
from deliverables.models import Publication
from deliverables.payloads.builder import errors, payload_bytes, payload_for
from deliverables.publication import selectors
from deliverables.workbooks import services as deliverables
from tests.conftest import PASSWORD
from tests.deliverables.publication.conftest import a_client, events, grant
from tests.support.api import Api

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "curated"])


def test_the_api_requests_decides_and_refuses_as_the_services_do(workbook, olivia, arthur, adam, client):
    # An admin who also holds the approver's capability still cannot approve their own request.
    client.force_login(grant(adam, "approve_publication"))
    own = client.post("/api/publications/", {"deliverable": workbook.pk}, content_type="application/json")
    assert own.status_code == 201, own.content
    refused = client.post(f"/api/publications/{own.json()['id']}/approve/",
                          {"comment": "mine", "sha256": workbook.sha256}, content_type="application/json")
    assert refused.status_code == 403 and "its requester cannot approve it (four eyes)" in refused.json()["detail"]
    withdrawn = client.post(f"/api/publications/{own.json()['id']}/withdraw/", {}, content_type="application/json")
    assert withdrawn.json()["state"] == PublicationState.WITHDRAWN

    client.force_login(olivia)
    asked = client.post("/api/publications/", {"deliverable": workbook.pk, "comment": "for the client"},
                        content_type="application/json")
    assert asked.status_code == 201, asked.content
    body = asked.json()
    assert asked["Location"] == body["url"] and body["state"] == "requested" and body["sha256"] == workbook.sha256
    assert [g["passed"] for g in body["gates"]] == [True] * 4 and body["reconciliation"]["summary"]
    pk = body["id"]
    again = client.post("/api/publications/", {"deliverable": workbook.pk}, content_type="application/json")
    assert again.status_code == 409 and f"publication #{pk} requested" in again.json()["detail"]
    forbidden = client.post(f"/api/publications/{pk}/approve/", {"comment": "mine", "sha256": workbook.sha256},
                            content_type="application/json")
    assert forbidden.status_code == 403 and "approve_publication" in forbidden.json()["detail"]

    client.force_login(arthur)
    wrong = client.post(f"/api/publications/{pk}/approve/", {"comment": "ok", "sha256": "f" * 64},
                        content_type="application/json")
    assert wrong.status_code == 409 and "sha256: the approval names" in wrong.json()["detail"]
    approved = client.post(f"/api/publications/{pk}/approve/", {"comment": "ok", "sha256": workbook.sha256},
                           content_type="application/json")
    assert approved.status_code == 200, approved.content
    assert approved.json()["state"] == "published" and approved.json()["version"] == 1
    assert [g["stage"] for g in approved.json()["gates"]] == ["request"] * 4 + ["approval"] * 4

    listed = client.get(f"/api/publications/?client={workbook.client_account_id}&kind=workbook&state=published")
    assert [p["id"] for p in listed.json()["results"]] == [pk]
    download = client.get(approved.json()["download_url"])
    assert download.status_code == 200 and download["X-Content-SHA256"] == workbook.sha256
    assert download["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"  # as documented
    assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == workbook.sha256
    assert client.post(f"/api/publications/{pk}/retract/", {"reason": ""},
                       content_type="application/json").status_code == 409
    retracted = client.post(f"/api/publications/{pk}/retract/", {"reason": "wrong period"},
                            content_type="application/json")
    assert retracted.status_code == 200 and retracted.json()["retraction_reason"] == "wrong period"
    assert [e.after["attempt"] for e in events("publication.refused")] == [
        "approve", "request", "approve", "approve", "retract"]
    assert Publication.objects.count() == 2


def test_a_dashboard_payload_built_requested_and_approved_through_a_real_http_server(sample_run, olivia, arthur,
                                                                                      live_server):
    client_id = a_client(sample_run)
    operator = Api.with_token(live_server.url, olivia)
    queued = operator.post("/api/deliverables/", {"run": sample_run.pk, "client": client_id,
                                                  "kind": "dashboard_payload"})
    assert queued.status_code == 202, queued.text
    payload = deliverables.deliverable_execute(deliverable_id=queued.json()["id"], task_id="test")  # the worker

    stored = get_lake().read(payload.path)
    assert payload.state == "succeeded" and [s["name"] for s in payload.progress["steps"]] == [
        "data", "payload", "store"]
    assert payload.path == f"deliverables/{client_id}/{payload.period_label}/{payload.sha256}.json"
    assert hashlib.sha256(stored).hexdigest() == payload.sha256
    assert stored == payload_bytes(payload_for(sample_run, client_id, deliverables.base_url()))
    assert errors(json.loads(stored)) == []
    download = operator.get(f"/api/deliverables/{payload.pk}/download/")
    assert download.content == stored and download.headers["Content-Type"] == "application/json"

    asked = operator.post("/api/publications/", {"deliverable": payload.pk, "comment": "Q4"}, key="publish-q4")
    assert asked.status_code == 201, asked.text
    assert asked.headers["Location"] == f"{live_server.url}/api/publications/{asked.json()['id']}/"
    approver = Api.signed_in(live_server.url, "arthur", PASSWORD)
    approved = approver.post(f"/api/publications/{asked.json()['id']}/approve/",
                             {"comment": "figures checked", "sha256": payload.sha256})

    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["state"] == "published" and body["decided_by"] == "arthur" and body["version"] == 1
    assert body["path"] == f"published/{client_id}/dashboard_payload/1/{deliverables.download_name(payload)}"
    assert approver.get(body["download_url"].removeprefix(live_server.url)).content == stored
    assert selectors.live_publication(client_id, "dashboard_payload").pk == body["id"]
    assert selectors.live_publication(client_id, "workbook") is None


def test_an_approval_without_a_sha256_or_with_one_that_is_not_a_hash_is_400_naming_it(workbook, olivia, arthur,
                                                                                      live_server):
    """`sha256` was documented optional while the service refused an approval without it (409 "the approval names
    (none)"), and "zz" was a 409 too: the body names it, 64 hexadecimal characters, and no service is asked."""
    asked = Api.with_token(live_server.url, olivia).post("/api/publications/", {"deliverable": workbook.pk})
    assert asked.status_code == 201, asked.text
    approve = f"/api/publications/{asked.json()['id']}/approve/"
    approver = Api.signed_in(live_server.url, "arthur", PASSWORD)

    for body in ({"comment": "ok"}, {"comment": "ok", "sha256": ""}, {"comment": "ok", "sha256": "zz"},
                 {"comment": "ok", "sha256": "g" * 64}, {"comment": "ok", "sha256": workbook.sha256 + "0"}):
        refused = approver.post(approve, body)
        assert refused.status_code == 400, (body, refused.text)
        assert list(refused.json()) == ["sha256"], (body, refused.json())
    assert events("publication.refused") == []  # nothing was asked of the service
    assert Publication.objects.get().state == PublicationState.REQUESTED

    approved = approver.post(approve, {"comment": "ok", "sha256": workbook.sha256.upper()})
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == PublicationState.PUBLISHED


def test_the_schema_says_an_approval_needs_its_sha256(client, olivia):
    client.force_login(olivia)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    body = schema["components"]["schemas"]["PublicationApprove"]
    assert "sha256" in body["required"]
    assert body["properties"]["sha256"]["pattern"] == "^[0-9a-fA-F]{64}$"
