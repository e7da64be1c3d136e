"""The packet API: list (filters, keyset pages), detail with revisions, records, and Verify/Withdraw with their
answers (200, 400, 403 four eyes and roles, 409 stale or not verifiable), through the test client and through
a real HTTP server (live_server)."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from evidence.choices import EvidenceClass
from evidence.packets.verification import VERIFIED, packet_verify
from tests.conftest import PASSWORD
from tests.evidence.packets.builders import ACME, contract_packet, pricing_packet
from tests.evidence.packets.verification_helpers import events, received, second_approver
from tests.support.api import Api

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def _path(revision, action: str) -> str:
    return f"/api/evidence-packets/{revision.packet_id}/revisions/{revision.revision}/{action}/"


def test_the_list_filters_and_pages_by_keyset(tmp_path, arthur):
    received(tmp_path, arthur)
    received(tmp_path, arthur, pricing_packet(), name="pricing")
    api = _api(arthur)

    body = api.get("/api/evidence-packets/", {"page_size": 1}).json()
    assert [p["packet_id"] for p in body["results"]] == ["EVP-PRICING-LEAF-MAC-2025"]
    assert body["results"][0]["evidence_class"] == "candidate" and body["results"][0]["latest_revision"] == 1
    following = api.get(body["next"]).json()
    assert [p["packet_id"] for p in following["results"]] == ["EVP-CONTRACT-0015e00000Qm7AcAAJ-2025"]

    acme = api.get("/api/evidence-packets/", {"client": ACME, "evidence_class": "candidate"}).json()
    assert [p["kind"] for p in acme["results"]] == ["contract"]
    assert api.get("/api/evidence-packets/", {"evidence_class": "governed"}).json()["results"] == []
    assert api.get("/api/evidence-packets/", {"kind": "nope"}).status_code == 400


def test_the_detail_has_every_receipt_and_the_records_page_in_file_order(tmp_path, arthur):
    revision = received(tmp_path, arthur)
    broken = contract_packet()
    broken.fields["kind"] = "pricing"  # REVISION_CONFLICT, or a header mismatch: refused either way
    received(tmp_path, arthur, broken, name="broken")
    api = _api(arthur)

    detail = api.get(f"/api/evidence-packets/{revision.packet_id}/").json()
    assert [(r["revision"], r["status"], r["evidence_class"]) for r in detail["revisions"]] == [
        (None, "refused", ""), (1, "accepted", "candidate")]
    accepted = detail["revisions"][1]
    assert accepted["sha256"] == revision.sha256 and accepted["received_by_label"] == "arthur"
    assert accepted["documents"][0]["path"] == "documents/executed-contract.pdf"
    assert (accepted["keyed_by"], accepted["supersedes"]) == ("ana.ferreira@leafhealth.com", None)
    assert detail["revisions"][0]["issues"] >= 1

    records = api.get(accepted["records_url"], {"page_size": 4}).json()
    assert [r["row"] for r in records["results"]] == [1, 2, 3, 4]
    assert records["results"][0]["awp_discount_guarantee"] == "0.1750000000"
    assert [r["row"] for r in api.get(records["next"]).json()["results"]] == [5, 6]
    assert api.get(_path(revision, "records").replace("/1/", "/9/")).status_code == 404


def test_verify_by_another_approver_answers_200_with_the_revision(tmp_path, arthur):
    revision = received(tmp_path, arthur)

    answer = _api(second_approver()).post(_path(revision, "verify"),
                                          {"sha256": revision.sha256, "comment": "terms match"}, format="json")

    assert answer.status_code == 200, answer.content
    assert answer.json()["evidence_class"] == "governed" and answer.json()["verified_by"] == "vera"
    assert len(events(revision, VERIFIED)) == 1


def test_the_receiver_verifying_their_own_gets_403_with_the_reason(tmp_path, arthur):
    revision = received(tmp_path, arthur)

    answer = _api(arthur).post(_path(revision, "verify"), {"sha256": revision.sha256, "comment": "ok"},
                               format="json")

    assert answer.status_code == 403 and "four eyes" in answer.json()["detail"]
    revision.refresh_from_db()
    assert revision.evidence_class == EvidenceClass.CANDIDATE


@pytest.mark.parametrize("persona", ["olivia", "cecilia", "audrey", "adam"])
def test_those_who_are_not_approvers_get_403(tmp_path, request, persona):
    revision = received(tmp_path, None)
    api = _api(request.getfixturevalue(persona))

    verify = api.post(_path(revision, "verify"), {"sha256": revision.sha256, "comment": "ok"}, format="json")
    withdraw = api.post(_path(revision, "withdraw"), {"sha256": revision.sha256, "reason": "no"}, format="json")

    assert verify.status_code == withdraw.status_code == 403
    assert "verify_evidence" in verify.json()["detail"]


def test_stale_refused_and_already_governed_are_409_and_a_missing_comment_400(tmp_path, arthur):
    vera = second_approver()
    revision = received(tmp_path, arthur)
    refused = received(tmp_path, arthur, _unknown_format(), name="refused")
    api = _api(vera)

    stale = api.post(_path(revision, "verify"), {"sha256": "f" * 64, "comment": "ok"}, format="json")
    assert stale.status_code == 409 and "stale" in stale.json()["detail"]
    assert api.post(_path(revision, "verify"), {"sha256": revision.sha256}, format="json").status_code == 400
    packet_verify(actor=vera, revision=revision, sha256=revision.sha256, comment="ok")
    twice = api.post(_path(revision, "verify"), {"sha256": revision.sha256, "comment": "ok"}, format="json")
    assert twice.status_code == 409 and "already governed" in twice.json()["detail"]
    assert refused.revision is None  # a refusal has no revision number: there is no URL to verify it by
    assert api.post("/api/evidence-packets/999/revisions/1/verify/", {"sha256": "f" * 64, "comment": "ok"},
                    format="json").status_code == 404


def test_withdraw_answers_200_then_409_when_not_governed(tmp_path, arthur):
    vera = second_approver()
    revision = received(tmp_path, arthur)
    packet_verify(actor=vera, revision=revision, sha256=revision.sha256, comment="ok")
    api = _api(vera)

    first = api.post(_path(revision, "withdraw"), {"sha256": revision.sha256, "reason": "amended"}, format="json")
    again = api.post(_path(revision, "withdraw"), {"sha256": revision.sha256, "reason": "amended"}, format="json")

    assert first.status_code == 200 and first.json()["evidence_class"] == "candidate"
    assert first.json()["withdrawal_reason"] == "amended" and first.json()["withdrawn_at"]
    assert again.status_code == 409 and "only governed" in again.json()["detail"]


def _unknown_format():
    packet = contract_packet()
    packet.fields["format"] = "leaf-evidence/0"
    return packet


# --- through a real HTTP server --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_verify_over_http_by_session_and_token(live_server, tmp_path, seeded_roles):
    from tests.conftest import make_persona

    arthur = make_persona("arthur")
    vera = second_approver()
    revision = received(tmp_path, arthur)

    own = Api.signed_in(live_server.url, "arthur", PASSWORD).post(
        _path(revision, "verify"), {"sha256": revision.sha256, "comment": "mine"})
    assert own.status_code == 403 and "four eyes" in own.json()["detail"]

    answer = Api.with_token(live_server.url, vera).post(
        _path(revision, "verify"), {"sha256": revision.sha256, "comment": "terms match Exhibit C"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["evidence_class"] == "governed"
    revision.refresh_from_db()
    assert revision.verified_by == vera


@pytest.mark.django_db(transaction=True)
def test_the_verify_form_over_http(live_server, tmp_path, seeded_roles):
    """The page's form through the socket: the CSRF token of the page, the sha256 it carries, the redirect."""
    import re

    import requests

    from tests.conftest import make_persona

    arthur = make_persona("arthur")
    second_approver()
    revision = received(tmp_path, arthur)
    api = Api.signed_in(live_server.url, "vera", PASSWORD)
    page_path = f"/evidence/packets/{revision.packet_id}/revisions/{revision.revision}/"
    page = api.get(page_path).text
    form = re.search(r'<form method="post" action="([^"]+)" id="verify-form".*?</form>', page, re.DOTALL)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.group(0)).group(1)
    sha256 = re.search(r'name="sha256" value="([0-9a-f]{64})"', form.group(0)).group(1)

    answer = api.session.post(
        live_server.url + form.group(1), timeout=60,
        data={"csrfmiddlewaretoken": token, "sha256": sha256, "comment": "terms match Exhibit C"},
        headers={"Referer": live_server.url + page_path},
    )

    assert isinstance(answer, requests.Response) and answer.status_code == 200
    assert answer.url.endswith(page_path) and "Verified:" in answer.text
    revision.refresh_from_db()
    assert revision.evidence_class == EvidenceClass.GOVERNED and revision.verified_by.username == "vera"
