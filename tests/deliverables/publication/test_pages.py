"""The publication pages: the request form of a deliverable's page, the publication's page (hash, gates,
reconciliation state, the forms each person may use), the decisions through the pages, the list and the nav."""
from __future__ import annotations

import re

import pytest
from django.utils.html import escape

from console.models import AuditEvent
from deliverables.models import Deliverable, Publication
from evidence.packets.models import AccountRow

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "curated"])


def test_an_operator_requests_on_the_deliverable_page_and_an_approver_publishes_on_the_publication_page(
        workbook, olivia, arthur, cecilia, client):
    client.force_login(olivia)
    page = client.get(f"/deliverables/{workbook.pk}/").content.decode()
    assert 'id="request-publication-form"' in page and 'href="/publications/"' in page  # the form, the nav
    assert "Build dashboard payload" in page
    assert 'id="build-payload"' in client.get(f"/runs/{workbook.run_id}/").content.decode()
    payload = client.post("/deliverables/new/", {"run": workbook.run_id, "client": workbook.client_account_id,
                                                 "kind": "dashboard_payload"})
    queued = Deliverable.objects.get(kind="dashboard_payload")
    assert payload["Location"] == f"/deliverables/{queued.pk}/" and queued.state == "queued"
    assert [s["name"] for s in queued.progress["steps"]] == ["data", "payload", "store"]

    asked = client.post("/publications/request/", {"deliverable": workbook.pk, "comment": "Q4 for the client"})
    publication = Publication.objects.get()
    assert asked.status_code == 302 and asked["Location"] == f"/publications/{publication.pk}/"
    mine = client.get(asked["Location"]).content.decode()
    assert workbook.sha256 in mine and 'data-gate="inputs_current" data-passed="true"' in mine
    assert 'id="publication-reconciliation"' in mine and "(shown, not gating)" in mine
    assert 'id="approve-form"' not in mine and 'id="withdraw-form"' in mine and "you requested it" in mine
    assert client.post(f"/publications/{publication.pk}/approve/",
                       {"comment": "mine", "sha256": workbook.sha256}).status_code == 403

    client.force_login(arthur)
    theirs = client.get(f"/publications/{publication.pk}/").content.decode()
    assert 'id="approve-form"' in theirs and f'value="{workbook.sha256}"' in theirs
    no_comment = client.post(f"/publications/{publication.pk}/approve/", {"comment": "", "sha256": workbook.sha256})
    assert no_comment.status_code == 409 and "comment: an approval needs a comment" in no_comment.content.decode()
    # The refusal is said on the publication's page, above its forms, and what was typed stays in them.
    again = no_comment.content.decode()
    assert 'id="decision-refusal"' in again and 'id="approve-form"' in again and f'value="{workbook.sha256}"' in again
    wrong = client.post(f"/publications/{publication.pk}/approve/", {"comment": "looks right", "sha256": "0" * 64})
    page = wrong.content.decode()
    assert wrong.status_code == 409 and 'id="decision-refusal"' in page
    assert f'value="{"0" * 64}"' in page and ">\nlooks right</textarea>" in page
    rejected = client.post(f"/publications/{publication.pk}/reject/", {"comment": ""})
    assert rejected.status_code == 409 and 'id="decision-refusal"' in rejected.content.decode()
    assert Publication.objects.get().state == "requested"
    done = client.post(f"/publications/{publication.pk}/approve/", {"comment": "ok", "sha256": workbook.sha256},
                       follow=True).content.decode()
    assert "Published as version 1." in done and 'id="retract-form"' in done
    client.force_login(cecilia)  # a reviewer, who may not retract, still reads the decision in its panel
    decided = client.get(f"/publications/{publication.pk}/").content.decode()
    assert re.search(r'id="decision-summary">Approved by arthur and published as version 1, <time', decided)
    client.force_login(arthur)
    assert f"published/{workbook.client_account_id}/workbook/1/" in done

    listed = client.get("/publications/?state=published&kind=workbook").content.decode()
    assert f'data-publication="{publication.pk}"' in listed
    name = AccountRow.objects.filter(revision__status="accepted", account_id=workbook.client_account_id).values_list(
        "account_name", flat=True).first()
    assert name  # the client by its governed name, the id beside it, on the list, the page and home
    shown = f'{escape(name)} <span class="mono muted">{workbook.client_account_id}</span>'
    assert shown in listed and shown in done and f"History of {escape(name)}" in done
    home = re.search(r'<table class="work-published">.*?</table>', client.get("/").content.decode(), re.DOTALL)
    assert f'{escape(name)} <span class="mono nowrap muted">{workbook.client_account_id}</span>' in home.group(0)
    assert 'data-publication' not in client.get("/publications/?state=retracted").content.decode()
    download = client.get(f"/publications/{publication.pk}/download/")
    assert download.status_code == 200 and download["Content-Disposition"].endswith('.xlsx"')


def test_the_run_deliverable_and_publication_pages_link_an_auditor_to_their_events(workbook, olivia, adam, client):
    from deliverables.publication.services import publication_request

    publication = publication_request(actor=olivia, deliverable=workbook, comment="for the client")
    pages = {f"/runs/{workbook.run_id}/": ("deliverables.calculationrun", workbook.run_id),
             f"/deliverables/{workbook.pk}/": ("deliverables.deliverable", workbook.pk),
             f"/publications/{publication.pk}/": ("deliverables.publication", publication.pk)}
    client.force_login(adam)  # an admin reads the trail
    for url, (object_type, object_id) in pages.items():
        link = f"/audit/?object_type={object_type}&amp;object_id={object_id}"
        assert link in client.get(url).content.decode(), url
        events = client.get(link.replace("&amp;", "&")).content.decode()
        shown = {int(seq) for seq in re.findall(r'<tr data-seq="(\d+)"', events)}
        expected = set(AuditEvent.objects.filter(object_type=object_type, object_id=str(object_id))
                       .values_list("seq", flat=True))
        assert expected and shown == expected, url  # exactly that object's events
    client.force_login(olivia)  # an operator does not read the trail: no link
    assert "/audit/?object_type=" not in client.get(f"/publications/{publication.pk}/").content.decode()


def test_the_approve_form_without_a_hash_or_with_one_that_is_not_a_hash_is_400_naming_it(workbook, olivia, arthur,
                                                                                         client):
    client.force_login(olivia)
    client.post("/publications/request/", {"deliverable": workbook.pk, "comment": "Q4"})
    publication = Publication.objects.get()
    client.force_login(arthur)
    for sha256 in ("", "zz", "g" * 64):
        refused = client.post(f"/publications/{publication.pk}/approve/", {"comment": "ok", "sha256": sha256})
        assert refused.status_code == 400, sha256
        assert "SHA-256 you checked: " in refused.content.decode(), sha256
    publication.refresh_from_db()
    assert publication.state == "requested"
    assert not AuditEvent.objects.filter(action="publication.refused").exists()
    done = client.post(f"/publications/{publication.pk}/approve/", {"comment": "ok", "sha256": workbook.sha256})
    assert done.status_code == 302


def test_the_publication_gates_are_named_in_words_with_their_code_beside(workbook, olivia, client):
    client.force_login(olivia)
    client.post("/publications/request/", {"deliverable": workbook.pk, "comment": "Q4 for the client"})
    page = client.get(f"/publications/{Publication.objects.get().pk}/").content.decode()
    gates = re.search(r'<section id="publication-gates".*?</section>', page, re.DOTALL).group(0)
    for code, words in (("run_succeeded", "Run succeeded"), ("artifact_intact", "Artifact intact"),
                        ("inputs_current", "Inputs current")):
        assert f'<td>{words} <code class="muted nowrap">{code}</code></td>' in gates
    assert '<td class="mono">' not in gates
