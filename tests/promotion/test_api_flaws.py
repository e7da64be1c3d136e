"""Promotion API: the flaws behind a request and the operators' dispositions of them, over HTTP.

The error rule is in tests/promotion/api_helpers.py.
"""
from __future__ import annotations

from console.models import AuditEvent
from promotion import services
from promotion.gates import flaw_fingerprint, flaws_behind
from promotion.models import FlawDisposition
from tests.promotion.api_helpers import as_user, post, refusals
from tests.promotion.conftest import checked, dataset


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


def test_withdrawing_a_disposition_by_a_malformed_fingerprint_is_400_before_the_service(client, manifest, olivia):
    """Found by the API fuzz: a NUL byte in the URL's fingerprint reached PostgreSQL (500)."""
    client = as_user(client, olivia)
    for malformed in ["%00", "0" * 63, "Z" * 64]:
        response = client.delete(f"/api/manifests/{manifest.pk}/dispositions/{malformed}/")
        assert response.status_code == 400, (malformed, response.content)
        assert response.json()["fingerprint"]
    assert not refusals("disposition_clear").exists()


def test_flaws_to_disposition_refuses_a_dataset_id_past_bigint(client, manifest, olivia):
    """Found by the API fuzz: an id past bigint reached the database (SQLite: OverflowError, a 500)."""
    response = as_user(client, olivia).get(f"/api/manifests/{manifest.pk}/flaws-to-disposition/",
                                           {"dataset": 2**63})
    assert response.status_code == 400 and "below 2**63" in response.json()["dataset"][0]


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
