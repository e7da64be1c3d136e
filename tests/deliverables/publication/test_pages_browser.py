"""In Chromium at 1024 px, the smallest window the console is read in: the publications list and a publication's
page fit the window, the SHA-256 shortened in its cell with the whole hash in its title, nothing scrolls sideways."""
from __future__ import annotations

import pytest

from deliverables.publication import services as publication
from tests.conftest import login

# Each table whose right edge runs past its box's (a panel's border): the page may not scroll, the table is cut.
TABLES_PAST_THEIR_BOX = """[...document.querySelectorAll("main table")]
    .filter(t => t.getBoundingClientRect().right > t.parentElement.getBoundingClientRect().right + 0.5)
    .map(t => [t.id || t.className, t.getBoundingClientRect().right, t.parentElement.getBoundingClientRect().right])"""

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases=["default", "curated"])]


def test_the_publication_pages_fit_a_1024px_window(page, workbook, olivia, arthur, tmp_path):
    for person in (olivia, arthur):  # the demo's usernames, as long as they come
        person.username = f"{person.username}.{'operator' if person == olivia else 'approver'}"
        person.save(update_fields=["username"])
    found = publication.publication_request(actor=olivia, deliverable=workbook, comment="Q4 for the client")
    found = publication.publication_approve(actor=arthur, publication=found, comment="ok", sha256=workbook.sha256)
    assert found.state == "published"
    page.set_viewport_size({"width": 1024, "height": 800})
    login(page, "olivia.operator")
    for name, url in (("list", "/publications/"), ("detail", f"/publications/{found.pk}/")):
        assert page.goto(url).status == 200
        page.screenshot(path=tmp_path / f"{name}.png", full_page=True)
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], (url, widths)
        assert page.evaluate(TABLES_PAST_THEIR_BOX) == [], url
    page.goto("/publications/")
    digest = page.locator(f'tr[data-publication="{found.pk}"] code.hash')
    assert digest.get_attribute("title") == found.sha256 and len(digest.inner_text()) < 20


def test_the_exports_and_promotions_lists_fit_a_1024px_window_times_breaking_after_their_date(
        page, workbook, adam, tmp_path):
    page.set_viewport_size({"width": 1024, "height": 800})
    login(page, adam.username)
    for url in ("/sources/", "/promotions/", "/promotions/curated/", "/publications/"):
        assert page.goto(url).status == 200
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], (url, widths)
        assert page.evaluate(TABLES_PAST_THEIR_BOX) == [], url
        # A time may wrap between its date and its hour, never inside the date ("2026-12-" / "07").
        for date in page.locator("main td time .date").all()[:5]:
            box = date.bounding_box()
            assert box is None or box["height"] < 30, (url, date.inner_text())
