"""The 403, 404 and 500 pages: in the console's layout, the 403 naming what the page needs and who grants it,
and none of them showing a traceback or an error's internals with DEBUG off."""
from __future__ import annotations

import pytest
from django.test import Client
from django.urls import path

from console.urls import urlpatterns as console_urls

pytestmark = pytest.mark.django_db

SECRET = "the-internal-detail-no-page-may-show"


def explode(request):
    raise RuntimeError(SECRET)


# This module is the URL conf of its tests: the console's URLs, its error handlers, and a view that raises.
urlpatterns = [*console_urls, path("test-explodes/", explode)]
handler403 = "console.errors.permission_denied"
handler404 = "console.views.not_found"
handler500 = "console.errors.server_error"


def test_a_refused_page_names_the_capability_the_roles_holding_it_and_the_admins_who_grant_it(
    client, oscar, olivia, adam, ada
):
    client.force_login(oscar)
    response = client.get("/audit/")
    body = response.content.decode()
    assert response.status_code == 403
    assert 'class="topbar"' in body  # the console's layout
    assert "Read the audit trail" in body and "console.view_audit" in body
    assert "reads and exports the audit trail" in body  # the auditor role, described
    assert "You hold no role yet." in body
    assert "ask <strong>ada</strong> or <strong>adam</strong>" in body

    client.force_login(olivia)
    body = client.get("/people/").content.decode()
    assert "Can view user" in body and '<span class="badge">admin</span>' in body
    assert 'Your roles: <span class="badge">operator</span>' in body


def test_a_services_refusal_on_a_page_the_person_reads_says_its_reason(client, cecilia):
    client.force_login(cecilia)  # a reviewer reads runs; starting one is refused by the service
    response = client.post("/runs/new/", {"period_start": "2025-01-01", "period_end": "2025-12-31"})
    body = response.content.decode()
    assert response.status_code == 403
    assert '<p class="error-reason">starting a calculation run needs the build_deliverable permission</p>' in body
    assert "console.view_provenance" not in body  # what the page needs to be read, she holds


def test_a_url_that_matches_nothing_answers_a_styled_404_and_json_under_the_api(client, cecilia):
    client.force_login(cecilia)
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert 'class="topbar"' in body and "Nothing here" in body and "/no/such/page/" in body
    api = client.get("/api/no-such-endpoint/")
    assert api.status_code == 404 and api.json() == {"detail": "no API endpoint at /api/no-such-endpoint/"}


@pytest.mark.urls(__name__)
def test_an_error_answers_a_styled_500_without_a_traceback(settings, cecilia):
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    client.force_login(cecilia)
    response = client.get("/test-explodes/")
    body = response.content.decode()
    assert response.status_code == 500
    assert 'class="topbar"' in body and "Something went wrong" in body
    assert response["X-Request-ID"] in body  # the id to quote to an admin
    assert SECRET not in body and "Traceback" not in body and "RuntimeError" not in body


@pytest.mark.urls(__name__)
def test_with_debug_off_a_refusal_and_a_missing_page_show_no_internals(settings, oscar):
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    client.force_login(oscar)
    for url, status in (("/audit/", 403), ("/nothing-here/", 404)):
        response = client.get(url)
        body = response.content.decode()
        assert response.status_code == status
        assert "Traceback" not in body and "site-packages" not in body
