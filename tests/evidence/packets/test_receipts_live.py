"""POST /api/evidence-packets/ through a real HTTP server: 202 with a plain-str Location to the queued receipt,
and Idempotency-Key: a retried upload of the same bytes answers the first answer and queues no second receipt;
other bytes with the same key are a 409."""
from __future__ import annotations

import uuid

from console.models import AuditEvent
from evidence.models import PacketReceipt
from tests.evidence.packets.builders import contract_packet, pricing_packet
from tests.evidence.test_intake_pages import upload_folders
from tests.support.api import Api


def upload(api: Api, path, *, key: str | None = None):
    with path.open("rb") as handle:
        return api.post("/api/evidence-packets/", files={"file": (path.name, handle, "application/zip")}, key=key)


def test_an_upload_answers_202_with_its_location(live_server, broker, olivia, tmp_path):
    response = upload(Api.with_token(live_server.url, olivia), pricing_packet().zip(tmp_path / "prices.zip"))

    assert response.status_code == 202, response.text
    receipt = PacketReceipt.objects.get()
    url = f"{live_server.url}/api/evidence-packet-receipts/{receipt.pk}/"
    assert response.json()["url"] == url and response.headers["Location"] == url
    assert response.json()["status"] == "queued" and response.json()["requested_by"] == "olivia"
    assert receipt.task_id  # sent to the broker after the commit
    shown = Api.with_token(live_server.url, olivia).get(f"/api/evidence-packet-receipts/{receipt.pk}/")
    assert shown.status_code == 200 and shown.json()["id"] == receipt.pk


def test_a_retried_upload_with_its_key_queues_one_receipt(live_server, broker, olivia, tmp_path):
    api, key = Api.with_token(live_server.url, olivia), str(uuid.uuid4())
    packet = pricing_packet().zip(tmp_path / "prices.zip")
    staged_before = upload_folders()

    first = upload(api, packet, key=key)
    again = upload(api, packet, key=key)

    assert first.status_code == 202, first.text
    assert (again.status_code, again.json(), again.headers["Location"]) == (
        202, first.json(), first.headers["Location"]
    )
    assert again.headers["Idempotent-Replayed"] == "true"
    assert PacketReceipt.objects.get().pk == first.json()["id"]
    assert AuditEvent.objects.filter(action="evidence_packet.receipt_queued").count() == 1
    assert len(upload_folders() - staged_before) == 1  # the retry's bytes were not kept


def test_other_bytes_with_the_same_key_are_a_409(live_server, broker, olivia, tmp_path):
    api, key = Api.with_token(live_server.url, olivia), str(uuid.uuid4())
    assert upload(api, pricing_packet().zip(tmp_path / "prices.zip"), key=key).status_code == 202
    staged_before = upload_folders()

    refused = upload(api, contract_packet().zip(tmp_path / "prices.zip"), key=key)

    assert refused.status_code == 409 and "another body" in refused.json()["detail"]
    assert PacketReceipt.objects.count() == 1 and upload_folders() == staged_before


def test_a_reviewer_is_refused_403(live_server, broker, cecilia, tmp_path):
    refused = upload(Api.with_token(live_server.url, cecilia), pricing_packet().zip(tmp_path / "prices.zip"))

    assert refused.status_code == 403
    assert not PacketReceipt.objects.exists()
