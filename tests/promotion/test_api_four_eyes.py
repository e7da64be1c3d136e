"""Promotion API: four eyes, and the other decisions on a request (reject, cancel, recheck), over HTTP.

The error rule is in tests/promotion/api_helpers.py.
"""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from console import roles
from console.models import AuditEvent
from promotion import curated, services, tasks
from promotion.models import PromotionRequest
from tests.promotion.api_helpers import act, post, queued_tasks, refusals, requested
from tests.promotion.conftest import checked


@pytest.fixture
def olivia_approver(olivia):
    """Olivia holding the approve permission too: only the four-eyes rule stops her."""
    olivia.groups.add(Group.objects.get(name=roles.APPROVER))
    return type(olivia).objects.get(pk=olivia.pk)


# --- four eyes -------------------------------------------------------------------------------------


@pytest.mark.catalogue(28)
def test_self_approval_through_the_api_is_refused_403_and_audited(client, ready_request, olivia_approver):
    response = act(client, olivia_approver, ready_request, "approve", {"comment": "looks fine to me"})

    assert response.status_code == 403  # who asks (four eyes), as on the pages
    assert "own request" in response.json()["detail"]
    ready_request.refresh_from_db()
    assert ready_request.state == "ready" and ready_request.approved_by is None
    assert refusals("approve").get().actor == olivia_approver
    assert not AuditEvent.objects.filter(action="promotion.approved").exists()


def test_a_second_person_approves_through_the_api_and_the_load_is_queued(
    client, ready_request, arthur, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = act(client, arthur, ready_request, "approve", {"comment": "reconciles with the contract"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "approved" and body["approved_by"] == "arthur"
    assert body["approval_comment"] == "reconciles with the contract"
    ready_request.refresh_from_db()
    assert ready_request.state == "approved" and ready_request.approved_by == arthur
    assert len(callbacks) == 2  # the audit head's anchor (console.anchors), then the load
    assert queued_tasks("promotion") == [("promotion.tasks.promotion_load", f"({ready_request.pk},)")]
    assert AuditEvent.objects.get(action="promotion.approved").actor == arthur


@pytest.mark.parametrize("persona", ["oscar", "cecilia", "adam"])
def test_approving_without_the_permission_is_403_and_audited(client, ready_request, persona, request):
    actor = request.getfixturevalue(persona)
    response = act(client, actor, ready_request, "approve", {"comment": "ok"})
    assert response.status_code == 403 and "permission" in response.json()["detail"]
    ready_request.refresh_from_db()
    assert ready_request.state == "ready"
    assert refusals("approve").get().actor == actor


def test_an_approval_without_a_comment_is_400_naming_the_field(client, ready_request, arthur):
    response = act(client, arthur, ready_request, "approve", {"comment": "  "})
    assert response.status_code == 400 and set(response.json()) == {"comment"}
    ready_request.refresh_from_db()
    assert ready_request.state == "ready"


@pytest.mark.catalogue(14)
def test_approving_a_blocked_request_is_409_audited_and_queues_no_load(client, manifest, olivia, arthur, broker):
    blocked = checked(requested(olivia, manifest, enqueue=False))
    response = act(client, arthur, blocked, "approve", {"comment": "ok"})
    assert response.status_code == 409 and "blocked" in response.json()["detail"]
    blocked.refresh_from_db()
    assert blocked.state == "blocked" and blocked.approved_by is None
    assert refusals("approve").get().actor == arthur
    assert queued_tasks("promotion") == []  # nothing will load
    assert curated.read_current(services.curated_reader(), blocked.datasets.get().domo_id) is None


def reuploaded(dataset) -> None:
    """The dataset's data replaced after the gates ran (a later upload): what they passed on is stale."""
    type(dataset).objects.filter(pk=dataset.pk).update(silver_sha256="0" * 64)


@pytest.mark.catalogue(14)
def test_approving_after_a_later_upload_is_409_stale_audited_and_queues_no_load(client, ready_request, arthur, broker):
    reuploaded(ready_request.datasets.get())

    response = act(client, arthur, ready_request, "approve", {"comment": "ok"})

    assert response.status_code == 409 and "stale" in response.json()["detail"]
    ready_request.refresh_from_db()
    assert ready_request.state == "ready" and ready_request.approved_by is None
    assert refusals("approve").get().actor == arthur
    assert queued_tasks("promotion") == []
    assert not AuditEvent.objects.filter(action="promotion.approved").exists()


@pytest.mark.catalogue(14)
def test_a_promotion_whose_gates_went_stale_after_approval_is_refused_at_load_and_promotes_nothing(
    client, ready_request, arthur, broker
):
    """The load message the approval queued, delivered after a later upload: the guard refuses it."""
    assert act(client, arthur, ready_request, "approve", {"comment": "ok"}).status_code == 200
    claims = ready_request.datasets.get()
    reuploaded(claims)

    tasks.promotion_load(ready_request.pk)

    ready_request.refresh_from_db()
    assert ready_request.state == "approved" and ready_request.attempts == 0  # never claimed
    assert "stale" in refusals("load").get().after["reason"]
    assert curated.read_current(services.curated_reader(), claims.domo_id) is None


def test_an_unknown_request_is_404(client, arthur):
    missing = PromotionRequest(pk=999_999)
    assert act(client, arthur, missing, "approve", {"comment": "ok"}).status_code == 404
    assert client.get("/api/promotions/999999/").status_code == 404


def test_an_approver_rejects_with_a_comment(client, ready_request, arthur):
    response = act(client, arthur, ready_request, "reject", {"comment": "wrong contract year"})
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "rejected" and body["rejection_comment"] == "wrong contract year"
    assert body["rejected_by"] == "arthur"


def test_the_requester_cannot_reject_their_own_request(client, ready_request, olivia_approver):
    response = act(client, olivia_approver, ready_request, "reject", {"comment": "no"})
    assert response.status_code == 403 and "cancel" in response.json()["detail"]
    ready_request.refresh_from_db()
    assert ready_request.state == "ready"
    assert refusals("reject").get().actor == olivia_approver


def test_the_requester_cancels_and_an_outsider_cannot(client, ready_request, olivia, cecilia):
    response = act(client, cecilia, ready_request, "cancel", {"reason": "mine now"})
    assert response.status_code == 403
    response = act(client, olivia, ready_request, "cancel", {"reason": "wrong datasets"})
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    event = AuditEvent.objects.get(action="promotion.cancelled")
    assert event.actor == olivia and event.after["reason"] == "wrong datasets"
    again = post(client, f"/api/promotions/{ready_request.pk}/cancel/", {"reason": "again"})
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]


def test_a_recheck_queues_the_gates_again(client, ready_request, olivia, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = act(client, olivia, ready_request, "recheck")
    assert response.status_code == 200 and response.json()["state"] == "checking"
    assert len(callbacks) == 1
    assert AuditEvent.objects.filter(action="promotion.recheck_requested").count() == 1
