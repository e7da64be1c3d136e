"""Login throttling: a username or an address locks after repeated failures, audited, unlocked by an admin."""

import datetime as dt
import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
from django.test import RequestFactory

from console import clock
from console.logins import client_ip
from console.models import AuditEvent
from tests.conftest import PASSWORD

LOCKED = "Sign-in is locked after too many failed attempts"
WRONG = "didn't match"


def attempt(client, username, password, address="127.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def events(action, **filters):
    return list(AuditEvent.objects.filter(action=action, **filters).order_by("seq"))


def logged_in(client) -> bool:
    return client.get("/").status_code == 200


@pytest.mark.catalogue(54)
def test_thirty_wrong_passwords_lock_the_username_with_a_clear_message(client, olivia, settings):
    responses = [attempt(client, "olivia", f"guess-{index}") for index in range(30)]
    limit = settings.LOGIN_FAILURES_PER_USERNAME
    assert [r.status_code for r in responses] == [200] * (limit - 1) + [429] * (30 - limit + 1)
    assert WRONG in responses[0].content.decode()
    locked_page = responses[-1].content.decode()
    assert LOCKED in locked_page and "Try again in 15 minutes, or ask an admin to unlock it." in locked_page
    assert 'id="id_username"' in locked_page  # the login page itself, not a bare error text


@pytest.mark.catalogue(54)
def test_while_locked_even_the_right_password_is_refused(client, olivia, settings):
    for index in range(settings.LOGIN_FAILURES_PER_USERNAME):
        attempt(client, "olivia", f"guess-{index}")
    response = attempt(client, "olivia", PASSWORD)
    assert response.status_code == 429 and LOCKED in response.content.decode()
    assert not logged_in(client)
    assert not events("auth.login")
    assert events("auth.login_failed")[-1].after["refused_while_locked"] is True


def test_a_locked_username_is_locked_from_every_address(client, olivia, settings):
    for index in range(settings.LOGIN_FAILURES_PER_USERNAME):
        attempt(client, "olivia", f"guess-{index}", address="203.0.113.7")
    assert attempt(client, "olivia", PASSWORD, address="198.51.100.20").status_code == 429
    # The username is what locks: it is counted whatever its case or padding.
    assert attempt(client, " Olivia", PASSWORD, address="198.51.100.21").status_code == 429


def test_others_log_in_from_the_address_of_a_locked_username(client, olivia, arthur, settings):
    for index in range(settings.LOGIN_FAILURES_PER_USERNAME):
        attempt(client, "olivia", f"guess-{index}")
    assert attempt(client, "arthur", PASSWORD).status_code == 302


@pytest.mark.catalogue(54)
def test_an_address_locks_after_failures_for_many_usernames(client, olivia, settings):
    spray = settings.LOGIN_FAILURES_PER_ADDRESS
    responses = [attempt(client, f"user{index}", "Winter2026!", address="203.0.113.9") for index in range(spray)]
    assert [r.status_code for r in responses] == [200] * (spray - 1) + [429]
    assert attempt(client, "olivia", PASSWORD, address="203.0.113.9").status_code == 429
    assert attempt(client, "olivia", PASSWORD, address="198.51.100.1").status_code == 302
    [locked] = events("auth.locked_out")
    assert locked.object_id == "address:203.0.113.9"
    assert locked.after["failures"] == spray and locked.after["limit"] == spray


@pytest.mark.catalogue(54)
def test_failures_the_lockout_and_refusals_are_audited(client, olivia, settings):
    limit = settings.LOGIN_FAILURES_PER_USERNAME
    for index in range(limit + 2):
        attempt(client, "olivia", f"guess-{index}")
    failed = events("auth.login_failed")
    assert len(failed) == limit + 2
    assert [event.after["refused_while_locked"] for event in failed] == [False] * limit + [True, True]
    assert {(event.actor_label, event.object_id, event.after["ip"]) for event in failed} == {
        ("anonymous", "olivia", "127.0.0.1")
    }
    [locked] = events("auth.locked_out")  # once, in the request of the failure that reached the limit
    assert locked.correlation_id == failed[limit - 1].correlation_id
    assert (locked.actor_label, locked.object_type, locked.object_id) == ("anonymous", "auth.lockout", "username:olivia")
    assert locked.before == {"locked": False, "failures": limit - 1}
    assert locked.after == {
        "locked": True,
        "failures": limit,
        "limit": limit,
        "cool_off_minutes": 15,
        "username": "olivia",
        "ip": "127.0.0.1",
    }
    assert not any("guess-" in str([event.before, event.after]) for event in failed + [locked])


def test_the_lock_lifts_after_the_cool_off(client, olivia, settings):
    start = clock.now()
    with clock.frozen(start):
        for index in range(settings.LOGIN_FAILURES_PER_USERNAME):
            attempt(client, "olivia", f"guess-{index}")
    with clock.frozen(start + dt.timedelta(minutes=14)):
        assert attempt(client, "olivia", PASSWORD).status_code == 429
    # That refusal counted as a failure too: the cool-off runs from the last one.
    with clock.frozen(start + dt.timedelta(minutes=14 + 16)):
        assert attempt(client, "olivia", PASSWORD).status_code == 302


def test_without_a_cool_off_only_an_admin_unlocks(client, olivia, settings):
    settings.LOGIN_LOCKOUT_MINUTES = 0
    settings.AXES_COOLOFF_TIME = None
    for index in range(settings.LOGIN_FAILURES_PER_USERNAME):
        attempt(client, "olivia", f"guess-{index}")
    with clock.frozen(clock.now() + dt.timedelta(days=30)):
        response = attempt(client, "olivia", PASSWORD)
    assert response.status_code == 429 and "Ask an admin to unlock it." in response.content.decode()


# --- the admin unlocks --------------------------------------------------------------------------


def lock_olivia(client, settings, address="127.0.0.1"):
    for index in range(settings.LOGIN_FAILURES_PER_USERNAME):
        attempt(client, "olivia", f"guess-{index}", address=address)


@pytest.mark.catalogue(54)
def test_the_admin_sees_the_lock_and_unlocking_restores_login(client, olivia, adam, settings):
    lock_olivia(client, settings)
    client.force_login(adam)
    page = client.get("/logins/locked/").content.decode()
    assert "Unlock username olivia" in page and "5 of 5" in page
    response = client.post("/logins/locked/unlock/", {"kind": "username", "value": "olivia"}, follow=True)
    assert "Unlocked username olivia: 5 failed login(s) cleared." in response.content.decode()
    assert "No username or address is locked." in response.content.decode()
    client.logout()
    assert attempt(client, "olivia", PASSWORD).status_code == 302


@pytest.mark.catalogue(54)
@pytest.mark.catalogue(21)  # a web request through a service: the signed-in admin, under the request id
def test_an_unlock_is_audited_with_before_and_after(client, olivia, adam, settings):
    lock_olivia(client, settings, address="203.0.113.5")
    client.force_login(adam)
    client.post("/logins/locked/unlock/", {"kind": "username", "value": "olivia"}, HTTP_X_REQUEST_ID="unlock-request-1")
    [unlocked] = events("auth.unlocked")
    assert (unlocked.actor, unlocked.object_type, unlocked.object_id) == (adam, "auth.lockout", "username:olivia")
    assert unlocked.correlation_id == "unlock-request-1"
    assert unlocked.before["locked"] is True and unlocked.before["failures"] == 5
    assert [(row["username"], row["ip"], row["failures"]) for row in unlocked.before["attempts"]] == [
        ("olivia", "203.0.113.5", 5)
    ]
    assert unlocked.after == {"locked": False, "failures": 0, "limit": 5, "attempts": []}


def test_the_admin_unlocks_an_address(client, olivia, adam, settings):
    for index in range(settings.LOGIN_FAILURES_PER_ADDRESS):
        attempt(client, f"user{index}", "Winter2026!", address="203.0.113.9")
    client.force_login(adam)
    assert "Unlock address 203.0.113.9" in client.get("/logins/locked/").content.decode()
    client.post("/logins/locked/unlock/", {"kind": "address", "value": "203.0.113.9"})
    client.logout()
    assert attempt(client, "olivia", PASSWORD, address="203.0.113.9").status_code == 302
    [unlocked] = events("auth.unlocked")
    assert unlocked.object_id == "address:203.0.113.9" and unlocked.before["failures"] == 20


@pytest.mark.parametrize("persona", ["olivia", "audrey", "oscar"])
def test_no_one_but_the_admin_may_unlock(client, request, persona, arthur, settings):
    for index in range(settings.LOGIN_FAILURES_PER_USERNAME):
        attempt(client, "arthur", f"guess-{index}")
    who = request.getfixturevalue(persona)
    client.force_login(who)
    assert client.get("/logins/locked/").status_code == 403
    assert client.post("/logins/locked/unlock/", {"kind": "username", "value": "arthur"}).status_code == 403
    assert "Lockouts" not in client.get("/").content.decode()
    [refused] = events("auth.unlock_refused")
    assert (refused.actor, refused.object_id) == (who, "username:arthur")
    assert not events("auth.unlocked")
    client.logout()
    assert attempt(client, "arthur", PASSWORD).status_code == 429


def test_a_locked_username_keeps_its_api_token(client, olivia, settings):
    """A token is another credential than the password being guessed; it stays valid while locked."""
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=olivia)
    lock_olivia(client, settings)
    assert client.get("/api/schema/", HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200


# --- the client address ------------------------------------------------------------------------


def test_x_forwarded_for_is_ignored_without_a_trusted_proxy(client, olivia, settings):
    for index in range(settings.LOGIN_FAILURES_PER_USERNAME):
        client.post(
            "/login/",
            {"username": f"user{index}", "password": "nope"},
            REMOTE_ADDR="203.0.113.50",
            HTTP_X_FORWARDED_FOR=f"10.9.9.{index}",
        )
    ips = {event.after["ip"] for event in events("auth.login_failed")}
    assert ips == {"203.0.113.50"}


def test_behind_a_trusted_proxy_the_address_it_forwarded_counts(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    factory = RequestFactory()
    request = factory.post("/login/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.77")
    assert client_ip(request) == "203.0.113.77"  # what our proxy saw; the left part is the client's own claim
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.2"


# --- through a real HTTP server ----------------------------------------------------------------


class Browserless:
    """A cookie-keeping HTTP client that posts Django forms with their CSRF token."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> tuple[int, str, str]:
        return self._open(urllib.request.Request(self.base + path))

    def post_form(self, path: str, form_path: str, fields: dict) -> tuple[int, str, str]:
        _status, page, _url = self.get(form_path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({"csrfmiddlewaretoken": token, **fields}).encode()
        return self._open(urllib.request.Request(self.base + path, data=data, headers={"Referer": self.base + form_path}))

    def _open(self, request) -> tuple[int, str, str]:
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode(), response.url
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), error.url


@pytest.mark.catalogue(54)
def test_lockout_and_unlock_through_a_real_server(live_server, transactional_db, olivia, adam, settings):
    attacker = Browserless(live_server.url)
    statuses = [
        attacker.post_form("/login/", "/login/", {"username": "olivia", "password": f"guess-{index}"})[0]
        for index in range(settings.LOGIN_FAILURES_PER_USERNAME + 1)
    ]
    assert statuses == [200] * (settings.LOGIN_FAILURES_PER_USERNAME - 1) + [429, 429]
    status, page, _url = attacker.post_form("/login/", "/login/", {"username": "olivia", "password": PASSWORD})
    assert status == 429 and LOCKED in page

    admin = Browserless(live_server.url)
    status, _page, url = admin.post_form("/login/", "/login/", {"username": "adam", "password": PASSWORD})
    assert status == 200 and not url.endswith("/login/")
    status, page, _url = admin.post_form(
        "/logins/locked/unlock/", "/logins/locked/", {"kind": "username", "value": "olivia"}
    )
    assert status == 200 and "Unlocked username olivia" in page

    status, _page, url = attacker.post_form("/login/", "/login/", {"username": "olivia", "password": PASSWORD})
    assert status == 200 and not url.endswith("/login/")  # followed the redirect home
    assert [event.object_id for event in events("auth.locked_out")] == ["username:olivia"]
    assert [event.actor for event in events("auth.unlocked")] == [adam]
    assert [event.actor for event in events("auth.login")] == [adam, olivia]


def test_a_username_longer_than_the_user_model_allows_is_refused_by_the_form_not_a_500(client):
    response = attempt(client, "x" * 300, "wrong")
    assert response.status_code == 200
    assert WRONG in response.content.decode()  # the login page's one message, no hint what was wrong
    assert not logged_in(client)
