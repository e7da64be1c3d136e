"""Log injection (ASVS 16.4.1): a hostile username with CR/LF, ANSI escapes and megabytes of text, typed at the
login page, reaches the log through the real login path (django-axes logs each failure with the username) as one
line, its control characters escaped and its length cut."""
from __future__ import annotations

import pytest

from console.logs import OneLineFormatter, one_line
from tests.support.logs import log_lines

pytestmark = [pytest.mark.catalogue(51)]

FORGED = "2026-12-06 09:00:00,000 INFO console.audit [-] admin signed in"
HOSTILE = f"mallory\r\n{FORGED}\n\x1b[2J\x1b[31mred\x1b[0m\u2028\x85end"


def failed_login(client, username: str) -> str:
    with log_lines() as lines:
        response = client.post("/login/", {"username": username, "password": "wrong"})
    assert response.status_code == 200  # the form again, "please enter a correct username and password"
    return lines.getvalue()


def test_a_hostile_username_at_the_login_page_never_splits_or_colours_a_line(db, client):
    written = failed_login(client, HOSTILE)
    events = [line for line in written.splitlines() if "login failure" in line.lower()]
    assert events, written
    assert "\r" not in written and "\x1b" not in written and "\u2028" not in written and "\x85" not in written
    assert not any(line.startswith(FORGED) for line in written.splitlines())
    assert "mallory" not in written  # django-axes writes the username masked (AXES_SENSITIVE_PARAMETERS)


def test_a_hostile_name_in_a_message_is_escaped_on_one_line(db):
    import logging

    with log_lines() as lines:
        logging.getLogger("evidence.intake").warning("received %s from %s", HOSTILE, "olivia")
    written = lines.getvalue()
    assert len(written.splitlines()) == 1 and written.endswith("\n")
    assert "\r" not in written and "\x1b" not in written and "\u2028" not in written and "\x85" not in written
    assert "received mallory\\r\\n2026-12-06 09:00:00,000 INFO" in written
    assert "\\x1b[2J\\x1b[31mred\\x1b[0m\\u2028\\x85end from olivia" in written


def test_a_hostile_and_very_long_path_is_one_cut_line(db, client):
    with log_lines() as lines:
        response = client.get("/nothing%0D%0A" + FORGED.replace(" ", "%20") + "%1B[31m" + "x" * 200_000 + "/")
    assert response.status_code == 404
    written = lines.getvalue()
    [event] = [line for line in written.splitlines() if "Not Found" in line]
    assert len(written.splitlines()) == 1 and "\r" not in written and "\x1b" not in written
    # Django escapes the path it logs (backslash escapes); the formatter escapes those backslashes again.
    assert "/nothing\\\\r\\\\n2026-12-06" in event and "\\\\x1b[31m" in event
    assert len(event) < 4200 and event.endswith("more characters cut]")


def test_every_line_names_the_request_it_belongs_to(db, client):
    with log_lines() as lines:
        response = client.post("/login/", {"username": "nobody", "password": "wrong"}, HTTP_X_REQUEST_ID="req-12345678")
    assert response["X-Request-ID"] == "req-12345678"
    events = [line for line in lines.getvalue().splitlines() if "login failure" in line.lower()]
    assert events and all("[req-12345678]" in line for line in events)


def test_a_traceback_stays_on_the_line_of_its_event():
    import logging

    formatter = OneLineFormatter("%(levelname)s %(message)s")
    try:
        raise ValueError("bad\r\ninput")
    except ValueError as exc:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed: %s", ("a\nb",), exc_info=(type(exc), exc, exc.__traceback__))
    line = formatter.format(record)
    assert "\n" not in line and "\r" not in line
    assert line.startswith("ERROR failed: a\\nb | Traceback (most recent call last):\\n")
    assert line.endswith("ValueError: bad\\r\\ninput")
    assert one_line("back\\slash", 100) == "back\\\\slash"  # a literal "\n" cannot pass for an escaped one
