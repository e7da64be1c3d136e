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
    assert "pricing_finding" in page.locator(".facts").inner_text()

    page.click("#client-overview")
    page.wait_for_selector(f"#grid-{ACME}")
    assert "ACME Manufacturing" in page.locator("h1").inner_text()
