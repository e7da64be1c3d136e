"""Logins, failed logins and logouts are audited, under the request id echoed in X-Request-ID."""

import json

from console.models import AuditEvent
from tests.conftest import PASSWORD


def events(action):
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def test_a_login_is_audited_under_the_request_id(client, olivia):
    response = client.post(
        "/login/", {"username": "olivia", "password": PASSWORD}, HTTP_X_REQUEST_ID="login-request-0001"
    )
    assert response.status_code == 302
    assert response["X-Request-ID"] == "login-request-0001"
    [event] = events("auth.login")
    assert (event.actor, event.actor_label, event.object_type, event.object_id) == (
        olivia,
        "olivia",
        "auth.user",
        "olivia",
    )
    assert event.correlation_id == response["X-Request-ID"]
    assert event.after["ip"] == "127.0.0.1"


def test_a_minted_request_id_is_the_correlation_id_too(client, olivia):
    response = client.post("/login/", {"username": "olivia", "password": PASSWORD})
    [event] = events("auth.login")
    assert event.correlation_id == response["X-Request-ID"]


def test_a_failed_login_records_the_attempted_username_and_never_the_password(client, olivia):
    response = client.post(
        "/login/",
        {"username": "olivia", "password": "not-her-password-123"},
        HTTP_X_REQUEST_ID="failed-login-0001",
    )
    assert response.status_code == 200
    [event] = events("auth.login_failed")
    assert (event.actor, event.actor_label, event.object_id) == (None, "anonymous", "olivia")
    assert event.after["username"] == "olivia"
    assert event.correlation_id == "failed-login-0001"
    row = json.dumps([event.before, event.after, event.object_id, event.actor_label])
    assert "not-her-password-123" not in row and "password" not in row and "****" not in row


def test_a_failed_login_for_an_unknown_username_is_audited(client, db):
    client.post("/login/", {"username": "mallory", "password": "guessing-passwords"})
    [event] = events("auth.login_failed")
    assert event.object_id == "mallory"
    assert not events("auth.login")


def test_a_logout_is_audited_under_its_request_id(client, olivia):
    client.force_login(olivia)
    response = client.post("/logout/", HTTP_X_REQUEST_ID="logout-request-01")
    [event] = events("auth.logout")
    assert (event.actor, event.object_id, event.correlation_id) == (olivia, "olivia", "logout-request-01")
    assert response["X-Request-ID"] == "logout-request-01"


def test_a_logout_without_a_session_records_nothing(client, db):
    client.post("/logout/")
    assert not events("auth.logout")
