"""The intake upload through a real HTTP server: 202 (the run is queued, as the API has always answered)
with a plain-str Location, and Idempotency-Key: a retried upload of the same bytes answers the first
answer and queues no second run; other bytes with the same key are a 409."""
from __future__ import annotations

import uuid

from console.models import AuditEvent
from evidence.models import IntakeRun
from tests.evidence.conftest import invalid_export
from tests.evidence.test_intake_pages import upload_folders
from tests.support.api import Api


def upload(api: Api, path, *, key: str | None = None):
    with path.open("rb") as handle:
        return api.post("/api/intake-runs/", files={"file": (path.name, handle, "application/zip")}, key=key)


def test_an_upload_answers_202_with_its_location(live_server, broker, olivia, export_zip):
    response = upload(Api.with_token(live_server.url, olivia), export_zip)

    assert response.status_code == 202, response.text
    run = IntakeRun.objects.get()
    url = f"{live_server.url}/api/intake-runs/{run.pk}/"
    assert response.json() == {"id": run.pk, "url": url, "status": "queued"}
    assert response.headers["Location"] == response.json()["url"]


def test_a_retried_upload_with_its_key_queues_one_run(live_server, broker, olivia, export_zip):
    api, key = Api.with_token(live_server.url, olivia), str(uuid.uuid4())

    staged_before = upload_folders()

    first = upload(api, export_zip, key=key)
    again = upload(api, export_zip, key=key)

    assert first.status_code == 202, first.text
    assert (again.status_code, again.json(), again.headers["Location"]) == (
        202, first.json(), first.headers["Location"]
    )
    assert again.headers["Idempotent-Replayed"] == "true"
    run = IntakeRun.objects.get()
    assert run.pk == first.json()["id"]
    assert AuditEvent.objects.filter(action="intake.uploaded").count() == 1
    assert len(upload_folders() - staged_before) == 1  # the retry's bytes were not kept


def test_other_bytes_with_the_same_key_are_a_409(live_server, broker, olivia, export_zip, tmp_path):
    api, key = Api.with_token(live_server.url, olivia), str(uuid.uuid4())
    other = invalid_export().zip(tmp_path / "leafiq-other.zip")
    assert upload(api, export_zip, key=key).status_code == 202
    staged_before = upload_folders()

    refused = upload(api, other, key=key)

    assert refused.status_code == 409 and "another body" in refused.json()["detail"]
    assert IntakeRun.objects.count() == 1 and upload_folders() == staged_before
