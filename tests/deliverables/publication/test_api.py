"""The publication API says what the services say (201/200, 403 for who asks, 409 for what or when), and one
request and approval go through a real HTTP server."""
from __future__ import annotations

import hashlib

import pytest

from deliverables.choices import PublicationState
from deliverables.models import Publication
from tests.conftest import PASSWORD
from tests.deliverables.publication.conftest import events, grant
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
    assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == workbook.sha256
    assert client.post(f"/api/publications/{pk}/retract/", {"reason": ""},
                       content_type="application/json").status_code == 409
    retracted = client.post(f"/api/publications/{pk}/retract/", {"reason": "wrong period"},
                            content_type="application/json")
    assert retracted.status_code == 200 and retracted.json()["retraction_reason"] == "wrong period"
    assert [e.after["attempt"] for e in events("publication.refused")] == [
        "approve", "request", "approve", "approve", "retract"]
    assert Publication.objects.count() == 2


def test_an_operator_requests_and_an_approver_publishes_through_a_real_http_server(workbook, olivia, arthur,
                                                                                    live_server):
    operator = Api.with_token(live_server.url, olivia)
    asked = operator.post("/api/publications/", {"deliverable": workbook.pk, "comment": "Q4"}, key="publish-q4")
    assert asked.status_code == 201, asked.text
    assert asked.headers["Location"] == f"{live_server.url}/api/publications/{asked.json()['id']}/"

    approver = Api.signed_in(live_server.url, "arthur", PASSWORD)
    path = f"/api/publications/{asked.json()['id']}/approve/"
    approved = approver.post(path, {"comment": "figures checked", "sha256": workbook.sha256})

    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["state"] == "published" and body["decided_by"] == "arthur" and body["version"] == 1
    download = approver.get(body["download_url"].removeprefix(live_server.url))
    assert hashlib.sha256(download.content).hexdigest() == workbook.sha256
