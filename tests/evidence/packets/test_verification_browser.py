"""In Chromium: a second approver opens the packet from the list, reads its records and documents, verifies it
with a comment, and sees the governed badge; the receiver sees no Verify form. No CSP violation on the way."""
from __future__ import annotations

import pytest

from tests.conftest import login, make_persona
from tests.evidence.packets.verification_helpers import received, second_approver

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_second_approver_verifies_a_packet_in_the_browser(page, tmp_path, seeded_roles):
    arthur = make_persona("arthur")
    second_approver()
    revision = received(tmp_path, arthur)

    login(page, "arthur")
    page.goto(f"/evidence/packets/{revision.packet_id}/")
    assert page.locator("#own-receipt").is_visible() and page.locator("#verify-form").count() == 0
    page.click("text=Log out")

    login(page, "vera")
    page.goto("/evidence/packets/")
    page.click("text=EVP-CONTRACT-0015e00000Qm7AcAAJ-2025")
    assert page.locator("#revision-class").inner_text() == "candidate"
    assert page.locator("#records-table tbody tr").count() == 6
    page.fill("#verify-form textarea", "Six terms checked against Exhibit C")
    page.click("#verify-button")

    page.wait_for_selector("#verified-note")
    assert page.locator("#revision-class").inner_text() == "governed"
    assert "Six terms checked against Exhibit C" in page.locator("#decisions").inner_text()
