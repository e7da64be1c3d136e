"""In a real browser, the console's pages work under its Content-Security-Policy: walking the main pages
as an operator, an auditor and an admin, and using what runs on them (htmx filters and polls, the upload
page's size check, a refused disposition shown in place, the API docs), the browser refuses nothing and
logs no error."""
from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from promotion import services
from tests.conftest import login
from tests.promotion.conftest import checked, dataset, manifest  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def watched(page):
    """The page (which records every CSP violation, tests/conftest.py), every console error or warning recorded."""
    seen = {"violations": page.csp_violations, "console": []}
    page.on("console", lambda message: message.type in ("error", "warning") and seen["console"].append(
        f"{page.url}: {message.type}: {message.text}"
    ))
    page.on("pageerror", lambda error: seen["console"].append(f"{page.url}: uncaught: {error}"))
    page.seen = seen
    return page


def settle(page) -> None:
    """Let the page's scripts run and any report reach the test before the next step."""
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(200)


@pytest.fixture
def blocked_request(manifest, olivia):  # noqa: F811
    """Olivia's request for the claims dataset, its flaws not dispositioned: blocked, polled while open."""
    request = checked(
        services.promotion_request(actor=olivia, manifest=manifest, datasets=[dataset(manifest)], enqueue=False)
    )
    assert request.state == "blocked"
    return request


def test_the_watch_sees_a_violation(watched, olivia, live_server):
    """The watch every browser test runs under is worth something: a foreign image is refused and reported."""
    login(watched, "olivia")
    watched.evaluate("""() => { const img = document.createElement("img");
        img.src = "https://example.invalid/x.png"; document.body.appendChild(img); }""")
    settle(watched)
    assert [v["directive"] for v in watched.seen["violations"]] == ["img-src"]
    watched.seen["violations"].clear()  # made on purpose: the page fixture fails a test left with any


def test_the_main_pages_work_under_the_policy_with_no_violation(
    watched, settings, blocked_request, olivia, audrey, adam, live_server, tmp_path
):
    page = watched
    settings.INTAKE_MAX_UPLOAD_BYTES = 2048  # the upload page refuses a bigger file before sending it

    # Signed out: the login page.
    page.goto("/")
    page.wait_for_url("**/login/**")
    settle(page)

    # Olivia, an operator: home, intake (filtered by htmx), upload, the manifest, the promotion queue.
    login(page, "olivia")
    settle(page)
    page.goto("/sources/intake/")
    page.select_option("#id_status", "succeeded")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/sources/intake/?*status=succeeded*")
    assert page.locator("#intake-results tbody tr").count() == 1
    settle(page)

    page.get_by_role("link", name="Upload an export").click()
    page.wait_for_url("**/sources/intake/upload/")
    big = tmp_path / "export.zip"
    big.write_bytes(b"0" * 4096)
    page.set_input_files("#upload input[type=file]", str(big))
    page.get_by_role("button", name="Upload").click()
    refusal = page.locator("#upload-client-error")
    refusal.wait_for()
    assert "This file is 4,096 bytes" in refusal.inner_text()
    settle(page)

    page.goto(f"/sources/{blocked_request.manifest_id}/")
    settle(page)
    page.goto("/promotions/")
    page.locator(f'a[href="/promotions/{blocked_request.pk}/"]').first.click()
    page.wait_for_url(f"**/promotions/{blocked_request.pk}/")

    # The request's page polls while it is open, and a refused disposition comes back in place.
    with page.expect_response(re.compile(rf".*/promotions/{blocked_request.pk}/live/.*"), timeout=15000) as poll:
        pass
    assert poll.value.status == 200
    form = page.locator("#flaws ul.awaiting li.flaw-row form.disposition-form").first
    form.locator("select").select_option("legacy_fixture_only")
    form.locator("textarea").fill("   ")  # passes the browser's `required`, not the console's
    form.get_by_role("button", name="Record disposition").click()
    page.locator("#flaws", has_text="Write a note").wait_for()
    settle(page)
    refused = page.seen["console"].pop()  # the browser logs the 400 it was answered; nothing else
    assert "status of 400" in refused
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(lambda url: "/promotions/" not in url)

    # Audrey, an auditor: the audit trail, filtered by htmx.
    login(page, "audrey")
    page.goto("/audit/")
    page.fill("#id_actor", "olivia")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/audit/?*actor=olivia*")
    page.locator("table.audit-trail tbody tr").first.wait_for()
    settle(page)

    # The API docs (Swagger UI from the sidecar) draw the schema's operations.
    page.goto("/api/docs/")
    page.locator("#swagger-ui .opblock").first.wait_for()
    settle(page)
    page.context.clear_cookies()  # the docs page has no console layout (no "Log out")

    # Adam, an admin with Django admin: its index and a user's change form.
    get_user_model().objects.filter(pk=adam.pk).update(is_staff=True)
    login(page, "adam")
    page.goto("/admin/")
    page.get_by_role("link", name="Users").first.click()
    page.get_by_role("link", name="olivia").click()
    page.wait_for_url(re.compile(r".*/admin/auth/user/\d+/change/$"))
    settle(page)

    assert page.seen["violations"] == []
    assert page.seen["console"] == [], "\n".join(page.seen["console"])
