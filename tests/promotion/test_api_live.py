"""Promotion API creates through a real HTTP server: 201 with a plain-str Location (the test client never saw
the 500 wsgiref gave for DRF's Hyperlink), and Idempotency-Key: a retry answers the first answer and
creates nothing, another body with the same key is a 409, users' keys never meet, a race creates one."""
from __future__ import annotations

import threading
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from console import roles
from console.models import AuditEvent, IdempotencyKey
from promotion.gates import flaw_fingerprint, flaws_behind
from promotion.models import FlawDisposition, PromotionRequest
from tests.conftest import PASSWORD
from tests.promotion.api_helpers import refusals
from tests.promotion.conftest import CONTRACT_TERMS, CURATED_DB, dataset
from tests.promotion.test_api_registry import two_versions  # noqa: F401 - the fixture
from tests.support.api import Api

pytestmark = pytest.mark.usefixtures("broker")  # the gates' messages go to this run's broker keys


def request_body(manifest, name=None) -> dict:
    chosen = dataset(manifest) if name is None else dataset(manifest, name)
    return {"manifest": manifest.pk, "datasets": [chosen.pk]}


def new_key() -> str:
    return str(uuid.uuid4())


def assert_created(response, path: str) -> dict:
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == body["url"] and body["url"].endswith(f"{path}{body['id']}/")
    return body


def same_answer(first, again) -> bool:
    return (again.status_code, again.json(), again.headers.get("Location")) == (
        first.status_code, first.json(), first.headers.get("Location")
    )


# --- 201 with a Location, through the socket ------------------------------------------------------------


def test_a_request_by_a_signed_in_operator_answers_201_with_its_location(live_server, manifest, olivia):
    api = Api.signed_in(live_server.url, "olivia", PASSWORD)  # session and CSRF token, as a page's script

    response = api.post("/api/promotions/", request_body(manifest))

    body = assert_created(response, "/api/promotions/")
    assert PromotionRequest.objects.get().pk == body["id"] and body["requested_by"] == "olivia"
    assert api.get(response.headers["Location"].removeprefix(live_server.url)).json()["id"] == body["id"]


@pytest.mark.catalogue(56)
def test_a_retried_request_with_its_key_answers_the_first_answer_and_creates_nothing(
    live_server, manifest, olivia
):
    api, key = Api.with_token(live_server.url, olivia), new_key()

    first = api.post("/api/promotions/", request_body(manifest), key=key)
    again = api.post("/api/promotions/", request_body(manifest), key=key)

    assert_created(first, "/api/promotions/")
    assert same_answer(first, again)
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert PromotionRequest.objects.count() == 1
    assert AuditEvent.objects.filter(action="promotion.requested").count() == 1


@pytest.mark.catalogue(56)
def test_the_same_key_with_another_body_is_409_and_creates_nothing(live_server, manifest, olivia):
    api, key = Api.with_token(live_server.url, olivia), new_key()
    first = assert_created(api.post("/api/promotions/", request_body(manifest), key=key), "/api/promotions/")

    other = api.post("/api/promotions/", request_body(manifest, CONTRACT_TERMS), key=key)

    assert other.status_code == 409
    assert key in other.json()["detail"] and "another body" in other.json()["detail"]
    assert list(PromotionRequest.objects.values_list("pk", flat=True)) == [first["id"]]


def test_two_users_with_the_same_key_each_get_their_own_request(live_server, manifest, olivia):
    otto = get_user_model().objects.create_user(username="otto", password=PASSWORD)
    otto.groups.add(Group.objects.get(name=roles.OPERATOR))
    key = new_key()

    mine = api_post(live_server, olivia, request_body(manifest), key)
    theirs = api_post(live_server, otto, request_body(manifest), key)

    assert mine["id"] != theirs["id"] and (mine["requested_by"], theirs["requested_by"]) == ("olivia", "otto")
    assert PromotionRequest.objects.count() == 2 and IdempotencyKey.objects.filter(key=key).count() == 2


def api_post(live_server, user, body, key) -> dict:
    return assert_created(Api.with_token(live_server.url, user).post("/api/promotions/", body, key=key),
                          "/api/promotions/")


@pytest.mark.catalogue(56)
@pytest.mark.postgres_only
@pytest.mark.catalogue(8)
def test_requests_racing_with_one_key_create_one_request(live_server, manifest, olivia):
    key, racers = new_key(), 4
    clients = [Api.with_token(live_server.url, olivia) for _ in range(racers)]
    start, answers = threading.Barrier(racers), []

    def send(api):
        start.wait()
        answers.append(api.post("/api/promotions/", request_body(manifest), key=key))

    threads = [threading.Thread(target=send, args=(api,)) for api in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert [a.status_code for a in answers] == [201] * racers
    assert len({a.json()["id"] for a in answers}) == 1 and len({a.headers["Location"] for a in answers}) == 1
    assert PromotionRequest.objects.count() == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == racers - 1


# --- keys that are refused, and refusals that leave the key free ----------------------------------------


def test_a_key_past_255_characters_is_400_with_a_message(live_server, manifest, olivia):
    api = Api.with_token(live_server.url, olivia)

    response = api.post("/api/promotions/", request_body(manifest), key="k" * 256)

    assert response.status_code == 400
    (message,) = response.json()["Idempotency-Key"]
    assert "256 characters" in message and "255" in message
    assert not PromotionRequest.objects.exists() and not IdempotencyKey.objects.exists()


def test_a_refused_request_leaves_its_key_free_for_the_corrected_one(
    live_server, manifest, partial_manifest, olivia
):
    api, key = Api.with_token(live_server.url, olivia), new_key()
    datasets = list(partial_manifest.datasets.values_list("pk", flat=True))
    partial = {"manifest": partial_manifest.pk, "datasets": datasets}

    refused = api.post("/api/promotions/", partial, key=key)
    corrected = api.post("/api/promotions/", request_body(manifest), key=key)

    assert refused.status_code == 409 and "partial" in refused.json()["detail"]
    assert refusals("request").get().actor == olivia  # the refusal is still in the trail
    assert assert_created(corrected, "/api/promotions/")["manifest"]["id"] == manifest.pk


# --- the other creates: rollback, disposition, schema-drift acknowledgement ----------------------------


@CURATED_DB
def test_a_retried_rollback_request_answers_201_once_with_one_request(
    live_server, two_versions, olivia  # noqa: F811 - the fixture imported above
):
    key_name, _first = two_versions
    api, key = Api.with_token(live_server.url, olivia), new_key()

    first = api.post(f"/api/curated/{key_name}/rollback/", {"version": 1}, key=key)
    again = api.post(f"/api/curated/{key_name}/rollback/", {"version": 1}, key=key)

    body = assert_created(first, "/api/promotions/")
    assert body["kind"] == "rollback" and same_answer(first, again)
    assert list(PromotionRequest.objects.filter(kind="rollback").values_list("pk", flat=True)) == [body["id"]]
    assert api.post(f"/api/curated/{key_name}/rollback/", {"version": 2}, key=key).status_code == 409


def test_a_retried_disposition_is_recorded_and_audited_once(live_server, manifest, olivia):
    fingerprint = flaw_fingerprint(flaws_behind(manifest, [dataset(manifest)]).first())
    api, key = Api.with_token(live_server.url, olivia), new_key()
    body = {"fingerprint": fingerprint, "decision": "legacy_fixture_only", "note": "Domo's number, kept"}

    first = api.post(f"/api/manifests/{manifest.pk}/dispositions/", body, key=key)
    again = api.post(f"/api/manifests/{manifest.pk}/dispositions/", body, key=key)

    assert first.status_code == 200 and same_answer(first, again)
    assert FlawDisposition.objects.get().fingerprint == fingerprint
    assert AuditEvent.objects.filter(action="promotion.flaw_dispositioned").count() == 1


def test_a_refused_schema_drift_acknowledgement_is_409_each_time_and_never_replayed(
    live_server, manifest, olivia
):
    api, key = Api.with_token(live_server.url, olivia), new_key()
    path = f"/api/datasets/{dataset(manifest).pk}/schema-drift-acknowledgements/"

    answers = [api.post(path, {"note": "no drift here"}, key=key) for _ in range(2)]

    assert [a.status_code for a in answers] == [409, 409]
    assert all("does not drift" in a.json()["detail"] for a in answers)
    assert not any("Idempotent-Replayed" in a.headers for a in answers)
    assert refusals("acknowledge_drift").count() == 2 and not IdempotencyKey.objects.exists()
