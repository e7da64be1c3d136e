"""Helpers of the people tests (tests/console/test_people*.py): the trail's people events, a real HTTP client."""
from __future__ import annotations

import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request

from django.contrib.auth.models import Group

from console.models import AuditEvent
from tests.conftest import PASSWORD


def events(action: str, object_id: str | None = None):
    found = AuditEvent.objects.filter(action=action).order_by("seq")
    return found.filter(object_id=object_id) if object_id is not None else found


def refusals(object_id: str):
    return events("role.refused", object_id)


def roles_of(user) -> list[str]:
    return sorted(user.groups.values_list("name", flat=True))


def group(name: str) -> Group:
    return Group.objects.get(name=name)


class RealClient:
    """A cookie-keeping HTTP client for pytest-django's live_server: forms with their CSRF token, JSON."""

    def __init__(self, base: str):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def login(self, username: str) -> RealClient:
        status, page, url = self.post_form("/login/", "/login/", [("username", username), ("password", PASSWORD)])
        assert status == 200 and "/login/" not in url, page[:500]
        return self

    def get(self, path: str) -> tuple[int, str, dict]:
        return self._open(urllib.request.Request(self.base + path))

    def post_form(self, path: str, form_path: str, fields: list[tuple[str, str]]) -> tuple[int, str, str]:
        status, page, headers = self.get(form_path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode([("csrfmiddlewaretoken", token), *fields]).encode()
        status, page, headers = self._open(
            urllib.request.Request(self.base + path, data=data, headers={"Referer": self.base + form_path})
        )
        return status, page, headers["url"]

    def post_json(self, path: str, body: dict | None = None) -> tuple[int, dict, dict]:
        token = next((c.value for c in self.cookies if c.name == "csrftoken"), "")
        request = urllib.request.Request(
            self.base + path, data=json.dumps(body or {}).encode(), method="POST",
            headers={"Content-Type": "application/json", "X-CSRFToken": token, "Referer": self.base + "/"},
        )
        status, text, headers = self._open(request)
        return status, json.loads(text) if text else {}, headers

    def _open(self, request) -> tuple[int, str, dict]:
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode(), {"url": response.url, **dict(response.headers)}
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), {"url": error.url, **dict(error.headers)}
