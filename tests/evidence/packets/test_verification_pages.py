"""The packet pages through the test client: the list with its class badges and filters, the detail with its
revisions, records and documents, the Verify and Withdraw forms offered only to those who may (never the
receiver), their refusals (403 four eyes and roles, 409 stale), and a document whose lake bytes changed."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from evidence.choices import EvidenceClass
from evidence.packets.verification import VERIFY_REFUSED, packet_verify
from tests.conftest import PASSWORD
from tests.evidence.packets.builders import (
    ACME,
    CONTRACT_PDF,
    contract_packet,
    pricing_packet,
    salesforce_packet,
)
from tests.evidence.packets.verification_helpers import events, received, second_approver

pytestmark = pytest.mark.django_db


def _signed_in(client, user):
    assert client.login(username=user.get_username(), password=PASSWORD)
    return client


def _detail_url(revision) -> str:
    return reverse("packets:revision-detail", args=[revision.packet_id, revision.revision])


def _verify_url(revision) -> str:
    return reverse("packets:revision-verify", args=[revision.packet_id, revision.revision])


def test_the_list_shows_each_packet_with_its_class_and_filters_by_class_kind_and_client(client, tmp_path, arthur):
    contract = received(tmp_path, arthur)
    received(tmp_path, arthur, pricing_packet(), name="pricing")
    packet_verify(actor=second_approver(), revision=contract, sha256=contract.sha256, comment="checked")
    _signed_in(client, arthur)

    page = client.get("/evidence/packets/").content.decode()
    assert "EVP-CONTRACT-0015e00000Qm7AcAAJ-2025" in page and "EVP-PRICING-LEAF-MAC-2025" in page
    assert 'data-class="governed"' in page and 'data-class="candidate"' in page

    governed = client.get("/evidence/packets/", {"evidence_class": "governed"}).content.decode()
    assert "EVP-CONTRACT" in governed and "EVP-PRICING" not in governed
    pricing = client.get("/evidence/packets/", {"kind": "pricing"}).content.decode()
    assert "EVP-PRICING" in pricing and "EVP-CONTRACT" not in pricing
    acme = client.get("/evidence/packets/", {"client": ACME}).content.decode()
    assert "EVP-CONTRACT" in acme and "EVP-PRICING" not in acme
    later = client.get("/evidence/packets/", {"period_from": "2026-01-01"}).content.decode()
    assert "No evidence packets match these filters." in later


def test_the_list_names_each_client_once_its_salesforce_account_is_governed(client, tmp_path, arthur):
    received(tmp_path, arthur)  # ACME's contract
    received(tmp_path, arthur, pricing_packet(), name="pricing")  # for any client
    _signed_in(client, arthur)
    before = client.get("/evidence/packets/").content.decode()
    assert f'<span class="packet-client"><span class="mono">{ACME}</span></span>' in before  # no governed name yet
    accounts = received(tmp_path, arthur, salesforce_packet(), name="salesforce")
    packet_verify(actor=second_approver(), revision=accounts, sha256=accounts.sha256, comment="checked")

    page = client.get("/evidence/packets/").content.decode()

    assert f'ACME Manufacturing <span class="mono muted">{ACME}</span>' in page
    row = re.search(r'<tr>\s*<td class="mono"><a [^>]*>EVP-PRICING[^<]*</a>.*?</tr>', page, re.DOTALL).group(0)
    assert "(any: a price list)" in row


def test_the_list_marks_a_packet_whose_newest_receipt_was_refused(client, tmp_path, arthur):
    received(tmp_path, arthur)
    broken = contract_packet()
    broken.fields["client_account_ids"] = ["0015e00000Qm7BwAAJ"]  # REVISION_CONFLICT: other clients
    assert received(tmp_path, arthur, broken, name="broken").status == "refused"
    _signed_in(client, arthur)

    refused = client.get("/evidence/packets/", {"evidence_class": "refused"}).content.decode()

    assert "EVP-CONTRACT" in refused and ">refused</span>" in refused


def test_the_detail_shows_revisions_records_documents_and_the_verify_form_to_another_approver(
    client, tmp_path, arthur
):
    revision = received(tmp_path, arthur)
    _signed_in(client, second_approver())

    page = client.get(_detail_url(revision)).content.decode()

    assert revision.sha256 in page
    assert 'id="verify-form"' in page and f'value="{revision.sha256}"' in page
    assert 'id="withdraw-form"' not in page
    assert CONTRACT_PDF in page and "CLM-2024-0113" in page and "retail brand" in page
    assert page.count("<tr>") >= 6  # the six terms
    assert ">arthur<" in page  # who received it


def test_the_detail_names_who_keyed_it_and_what_it_supersedes_saying_when_that_is_not_on_file(
    client, tmp_path, arthur
):
    original = received(tmp_path, arthur)
    amendment = contract_packet()
    amendment.fields.update(packet_id="EVP-CONTRACT-0015e00000Qm7AcAAJ-2025-A1",
                            supersedes=original.packet.packet_id)
    known = received(tmp_path, arthur, amendment, name="amendment")
    unknown_packet = contract_packet()
    unknown_packet.fields.update(packet_id="EVP-CONTRACT-0015e00000Qm7AcAAJ-2025-A2", supersedes="EVP-NOPE")
    unknown = received(tmp_path, arthur, unknown_packet, name="unknown")
    _signed_in(client, second_approver())

    page = client.get(_detail_url(known)).content.decode()
    assert 'id="keyed-by">ana.ferreira@leafhealth.com (revision 1)' in page
    supersedes = page.split('id="supersedes">', 1)[1].split("</dd>", 1)[0]
    assert f'href="{reverse("packets:packet-detail", args=[original.packet_id])}"' in supersedes
    assert "period start (2025-01-01)" in supersedes

    page = client.get(_detail_url(unknown)).content.decode()
    supersedes = page.split('id="supersedes">', 1)[1].split("</dd>", 1)[0]
    assert "EVP-NOPE" in supersedes and "not on file" in supersedes and "check the id before verifying" in supersedes
    assert 'id="supersedes"' not in client.get(_detail_url(original)).content.decode()


@pytest.mark.parametrize("persona", ["arthur", "olivia", "cecilia", "audrey"])
def test_no_verify_form_for_the_receiver_nor_for_those_who_may_not(client, tmp_path, request, arthur, persona):
    revision = received(tmp_path, arthur)
    _signed_in(client, request.getfixturevalue(persona))

    page = client.get(_detail_url(revision)).content.decode()

    assert 'id="verify-form"' not in page and 'id="withdraw-form"' not in page
    assert ('id="own-receipt"' in page) == (persona == "arthur")


def test_another_approver_verifies_on_the_page(client, tmp_path, arthur):
    revision = received(tmp_path, arthur)
    _signed_in(client, second_approver())

    answer = client.post(_verify_url(revision), {"sha256": revision.sha256, "comment": "terms match Exhibit C"},
                         follow=True)

    assert answer.status_code == 200
    page = answer.content.decode()
    assert "Verified:" in page and 'id="verified-note"' in page and 'id="withdraw-form"' in page
    assert "terms match Exhibit C" in page  # the comment, from the audit trail
    revision.refresh_from_db()
    assert revision.evidence_class == EvidenceClass.GOVERNED and revision.verified_by.username == "vera"


def test_the_receiver_posting_verify_is_refused_with_403(client, tmp_path, arthur):
    revision = received(tmp_path, arthur)
    _signed_in(client, arthur)

    answer = client.post(_verify_url(revision), {"sha256": revision.sha256, "comment": "mine, but fine"})

    assert answer.status_code == 403
    assert "four eyes" in answer.content.decode()
    revision.refresh_from_db()
    assert revision.evidence_class == EvidenceClass.CANDIDATE
    assert len(events(revision, VERIFY_REFUSED)) == 1


@pytest.mark.parametrize("persona", ["olivia", "cecilia", "audrey"])
def test_operators_reviewers_and_auditors_posting_verify_get_403(client, tmp_path, request, arthur, persona):
    revision = received(tmp_path, None)
    _signed_in(client, request.getfixturevalue(persona))

    answer = client.post(_verify_url(revision), {"sha256": revision.sha256, "comment": "looks fine"})

    assert answer.status_code == 403 and "verify_evidence" in answer.content.decode()
    revision.refresh_from_db()
    assert revision.evidence_class == EvidenceClass.CANDIDATE


def test_a_stale_sha256_is_refused_on_the_page_with_409(client, tmp_path, arthur):
    revision = received(tmp_path, arthur)
    _signed_in(client, second_approver())

    answer = client.post(_verify_url(revision), {"sha256": "0" * 64, "comment": "checked"})

    assert answer.status_code == 409 and "stale" in answer.content.decode()
    revision.refresh_from_db()
    assert revision.evidence_class == EvidenceClass.CANDIDATE


def test_a_verify_without_a_comment_says_so(client, tmp_path, arthur):
    revision = received(tmp_path, arthur)
    _signed_in(client, second_approver())

    answer = client.post(_verify_url(revision), {"sha256": revision.sha256, "comment": ""})

    assert answer.status_code == 400 and "Write a comment" in answer.content.decode()


def test_a_verify_with_a_comment_past_the_limit_says_so_and_verifies_nothing(client, tmp_path, arthur):
    revision = received(tmp_path, arthur)
    _signed_in(client, second_approver())

    answer = client.post(_verify_url(revision), {"sha256": revision.sha256, "comment": "x" * 10_001})

    assert answer.status_code == 400
    assert "Ensure this value has at most 10000 characters (it has 10001)." in answer.content.decode()
    revision.refresh_from_db()
    assert revision.evidence_class == EvidenceClass.CANDIDATE


def test_withdraw_on_the_page(client, tmp_path, arthur):
    vera = second_approver()
    revision = received(tmp_path, arthur)
    packet_verify(actor=vera, revision=revision, sha256=revision.sha256, comment="checked")
    _signed_in(client, arthur)  # the receiver may withdraw: it takes authority away, never gives it

    url = reverse("packets:revision-withdraw", args=[revision.packet_id, revision.revision])
    answer = client.post(url, {"sha256": revision.sha256, "reason": "wrong exhibit"}, follow=True)

    assert "Withdrawn:" in answer.content.decode() and "wrong exhibit" in answer.content.decode()
    revision.refresh_from_db()
    assert revision.evidence_class == EvidenceClass.CANDIDATE and revision.withdrawal_reason == "wrong exhibit"


def test_a_document_downloads_with_its_bytes(client, tmp_path, arthur):
    revision = received(tmp_path, arthur)
    _signed_in(client, arthur)

    answer = client.get(reverse("packets:document-download", args=[revision.packet_id, revision.revision, 0]))

    assert answer.status_code == 200
    assert b"".join(answer.streaming_content) == contract_packet().files[CONTRACT_PDF]
    assert 'filename="executed-contract.pdf"' in answer["Content-Disposition"]
    (event,) = events(revision, "evidence_packet.document_downloaded")  # every copy that left is on record
    assert event.actor_label == "arthur" and event.after["path"] == CONTRACT_PDF
    assert event.after["sha256"] == answer["X-Content-SHA256"] and event.after["revision"] == revision.revision


def test_a_tampered_document_is_not_served(client, tmp_path, arthur):
    revision = received(tmp_path, arthur)
    stored = Path(settings.LAKE_URL) / revision.bronze_prefix / "files" / CONTRACT_PDF
    os.chmod(stored, 0o644)
    stored.write_bytes(b"%PDF-1.7\n% a different contract\n%%EOF\n")
    _signed_in(client, arthur)

    answer = client.get(reverse("packets:document-download", args=[revision.packet_id, revision.revision, 0]))

    assert answer.status_code == 409
    page = answer.content.decode()
    assert "Document not served" in page and CONTRACT_PDF in page
    assert "no longer matches its SHA-256" in page
    assert re.search(r"EVP-CONTRACT-0015e00000Qm7AcAAJ-2025 r1", page)
    (event,) = events(revision, "evidence_packet.document_refused")
    assert event.after["path"] == CONTRACT_PDF and "no longer matches its SHA-256" in event.after["reason"]
    assert not events(revision, "evidence_packet.document_downloaded")


def test_the_records_table_pages_by_keyset(client, tmp_path, arthur):
    packet = pricing_packet()
    packet.rows = [["LEAF-MAC-2025", f"{n:011d}", f"Drug {n}", "0.0100", "2025-01-01", ""] for n in range(1, 131)]
    revision = received(tmp_path, arthur, packet, name="pricing")
    _signed_in(client, arthur)

    first = client.get(_detail_url(revision)).content.decode()
    assert "00000000001" in first and "00000000100" in first and "00000000101" not in first
    following = re.search(r'href="(\?after=\d+)"', first).group(1).replace("&amp;", "&")
    second = client.get(_detail_url(revision) + following).content.decode()
    assert "00000000101" in second and "00000000130" in second and "00000000100" not in second


def test_the_admin_is_read_only_so_nobody_verifies_there(client, tmp_path, arthur):
    revision = received(tmp_path, None)
    arthur.is_staff = True
    arthur.save()
    _signed_in(client, arthur)
    url = reverse("admin:evidence_packetrevision_change", args=[revision.pk])

    assert client.get(url).status_code == 200  # staff with the provenance capability may look
    answer = client.post(url, {"evidence_class": "governed", "verified_by": arthur.pk})

    assert answer.status_code == 403
    revision.refresh_from_db()
    assert revision.evidence_class == EvidenceClass.CANDIDATE and revision.verified_by is None
    assert client.get(reverse("admin:evidence_packetrevision_add")).status_code == 403
