"""Deliverables API through a real HTTP server: build (202 + Location, Idempotency-Key, refusals 403/409/400 naming
what is wrong), detail, list (keyset pages, filters), download (the bytes, their hash checked: a changed file is a
409 naming it); and the OpenAPI schema."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

from console.models import AuditEvent
from deliverables.choices import DELIVERABLE_TYPE
from deliverables.models import Deliverable
from deliverables.workbooks import services
from tests.deliverables.workbooks.conftest import a_client, build
from tests.support.api import Api

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "curated"])


def _lake_file(path: str) -> Path:
    from django.conf import settings

    return Path(settings.LAKE_URL.removeprefix("file://")) / path


def test_post_builds_a_workbook_answering_202_with_its_location(sample_run, olivia, live_server):
    api = Api.with_token(live_server.url, olivia)
    chosen = a_client(sample_run)

    answer = api.post("/api/deliverables/", {"run": sample_run.pk, "client": chosen, "kind": "workbook"})

    deliverable = Deliverable.objects.get()
    assert answer.status_code == 202, answer.text
    assert answer.headers["Location"] == f"{live_server.url}/api/deliverables/{deliverable.pk}/"
    body = answer.json()
    assert body["state"] == "queued" and body["client_account_id"] == chosen and body["run"] == sample_run.pk
    assert body["requested_by"] == "olivia" and body["download_url"] is None
    assert [s["name"] for s in body["steps"]] == list(services.STEPS)
    assert api.get(answer.headers["Location"].removeprefix(live_server.url)).json()["id"] == deliverable.pk


def test_post_with_an_idempotency_key_builds_one_workbook(sample_run, olivia, live_server):
    api = Api.with_token(live_server.url, olivia)
    body = {"run": sample_run.pk, "client": a_client(sample_run)}

    first = api.post("/api/deliverables/", body, key="book-2025")
    again = api.post("/api/deliverables/", body, key="book-2025")

    assert first.status_code == again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true" and again.headers["Location"] == first.headers["Location"]
    assert Deliverable.objects.count() == 1


def test_refusals_are_403_for_who_asks_and_409_for_what(sample_run, cecilia, olivia, live_server):
    refused = Api.with_token(live_server.url, cecilia).post(
        "/api/deliverables/", {"run": sample_run.pk, "client": a_client(sample_run)})
    assert refused.status_code == 403 and "build_deliverable" in refused.json()["detail"]

    api = Api.with_token(live_server.url, olivia)
    other = api.post("/api/deliverables/", {"run": sample_run.pk, "client": "001NOTACLIENT0000X"})
    assert other.status_code == 409 and "001NOTACLIENT0000X" in other.json()["detail"]
    assert not Deliverable.objects.exists()
    assert AuditEvent.objects.filter(action="deliverables.deliverable.refused").count() == 2


def test_a_body_that_does_not_validate_is_a_400_naming_its_fields(sample_run, olivia, live_server):
    api = Api.with_token(live_server.url, olivia)
    answer = api.post("/api/deliverables/", {"run": 999999, "client": "not an id", "kind": "poster"})
    assert answer.status_code == 400
    assert set(answer.json()) == {"run", "client", "kind"}
    assert not AuditEvent.objects.filter(action="deliverables.deliverable.refused").exists()


def test_the_detail_and_the_download_of_a_built_workbook(sample_run, olivia, cecilia, live_server):
    done = build(olivia, sample_run, a_client(sample_run))
    api = Api.with_token(live_server.url, cecilia)

    detail = api.get(f"/api/deliverables/{done.pk}/").json()
    assert detail["state"] == "succeeded" and detail["sha256"] == done.sha256 and detail["path"] == done.path
    assert detail["summary"]["sheets"] == done.summary["sheets"] and detail["bytes"] == done.bytes
    assert detail["filename"] == f"{done.client_account_id}-{done.period_label}-{done.sha256[:8]}.xlsx"
    assert detail["page_url"] == f"{live_server.url}/deliverables/{done.pk}/"
    assert [s["state"] for s in detail["steps"]] == ["done"] * 3 and detail["trace_id"] == done.trace_id

    download = api.get(detail["download_url"].removeprefix(live_server.url))
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == done.sha256
    assert download.headers["X-Content-SHA256"] == done.sha256
    assert f'filename="{detail["filename"]}"' in download.headers["Content-Disposition"]
    assert AuditEvent.objects.filter(object_type=DELIVERABLE_TYPE, object_id=str(done.pk),
                                     action="deliverables.deliverable.downloaded", actor=cecilia).exists()


def test_a_changed_file_is_a_409_naming_it_through_the_api(sample_run, olivia, live_server):
    done = build(olivia, sample_run, a_client(sample_run))
    stored = _lake_file(done.path)
    stored.chmod(0o644)
    stored.write_bytes(b"PK" + stored.read_bytes()[2:-1])

    answer = Api.with_token(live_server.url, olivia).get(f"/api/deliverables/{done.pk}/download/")

    assert answer.status_code == 409 and answer.headers["Content-Type"] == "application/json"
    assert done.path in answer.json()["detail"]


def test_the_list_pages_by_keyset_and_filters(sample_run, olivia, live_server):
    clients = services.run_clients(sample_run)
    made = [services.deliverable_start(actor=olivia, run=sample_run, client=c, enqueue=False) for c in clients[:3]]
    api = Api.with_token(live_server.url, olivia)

    page = api.get("/api/deliverables/?page_size=2").json()
    assert [d["id"] for d in page["results"]] == [made[2].pk, made[1].pk]
    rest = api.get(page["next"].removeprefix(live_server.url)).json()
    assert [d["id"] for d in rest["results"]] == [made[0].pk] and rest["next"] is None
    assert [d["id"] for d in api.get(f"/api/deliverables/?client={clients[1]}").json()["results"]] == [made[1].pk]
    assert api.get("/api/deliverables/?state=succeeded").json()["results"] == []
    assert api.get("/api/deliverables/?kind=poster").status_code == 400


def test_reading_needs_the_provenance_capability(sample_run, oscar, live_server):
    assert Api.with_token(live_server.url, oscar).get("/api/deliverables/").status_code == 403


def test_the_schema_documents_the_deliverables_api_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    paths = yaml.safe_load(target.read_text())["paths"]
    assert {"get", "post"} <= set(paths["/api/deliverables/"])
    assert set(paths["/api/deliverables/"]["post"]["responses"]) >= {"202", "400", "403", "409"}
    assert "Idempotency-Key" in {p["name"] for p in paths["/api/deliverables/"]["post"]["parameters"]}
    assert {"client", "kind", "state", "run"} <= {p["name"] for p in paths["/api/deliverables/"]["get"]["parameters"]}
    download = paths["/api/deliverables/{id}/download/"]["get"]["responses"]
    assert set(download) >= {"200", "403", "404", "409"}
    assert services.CONTENT_TYPES["workbook"] in download["200"]["content"]
