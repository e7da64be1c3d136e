"""The main navigation in a real browser: its links in labelled groups, on two lines at most at 1280 px even
for the admin (who sees the most), each reachable by its full name, the current page marked."""
import pytest

from tests.conftest import login

pytestmark = pytest.mark.browser

GROUPS = {"Exports": ["Sources", "Intake"],
          "Evidence": ["Evidence packets", "Candidate evidence", "Evidence overview", "Missing evidence"],
          "Promotion": ["Promotions", "Curated"], "Numbers": ["Runs", "Scoreboard", "Provenance"],
          "Outputs": ["Deliverables", "Publications", "Scope"],
          "System": ["Operations", "Audit trail", "People", "Consumers", "Lockouts"]}


def test_the_admins_navigation_is_grouped_on_two_lines_and_marks_the_current_page(transactional_db, adam, page):
    adam.is_staff = True  # the Django admin link too
    adam.save(update_fields=["is_staff"])
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, "adam")

    nav = page.get_by_role("navigation", name="Main")
    for label, names in GROUPS.items():
        group = nav.get_by_role("group", name=label)
        assert [group.get_by_role("link", name=name, exact=True).count() for name in names] == [1] * len(names), label
    tops = nav.locator("a").evaluate_all("links => links.map(a => Math.round(a.getBoundingClientRect().top))")
    assert len(tops) == 1 + sum(map(len, GROUPS.values()))  # Home and every group's links
    assert len(set(tops)) <= 2, f"the navigation takes {len(set(tops))} lines at 1280 px"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    for utility in ("API", "Admin"):  # beside the user, not in the main navigation
        assert page.locator("header .who").get_by_role("link", name=utility, exact=True).count() == 1

    nav.get_by_role("link", name="Missing evidence").click()
    page.wait_for_url("**/evidence/missing/")
    current = page.get_by_role("navigation", name="Main").locator('a[aria-current="page"]')
    assert current.count() == 1 and current.get_attribute("aria-label") == "Missing evidence"


def test_the_keyboards_first_stop_skips_the_navigation_to_the_page(transactional_db, cecilia, page):
    login(page, "cecilia")
    page.goto("/runs/")
    skip = page.get_by_role("link", name="Skip to the page")
    assert not skip.is_visible() or skip.bounding_box()["x"] < 0  # out of sight until it has the focus
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the page"
    assert skip.bounding_box()["x"] >= 0  # shown while focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")  # the next stop is in the page, not in the navigation
    assert page.evaluate("document.activeElement.closest('header') === null")
