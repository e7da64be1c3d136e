"""Promotion pages: the queue by state, a new request, a request's gates, flaws and decisions, the refusal
rule (the API's too: 403 for who asks, a permission or four eyes; 409 for when or what; 400 for an
incomplete form), and the curated registry."""
from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from console import roles
from console.models import AuditEvent
from promotion import gates, selectors, services, tasks
from promotion.gates import CuratedSchema, flaw_fingerprint, flaws_behind
from promotion.models import FlawDisposition, PromotionRequest
from tests.promotion.conftest import (
    CLAIMS, CURATED_DB, REBATES, approve, checked, dataset, disposition_all, forced, promoted, second_manifest,
)


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def refusals(object_id, attempt: str) -> list[AuditEvent]:
    return [
        event for event in AuditEvent.objects.filter(
            action="promotion.refused", object_type="promotion.promotionrequest", object_id=str(object_id)
        )
        if event.after["attempt"] == attempt
    ]


@pytest.fixture
def blocked_request(manifest, olivia) -> PromotionRequest:
    """Olivia's request for the claims dataset with no flaw dispositioned: the flaws gate fails."""
    request = checked(
        services.promotion_request(actor=olivia, manifest=manifest, datasets=[dataset(manifest)], enqueue=False)
    )
    assert request.state == "blocked"
    return request


def awaiting_fingerprints(request: PromotionRequest) -> list[str]:
    decided = set(FlawDisposition.objects.filter(manifest=request.manifest).values_list("fingerprint", flat=True))
    found = {flaw_fingerprint(flaw) for flaw in flaws_behind(request.manifest, list(request.datasets.all()))}
    return sorted(found - decided)


# --- who may see ----------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_login(client, ready_request):
    for url in ("/promotions/", f"/promotions/{ready_request.pk}/", "/promotions/curated/", "/promotions/new/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url


def test_an_outsider_gets_403_on_every_page(client, oscar, ready_request):
    client.force_login(oscar)
    for url in (
        "/promotions/", f"/promotions/{ready_request.pk}/", f"/promotions/{ready_request.pk}/progress/",
        "/promotions/curated/", f"/promotions/new/?manifest={ready_request.manifest_id}",
    ):
        assert client.get(url).status_code == 403, url


def test_an_outsiders_approval_is_refused_with_403_and_audited(client, oscar, ready_request):
    client.force_login(oscar)
    response = client.post(f"/promotions/{ready_request.pk}/approve/", {"approve-comment": "looks fine"})
    assert response.status_code == 403
    assert "approve_promotion permission" in response.content.decode()
    ready_request.refresh_from_db()
    assert ready_request.state == "ready" and ready_request.approved_by is None
    assert len(refusals(ready_request.pk, "approve")) == 1


def test_the_nav_links_promotions_and_curated_for_readers_only(client, cecilia, oscar):
    client.force_login(cecilia)
    body = client.get("/").content.decode()
    assert 'href="/promotions/"' in body and 'href="/promotions/curated/"' in body
    client.force_login(oscar)
    body = client.get("/").content.decode()
    assert 'href="/promotions/"' not in body


# --- the queue ------------------------------------------------------------------------------------


def test_the_queue_filters_by_state_and_counts_each_state(client, cecilia, olivia, ready_request):
    blocked_request = forced(ready_request.manifest, requested_by=olivia, state="blocked")
    client.force_login(cecilia)
    page = text(client.get("/promotions/"))
    assert f'href="/promotions/{ready_request.pk}/"' in page and f'href="/promotions/{blocked_request.pk}/"' in page
    assert re.search(r'data-state="ready"[^>]*>Ready for approval <span class="count">1</span>', page)
    assert re.search(r'data-state="loading"[^>]*>Loading <span class="count">0</span>', page)

    ready = text(client.get("/promotions/?state=ready"))
    assert f'href="/promotions/{ready_request.pk}/"' in ready
    assert f'href="/promotions/{blocked_request.pk}/"' not in ready
    assert ready_request.manifest.load_id in ready and CLAIMS in ready and "olivia" in ready

    promoted = text(client.get("/promotions/?state=promoted"))
    assert "No promotion request matches these filters." in promoted


def test_an_empty_queue_tells_an_operator_where_to_start(client, olivia):
    client.force_login(olivia)
    assert "use “Request promotion”" in text(client.get("/promotions/"))


def test_the_queue_pages_newest_first(client, cecilia, manifest, olivia):
    from promotion.views import PAGE_SIZE

    made = [forced(manifest, requested_by=olivia, state="draft").pk for _ in range(PAGE_SIZE + 1)]
    client.force_login(cecilia)
    first = text(client.get("/promotions/"))
    ids = [int(i) for i in re.findall(r'href="/promotions/(\d+)/"', first)]
    assert ids == sorted(made, reverse=True)[:PAGE_SIZE]
    next_url = re.search(r'href="(\?after=\d+)"[^>]*rel="next"', first).group(1)
    rest = [int(i) for i in re.findall(r'href="/promotions/(\d+)/"', text(client.get("/promotions/" + next_url)))]
    assert rest == [min(made)]


# session, user, the user's and its groups' permissions, the header's groups, the session save
# (savepoint, update, release): see tests/evidence/test_intake_pages.py
SHELL = 8


def test_the_queue_query_count_is_locked(client, cecilia, manifest, olivia, django_assert_num_queries):
    for _ in range(5):
        forced(manifest, requested_by=olivia, state="draft")
    client.force_login(cecilia)
    client.get("/promotions/")
    # the keyset page (with manifest, requester, approver), its datasets, the counts per state
    with django_assert_num_queries(SHELL + 3):
        assert client.get("/promotions/").status_code == 200
    # the htmx fragment: no tabs, and no header (so not its groups either)
    with django_assert_num_queries(SHELL - 1 + 2):
        assert client.get("/promotions/?state=draft", HTTP_HX_REQUEST="true").status_code == 200


# --- a new request --------------------------------------------------------------------------------


def test_a_complete_manifest_offers_the_request_and_it_redirects_to_the_detail(client, olivia, manifest):
    client.force_login(olivia)
    assert 'id="request-promotion"' in client.get(f"/sources/{manifest.pk}/").content.decode()
    form = text(client.get(f"/promotions/new/?manifest={manifest.pk}"))
    assert 'id="request-form"' in form and CLAIMS in form
    assert 'name="target" value="migration"' in form and "Backend contract" not in form  # olivia: no contract
    claims = dataset(manifest)
    response = client.post(f"/promotions/new/?manifest={manifest.pk}", {"manifest": manifest.pk, "datasets": [claims.pk],
                                                                         "target": "migration"})
    created = PromotionRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/promotions/{created.pk}/"
    assert (created.requested_by, list(created.datasets.all()), created.state) == (olivia, [claims], "checking")


def test_the_contract_target_is_offered_only_with_its_permission_and_refused_without(client, olivia, adam, manifest):
    client.force_login(adam)
    assert "Backend contract" in text(client.get(f"/promotions/new/?manifest={manifest.pk}"))
    client.force_login(olivia)
    response = client.post(f"/promotions/new/?manifest={manifest.pk}",
                           {"manifest": manifest.pk, "datasets": [dataset(manifest).pk], "target": "contract"})
    assert response.status_code == 403
    assert "request_contract_promotion permission" in text(response)
    assert not PromotionRequest.objects.exists()


def test_a_partial_manifest_is_not_offered_and_a_crafted_post_is_refused_with_the_reason(
    client, olivia, partial_manifest
):
    client.force_login(olivia)
    assert 'id="request-promotion"' not in client.get(f"/sources/{partial_manifest.pk}/").content.decode()
    page = text(client.get(f"/promotions/new/?manifest={partial_manifest.pk}"))
    assert 'id="request-form"' not in page and "This manifest cannot be promoted." in page
    response = client.post(f"/promotions/new/?manifest={partial_manifest.pk}",
                           {"manifest": partial_manifest.pk, "datasets": [dataset(partial_manifest).pk]})
    assert response.status_code == 409
    assert "Refused: the manifest is partial: only a complete manifest can be promoted" in text(response)
    assert not PromotionRequest.objects.exists()
    assert AuditEvent.objects.filter(action="promotion.refused", object_id=str(partial_manifest.pk)).count() == 1


# --- a request's detail ---------------------------------------------------------------------------


def test_the_detail_shows_each_gate_and_why_it_failed(client, cecilia, blocked_request):
    client.force_login(cecilia)
    page = text(client.get(f"/promotions/{blocked_request.pk}/"))
    assert re.search(r'data-gate="calculation_flaws_dispositioned" data-outcome="failed"', page)
    assert re.search(r'data-gate="manifest_complete" data-outcome="passed"', page)
    result = blocked_request.gate_results.get(current=True, gate="calculation_flaws_dispositioned")
    first = result.details[0]
    assert first["what"] in page.replace("&#x27;", "'") and f'href="{first["link"]}"' in page
    assert f"v{result.version}, ran" in page


def test_the_gates_are_named_in_words_with_their_code_beside(client, cecilia, blocked_request):
    client.force_login(cecilia)
    page = text(client.get(f"/promotions/{blocked_request.pk}/"))
    assert '<h3>Manifest complete <code class="muted">manifest_complete</code>' in page
    assert '<h3>Load id <code class="muted">load_id</code>' in page
    assert "<h3><code>" not in page


def decision(page: str) -> str:
    return re.search(r'<section id="decision".*?</section>', page).group(0)


@CURATED_DB
def test_a_promoted_request_says_in_its_decision_who_approved_it_when_and_why(
        client, cecilia, manifest, olivia, arthur, curated_db):
    request = promoted(manifest, CLAIMS, olivia, arthur)
    client.force_login(cecilia)
    panel = decision(text(client.get(f"/promotions/{request.pk}/")))
    assert f'id="decision-outcome">Approved by <strong>arthur</strong>, <time datetime="{request.approved_at.isoformat()}' in panel
    assert '<blockquote class="comment">figures match Domo</blockquote>' in panel
    assert "Promoted <time" in panel and "the load finished" in panel


def test_a_rejected_request_says_in_its_decision_who_rejected_it_and_why(client, arthur, cecilia, blocked_request):
    client.force_login(arthur)
    client.post(f"/promotions/{blocked_request.pk}/reject/", {"reject-comment": "wrong export"})
    client.force_login(cecilia)
    panel = decision(text(client.get(f"/promotions/{blocked_request.pk}/")))
    assert 'id="decision-outcome">Rejected by <strong>arthur</strong>, <time' in panel
    assert '<blockquote class="comment">wrong export</blockquote>' in panel


def test_a_cancelled_request_says_in_its_decision_who_cancelled_it_and_why(client, olivia, cecilia, blocked_request):
    client.force_login(olivia)
    client.post(f"/promotions/{blocked_request.pk}/cancel/", {"cancel-reason": "the export was re-run"})
    client.force_login(cecilia)
    panel = decision(text(client.get(f"/promotions/{blocked_request.pk}/")))
    assert 'id="decision-outcome">Cancelled by <strong>olivia</strong>, <time' in panel
    assert '<blockquote class="comment">the export was re-run</blockquote>' in panel


def test_the_requester_does_not_see_approve_and_reads_that_a_second_person_decides(client, olivia, ready_request):
    client.force_login(olivia)
    page = text(client.get(f"/promotions/{ready_request.pk}/"))
    assert 'id="approve-form"' not in page and 'id="reject-form"' not in page
    assert "awaiting a second person's approval" in page.replace("&#x27;", "'")
    assert 'id="cancel-button"' in page and 'id="recheck-button"' in page


def test_a_reader_without_approve_sees_no_decision_and_no_disposition_form(client, cecilia, blocked_request):
    client.force_login(cecilia)
    page = text(client.get(f"/promotions/{blocked_request.pk}/"))
    for hidden in ('id="approve-form"', 'id="reject-form"', 'class="disposition-form"', 'id="recheck-button"',
                   'id="cancel-button"'):
        assert hidden not in page, hidden


def test_an_approver_sees_approve_and_reject(client, arthur, ready_request):
    client.force_login(arthur)
    page = text(client.get(f"/promotions/{ready_request.pk}/"))
    assert 'id="approve-form"' in page and 'id="reject-form"' in page
    assert "awaiting a second person" not in page


def test_an_approval_with_a_comment_approves_and_shows_it(client, arthur, ready_request):
    client.force_login(arthur)
    response = client.post(f"/promotions/{ready_request.pk}/approve/", {"approve-comment": "figures match Domo"})
    assert response.status_code == 302
    ready_request.refresh_from_db()
    assert (ready_request.state, ready_request.approved_by, ready_request.approval_comment) == (
        "approved", arthur, "figures match Domo")
    page = text(client.get(f"/promotions/{ready_request.pk}/"))
    assert "figures match Domo" in page and 'hx-trigger="every 2s"' in page  # the load is followed


def test_an_approval_without_a_comment_is_400_and_changes_nothing(client, arthur, ready_request):
    client.force_login(arthur)
    response = client.post(f"/promotions/{ready_request.pk}/approve/", {"approve-comment": " "})
    assert response.status_code == 400 and "Write a comment" in text(response)
    ready_request.refresh_from_db()
    assert ready_request.state == "ready"


@pytest.mark.catalogue(28)
def test_self_approval_is_refused_with_403_the_state_unchanged_and_audited(client, olivia, ready_request):
    # Olivia holds both roles: she may approve others' requests, never her own.
    olivia.groups.add(Group.objects.get(name=roles.APPROVER))
    client.force_login(olivia)
    assert 'id="approve-form"' not in client.get(f"/promotions/{ready_request.pk}/").content.decode()
    response = client.post(f"/promotions/{ready_request.pk}/approve/", {"approve-comment": "mine, approved"})
    assert response.status_code == 403
    assert "Refused: the requester cannot approve their own request (four eyes)" in text(response)
    ready_request.refresh_from_db()
    assert (ready_request.state, ready_request.approved_by) == ("ready", None)
    [refused] = refusals(ready_request.pk, "approve")
    assert refused.actor == olivia and "four eyes" in refused.after["reason"]


def test_self_rejection_is_refused_with_403_the_state_unchanged_and_audited(client, olivia, ready_request):
    olivia.groups.add(Group.objects.get(name=roles.APPROVER))
    client.force_login(olivia)
    assert 'id="reject-form"' not in client.get(f"/promotions/{ready_request.pk}/").content.decode()
    response = client.post(f"/promotions/{ready_request.pk}/reject/", {"reject-comment": "mine, rejected"})
    assert response.status_code == 403
    assert "Refused: the requester cannot reject their own request; cancel it" in text(response)
    ready_request.refresh_from_db()
    assert (ready_request.state, ready_request.rejected_by) == ("ready", None)
    [refused] = refusals(ready_request.pk, "reject")
    assert refused.actor == olivia


def test_approving_a_blocked_request_is_409_with_the_reason(client, arthur, blocked_request):
    client.force_login(arthur)
    response = client.post(f"/promotions/{blocked_request.pk}/approve/", {"approve-comment": "ok"})
    assert response.status_code == 409
    assert "only a ready request can be approved; this one is blocked" in text(response)
    blocked_request.refresh_from_db()
    assert blocked_request.state == "blocked"


def test_a_rejection_with_a_comment_rejects_and_shows_it(client, arthur, blocked_request):
    client.force_login(arthur)
    client.post(f"/promotions/{blocked_request.pk}/reject/", {"reject-comment": "wrong export"})
    blocked_request.refresh_from_db()
    assert (blocked_request.state, blocked_request.rejected_by) == ("rejected", arthur)
    assert 'id="rejection-comment">wrong export' in text(client.get(f"/promotions/{blocked_request.pk}/"))


def test_the_requester_cancels_with_a_reason_and_a_reader_may_not(client, olivia, cecilia, blocked_request):
    url, reason = f"/promotions/{blocked_request.pk}/cancel/", {"cancel-reason": "wrong export"}
    client.force_login(cecilia)
    assert client.post(url, reason).status_code == 403
    client.force_login(olivia)
    blank = client.post(url, {"cancel-reason": "  "})  # a cancellation asks for a reason, as a rejection does
    assert blank.status_code == 400 and "Write a reason: it is kept with the cancellation." in text(blank)
    blocked_request.refresh_from_db()
    assert blocked_request.state == "blocked"
    assert client.post(url, reason).status_code == 302
    blocked_request.refresh_from_db()
    assert blocked_request.state == "cancelled"
    assert AuditEvent.objects.get(action="promotion.cancelled").after["reason"] == "wrong export"
    assert client.post(url, reason).status_code == 409  # not now: already final


def test_recheck_runs_the_gates_again(client, olivia, blocked_request):
    client.force_login(olivia)
    assert client.post(f"/promotions/{blocked_request.pk}/recheck/").status_code == 302
    blocked_request.refresh_from_db()
    assert blocked_request.state == "checking"
    assert AuditEvent.objects.filter(action="promotion.recheck_requested", object_id=str(blocked_request.pk)).exists()


# --- flaws ----------------------------------------------------------------------------------------


def test_the_flaws_awaiting_a_disposition_are_listed_with_a_form_each(client, olivia, blocked_request):
    client.force_login(olivia)
    page = text(client.get(f"/promotions/{blocked_request.pk}/"))
    awaiting = awaiting_fingerprints(blocked_request)
    assert awaiting and f'id="awaiting-count">({len(awaiting)})' in page
    assert page.count('class="disposition-form"') == len(awaiting)


def test_a_disposition_via_post_is_recorded_audited_and_shown(client, olivia, blocked_request):
    client.force_login(olivia)
    fingerprint = awaiting_fingerprints(blocked_request)[0]
    prefix = f"f{fingerprint[:12]}"
    response = client.post(f"/promotions/{blocked_request.pk}/flaws/disposition/", {
        "prefix": prefix, f"{prefix}-fingerprint": fingerprint, f"{prefix}-decision": "not_applicable",
        f"{prefix}-note": "the column is never summed",
    })
    assert response.status_code == 302 and response["Location"].endswith(f"/promotions/{blocked_request.pk}/#flaws")
    disposition = FlawDisposition.objects.get(fingerprint=fingerprint)
    assert (disposition.decision, disposition.note, disposition.decided_by) == (
        "not_applicable", "the column is never summed", olivia)
    event = AuditEvent.objects.get(action="promotion.flaw_dispositioned")
    assert event.actor == olivia and event.after["fingerprint"] == fingerprint
    page = text(client.get(f"/promotions/{blocked_request.pk}/"))
    assert f'class="flaw-row" data-fingerprint="{fingerprint}"> <td>' in page and "the column is never summed" in page


def test_an_htmx_disposition_answers_the_flaws_fragment(client, olivia, blocked_request):
    client.force_login(olivia)
    before = awaiting_fingerprints(blocked_request)
    fingerprint = before[0]
    prefix = f"f{fingerprint[:12]}"
    response = client.post(f"/promotions/{blocked_request.pk}/flaws/disposition/", {
        "prefix": prefix, f"{prefix}-fingerprint": fingerprint, f"{prefix}-decision": "legacy_fixture_only",
        f"{prefix}-note": "kept to compare",
    }, HTTP_HX_REQUEST="true")
    body = text(response)
    assert response.status_code == 200 and body.lstrip().startswith('<section id="flaws">')
    assert "<html" not in body and f'id="awaiting-count">({len(before) - 1})' in body
    assert 'id="flaws-note"' in body


def test_a_disposition_without_a_note_is_400_with_the_form_error(client, olivia, blocked_request):
    client.force_login(olivia)
    fingerprint = awaiting_fingerprints(blocked_request)[0]
    prefix = f"f{fingerprint[:12]}"
    response = client.post(f"/promotions/{blocked_request.pk}/flaws/disposition/", {
        "prefix": prefix, f"{prefix}-fingerprint": fingerprint, f"{prefix}-decision": "not_applicable",
    }, HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and "Write a note" in text(response)
    assert not FlawDisposition.objects.exists()


def test_a_disposition_by_an_approver_is_refused_with_403_and_audited(client, arthur, blocked_request):
    client.force_login(arthur)
    fingerprint = awaiting_fingerprints(blocked_request)[0]
    prefix = f"f{fingerprint[:12]}"
    response = client.post(f"/promotions/{blocked_request.pk}/flaws/disposition/", {
        "prefix": prefix, f"{prefix}-fingerprint": fingerprint, f"{prefix}-decision": "not_applicable",
        f"{prefix}-note": "n/a",
    }, HTTP_HX_REQUEST="true")
    assert response.status_code == 403 and "request_promotion permission" in text(response)
    assert not FlawDisposition.objects.exists()
    assert AuditEvent.objects.filter(action="promotion.refused", actor=arthur).count() == 1


def test_a_disposition_is_withdrawn(client, olivia, ready_request):
    client.force_login(olivia)
    disposition = FlawDisposition.objects.filter(manifest=ready_request.manifest).first()
    response = client.post(f"/promotions/{ready_request.pk}/flaws/withdraw/", {"fingerprint": disposition.fingerprint})
    assert response.status_code == 302
    assert not FlawDisposition.objects.filter(pk=disposition.pk).exists()
    assert AuditEvent.objects.filter(action="promotion.flaw_disposition_cleared").count() == 1


# --- history and progress -------------------------------------------------------------------------


def history_of(page: str) -> list[str]:
    history = page[page.index('id="history"'):]
    return re.findall(r'data-action="([^"]+)" data-object="([^"]+)"', history)


def test_the_history_lists_this_requests_audit_rows_newest_first_and_links_the_trail(client, audrey, adam, ready_request):
    client.force_login(adam)
    client.post(f"/promotions/{ready_request.pk}/approve/", {"approve-comment": "adam may not approve"})
    adam.groups.add(Group.objects.get(name=roles.AUDITOR))
    page = text(client.get(f"/promotions/{ready_request.pk}/"))
    history = page[page.index('id="history"'):]
    own = [action for action, subject in history_of(page) if subject == f"promotion.promotionrequest:{ready_request.pk}"]
    assert own == ["promotion.refused", "promotion.checked", "promotion.requested"]
    assert "approve refused: approving needs the approve_promotion permission" in history
    assert (f'href="/audit/?object_type=promotion.promotionrequest&amp;object_id={ready_request.pk}"' in history)


def test_the_progress_fragment_asks_for_a_reload_when_the_state_moved_on(client, cecilia, ready_request):
    client.force_login(cecilia)
    url = f"/promotions/{ready_request.pk}/progress/"
    same = client.get(url + "?state=ready", HTTP_HX_REQUEST="true")
    assert same.status_code == 200 and "HX-Refresh" not in same
    moved = client.get(url + "?state=checking", HTTP_HX_REQUEST="true")
    assert moved["HX-Refresh"] == "true"


# --- the curated registry -------------------------------------------------------------------------


def test_an_empty_registry_says_how_a_dataset_arrives(client, cecilia):
    client.force_login(cecilia)
    assert "Nothing is curated yet." in text(client.get("/promotions/curated/"))


@CURATED_DB
def test_the_registry_lists_a_loaded_version_and_its_people(client, cecilia, manifest, olivia, arthur, curated_db):
    from tests.promotion.conftest import disposition_all

    rebates = dataset(manifest, REBATES)
    disposition_all(olivia, manifest, [rebates])
    request = checked(services.promotion_request(actor=olivia, manifest=manifest, datasets=[rebates], enqueue=False))
    services.promotion_approve(actor=arthur, request=request, comment="figures match Domo")
    tasks.promotion_load(request.pk)
    request.refresh_from_db()
    assert request.state == "promoted", request.error

    client.force_login(cecilia)
    page = text(client.get("/promotions/curated/"))
    row = re.search(rf'<tr data-key="{rebates.domo_id}">(.*?)</tr>', page).group(1)
    loaded = request.load_progress["datasets"][rebates.domo_id]
    assert f"v{loaded['version']}" in row and manifest.load_id in row
    assert "<td>olivia</td>" in row and "<td>arthur</td>" in row
    assert f">{REBATES}</a>" in row and f">{rebates.domo_id}</span>" in row  # the name first, its Domo id beneath
    assert re.search(r'<code class="checksum" title="checksum -?\d+">[0-9a-f]{8} [0-9a-f]{8} [0-9a-f]{8}</code>', row)
    golden = re.search(r'<tr data-key="golden:(\d+)">(.*?)</tr>', page, re.DOTALL)
    card = manifest.cards.get(domo_id=int(golden.group(1)))
    assert f">{card.title}</a>" in golden.group(2) and "golden packet" in golden.group(2)
    assert f">card {card.domo_id}</span>" in golden.group(2)

    versions = text(client.get(f"/promotions/curated/{rebates.domo_id}/"))
    assert 'data-state="current"' in versions and f"request #{request.pk}" in versions
    golden_key = re.search(r'data-key="(golden:\d+)"', page).group(1)
    assert client.get(f"/promotions/curated/{golden_key}/").status_code == 200
    assert client.get("/promotions/curated/no-such-key/").status_code == 404


# --- rollback -------------------------------------------------------------------------------------


@pytest.fixture
def two_versions(manifest, tmp_path, olivia, arthur, curated_db, states):
    """The rebate invoices promoted twice: v1 from `manifest`, then v2 (current) from a later export
    (built once per process, then restored: tests/support/states.py)."""

    def build():
        promoted(manifest, REBATES, olivia, arthur)
        promoted(second_manifest(tmp_path), REBATES, olivia, arthur)
        return dataset(manifest, REBATES).domo_id

    return states.get("rebates promoted twice (load message sent)", build)


@CURATED_DB
def test_an_earlier_version_offers_a_rollback_to_operators_only(client, olivia, cecilia, two_versions):
    client.force_login(olivia)
    page = text(client.get(f"/promotions/curated/{two_versions}/"))
    assert 'data-version="2" data-state="current"' in page and 'data-version="1" data-state="superseded"' in page
    assert page.count("Request rollback to v") == 1 and "Request rollback to v1" in page
    client.force_login(cecilia)
    assert "Request rollback to" not in text(client.get(f"/promotions/curated/{two_versions}/"))


@CURATED_DB
def test_a_golden_packet_offers_no_rollback_of_its_own(client, olivia, two_versions):
    client.force_login(olivia)
    registry = text(client.get("/promotions/curated/"))
    golden_key = re.search(r'data-key="(golden:\d+)"', registry).group(1)
    page = text(client.get(f"/promotions/curated/{golden_key}/"))
    assert "Request rollback to" not in page and "Golden packets follow their dataset" in page


@CURATED_DB
def test_the_rollback_button_makes_a_rollback_request_and_opens_it(client, olivia, two_versions):
    client.force_login(olivia)
    response = client.post(f"/promotions/curated/{two_versions}/rollback/", {"version": 1})
    rollback = PromotionRequest.objects.get(kind="rollback")
    assert response.status_code == 302 and response["Location"] == f"/promotions/{rollback.pk}/"
    assert (rollback.rollback_key, rollback.rollback_version, rollback.requested_by) == (two_versions, 1, olivia)
    page = text(client.get(f"/promotions/{rollback.pk}/"))
    assert f"Rollback #{rollback.pk}" in page and 'id="rollback-of"' in page
    assert "go from v2 back to v1" in page and 'id="flaws"' not in page
    queue = text(client.get("/promotions/?kind=rollback"))
    assert f'href="/promotions/{rollback.pk}/"' in queue and "Rollback" in queue


@CURATED_DB
def test_a_rollback_by_a_reader_is_refused_with_403_and_audited(client, cecilia, two_versions):
    client.force_login(cecilia)
    response = client.post(f"/promotions/curated/{two_versions}/rollback/", {"version": 1})
    assert response.status_code == 403 and "request_promotion permission" in text(response)
    assert not PromotionRequest.objects.filter(kind="rollback").exists()
    assert AuditEvent.objects.filter(action="promotion.refused", actor=cecilia, after__attempt="rollback").count() == 1


@CURATED_DB
def test_a_rollback_to_the_current_version_is_409_with_the_reason(client, olivia, two_versions):
    client.force_login(olivia)
    response = client.post(f"/promotions/curated/{two_versions}/rollback/", {"version": 2})
    assert response.status_code == 409 and "v2 is not earlier than the current version v2" in text(response)


@CURATED_DB
def test_a_rollback_to_a_contract_version_is_offered_and_allowed_only_with_the_contract_permission(
    client, olivia, adam, contract_then_migration
):
    key = contract_then_migration
    client.force_login(olivia)
    assert "Request rollback to v1" not in text(client.get(f"/promotions/curated/{key}/"))
    response = client.post(f"/promotions/curated/{key}/rollback/", {"version": 1})
    assert response.status_code == 403 and "request_contract_promotion permission" in text(response)
    assert not PromotionRequest.objects.filter(kind="rollback").exists()
    assert AuditEvent.objects.filter(action="promotion.refused", actor=olivia, after__attempt="rollback").count() == 1
    client.force_login(adam)
    assert "Request rollback to v1" in text(client.get(f"/promotions/curated/{key}/"))
    assert client.post(f"/promotions/curated/{key}/rollback/", {"version": 1}).status_code == 302


def test_a_disposition_without_a_decision_is_400(client, olivia, blocked_request):
    client.force_login(olivia)
    fingerprint = awaiting_fingerprints(blocked_request)[0]
    prefix = f"f{fingerprint[:12]}"
    response = client.post(f"/promotions/{blocked_request.pk}/flaws/disposition/", {
        "prefix": prefix, f"{prefix}-fingerprint": fingerprint, f"{prefix}-note": "a note",
    })
    assert response.status_code == 400 and "Choose a decision." in text(response)
    assert not FlawDisposition.objects.exists()


def test_the_new_request_page_without_a_manifest_lists_the_complete_ones(client, olivia, manifest, partial_manifest):
    client.force_login(olivia)
    page = text(client.get("/promotions/new/"))
    assert f'href="?manifest={manifest.pk}"' in page and f'href="?manifest={partial_manifest.pk}"' not in page


def test_a_schema_drift_is_acknowledged_from_its_gate_and_the_recheck_passes(client, olivia, manifest):
    claims = dataset(manifest)
    drifted = CuratedSchema("7", [*claims.schema[1:], {"name": "Legacy Column", "type": "STRING"}])
    # The gates' documented hook for the curated schema: this dataset's current version lacks a column.
    with gates.use_curated_schema_source(lambda d: drifted if d.pk == claims.pk else None):
        request = checked(services.promotion_request(actor=olivia, manifest=manifest, datasets=[claims],
                                                     enqueue=False))
        client.force_login(olivia)
        page = text(client.get(f"/promotions/{request.pk}/"))
        assert re.search(r'data-gate="schema_compatible" data-outcome="failed"', page)
        assert "Acknowledge the drift" in page and f'name="dataset" value="{claims.pk}"' in page
        response = client.post(f"/promotions/{request.pk}/drift/", {"dataset": claims.pk,
                                                                   "note": "the legacy column is gone upstream"})
        assert response.status_code == 302
        event = AuditEvent.objects.get(action="promotion.schema_drift_acknowledged")
        assert event.actor == olivia and event.after["note"] == "the legacy column is gone upstream"
        client.post(f"/promotions/{request.pk}/recheck/")
        checked(request)
        assert request.gate_results.get(current=True, gate="schema_compatible").outcome == "passed"


@CURATED_DB
def test_an_approved_rollback_shows_on_the_registry(client, olivia, arthur, cecilia, two_versions):
    client.force_login(olivia)
    client.post(f"/promotions/curated/{two_versions}/rollback/", {"version": 1})
    rollback = checked(PromotionRequest.objects.get(kind="rollback"))
    assert rollback.state == "ready", list(rollback.gate_results.values_list("gate", "outcome", "details"))
    client.force_login(arthur)
    page = text(client.get(f"/promotions/{rollback.pk}/"))
    assert re.findall(r'data-gate="([^"]+)"', page) == ["manifest_complete", "rollback_target"]
    client.post(f"/promotions/{rollback.pk}/approve/", {"approve-comment": "back to the first load"})
    tasks.promotion_load(rollback.pk)
    rollback.refresh_from_db()
    assert rollback.state == "promoted", rollback.error

    client.force_login(cecilia)
    registry = text(client.get("/promotions/curated/"))
    row = re.search(rf'<tr data-key="{two_versions}">(.*?)</tr>', registry).group(1)
    assert '<span class="version">v1</span>' in row and f"rolled back by #{rollback.pk}" in row


# --- what concerns a request, in its history --------------------------------------------------------


def test_the_history_gathers_the_dispositions_of_its_flaws_and_their_withdrawals_but_not_other_flaws(
    client, olivia, arthur, manifest, ready_request
):
    claims_flaws = sorted({flaw_fingerprint(f) for f in flaws_behind(manifest, [dataset(manifest)])})
    others = sorted({flaw_fingerprint(f) for f in flaws_behind(manifest, [dataset(manifest, REBATES)])}
                    - set(claims_flaws))
    assert claims_flaws and others, "the sample export has flaws behind both datasets"
    services.flaw_disposition_set(actor=olivia, manifest=manifest, fingerprint=others[0],
                                  decision="not_applicable", note="another dataset's flaw")
    withdrawn = FlawDisposition.objects.get(manifest=manifest, fingerprint=claims_flaws[0])
    services.flaw_disposition_clear(actor=olivia, manifest=manifest, fingerprint=claims_flaws[0])
    with pytest.raises(services.PromotionRefused):
        services.flaw_disposition_clear(actor=arthur, manifest=manifest, fingerprint=claims_flaws[0])

    client.force_login(arthur)
    rows = history_of(text(client.get(f"/promotions/{ready_request.pk}/")))

    dispositioned = [subject for action, subject in rows if action == "promotion.flaw_dispositioned"]
    assert len(dispositioned) == len(claims_flaws)  # each of its flaws, once (the other dataset's left out)
    assert rows[0] == ("promotion.refused", f"evidence.sourcemanifest:{manifest.pk}")  # arthur's attempt
    assert rows[1] == ("promotion.flaw_disposition_cleared", f"promotion.flawdisposition:{withdrawn.pk}")
    assert [action for action, _ in rows[2:4]] == ["promotion.checked", "promotion.requested"]
    seqs = [int(n) for n in re.findall(r'<td class="mono">(\d+)</td>', text(client.get(f"/promotions/{ready_request.pk}/")))]
    assert seqs == sorted(seqs, reverse=True)


def test_the_history_names_a_withdrawal_and_a_refused_drift_acknowledgement_on_its_dataset(
    client, olivia, cecilia, manifest, ready_request
):
    fingerprint = sorted(FlawDisposition.objects.filter(manifest=manifest).values_list("fingerprint", flat=True))[0]
    services.flaw_disposition_clear(actor=olivia, manifest=manifest, fingerprint=fingerprint)
    with pytest.raises(services.PromotionRefused):
        services.schema_drift_acknowledge(actor=olivia, dataset=dataset(manifest), note="no drift here")

    client.force_login(cecilia)
    page = text(client.get(f"/promotions/{ready_request.pk}/"))
    history = page[page.index('id="history"'):]
    assert "disposition withdrawn" in history and "legacy_fixture_only withdrawn" in history
    assert "acknowledge_drift refused: the dataset&#x27;s schema does not drift from a curated version" in history
    assert f'<a href="{reverse("evidence:dataset-detail", args=[dataset(manifest).pk])}">dataset</a>' in history


@CURATED_DB
def test_a_promotions_history_shows_its_load_and_the_rollback_that_moved_its_version_back(
    client, olivia, arthur, audrey, two_versions
):
    first, second = PromotionRequest.objects.filter(kind="promotion").order_by("pk")
    client.force_login(olivia)
    client.post(f"/promotions/curated/{two_versions}/rollback/", {"version": 1})
    rollback = checked(PromotionRequest.objects.get(kind="rollback"))
    approve(rollback, arthur)
    tasks.promotion_load(rollback.pk)
    rollback.refresh_from_db()
    assert rollback.state == "promoted", rollback.error

    client.force_login(audrey)
    for promotion in (first, second):  # v1 was rolled back to, v2 rolled back from
        page = text(client.get(f"/promotions/{promotion.pk}/"))
        rows = history_of(page)
        assert rows[0] == ("promotion.rolled_back", f"promotion.promotionrequest:{rollback.pk}"), promotion
        assert f'<a href="/promotions/{rollback.pk}/">request #{rollback.pk}</a>' in page
        assert f"{two_versions} v2 → v1" in page
        own = [action for action, subject in rows if subject == f"promotion.promotionrequest:{promotion.pk}"]
        assert own[:3] == ["promotion.promoted", "promotion.load_started", "promotion.approved"]
    # The rollback's own page has its own rows, the rolled_back one among them, once.
    rows = history_of(text(client.get(f"/promotions/{rollback.pk}/")))
    assert [a for a, _ in rows].count("promotion.rolled_back") == 1


def test_another_requests_rows_are_not_in_this_history(client, cecilia, olivia, manifest, ready_request):
    other = services.promotion_request(actor=olivia, manifest=manifest, datasets=[dataset(manifest)], enqueue=False)
    services.promotion_cancel(actor=olivia, request=other, reason="a duplicate")
    client.force_login(cecilia)
    rows = history_of(text(client.get(f"/promotions/{ready_request.pk}/")))
    assert not [subject for _, subject in rows if subject == f"promotion.promotionrequest:{other.pk}"]


# --- live state: someone else's change announced on an open page ------------------------------------


def live_url(page: str) -> str:
    found = re.search(r'<div id="live-state"[^>]*hx-get="([^"]+)" hx-trigger="every 5s" hx-swap="innerHTML"', page)
    assert found, "the page polls for changes"
    return found.group(1).replace("&amp;", "&")


def test_an_unchanged_request_answers_the_poll_with_nothing(client, arthur, ready_request):
    client.force_login(arthur)
    url = live_url(text(client.get(f"/promotions/{ready_request.pk}/")))
    response = client.get(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response.content == b""


def test_another_persons_recheck_shows_a_notice_with_the_new_state_beside_the_approval_form(
    client, arthur, olivia, ready_request
):
    client.force_login(arthur)
    page = text(client.get(f"/promotions/{ready_request.pk}/"))
    assert 'id="approve-form"' in page
    url = live_url(page)
    services.promotion_recheck(actor=olivia, request=ready_request, enqueue=False)

    response = client.get(url, HTTP_HX_REQUEST="true")

    notice = text(response)
    assert response.status_code == 200
    assert "This request changed: it is now <strong>Checking gates</strong> (by olivia: gates re-run)" in notice
    assert f'href="/promotions/{ready_request.pk}/"' in notice and ">Reload</a>" in notice
    assert "<form" not in notice and "<textarea" not in notice  # swapped into #live-state only


def test_a_withdrawn_disposition_the_gates_read_is_news_while_the_state_stays(client, arthur, olivia, manifest, ready_request):
    client.force_login(arthur)
    url = live_url(text(client.get(f"/promotions/{ready_request.pk}/")))
    fingerprint = FlawDisposition.objects.filter(manifest=manifest).values_list("fingerprint", flat=True)[0]
    services.flaw_disposition_clear(actor=olivia, manifest=manifest, fingerprint=fingerprint)

    notice = text(client.get(url, HTTP_HX_REQUEST="true"))

    assert "it is now <strong>Ready for approval</strong> (by olivia: disposition withdrawn)" in notice


def test_a_refused_attempt_or_the_viewers_own_change_is_no_news(client, arthur, olivia, oscar, manifest, ready_request):
    client.force_login(olivia)
    url = live_url(text(client.get(f"/promotions/{ready_request.pk}/")))
    with pytest.raises(services.PromotionRefused):
        services.promotion_approve(actor=oscar, request=ready_request, comment="not mine to approve")
    fingerprint = FlawDisposition.objects.filter(manifest=manifest).values_list("fingerprint", flat=True)[0]
    services.flaw_disposition_clear(actor=olivia, manifest=manifest, fingerprint=fingerprint)  # her htmx swap

    response = client.get(url, HTTP_HX_REQUEST="true")

    assert response.status_code == 200 and response.content == b""


def test_a_request_that_became_final_shows_the_notice_and_stops_the_polling(client, arthur, olivia, ready_request):
    client.force_login(arthur)
    url = live_url(text(client.get(f"/promotions/{ready_request.pk}/")))
    services.promotion_cancel(actor=olivia, request=ready_request, reason="wrong datasets")

    response = client.get(url, HTTP_HX_REQUEST="true")

    assert response.status_code == 286  # htmx stops polling
    assert "it is now <strong>Cancelled</strong> (by olivia: cancelled)" in text(response)
    page = text(client.get(f"/promotions/{ready_request.pk}/"))
    assert 'id="live-state"' in page and "/live/" not in page  # a final request's page does not poll


def test_the_poll_of_a_final_request_with_its_own_stamp_stops_with_nothing(client, arthur, olivia, ready_request):
    services.promotion_cancel(actor=olivia, request=ready_request, reason="wrong datasets")
    client.force_login(arthur)
    datasets = list(ready_request.datasets.all())
    stamp = selectors.request_live_stamp(ready_request, viewer=arthur, datasets=datasets,
                                         fingerprints=selectors.request_fingerprints(ready_request, datasets))
    response = client.get(f"/promotions/{ready_request.pk}/live/?stamp={stamp.value}", HTTP_HX_REQUEST="true")
    assert response.status_code == 286 and response.content == b""


def test_the_poll_follows_the_detail_pages_access_rule(client, oscar, cecilia, ready_request):
    url = f"/promotions/{ready_request.pk}/live/?stamp=ready.1"
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    client.force_login(oscar)
    assert client.get(url).status_code == 403
    client.force_login(cecilia)  # a C-suite reviewer reads the page, and so its news
    assert client.get(url).status_code == 200
    assert client.get("/promotions/999999/live/?stamp=ready.1").status_code == 404
    assert client.post(url).status_code == 405


# --- query counts: flat whatever a page holds ---------------------------------------------------------


def queries_of(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200, url
    return len(captured.captured_queries)


def test_the_request_page_reads_the_same_number_of_queries_whatever_its_gates_flaws_and_history_hold(
    client, cecilia, olivia, manifest
):
    small = checked(services.promotion_request(actor=olivia, manifest=manifest, datasets=[dataset(manifest)],
                                               enqueue=False))
    every = list(manifest.datasets.all())
    disposition_all(olivia, manifest, every)
    large = checked(services.promotion_request(actor=olivia, manifest=manifest, datasets=every, enqueue=False))
    for _ in range(3):  # more gate runs (superseded results) and more history rows
        services.promotion_recheck(actor=olivia, request=large, enqueue=False)
        checked(large)
    for fingerprint in sorted(FlawDisposition.objects.filter(manifest=manifest).values_list("fingerprint", flat=True))[:5]:
        services.flaw_disposition_clear(actor=olivia, manifest=manifest, fingerprint=fingerprint)
    flaws = {r.pk: len({flaw_fingerprint(f) for f in flaws_behind(manifest, list(r.datasets.all()))}) for r in (small, large)}
    assert flaws[large.pk] > flaws[small.pk] and large.gate_results.count() > small.gate_results.count()
    client.force_login(cecilia)
    queries_of(client, f"/promotions/{small.pk}/")  # the session's first read

    assert queries_of(client, f"/promotions/{large.pk}/") == queries_of(client, f"/promotions/{small.pk}/")
    assert queries_of(client, f"/promotions/{large.pk}/live/?stamp=x") == queries_of(
        client, f"/promotions/{small.pk}/live/?stamp=x"
    )


@CURATED_DB
def test_the_registry_pages_read_the_same_number_of_queries_whatever_the_versions_and_rollbacks(
    client, cecilia, olivia, arthur, manifest, tmp_path, curated_db
):
    # The console's queries; the curated registry itself is read through the raw DB-API connection
    # (promotion.curated: one statement per page, not captured here).
    key = dataset(manifest, REBATES).domo_id
    promoted(manifest, REBATES, olivia, arthur)
    client.force_login(cecilia)
    queries_of(client, "/promotions/curated/")
    small = (queries_of(client, "/promotions/curated/"), queries_of(client, f"/promotions/curated/{key}/"))

    promoted(second_manifest(tmp_path), REBATES, olivia, arthur)
    promoted(manifest, CLAIMS, olivia, arthur)
    rollback = checked(services.promotion_rollback_request(actor=olivia, dataset_key=key, version=1, enqueue=False))
    approve(rollback, arthur)
    tasks.promotion_load(rollback.pk)
    rollback.refresh_from_db()
    assert rollback.state == "promoted", rollback.error
    assert len(selectors.registry_versions(key)) == 2 and len(selectors.registry_current()) > 2

    large = (queries_of(client, "/promotions/curated/"), queries_of(client, f"/promotions/curated/{key}/"))
    assert large == small
