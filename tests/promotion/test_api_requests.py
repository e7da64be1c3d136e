"""Promotion API: requesting a promotion (and the refusals), and reading requests back, over HTTP.

The error rule is in tests/promotion/api_helpers.py.
"""
from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from console.models import AuditEvent
from promotion.models import PromotionRequest
from tests.promotion.api_helpers import as_user, post, refusals, requested
from tests.promotion.conftest import checked, dataset

# --- requesting ------------------------------------------------------------------------------------


def test_an_operator_requests_a_promotion_and_its_gates_are_queued(
    client, manifest, olivia, django_capture_on_commit_callbacks
):
    claims = dataset(manifest)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post(
            as_user(client, olivia), "/api/promotions/", {"manifest": manifest.pk, "datasets": [claims.pk]}
        )

    assert response.status_code == 201, response.content
    body = response.json()
    created = PromotionRequest.objects.get()
    assert response["Location"] == body["url"] and body["url"].endswith(f"/api/promotions/{created.pk}/")
    assert body["state"] == "checking" and body["target"] == "migration" and body["requested_by"] == "olivia"
    assert body["manifest"] == {
        "id": manifest.pk,
        "load_id": manifest.load_id,
        "sha256": manifest.manifest_sha256,
        "status": "complete",
    }
    assert [d["domo_id"] for d in body["datasets"]] == [claims.domo_id]
    assert len(callbacks) == 1  # the gates, after commit
    assert AuditEvent.objects.get(action="promotion.requested").actor == olivia


@pytest.mark.parametrize("fixture", ["partial_manifest", "invalid_manifest"])
def test_a_partial_or_invalid_manifest_is_refused_with_409_and_audited(client, olivia, fixture, request):
    refused_manifest = request.getfixturevalue(fixture)
    ids = list(refused_manifest.datasets.values_list("pk", flat=True))

    body = {"manifest": refused_manifest.pk, "datasets": ids}

    response = post(as_user(client, olivia), "/api/promotions/", body)

    assert response.status_code == 409
    assert refused_manifest.status in response.json()["detail"]
    assert not PromotionRequest.objects.exists()
    event = refusals("request").get()
    assert event.actor == olivia and event.object_id == str(refused_manifest.pk)


def test_a_request_that_does_not_validate_names_its_fields_and_reaches_no_service(client, manifest, olivia):
    response = post(as_user(client, olivia), "/api/promotions/", {"manifest": manifest.pk, "datasets": [],
                                                                   "target": "elsewhere"})
    assert response.status_code == 400
    assert set(response.json()) == {"datasets", "target"}
    assert not PromotionRequest.objects.exists() and not refusals("request").exists()


def test_a_dataset_named_twice_is_400_naming_it_and_reaches_no_service(client, manifest, olivia):
    """{"datasets": [1, 1]} was a 201: a request of dataset 1."""
    claims = dataset(manifest)
    response = post(as_user(client, olivia), "/api/promotions/", {"manifest": manifest.pk,
                                                                   "datasets": [claims.pk, claims.pk]})
    assert response.status_code == 400, response.content
    assert list(response.json()) == ["datasets"]
    assert f"dataset {claims.pk} is named more than once" in response.json()["datasets"][0]
    assert not PromotionRequest.objects.exists() and not refusals("request").exists()


def test_datasets_of_another_manifest_are_refused_by_rule(client, manifest, partial_manifest, olivia):
    response = post(as_user(client, olivia), "/api/promotions/",
                    {"manifest": manifest.pk, "datasets": [dataset(partial_manifest).pk]})
    assert response.status_code == 409 and "do not belong" in response.json()["detail"]
    assert not PromotionRequest.objects.exists()


@pytest.mark.parametrize("persona", ["arthur", "cecilia", "oscar"])
def test_requesting_without_the_permission_is_403_and_audited(client, manifest, persona, request):
    actor = request.getfixturevalue(persona)
    response = post(as_user(client, actor), "/api/promotions/",
                    {"manifest": manifest.pk, "datasets": [dataset(manifest).pk]})
    assert response.status_code == 403 and "permission" in response.json()["detail"]
    assert refusals("request").get().actor == actor


def test_a_contract_target_without_its_permission_is_403(client, manifest, olivia):
    response = post(as_user(client, olivia), "/api/promotions/",
                    {"manifest": manifest.pk, "datasets": [dataset(manifest).pk], "target": "contract"})
    assert response.status_code == 403 and "contract" in response.json()["detail"]


# --- reading ---------------------------------------------------------------------------------------


def test_the_detail_shows_the_current_gate_results_with_their_details(client, manifest, olivia, cecilia):
    blocked = checked(requested(olivia, manifest))
    assert blocked.state == "blocked"  # nothing dispositioned yet

    body = as_user(client, cecilia).get(f"/api/promotions/{blocked.pk}/").json()

    assert body["state"] == "blocked" and body["checked_at"]
    gates = {g["gate"]: g for g in body["gate_results"]}
    assert set(gates) >= {"manifest_complete", "load_id", "dataset_ids", "schema_compatible",
                          "calculation_flaws_dispositioned", "golden_reproduced"}
    flaws = gates["calculation_flaws_dispositioned"]
    assert flaws["outcome"] == "failed"
    assert flaws["details"] and {"what", "where", "link"} <= set(flaws["details"][0])
    assert body["load_progress"] == {} and body["attempts"] == 0 and body["error"] == ""


def test_the_list_filters_by_state_and_manifest(client, ready_request, manifest, olivia, arthur):
    other = requested(olivia, manifest, enqueue=False)
    as_user(client, arthur)

    def ids(**params):
        response = client.get("/api/promotions/", params)
        assert response.status_code == 200, response.content
        return [item["id"] for item in response.json()["results"]]

    assert ids() == [other.pk, ready_request.pk]
    assert ids(state="ready") == [ready_request.pk]
    assert ids(state="checking", manifest=manifest.pk) == [other.pk]
    assert ids(manifest=manifest.pk + 1000) == []
    assert client.get("/api/promotions/", {"state": "nonsense"}).status_code == 400


def test_the_list_reads_in_as_many_queries_for_four_requests_as_for_one(
    client, ready_request, manifest, olivia, arthur
):
    as_user(client, arthur)

    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as context:
            results = client.get("/api/promotions/").json()["results"]
        return len(results), len(context)

    one, baseline = queries()
    for _ in range(3):
        requested(olivia, manifest, enqueue=False)
    assert queries() == (one + 3, baseline)


def test_outsiders_and_anonymous_callers_read_nothing(client, ready_request, manifest, oscar):
    urls = [
        "/api/promotions/",
        f"/api/promotions/{ready_request.pk}/",
        f"/api/promotions/{ready_request.pk}/flaws/",
        f"/api/manifests/{manifest.pk}/flaws-to-disposition/",
        "/api/curated/",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Token"), url
    as_user(client, oscar)
    for url in urls:
        assert client.get(url).status_code == 403, url


def test_a_token_authenticates_an_api_client_without_a_session(ready_request, arthur):
    token = Token.objects.create(user=arthur)
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Token {token.key}")

    response = client.post(f"/api/promotions/{ready_request.pk}/reject/", {"comment": "wrong year"},
                           content_type="application/json")

    assert response.status_code == 200 and response.json()["rejected_by"] == "arthur"


@pytest.mark.catalogue(33)
def test_a_session_post_without_its_csrf_token_is_refused(ready_request, arthur):
    client = Client(enforce_csrf_checks=True)
    client.force_login(arthur)

    response = client.post(f"/api/promotions/{ready_request.pk}/approve/", {"comment": "ok"},
                           content_type="application/json")

    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    ready_request.refresh_from_db()
    assert ready_request.state == "ready"
