"""Sessions and logins end when they should: a disabled person's session and API token stop at the next request,
a session past its idle or its absolute lifetime is signed out (audited), the session key rotates at login, and
the login form and session-authenticated API posts need their CSRF token."""
from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from rest_framework.authtoken.models import Token

from console import clock, roles
from console.models import AuditEvent, RoleGrant
from console.sessions import LOGIN_AT
from tests.conftest import PASSWORD

T0 = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)


def signed_in(client: Client, username: str) -> Client:
    """Signed in through the login form, as a person does (the login signal stamps the session)."""
    response = client.post("/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/", response.status_code
    return client


# --- a disabled person (ASVS 7.4.2) -----------------------------------------------------------------


@pytest.mark.catalogue(32)
def test_a_disabled_persons_session_and_api_token_stop_at_their_next_request(olivia, adam):
    session = signed_in(Client(), "olivia")
    token = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=olivia).key}")
    assert session.get("/").status_code == 200
    assert session.get("/api/promotions/").status_code == 200
    assert token.get("/api/promotions/").status_code == 200

    admin = Client()
    admin.force_login(adam)
    # The People screen: roles kept, "Active (may sign in)" left unticked.
    admin.post(f"/people/{olivia.pk}/roles/", {"groups": [roles.OPERATOR]})
    olivia.refresh_from_db()
    assert not olivia.is_active

    page = session.get("/")
    assert page.status_code == 302 and page["Location"].startswith("/login/")
    assert session.get("/api/promotions/").status_code == 401
    refused = token.get("/api/promotions/")
    assert refused.status_code == 401 and "inactive" in refused.json()["detail"].lower()
    again = Client()  # and the right password no longer signs her in
    assert again.post("/login/", {"username": "olivia", "password": PASSWORD}).status_code == 200
    assert again.get("/").status_code == 302
    event = AuditEvent.objects.get(action="user.changed", object_id="olivia")
    assert event.actor == adam and event.after == {"is_active": False}


# --- idle and absolute lifetimes, the key rotated at login (ASVS 7.3) -----------------------------------


@pytest.mark.catalogue(35)
def test_a_session_idle_past_the_inactivity_limit_must_sign_in_again(client, olivia, settings):
    settings.SESSION_COOKIE_AGE = 1  # the idle limit (SESSION_TIMEOUT_SECONDS), made short
    signed_in(client, "olivia")
    assert client.get("/").status_code == 200  # active: each request pushes the expiry forward
    time.sleep(1.2)
    page = client.get("/")
    assert page.status_code == 302 and page["Location"].startswith("/login/")


@pytest.mark.catalogue(35)
def test_an_active_session_past_the_absolute_limit_is_signed_out_and_audited(client, olivia, settings):
    settings.SESSION_ABSOLUTE_SECONDS = 8 * 3600
    with clock.frozen(T0):
        signed_in(client, "olivia")
    assert client.session[LOGIN_AT] == T0.timestamp()
    for hours in (1, 4, 7):  # active all day: the idle limit never runs out
        with clock.frozen(T0 + dt.timedelta(hours=hours, minutes=59)):
            assert client.get("/").status_code == 200
            assert client.get("/api/promotions/").status_code == 200

    with clock.frozen(T0 + dt.timedelta(hours=8)):
        page = client.get("/")
        api = client.get("/api/promotions/")

    assert page.status_code == 302 and page["Location"].startswith("/login/")
    assert api.status_code == 401
    expired = AuditEvent.objects.get(action="auth.session_expired")
    assert expired.actor == olivia and expired.after["age_seconds"] == 8 * 3600
    assert expired.after["limit_seconds"] == 8 * 3600 and expired.after["path"] == "/"
    assert AuditEvent.objects.filter(action="auth.logout", actor=olivia).count() == 1
    with clock.frozen(T0 + dt.timedelta(hours=8, minutes=1)):  # signing in again starts a new lifetime
        signed_in(client, "olivia")
        assert client.get("/").status_code == 200


@pytest.mark.catalogue(35)
def test_a_signed_in_session_without_a_login_time_counts_as_expired(client, olivia):
    signed_in(client, "olivia")
    session = client.session
    del session[LOGIN_AT]
    session.save()
    assert client.get("/").status_code == 302
    assert AuditEvent.objects.get(action="auth.session_expired").after["reason"] == "no login time"


@pytest.mark.catalogue(35)
def test_the_session_key_rotates_at_login(client, olivia):
    client.get("/login/")
    session = client.session
    session["planted"] = "before login"
    session.save()
    before = session.session_key
    client.cookies["sessionid"] = before

    signed_in(client, "olivia")

    after = client.cookies["sessionid"].value
    assert after and after != before
    assert not Session.objects.filter(session_key=before).exists()  # the planted key signs no one in
    planted = Client()
    planted.cookies["sessionid"] = before
    assert planted.get("/").status_code == 302


# --- CSRF on the login and on session API posts ------------------------------------------------------


@pytest.mark.catalogue(33)
def test_the_login_form_needs_its_csrf_token(olivia):
    strict = Client(enforce_csrf_checks=True)
    page = strict.get("/login/")
    assert "csrftoken" in strict.cookies

    refused = strict.post("/login/", {"username": "olivia", "password": PASSWORD})
    assert refused.status_code == 403
    assert strict.get("/").status_code == 302  # not signed in
    assert not AuditEvent.objects.filter(action="auth.login").exists()

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    accepted = strict.post("/login/", {"username": "olivia", "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert accepted.status_code == 302 and strict.get("/").status_code == 200


@pytest.mark.catalogue(33)
def test_a_session_post_to_a_state_changing_api_needs_its_csrf_token(olivia, adam):
    strict = Client(enforce_csrf_checks=True)
    page = strict.get("/login/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    strict.post("/login/", {"username": "adam", "password": PASSWORD, "csrfmiddlewaretoken": token})
    body = {"user": "olivia", "role": roles.APPROVER}

    refused = strict.post("/api/role-grants/", body, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert not RoleGrant.objects.exists()
    accepted = strict.post("/api/role-grants/", body, content_type="application/json",
                           HTTP_X_CSRFTOKEN=strict.cookies["csrftoken"].value)
    assert accepted.status_code == 201 and RoleGrant.objects.count() == 1
