"""Helpers of the people tests (tests/console/test_people*.py): the trail's people events, forms through a real server."""
from __future__ import annotations

import re

from django.contrib.auth.models import Group

from console.models import AuditEvent
from tests.conftest import PASSWORD
from tests.support.api import TIMEOUT, Api


def events(action: str, object_id: str | None = None):
    found = AuditEvent.objects.filter(action=action).order_by("seq")
    return found.filter(object_id=object_id) if object_id is not None else found


def refusals(object_id: str):
    return events("role.refused", object_id)


def roles_of(user) -> list[str]:
    return sorted(user.groups.values_list("name", flat=True))


def group(name: str) -> Group:
    return Group.objects.get(name=name)


class FormClient:
    """Signed in through a real server (tests.support.api.Api's session): posts Django forms with their CSRF token."""

    def __init__(self, base: str, username: str):
        self.api = Api.signed_in(base, username, PASSWORD)

    def post_form(self, path: str, form_path: str, fields: list[tuple[str, str]]) -> tuple[int, str, str]:
        page = self.api.get(form_path).text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        answer = self.api.session.post(self.api.base + path, data=[("csrfmiddlewaretoken", token), *fields],
                                       headers={"Referer": self.api.base + form_path}, timeout=TIMEOUT)
        return answer.status_code, answer.text, answer.url
