"""The console's shell: login, logout, session timeout, navigation, request ids, API defaults."""
import re

import pytest
from django.conf import settings
from django.urls import reverse

from tests.conftest import PASSWORD


def test_anonymous_visitor_is_sent_to_login(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_operator_logs_in_and_sees_home_with_their_role(client, olivia):
    response = client.post("/login/", {"username": "olivia", "password": PASSWORD}, follow=True)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Takeover Console" in body
    assert "operator" in body
    assert "evidence, never runtime authority" in body


def test_wrong_password_shows_an_error_and_stays_logged_out(client, olivia):
    response = client.post("/login/", {"username": "olivia", "password": "wrong-password"})
    assert response.status_code == 200
    assert "didn't match" in response.content.decode()
    assert client.get("/").status_code == 302


def test_logout_is_a_post_and_ends_the_session(client, olivia):
    client.force_login(olivia)
    assert client.get("/logout/").status_code == 405
    client.post("/logout/")
    assert client.get("/").status_code == 302


@pytest.mark.catalogue(35)
def test_session_expires_after_idle_timeout(client, olivia):
    client.force_login(olivia)
    client.get("/")
    assert client.session.get_expiry_age() <= settings.SESSION_COOKIE_AGE
    assert settings.SESSION_SAVE_EVERY_REQUEST  # idle, not absolute: each request extends it
    session = client.session
    session.set_expiry(-1)
    session.save()
    assert client.get("/").status_code == 302


def test_every_response_carries_a_request_id(client, db):
    response = client.get("/login/")
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_a_well_formed_upstream_request_id_is_echoed(client, db):
    response = client.get("/login/", HTTP_X_REQUEST_ID="gateway-7f3a9c21")
    assert response["X-Request-ID"] == "gateway-7f3a9c21"


def test_a_malformed_upstream_request_id_is_replaced(client, db):
    response = client.get("/login/", HTTP_X_REQUEST_ID="<script>")
    assert response["X-Request-ID"] != "<script>"


def test_navigation_shows_the_audit_trail_only_to_auditors(client, audrey, olivia):
    client.force_login(olivia)
    assert "Audit trail" not in client.get("/").content.decode()
    client.force_login(audrey)
    assert "Audit trail" in client.get("/").content.decode()


def test_user_without_a_role_is_told_what_to_do(client, oscar):
    client.force_login(oscar)
    assert "Ask an admin" in client.get("/").content.decode()


@pytest.mark.parametrize("url", ["/api/schema/", "/api/audit-events/", "/api/promotions/", "/api/curated/"])
def test_api_answers_anonymous_requests_401_with_how_to_authenticate(client, db, url):
    response = client.get(url)
    assert response.status_code == 401, url
    assert response["WWW-Authenticate"] == "Token"


def test_api_answers_an_anonymous_post_401_too(client, db):
    response = client.post("/api/promotions/", {}, content_type="application/json")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"


def test_api_answers_a_bad_token_401(client, db):
    response = client.get("/api/audit-events/", HTTP_AUTHORIZATION="Token not-a-real-token")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"


def test_api_answers_a_signed_in_person_without_the_capability_403(client, oscar):
    client.force_login(oscar)
    response = client.get("/api/audit-events/")
    assert response.status_code == 403 and "WWW-Authenticate" not in response


@pytest.mark.catalogue(33)
def test_api_session_posts_still_need_csrf(oscar):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(oscar)
    response = strict.post("/api/promotions/", {}, content_type="application/json")
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]


def test_api_401_through_a_real_server(live_server, transactional_db):
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{live_server.url}/api/audit-events/", timeout=30)
    assert refused.value.code == 401 and refused.value.headers["WWW-Authenticate"] == "Token"


def test_api_accepts_token_authentication(client, cecilia):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=cecilia)
    response = client.get("/api/schema/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200


def test_api_docs_page_is_served_without_a_cdn(client, cecilia):
    client.force_login(cecilia)
    body = client.get(reverse("api-docs")).content.decode()
    assert "swagger-ui" in body.lower()
    assert not re.search(r"https?://(cdn|unpkg|cdnjs)", body)


def test_pages_load_no_asset_from_another_host(client, olivia):
    client.force_login(olivia)
    body = client.get("/").content.decode()
    assert not re.search(r"""(src|href)=["']https?://""", body)


def test_healthz_answers_without_login(client, db):
    assert client.get("/healthz").json() == {"status": "ok"}
