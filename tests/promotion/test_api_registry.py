"""Promotion API: the curated registry and rollback requests, over HTTP.

The error rule is in tests/promotion/api_helpers.py.
"""
from __future__ import annotations

import pytest

from console.models import AuditEvent
from promotion import curated, services, tasks
from promotion.models import PromotionRequest
from tests.promotion.api_helpers import act, as_user, post, refusals
from tests.promotion.conftest import CURATED_DB, REBATES, checked, dataset, disposition_all, second_manifest
from tests.promotion.conftest import promoted as promoted_through_services


# --- the curated registry --------------------------------------------------------------------------


@pytest.fixture
def rebates_request(manifest, olivia) -> PromotionRequest:
    """Olivia's request for the rebate invoices, every flaw behind them dispositioned, gates passed."""
    rebates = dataset(manifest, REBATES)
    disposition_all(olivia, manifest, [rebates])
    request = services.promotion_request(actor=olivia, manifest=manifest, datasets=[rebates], enqueue=False)
    request = checked(request)
    assert request.state == "ready", list(request.gate_results.values_list("gate", "outcome", "details"))
    return request


def promoted(client, request: PromotionRequest, approver) -> PromotionRequest:
    """Approved through the API, then loaded by the load task run here (its queued message just waits)."""
    assert act(client, approver, request, "approve", {"comment": "figures match Domo"}).status_code == 200
    tasks.promotion_load(request.pk)
    request.refresh_from_db()
    assert request.state == "promoted", request.error
    return request


@CURATED_DB
def test_the_registry_shows_each_current_version_with_who_requested_and_approved_it(
    client, rebates_request, arthur, cecilia, curated_db, broker
):
    promoted(client, rebates_request, arthur)
    rebates = dataset(rebates_request.manifest, REBATES)

    listed = as_user(client, cecilia).get("/api/curated/").json()["results"]

    current = {entry["dataset_key"]: entry for entry in listed}
    entry = current[rebates.domo_id]
    assert (entry["version"], entry["state"], entry["is_golden"]) == (1, "current", False)
    assert entry["rows"] == rebates.silver_rows and len(entry["checksum"] or "") > 0
    assert entry["load_id"] == rebates_request.manifest.load_id
    assert (entry["manifest"], entry["request"]) == (rebates_request.manifest_id, rebates_request.pk)
    assert (entry["requested_by"], entry["approved_by"]) == ("olivia", "arthur")
    assert any(key.startswith("golden:") for key in current)  # the cards' golden packets, beside it


@CURATED_DB
def test_the_versions_of_a_curated_dataset_golden_keys_included(client, rebates_request, arthur, cecilia,
                                                                 curated_db, broker):
    promoted(client, rebates_request, arthur)
    as_user(client, cecilia)
    golden = next(e["dataset_key"] for e in client.get("/api/curated/").json()["results"] if e["is_golden"])

    response = client.get(f"/api/curated/{golden}/versions/")

    assert response.status_code == 200, response.content
    [version] = response.json()["results"]
    assert version["dataset_key"] == golden and version["version"] == 1 and version["is_golden"]
    assert client.get("/api/curated/golden:0/versions/").status_code == 404


# --- rollback --------------------------------------------------------------------------------------


@pytest.fixture
def two_versions(manifest, tmp_path, olivia, arthur, curated_db, broker, states):
    """The rebate invoices promoted twice: v1 from `manifest`, then v2 (current) from a later export
    (built once per process, then restored: tests/support/states.py)."""

    def build():
        first = promoted_through_services(manifest, REBATES, olivia, arthur)
        promoted_through_services(second_manifest(tmp_path), REBATES, olivia, arthur)
        return dataset(manifest, REBATES).domo_id, first

    key, first = states.get("rebates promoted twice (load message sent)", build)
    assert curated.read_current(curated_db, key).version == 2
    return key, first


@CURATED_DB
def test_a_rollback_through_the_api_is_a_request_that_a_second_person_approves(
    client, two_versions, olivia, arthur, curated_db
):
    key, first = two_versions

    response = post(as_user(client, olivia), f"/api/curated/{key}/rollback/", {"version": 1})

    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"] == body["url"]
    assert (body["kind"], body["state"], body["requested_by"]) == ("rollback", "checking", "olivia")
    assert (body["rollback_key"], body["rollback_version"], body["rollback_from_version"]) == (key, 1, 2)
    assert body["manifest"]["id"] == first.manifest_id
    rollback = PromotionRequest.objects.get(pk=body["id"])
    assert AuditEvent.objects.filter(action="promotion.requested", object_id=str(rollback.pk)).exists()
    kinds = as_user(client, arthur).get("/api/promotions/", {"kind": "rollback"}).json()["results"]
    assert [r["id"] for r in kinds] == [rollback.pk]

    checked(rollback)
    assert act(client, olivia, rollback, "approve", {"comment": "mine"}).status_code == 403
    assert act(client, arthur, rollback, "approve", {"comment": "v2 misreads the rebates"}).status_code == 200
    tasks.promotion_load(rollback.pk)

    current = {e["dataset_key"]: e for e in client.get("/api/curated/").json()["results"]}
    assert current[key]["version"] == 1


@CURATED_DB
def test_a_rollback_to_the_current_version_is_409_and_audited(client, two_versions, olivia):
    key, _ = two_versions
    response = post(as_user(client, olivia), f"/api/curated/{key}/rollback/", {"version": 2})
    assert response.status_code == 409 and "not earlier" in response.json()["detail"]
    assert not PromotionRequest.objects.filter(kind="rollback").exists()
    assert refusals("rollback").get().actor == olivia


@CURATED_DB
def test_a_rollback_needs_the_request_permission_and_a_version(client, two_versions, arthur, olivia):
    key, _ = two_versions
    response = post(as_user(client, arthur), f"/api/curated/{key}/rollback/", {"version": 1})
    assert response.status_code == 403 and refusals("rollback").get().actor == arthur
    response = post(as_user(client, olivia), f"/api/curated/{key}/rollback/", {"version": "first"})
    assert response.status_code == 400 and set(response.json()) == {"version"}
    assert not PromotionRequest.objects.filter(kind="rollback").exists()


@CURATED_DB
def test_a_rollback_to_a_contract_version_without_the_contract_permission_is_403(
    client, contract_then_migration, olivia, adam, broker
):
    key = contract_then_migration
    response = post(as_user(client, olivia), f"/api/curated/{key}/rollback/", {"version": 1})
    assert response.status_code == 403 and "request_contract_promotion" in response.json()["detail"]
    assert not PromotionRequest.objects.filter(kind="rollback").exists()
    assert refusals("rollback").get().actor == olivia
    response = post(as_user(client, adam), f"/api/curated/{key}/rollback/", {"version": 1})
    assert response.status_code == 201 and response.json()["target"] == "contract"
