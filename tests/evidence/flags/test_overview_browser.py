"""In Chromium at 1280 px: a C-suite reviewer reads the overview (the three badges, with their text, and the
legend, every grid within the page's width), opens a missing cell and lands on its flag, then goes back to the
client's overview from the flag. No CSP violation on the way (the `page` fixture checks)."""
from __future__ import annotations

import pytest

from tests.conftest import login, make_persona
from tests.evidence.flags import world as w
from tests.evidence.packets.builders import ACME

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_reviewer_reads_the_overview_and_opens_a_flag_from_a_cell(page, tmp_path, seeded_roles):
    olivia, arthur = make_persona("olivia"), make_persona("arthur")
    make_persona("cecilia")
    world = w.build(tmp_path, olivia, arthur)

    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, "cecilia")
    page.click("nav >> text=Overview")
    page.wait_for_selector(f"#grid-{ACME}")
    grid = page.locator(f"#grid-{ACME}")
    for state in ("governed", "candidate", "missing"):
        badge = grid.locator(f'td[data-state="{state}"] .badge').first
        assert badge.is_visible() and badge.inner_text() == state
    assert page.locator(".evidence-legend").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280  # no sideways scrolling

    grid.locator('td[data-kind="pricing"][data-month="2025-05"] a').click()
    page.wait_for_url(f"**/evidence/missing/{world.may.pk}/")
    assert page.locator("#flag-status").inner_text() == "missing"
    assert "pricing finding" in page.locator(".facts").inner_text()

    page.click("#client-overview")
    page.wait_for_selector(f"#grid-{ACME}")
    assert "ACME Manufacturing" in page.locator("h1").inner_text()


# Each table whose right edge runs past its box (a badge of December crossing the grid's border counts).
TABLES_PAST_THEIR_BOX = """[...document.querySelectorAll("main table")]
    .filter(t => t.scrollWidth > t.clientWidth
                 || t.getBoundingClientRect().right > t.parentElement.getBoundingClientRect().right + 0.5)
    .map(t => [t.id || t.className, t.scrollWidth, t.clientWidth])"""


def test_the_overviews_fit_a_1024px_window_december_inside_its_grid(page, tmp_path, seeded_roles):
    olivia, arthur = make_persona("olivia"), make_persona("arthur")
    make_persona("cecilia")
    w.build(tmp_path, olivia, arthur)
    page.set_viewport_size({"width": 1024, "height": 800})
    login(page, "cecilia")
    for url in ("/evidence/overview/", f"/evidence/overview/{ACME}/"):
        page.goto(url)
        page.wait_for_selector(f"#grid-{ACME}")
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], (url, widths)
        assert page.evaluate(TABLES_PAST_THEIR_BOX) == [], url
        grid = page.locator(f"#grid-{ACME}").bounding_box()
        for badge in page.locator(f'#grid-{ACME} td[data-month$="-12"] .badge').all():
            box = badge.bounding_box()
            assert box["x"] + box["width"] <= grid["x"] + grid["width"], (url, box, grid)
