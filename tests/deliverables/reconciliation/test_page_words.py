"""What a reader sees of a reconciliation's numbers: money differences as every page shows money (thousands
separators, exact; a count or a rate as it is), the scoreboard's classes in words, and, in Chromium at 1024 px,
the scoreboard's "Last reconciled" time on one line."""
from __future__ import annotations

import re

import pytest

from deliverables.runs.selectors import money
from tests.conftest import login
from tests.deliverables.reconciliation.conftest import EFFECTIVE, GUARANTEE_FLOW, REBATE_PER_CLAIM, reconcile
from tests.deliverables.reconciliation.test_pages import rows_with
from tests.deliverables.runs.conftest import CURATED_DB


def cells(row: str) -> list[str]:
    return [re.sub(r"<br>.*", "", c, flags=re.DOTALL).strip()
            for c in re.findall(r'<td class="num">(.*?)</td>', row, re.DOTALL)]


def shown_items(client, recon) -> dict:
    page = client.get(f"/reconciliation/{recon.pk}/?status=all").content.decode()
    rows = rows_with(page, "data-item")
    return {item: cells(rows[str(item.pk)]) for item in recon.items.all() if str(item.pk) in rows}


@CURATED_DB
def test_money_differences_have_thousands_separators_and_counts_and_rates_do_not(mapped, olivia, cecilia, client):
    flow = reconcile(olivia, mapped.subject(GUARANTEE_FLOW))
    per_claim = reconcile(olivia, mapped.subject(REBATE_PER_CLAIM))
    rates = reconcile(olivia, mapped.subject(EFFECTIVE))
    client.force_login(cecilia)
    separated = 0
    for recon in (flow, per_claim):
        for item, shown in shown_items(client, recon).items():
            values = (item.backend_value, item.golden_value, item.difference)
            if item.measure == "Brand Claims":  # a count
                assert shown == [v or "—" for v in values]
            else:
                assert shown == [money(v) or "—" for v in values]
                separated += any("," in s for s in shown)
    assert separated  # amounts of thousands were shown with their separators
    page = client.get(f"/reconciliation/{per_claim.pk}/?status=all").content.decode()
    assert '<span class="muted">not concluded</span>' in page and '<span class="muted">not_concluded<' not in page
    shown = shown_items(client, rates)
    assert shown
    for item, texts in shown.items():  # a rate keeps its six places: never rounded to cents
        assert texts == [v or "—" for v in (item.backend_value, item.golden_value, item.difference)]


@CURATED_DB
def test_the_scoreboard_says_the_classes_in_words(mapped, olivia, cecilia, client):
    recon = reconcile(olivia, mapped.subject(GUARANTEE_FLOW))
    client.force_login(cecilia)
    page = client.get("/reconciliation/").content.decode()
    assert recon.summary["total"].get("within_tolerance") or recon.summary["total"].get("variance")
    counts = re.findall(r'<span class="[^"]*" data-class="(\w+)">([^<]+)</span>', page)
    assert counts
    for name, text in counts:
        assert "_" not in text, text
    if recon.summary["total"].get("within_tolerance"):
        assert f'data-class="within_tolerance">Within tolerance {recon.summary["total"]["within_tolerance"]}<' in page


@pytest.mark.browser
@CURATED_DB
def test_browser_the_scoreboards_last_reconciled_time_stays_on_one_line_at_1024_px(
        mapped, olivia, page, live_server):
    reconcile(olivia, mapped.subject(GUARANTEE_FLOW))
    login(page, "olivia")
    page.set_viewport_size({"width": 1024, "height": 800})
    page.goto("/reconciliation/")
    times = page.locator("table.scoreboard td time")
    assert times.count() >= 1
    for i in range(times.count()):
        tops = times.nth(i).evaluate("t => [...t.getClientRects()].map(r => Math.round(r.top))")
        assert len(set(tops)) == 1, times.nth(i).inner_text()  # one line: neither split at its hyphens nor wrapped
