"""An approval anchors the audit chain's head in the lake as it commits: cutting it off the trail is detected."""
from __future__ import annotations

import json

import pytest
import requests
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.authtoken.models import Token

from console import anchors
from console.models import AuditEvent
from tests.console.conftest import bypassing_triggers
from tests.promotion.conftest import approve


def anchored_seqs(lake) -> list[int]:
    return [json.loads(lake.read(path))["seq"] for path in lake.list(anchors.HEADS_PREFIX)]


def test_cutting_the_tail_after_an_approval_is_detected_and_names_the_missing_range(
    ready_request, arthur, lake, no_enqueue, capsys, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        approve(ready_request, arthur)
    approval = AuditEvent.objects.get(action="promotion.approved", object_id=str(ready_request.pk))
    assert anchored_seqs(lake) == [approval.seq]
    first_cut = approval.seq - 2  # the approval and the two events before it: the newest ones

    # Someone with database rights removes the approval, as the tamper tests do.
    with bypassing_triggers() as cursor:
        cursor.execute("DELETE FROM console_auditevent WHERE seq >= %s", [first_cut])

    with pytest.raises(CommandError) as failure:
        call_command("verify_audit_chain", "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert (report["first_break"]["seq"], report["first_break"]["kind"]) == (first_cut, "truncated-tail")
    assert f"events {first_cut}..{approval.seq} are missing" in str(failure.value)
    assert f"{approval.seq:012d}.json" in report["first_break"]["detail"]


def test_an_approval_through_a_real_server_is_anchored_before_anyone_could_cut_it(
    ready_request, arthur, lake, no_enqueue, live_server
):
    token = Token.objects.create(user=arthur)
    response = requests.post(
        f"{live_server.url}/api/promotions/{ready_request.pk}/approve/",
        json={"comment": "figures match Domo"},
        headers={"Authorization": f"Token {token.key}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    approval = AuditEvent.objects.get(action="promotion.approved", object_id=str(ready_request.pk))
    assert approval.seq in anchored_seqs(lake)
    assert no_enqueue.sent() == [(ready_request.pk,)]  # the load was sent after the same commit
