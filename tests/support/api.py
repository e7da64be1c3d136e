"""An API client for tests through a real HTTP server (pytest-django's `live_server`).

The test client never checks what a WSGI server checks (a header value that is not exactly a `str` is a
500 under wsgiref, gunicorn too); these tests go through the socket, as a script of the console would:
signed in by token (`Api.with_token`) or by the login page with its session and CSRF token
(`Api.signed_in`).
"""
from __future__ import annotations

import re

import requests

TIMEOUT = 60


class Api:
    def __init__(self, base: str, session: requests.Session):
        self.base = base
        self.session = session

    @classmethod
    def with_token(cls, base: str, user) -> Api:
        from rest_framework.authtoken.models import Token

        token, _ = Token.objects.get_or_create(user=user)
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token.key}"
        return cls(base, session)

    @classmethod
    def signed_in(cls, base: str, username: str, password: str) -> Api:
        """Signed in through the login page; writes send the CSRF cookie back as X-CSRFToken."""
        session = requests.Session()
        page = session.get(f"{base}/login/", timeout=TIMEOUT)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        answer = session.post(
            f"{base}/login/", timeout=TIMEOUT,
            data={"csrfmiddlewaretoken": token, "username": username, "password": password},
            headers={"Referer": f"{base}/login/"},
        )
        assert answer.ok and not answer.url.endswith("/login/"), f"{username} could not sign in"
        session.headers["X-CSRFToken"] = session.cookies["csrftoken"]
        return cls(base, session)

    def get(self, path: str, **options) -> requests.Response:
        return self.session.get(self.base + path, timeout=TIMEOUT, **options)

    def post(
        self, path: str, body: dict | None = None, *, key: str | None = None, files=None
    ) -> requests.Response:
        """POST a JSON body (or a multipart upload of `files`), with an Idempotency-Key if given."""
        headers = {"Idempotency-Key": key} if key is not None else {}
        if files is not None:
            return self.session.post(
                self.base + path, data=body, files=files, headers=headers, timeout=TIMEOUT
            )
        return self.session.post(self.base + path, json=body or {}, headers=headers, timeout=TIMEOUT)
