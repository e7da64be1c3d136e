"""In a real browser, with a real worker: an operator requests a promotion and dispositions its flaws, a
second person approves it, the load completes and the curated registry shows the new version; and an open
page announces someone else's change without touching what its reader is typing."""
from __future__ import annotations

import re

import pytest

from evidence.samples.export import write_sample_export
from promotion.models import FlawDisposition, PromotionRequest
from tests.conftest import login
from tests.promotion.conftest import CLAIMS, CURATED_DB, ingest

pytestmark = [pytest.mark.browser, pytest.mark.worker, CURATED_DB]
WORKER_WAIT = 120_000  # ms: gates and the load run in the worker


def wait_for_state(page, state: str) -> None:
    """The page follows the request by itself (htmx polling reloads it when the state moves on)."""
    page.locator(f'#request-state[data-state="{state}"]').wait_for(timeout=WORKER_WAIT)


def log_out(page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(lambda url: "/promotions/" not in url)


def test_an_operator_requests_and_dispositions_a_second_person_approves_and_the_registry_shows_the_version(
    celery_worker, curated_db, olivia, arthur, page, live_server, tmp_path  # noqa: F811
):
    manifest = ingest(write_sample_export(tmp_path / "export", rows=30, seed=41).path)
    assert manifest.status == "complete"
    claims = manifest.datasets.get(name=CLAIMS)

    # Olivia opens the complete manifest and asks to promote the claims dataset.
    login(page, "olivia")
    page.goto(f"/sources/{manifest.pk}/")
    page.get_by_role("link", name="Request promotion").click()
    page.wait_for_url(re.compile(r".*/promotions/new/\?manifest=\d+$"))
    page.get_by_label(re.compile(re.escape(CLAIMS))).check()
    page.get_by_role("button", name="Request promotion").click()
    page.wait_for_url(re.compile(r".*/promotions/\d+/$"))
    request = PromotionRequest.objects.get()
    assert (request.requested_by, list(request.datasets.all())) == (olivia, [claims])

    # The worker runs the gates: the flaws gate blocks the request and says which flaws.
    wait_for_state(page, "blocked")
    flaws_gate = page.locator('[data-gate="calculation_flaws_dispositioned"]')
    assert flaws_gate.get_attribute("data-outcome") == "failed"
    assert flaws_gate.locator("ul.gate-details li").count() > 0

    # She dispositions every flaw from the page (htmx swaps the flaws section after each).
    awaiting = page.locator("#flaws ul.awaiting li.flaw-row")
    total = awaiting.count()
    assert total > 0
    for left in range(total, 0, -1):
        form = awaiting.first.locator("form.disposition-form")
        form.locator("select").select_option("legacy_fixture_only")
        form.locator("textarea").fill("Domo's legacy number, kept only to compare against")
        form.get_by_role("button", name="Record disposition").click()
        page.locator("#awaiting-count", has_text=f"({left - 1})").wait_for()
    assert page.locator("#decided-count").inner_text() == f"({total})"
    assert set(FlawDisposition.objects.values_list("decided_by__username", flat=True)) == {"olivia"}

    # She re-runs the gates; the request is ready and waits for someone else.
    page.get_by_role("button", name="Re-run gates").click()
    wait_for_state(page, "ready")
    assert "awaiting a second person's approval" in page.locator("#awaiting-approval").inner_text()
    assert page.locator("#approve-form").count() == 0
    log_out(page)

    # Arthur, an approver, approves with a comment; the page follows the load to the end.
    login(page, "arthur")
    page.goto(f"/promotions/{request.pk}/")
    page.get_by_label("Approval comment").fill("Totals match Domo's for November")
    page.get_by_role("button", name="Approve").click()
    wait_for_state(page, "promoted")
    assert "Totals match Domo's for November" in page.locator("#approval-comment").inner_text()
    assert page.locator("#load-progress[hx-trigger]").count() == 0  # final: polling stopped
    request.refresh_from_db()
    assert (request.approved_by, request.state) == (arthur, "promoted")
    version = request.load_progress["datasets"][claims.domo_id]["version"]

    # The registry shows the new version, who requested it and who approved it.
    page.get_by_role("link", name="Curated", exact=True).click()
    page.wait_for_url("**/promotions/curated/")
    row = page.locator(f'tr[data-key="{claims.domo_id}"]')
    assert row.locator(".version").inner_text() == f"v{version}"
    cells = row.locator("td").all_inner_texts()
    assert manifest.load_id in cells[2] and cells[3] == "olivia" and cells[4] == "arthur"
    assert cells[5] == str(claims.silver_rows)


def test_someone_elses_change_is_announced_without_touching_the_comment_being_typed(
    arthur, olivia, ready_request, page, live_server
):
    from promotion import services

    # Arthur opens a request ready for approval and starts typing his rejection comment.
    login(page, "arthur")
    page.goto(f"/promotions/{ready_request.pk}/")
    page.get_by_label("Rejection comment").fill("The November totals do not match")

    # Meanwhile Olivia, the requester, re-runs the gates (they stay checking: no worker here).
    services.promotion_recheck(actor=olivia, request=ready_request, enqueue=False)

    notice = page.locator("#live-notice")
    notice.wait_for(timeout=15_000)  # the page asks every 5 s
    assert "This request changed: it is now Checking gates (by olivia" in notice.inner_text()
    assert page.get_by_label("Rejection comment").input_value() == "The November totals do not match"
    assert page.locator('#request-state[data-state="ready"]').count() == 1  # the page itself was not reloaded
    notice.get_by_role("link", name="Reload").click()
    page.locator('#request-state[data-state="checking"]').wait_for()


def test_a_state_change_does_not_reload_the_page_over_a_note_being_typed(olivia, manifest, page, live_server):
    from promotion import services

    # Olivia's request is checking its gates (no worker here: the test runs them below).
    request = services.promotion_request(actor=olivia, manifest=manifest, datasets=[manifest.datasets.get(name=CLAIMS)],
                                         enqueue=False)
    login(page, "olivia")
    page.goto(f"/promotions/{request.pk}/")
    page.locator('#request-state[data-state="checking"]').wait_for()
    note = page.locator("#flaws form.disposition-form textarea").first
    note.fill("Checked against the 2024 contract: Domo's rounding")

    services.promotion_check(request_id=request.pk)  # blocked: the flaws are not dispositioned yet

    # The load-progress poll (every 2 s) sees the new state; it would reload the page, but she is typing.
    page.locator("#live-state .live-notice").first.wait_for(timeout=15_000)
    page.wait_for_timeout(2_500)  # at least one more progress poll after the state moved on
    assert note.input_value() == "Checked against the 2024 contract: Domo's rounding"
    assert page.locator('#request-state[data-state="checking"]').count() == 1  # not reloaded
    page.locator("#live-state .live-notice a").first.click()
    page.locator('#request-state[data-state="blocked"]').wait_for()
