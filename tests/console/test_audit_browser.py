"""The auditor in a real browser: find one promotion's events by actions and a period preset, read an event's
diff, follow its object link, verify the chain on a real worker, export exactly what the filters show."""

import json

import pytest

from console.audit import audit_record
from tests.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.worker]

REQUEST_TYPE = "promotion.promotionrequest"


@pytest.fixture
def committed_trail(transactional_db, olivia, arthur):
    """Two promotions' events, committed now (the live server and the worker read them on their own connections)."""
    for pk in (41, 42):
        audit_record(actor=olivia, action="promotion.requested", object_type=REQUEST_TYPE, object_id=str(pk),
                     after={"state": "requested", "dataset": f"claims-{pk}"})
        audit_record(actor=None, action="promotion.checked", object_type=REQUEST_TYPE, object_id=str(pk),
                     before={"state": "requested"}, after={"state": "checked", "gates": {"golden": "passed"}})
        audit_record(actor=arthur, action="promotion.approved", object_type=REQUEST_TYPE, object_id=str(pk),
                     before={"state": "checked", "approver": None}, after={"state": "approved", "approver": "arthur"})


def row_seqs(page) -> list[int]:
    return [int(seq) for seq in page.locator("table.audit-trail > tbody > tr").evaluate_all(
        "rows => rows.map(row => row.dataset.seq)")]


def test_auditor_finds_a_promotions_events_reads_a_diff_verifies_and_exports(
    committed_trail, audrey, page, live_server, celery_worker
):
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, "audrey")
    page.goto("/audit/")

    # Pick two actions (of the "promotion" area) and the last hour.
    page.select_option("#id_action", ["promotion.requested", "promotion.approved"])
    page.select_option("#id_period", "last_hour")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/audit/?*period=last_hour*")
    rows = page.locator("table.audit-trail > tbody > tr")
    rows.first.wait_for()
    assert rows.count() == 4
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")

    # The newest event is arthur's approval of request 42: its diff names the changed keys.
    newest = rows.first
    assert "promotion.approved" in newest.inner_text()
    newest.locator("details.diff > summary").click()
    diff = newest.locator("table.diff")
    diff.wait_for()
    assert diff.locator("tr.diff-changed").all_inner_texts() == [
        'approver\tchanged\tnull\t"arthur"', 'state\tchanged\t"checked"\t"approved"',
    ]

    # Its object link: every event of request 42, whatever its action.
    newest.locator("a.object-link").click()
    page.wait_for_url(f"**/audit/?object_type={REQUEST_TYPE}&object_id=42")
    rows.first.wait_for()
    seqs = row_seqs(page)
    assert len(seqs) == 3 and all("42" in text for text in rows.locator("a.object-link").all_inner_texts())

    # Verify now: the worker recomputes the chain; the page follows it to the result.
    page.get_by_role("button", name="Verify now").click()
    page.locator("#verify-run[data-state]").first.wait_for()
    page.locator("#verify-result").wait_for(timeout=30_000)
    assert "intact" in page.locator("#verify-result").inner_text()

    # Export exactly these events; the first line says how to verify them.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export JSON Lines").click()
    with open(download_info.value.path(), encoding="utf-8") as handle:
        first, *lines = handle.read().splitlines()
    assert "sha256" in json.loads(first)["audit_trail_excerpt"]["verify"]
    assert [json.loads(line)["seq"] for line in lines] == sorted(seqs)
