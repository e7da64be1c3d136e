"""Refused packet receipts, on the pages and in the API: the list (newest first, keyset pages, linked from the
packet list) and a refusal's detail with every issue located; readers only (reviewers read, outsiders 403)."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from evidence.packets.services import packet_receive
from tests.conftest import PASSWORD
from tests.evidence.packets.builders import contract_packet, pricing_packet

pytestmark = pytest.mark.django_db

# (code, file, row, column) of each issue the broken contract packet must show, located.
EXPECTED = {
    ("FIELD_INVALID", "packet.json", None, ""),
    ("VALUE_INVALID", "terms.csv", 3, "awp_discount_guarantee"),
    ("DUPLICATE_KEY", "terms.csv", 7, ""),
}


def _refused(tmp_path, actor, *, name: str = "broken"):
    """A contract packet broken three ways: a missing field, a bad rate on row 3, a duplicated row 1 (row 7)."""
    packet = contract_packet()
    del packet.fields["keyed_by"]
    packet.rows[2][5] = "17.5%"
    packet.rows.append(list(packet.rows[0]))
    source = packet.zip(tmp_path / f"{name}.zip")
    outcome = packet_receive(actor=actor, source=source, original_name=source.name)
    assert outcome.status == "refused"
    return outcome.revision


def _located(issues) -> set[tuple]:
    return {(i["code"], i["file"], i["row"], i["column"]) for i in issues}


def test_the_refusal_list_and_detail_pages_show_every_issue_located(client, tmp_path, olivia, cecilia):
    older = _refused(tmp_path, olivia, name="first")
    bad_pricing = pricing_packet()
    bad_pricing.fields["records"] = {**bad_pricing.records_entry(), "sha256": "0" * 64}
    newer = packet_receive(actor=olivia, source=bad_pricing.write(tmp_path / "pricing"),
                           original_name="pricing").revision
    assert client.login(username="cecilia", password=PASSWORD)

    packets = client.get("/evidence/packets/").content.decode()
    assert 'href="/evidence/packets/refusals/"' in packets

    listing = client.get("/evidence/packets/refusals/").content.decode()
    assert listing.index(newer.received_sha256) < listing.index(older.received_sha256)  # newest first
    assert "first.zip" in listing and "olivia" in listing and "3 issues" in listing
    assert f'href="/evidence/packets/refusals/{older.pk}/"' in listing
    only = client.get("/evidence/packets/refusals/", {"code": "duplicate_key"}).content.decode()
    assert older.received_sha256 in only and newer.received_sha256 not in only

    detail = client.get(f"/evidence/packets/refusals/{older.pk}/")
    assert detail.status_code == 200
    page = detail.content.decode()
    assert older.received_sha256 in page and "EVP-CONTRACT-0015e00000Qm7AcAAJ-2025" in page
    for code, file, row, column in EXPECTED:
        assert code in page and file in page and column in page
    assert '<td class="mono issue-row">3</td>' in page and '<td class="mono issue-row">7</td>' in page
    assert "<script>" not in page and "style=" not in page  # strict CSP: nothing inline

    assert client.get("/evidence/packets/refusals/999999/").status_code == 404


def test_the_api_lists_refusals_newest_first_and_gives_each_issue_located(tmp_path, olivia, cecilia):
    older = _refused(tmp_path, olivia, name="first")
    newer = _refused(tmp_path, olivia, name="second")
    api = APIClient()
    api.force_authenticate(cecilia)

    body = api.get("/api/evidence-packet-refusals/", {"page_size": 1}).json()
    assert [r["id"] for r in body["results"]] == [newer.pk]
    first = body["results"][0]
    assert (first["original_name"], first["received_by_label"], first["issue_count"]) == ("second.zip", "olivia", 3)
    assert first["received_sha256"] == newer.received_sha256 and first["packet"] is None
    following = api.get(body["next"]).json()
    assert [r["id"] for r in following["results"]] == [older.pk]

    detail = api.get(f"/api/evidence-packet-refusals/{older.pk}/").json()
    assert _located(detail["issues"]) == EXPECTED
    assert all(i["severity"] == "error" and i["message"] for i in detail["issues"])
    assert [i["position"] for i in detail["issues"]] == sorted(i["position"] for i in detail["issues"])
    assert api.get("/api/evidence-packet-refusals/999999/").status_code == 404


@pytest.mark.parametrize("path", ["/evidence/packets/refusals/", "/evidence/packets/refusals/{pk}/",
                                  "/api/evidence-packet-refusals/", "/api/evidence-packet-refusals/{pk}/"])
def test_an_outsider_is_refused_403(path, client, tmp_path, olivia, oscar):
    refusal = _refused(tmp_path, olivia)
    assert client.login(username="oscar", password=PASSWORD)
    assert client.get(path.format(pk=refusal.pk)).status_code == 403


def test_a_refused_receipt_of_an_accepted_packet_links_to_the_packet_that_still_stands(client, tmp_path, olivia,
                                                                                       cecilia):
    accepted = packet_receive(actor=olivia, source=contract_packet().write(tmp_path / "good"),
                              original_name="good").revision
    other_clients = contract_packet()
    other_clients.fields["client_account_ids"] = ["0015e00000Qm7BwAAJ"]  # REVISION_CONFLICT
    refusal = packet_receive(actor=olivia, source=other_clients.write(tmp_path / "conflict"),
                             original_name="conflict").revision
    assert client.login(username="cecilia", password=PASSWORD)

    page = client.get(f"/evidence/packets/refusals/{refusal.pk}/").content.decode()

    assert "REVISION_CONFLICT" in page
    assert f'href="/evidence/packets/{accepted.packet_id}/"' in page and "still stand" in page
