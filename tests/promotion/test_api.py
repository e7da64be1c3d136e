"""Promotion API: requests, four eyes, dispositions, the curated registry and rollback, over HTTP.

The error rule under test (the pages' too): 400 names the fields and reached no service; a refusal for
who asks (a missing permission, or four eyes) is 403, one for when or what (state, manifest, gates, a
race) is 409, both with {"detail": reason} and both audited.
"""
from __future__ import annotations

import json
import os

import pytest
import redis
import yaml
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from console import roles
from console.models import AuditEvent
from promotion import curated, services, tasks
from promotion.gates import flaw_fingerprint, flaws_behind
from promotion.models import FlawDisposition, PromotionRequest
from tests.promotion.conftest import (
    CURATED_DB, REBATES, approve, checked, dataset, disposition_all, second_manifest,
)
from tests.promotion.conftest import promoted as promoted_through_services


def refusals(attempt: str):
    return AuditEvent.objects.filter(action="promotion.refused", after__attempt=attempt)


def as_user(client, user):
    client.force_login(user)
    return client


def post(client, url: str, body: dict | None = None):
    return client.post(url, body or {}, content_type="application/json")


@pytest.fixture
def olivia_approver(olivia):
    """Olivia holding the approve permission too: only the four-eyes rule stops her."""
    olivia.groups.add(Group.objects.get(name=roles.APPROVER))
    return type(olivia).objects.get(pk=olivia.pk)


def requested(actor, manifest, **options) -> PromotionRequest:
    """A request for the claims dataset, through the service."""
    return services.promotion_request(actor=actor, manifest=manifest, datasets=[dataset(manifest)], **options)


def act(client, user, promotion: PromotionRequest, action: str, body: dict | None = None):
    """POST /api/promotions/<id>/<action>/ as this user."""
    return post(as_user(client, user), f"/api/promotions/{promotion.pk}/{action}/", body)


def queued_tasks(queue: str) -> list[tuple[str, str]]:
    """(task name, args as sent) of the messages waiting in this test run's broker queue."""
    client = redis.Redis.from_url(os.environ["TEST_REDIS_URL"])
    found = []
    for raw in client.lrange(os.environ["CELERY_REDIS_KEY_PREFIX"] + queue, 0, -1):
        headers = json.loads(raw)["headers"]
        found.append((headers["task"], headers["argsrepr"]))
    return found


@pytest.fixture
def broker():
    """This run's broker keys, emptied before and after (enqueued messages are real, no worker reads them)."""
    from tests.support.worker import flush_test_broker

    flush_test_broker()
    yield
    flush_test_broker()


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
        assert client.get(url).status_code in {401, 403}, url
    as_user(client, oscar)
    for url in urls:
        assert client.get(url).status_code == 403, url


def test_a_token_authenticates_an_api_client_without_a_session(ready_request, arthur):
    token = Token.objects.create(user=arthur)
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Token {token.key}")

    response = client.post(f"/api/promotions/{ready_request.pk}/reject/", {"comment": "wrong year"},
                           content_type="application/json")

    assert response.status_code == 200 and response.json()["rejected_by"] == "arthur"


def test_a_session_post_without_its_csrf_token_is_refused(ready_request, arthur):
    client = Client(enforce_csrf_checks=True)
    client.force_login(arthur)

    response = client.post(f"/api/promotions/{ready_request.pk}/approve/", {"comment": "ok"},
                           content_type="application/json")

    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    ready_request.refresh_from_db()
    assert ready_request.state == "ready"


# --- four eyes -------------------------------------------------------------------------------------


def test_self_approval_through_the_api_is_refused_403_and_audited(client, ready_request, olivia_approver):
    response = act(client, olivia_approver, ready_request, "approve", {"comment": "looks fine to me"})

    assert response.status_code == 403  # who asks (four eyes), as on the pages
    assert "own request" in response.json()["detail"]
    ready_request.refresh_from_db()
    assert ready_request.state == "ready" and ready_request.approved_by is None
    assert refusals("approve").get().actor == olivia_approver
    assert not AuditEvent.objects.filter(action="promotion.approved").exists()


def test_a_second_person_approves_through_the_api_and_the_load_is_queued(
    client, ready_request, arthur, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = act(client, arthur, ready_request, "approve", {"comment": "reconciles with the contract"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "approved" and body["approved_by"] == "arthur"
    assert body["approval_comment"] == "reconciles with the contract"
    ready_request.refresh_from_db()
    assert ready_request.state == "approved" and ready_request.approved_by == arthur
    assert len(callbacks) == 1
    assert queued_tasks("promotion") == [("promotion.tasks.promotion_load", f"({ready_request.pk},)")]
    assert AuditEvent.objects.get(action="promotion.approved").actor == arthur


@pytest.mark.parametrize("persona", ["oscar", "cecilia", "adam"])
def test_approving_without_the_permission_is_403_and_audited(client, ready_request, persona, request):
    actor = request.getfixturevalue(persona)
    response = act(client, actor, ready_request, "approve", {"comment": "ok"})
    assert response.status_code == 403 and "permission" in response.json()["detail"]
    ready_request.refresh_from_db()
    assert ready_request.state == "ready"
    assert refusals("approve").get().actor == actor


def test_an_approval_without_a_comment_is_400_naming_the_field(client, ready_request, arthur):
    response = act(client, arthur, ready_request, "approve", {"comment": "  "})
    assert response.status_code == 400 and set(response.json()) == {"comment"}
    ready_request.refresh_from_db()
    assert ready_request.state == "ready"


def test_approving_a_blocked_request_is_409(client, manifest, olivia, arthur):
    blocked = checked(requested(olivia, manifest))
    response = act(client, arthur, blocked, "approve", {"comment": "ok"})
    assert response.status_code == 409 and "blocked" in response.json()["detail"]


def test_an_unknown_request_is_404(client, arthur):
    missing = PromotionRequest(pk=999_999)
    assert act(client, arthur, missing, "approve", {"comment": "ok"}).status_code == 404
    assert client.get("/api/promotions/999999/").status_code == 404


def test_an_approver_rejects_with_a_comment(client, ready_request, arthur):
    response = act(client, arthur, ready_request, "reject", {"comment": "wrong contract year"})
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "rejected" and body["rejection_comment"] == "wrong contract year"
    assert body["rejected_by"] == "arthur"


def test_the_requester_cannot_reject_their_own_request(client, ready_request, olivia_approver):
    response = act(client, olivia_approver, ready_request, "reject", {"comment": "no"})
    assert response.status_code == 403 and "cancel" in response.json()["detail"]
    ready_request.refresh_from_db()
    assert ready_request.state == "ready"
    assert refusals("reject").get().actor == olivia_approver


def test_the_requester_cancels_and_an_outsider_cannot(client, ready_request, olivia, cecilia):
    response = act(client, cecilia, ready_request, "cancel", {"reason": "mine now"})
    assert response.status_code == 403
    response = act(client, olivia, ready_request, "cancel", {"reason": "wrong datasets"})
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    event = AuditEvent.objects.get(action="promotion.cancelled")
    assert event.actor == olivia and event.after["reason"] == "wrong datasets"
    again = post(client, f"/api/promotions/{ready_request.pk}/cancel/")
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]


def test_a_recheck_queues_the_gates_again(client, ready_request, olivia, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = act(client, olivia, ready_request, "recheck")
    assert response.status_code == 200 and response.json()["state"] == "checking"
    assert len(callbacks) == 1
    assert AuditEvent.objects.filter(action="promotion.recheck_requested").count() == 1


# --- flaws and dispositions ------------------------------------------------------------------------


def test_the_flaws_behind_a_request_come_once_per_fingerprint_with_their_disposition(
    client, manifest, olivia, cecilia
):
    claims = dataset(manifest)
    request = services.promotion_request(actor=olivia, manifest=manifest, datasets=[claims], enqueue=False)
    expected = {flaw_fingerprint(f) for f in flaws_behind(manifest, [claims])}
    assert expected, "the sample export has flaws behind the claims dataset"
    as_user(client, cecilia)

    listed = client.get(f"/api/promotions/{request.pk}/flaws/", {"page_size": 500}).json()["results"]

    assert {f["fingerprint"] for f in listed} == expected and len(listed) == len(expected)
    assert all(f["disposition"] is None and f["code"] and f["object_kind"] for f in listed)
    places = [place for f in listed for place in f["places"]]
    every_flaw = flaws_behind(manifest, [claims]).values_list("pk", flat=True)
    assert sorted(p["flaw"] for p in places) == sorted(every_flaw)
    assert all(p["where"] and p["link"].startswith("/sources/") for p in places)
    by_manifest = client.get(f"/api/manifests/{manifest.pk}/flaws-to-disposition/",
                             {"dataset": claims.pk, "page_size": 500}).json()["results"]
    assert {f["fingerprint"] for f in by_manifest} == expected


def test_a_disposition_through_the_api_is_recorded_and_audited(client, manifest, olivia):
    fingerprint = flaw_fingerprint(flaws_behind(manifest, [dataset(manifest)]).first())
    as_user(client, olivia)

    response = post(client, f"/api/manifests/{manifest.pk}/dispositions/",
                    {"fingerprint": fingerprint, "decision": "legacy_fixture_only",
                     "note": "Domo's number, kept"})

    assert response.status_code == 200, response.content
    assert response.json()["decision"] == "legacy_fixture_only" and response.json()["decided_by"] == "olivia"
    assert FlawDisposition.objects.get().fingerprint == fingerprint
    event = AuditEvent.objects.get(action="promotion.flaw_dispositioned")
    assert event.actor == olivia and event.after["fingerprint"] == fingerprint
    listed = client.get(f"/api/manifests/{manifest.pk}/flaws-to-disposition/", {"page_size": 500})
    notes = [f["disposition"]["note"] for f in listed.json()["results"] if f["fingerprint"] == fingerprint]
    assert notes == ["Domo's number, kept"]

    cleared = client.delete(f"/api/manifests/{manifest.pk}/dispositions/{fingerprint}/")

    assert cleared.status_code == 204
    assert not FlawDisposition.objects.exists()
    assert AuditEvent.objects.get(action="promotion.flaw_disposition_cleared").actor == olivia
    again = client.delete(f"/api/manifests/{manifest.pk}/dispositions/{fingerprint}/")
    assert again.status_code == 409 and refusals("disposition_clear").count() == 1


def test_a_disposition_needs_a_note_and_a_known_decision(client, manifest, olivia):
    fingerprint = flaw_fingerprint(flaws_behind(manifest, [dataset(manifest)]).first())
    response = post(as_user(client, olivia), f"/api/manifests/{manifest.pk}/dispositions/",
                    {"fingerprint": fingerprint, "decision": "ignore", "note": ""})
    assert response.status_code == 400 and set(response.json()) == {"decision", "note"}
    assert not FlawDisposition.objects.exists()


def test_a_disposition_of_an_unknown_fingerprint_is_409(client, manifest, olivia):
    response = post(as_user(client, olivia), f"/api/manifests/{manifest.pk}/dispositions/",
                    {"fingerprint": "0" * 64, "decision": "not_applicable", "note": "n/a"})
    assert response.status_code == 409 and "fingerprint" in response.json()["detail"]
    assert refusals("disposition").count() == 1


def test_an_outsider_cannot_disposition(client, manifest, oscar):
    fingerprint = flaw_fingerprint(flaws_behind(manifest, [dataset(manifest)]).first())
    response = post(as_user(client, oscar), f"/api/manifests/{manifest.pk}/dispositions/",
                    {"fingerprint": fingerprint, "decision": "not_applicable", "note": "n/a"})
    assert response.status_code == 403
    assert refusals("disposition").get().actor == oscar and not FlawDisposition.objects.exists()


def test_dispositions_through_the_api_unblock_the_request(client, manifest, olivia):
    claims = dataset(manifest)
    blocked = checked(services.promotion_request(actor=olivia, manifest=manifest, datasets=[claims]))
    assert blocked.state == "blocked"
    as_user(client, olivia)
    for item in client.get(f"/api/promotions/{blocked.pk}/flaws/", {"page_size": 500}).json()["results"]:
        response = post(client, f"/api/manifests/{manifest.pk}/dispositions/",
                        {"fingerprint": item["fingerprint"], "decision": "corrected_in_contract",
                         "note": "the contract computes it per claim"})
        assert response.status_code == 200
    assert post(client, f"/api/promotions/{blocked.pk}/recheck/").status_code == 200
    assert checked(blocked).state == "ready"


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
def two_versions(manifest, tmp_path, olivia, arthur, curated_db, broker):
    """The rebate invoices promoted twice: v1 from `manifest`, then v2 (current) from a later export."""
    first = promoted_through_services(manifest, REBATES, olivia, arthur)
    promoted_through_services(second_manifest(tmp_path), REBATES, olivia, arthur)
    key = dataset(manifest, REBATES).domo_id
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


# --- schema ----------------------------------------------------------------------------------------


def test_the_schema_documents_the_promotion_api_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    paths = yaml.safe_load(target.read_text())["paths"]
    assert {"get", "post"} <= set(paths["/api/promotions/"])
    assert set(paths["/api/promotions/{id}/approve/"]["post"]["responses"]) >= {"200", "400", "403", "409"}
    parameters = {p["name"] for p in paths["/api/promotions/"]["get"]["parameters"]}
    assert parameters >= {"state", "target", "manifest"}
    for url in ["/api/promotions/{id}/", "/api/curated/", "/api/curated/{key}/versions/",
                "/api/manifests/{id}/flaws-to-disposition/", "/api/promotions/{id}/flaws/"]:
        assert "get" in paths[url], url
    assert "delete" in paths["/api/manifests/{id}/dispositions/{fingerprint}/"]
    assert "post" in paths["/api/curated/{key}/rollback/"]
