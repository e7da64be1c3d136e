"""The scope pages in Chromium at 1280px: a reviewer filters to the clients with differences, opens one, and reads
who Domo let see its rows outside the backend scope; nothing overflows the window."""
from __future__ import annotations

import os

import pytest

from tests.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ACME = "0015e00000Qm7AcAAJ"


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_reviewer_reads_the_differences_of_a_client_at_1280px(scope_sample, cecilia, page):
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, "cecilia")
    page.get_by_role("link", name="Scope").click()
    page.wait_for_url("**/scope/")
    page.check("#id_differences")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**differences=on**")
    assert page.locator("#scope-rows tbody tr").count() == 5  # every sample client differs
    assert fits(page)
    if os.environ.get("SCOPE_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["SCOPE_SCREENSHOTS"], "scope-list.png"), full_page=True)
    page.click(f'tr[data-client="{ACME}"] a')
    page.wait_for_url(f"**/scope/{ACME}/")
    marcus = page.locator('#users tr[data-flag="domo_only"]', has_text="Marcus Bell")
    assert marcus.locator(".badge-bad").inner_text() == "Saw in Domo, outside backend scope"
    assert page.locator('#backend-scope').inner_text().count("Dana Whitfield") == 1
    assert fits(page)
    if os.environ.get("SCOPE_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["SCOPE_SCREENSHOTS"], "scope-detail.png"), full_page=True)
