"""Four eyes: approval by another person with the permission, bound to what the gates saw."""
from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import IntegrityError, connection, transaction

from console import roles
from console.models import AuditEvent
from evidence.models import CalculationFlaw
from promotion import services, tasks
from promotion.choices import REQUEST_TYPE
from promotion.gates import flaws_behind
from promotion.models import FlawDisposition, PromotionRequest
from tests.promotion.conftest import checked, dataset, disposition_all


def refusals(attempt: str):
    return AuditEvent.objects.filter(action="promotion.refused", after__attempt=attempt)


@pytest.fixture
def olivia_approver(olivia):
    """Olivia holding the approve permission too: only the four-eyes rule stops her."""
    olivia.groups.add(Group.objects.get(name=roles.APPROVER))
    return type(olivia).objects.get(pk=olivia.pk)  # a fresh permission cache


# --- approving -----------------------------------------------------------------------------------


def test_an_approver_approves_with_a_comment_bound_to_the_gate_results(ready_request, arthur):
    services.promotion_approve(actor=arthur, request=ready_request, comment="reconciles with the 2025 contract")
    assert ready_request.state == "approved"
    assert ready_request.approved_by == arthur and ready_request.approved_at is not None
    assert ready_request.approval_comment == "reconciles with the 2025 contract"
    assert len(ready_request.approval_fingerprint) == 64
    current = set(ready_request.gate_results.filter(current=True).values_list("pk", flat=True))
    assert {r["id"] for r in ready_request.approved_gate_results} == current
    event = AuditEvent.objects.get(action="promotion.approved")
    assert event.actor == arthur and event.after["approval_fingerprint"] == ready_request.approval_fingerprint
    assert services.promotion_assert_loadable(ready_request).pk == ready_request.pk


@pytest.mark.catalogue(28)
def test_self_approval_is_refused_by_the_service_and_audited(ready_request, olivia_approver):
    with pytest.raises(services.PromotionRefused, match="own request") as refused:
        services.promotion_approve(actor=olivia_approver, request=ready_request, comment="looks fine to me")
    assert refused.value.forbidden  # who asks: 403 on the pages and in the API
    ready_request.refresh_from_db()
    assert ready_request.state == "ready" and ready_request.approved_by is None
    assert refusals("approve").get().actor == olivia_approver


def test_the_database_refuses_self_approval(ready_request, olivia):
    with pytest.raises(IntegrityError), transaction.atomic():
        PromotionRequest.objects.filter(pk=ready_request.pk).update(approved_by=olivia, state="approved")


@pytest.mark.catalogue(28)
def test_self_approval_is_refused_through_the_admin_change_form(ready_request, olivia_approver, client):
    olivia_approver.is_staff = True
    olivia_approver.save()
    olivia_approver.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_promotionrequest", "change_promotionrequest"])
    )
    client.force_login(olivia_approver)
    url = f"/admin/promotion/promotionrequest/{ready_request.pk}/change/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"decision": "approve", "comment": "approved by me"}, follow=True)
    assert response.status_code == 200
    assert any("Refused" in str(m) for m in response.context["messages"])
    ready_request.refresh_from_db()
    assert ready_request.state == "ready" and ready_request.approved_by is None
    assert refusals("approve").get().actor == olivia_approver


def test_the_admin_change_form_approves_through_the_service(ready_request, arthur, client):
    arthur.is_staff = True
    arthur.save()
    arthur.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_promotionrequest", "change_promotionrequest"])
    )
    client.force_login(arthur)
    url = f"/admin/promotion/promotionrequest/{ready_request.pk}/change/"
    client.post(url, {"decision": "approve", "comment": "checked in the admin"})
    ready_request.refresh_from_db()
    assert ready_request.state == "approved" and ready_request.approved_by == arthur
    assert AuditEvent.objects.filter(action="promotion.approved").count() == 1


@pytest.mark.parametrize("persona", ["adam", "cecilia", "audrey", "oscar"])
def test_approving_needs_the_approve_permission(ready_request, persona, request):
    actor = request.getfixturevalue(persona)
    with pytest.raises(services.PromotionRefused, match="permission"):
        services.promotion_approve(actor=actor, request=ready_request, comment="ok")
    assert refusals("approve").get().actor == actor


def test_a_refusal_says_whether_it_is_about_who_asks_or_about_the_request(manifest, olivia, arthur, cecilia):
    """forbidden=True for a missing permission (HTTP 403), False for the request's state (HTTP 409)."""
    blocked = checked(services.promotion_request(actor=olivia, manifest=manifest, datasets=[dataset(manifest)]))
    with pytest.raises(services.PromotionRefused, match="permission") as by_permission:
        services.promotion_approve(actor=cecilia, request=blocked, comment="ok")
    with pytest.raises(services.PromotionRefused, match="ready") as by_state:
        services.promotion_approve(actor=arthur, request=blocked, comment="ok")
    assert (by_permission.value.forbidden, by_state.value.forbidden) == (True, False)
    blocked.refresh_from_db()
    assert blocked.state == "blocked"
    assert [e.actor for e in refusals("approve").order_by("seq")] == [cecilia, arthur]


def test_an_approval_needs_a_comment(ready_request, arthur):
    with pytest.raises(services.PromotionRefused, match="comment"):
        services.promotion_approve(actor=arthur, request=ready_request, comment=" ")


def test_a_blocked_request_cannot_be_approved(manifest, olivia, arthur):
    request = checked(services.promotion_request(actor=olivia, manifest=manifest, datasets=[dataset(manifest)]))
    assert request.state == "blocked"
    with pytest.raises(services.PromotionRefused, match="ready"):
        services.promotion_approve(actor=arthur, request=request, comment="ok")


def test_approval_is_refused_when_a_gate_result_went_stale(ready_request, manifest, olivia, arthur):
    fingerprint = FlawDisposition.objects.filter(manifest=manifest).first().fingerprint
    services.flaw_disposition_clear(actor=olivia, manifest=manifest, fingerprint=fingerprint)
    with pytest.raises(services.PromotionRefused, match="stale"):
        services.promotion_approve(actor=arthur, request=ready_request, comment="ok")
    assert refusals("approve").count() == 1


# --- an approval goes stale ------------------------------------------------------------------------


@pytest.mark.catalogue(29)
def test_approval_goes_stale_when_a_disposition_is_withdrawn(ready_request, manifest, olivia, arthur):
    services.promotion_approve(actor=arthur, request=ready_request, comment="ok")
    fingerprint = FlawDisposition.objects.filter(manifest=manifest).first().fingerprint
    services.flaw_disposition_clear(actor=olivia, manifest=manifest, fingerprint=fingerprint)
    with pytest.raises(services.PromotionRefused):
        services.promotion_assert_loadable(ready_request)
    assert refusals("load").count() == 1


@pytest.mark.catalogue(29)
def test_approval_is_replaced_when_the_gates_rerun_with_other_results(ready_request, manifest, olivia, arthur):
    services.promotion_approve(actor=arthur, request=ready_request, comment="ok")
    fingerprint = FlawDisposition.objects.filter(manifest=manifest).first().fingerprint
    services.flaw_disposition_clear(actor=olivia, manifest=manifest, fingerprint=fingerprint)
    services.promotion_recheck(actor=olivia, request=ready_request, enqueue=False)
    request = checked(ready_request)
    assert request.state == "blocked" and request.approved_by is None and request.approval_fingerprint == ""
    recheck = AuditEvent.objects.get(action="promotion.recheck_requested")
    assert recheck.before["approved_by"] == arthur.pk
    with pytest.raises(services.PromotionRefused, match="blocked"):
        services.promotion_assert_loadable(request)


def test_approval_goes_stale_when_reanalysis_changes_a_flaws_fingerprint(ready_request, manifest, arthur):
    services.promotion_approve(actor=arthur, request=ready_request, comment="ok")
    flaw = flaws_behind(manifest, [dataset(manifest)]).first()
    CalculationFlaw.objects.filter(pk=flaw.pk).update(snippet=flaw.snippet + " ")  # a new engine cuts it otherwise
    with pytest.raises(services.PromotionRefused, match="gates no longer pass|stale"):
        services.promotion_assert_loadable(ready_request)


@pytest.mark.catalogue(29)
def test_approval_goes_stale_when_a_dataset_changes(ready_request, manifest, olivia, arthur):
    services.promotion_approve(actor=arthur, request=ready_request, comment="ok")
    claims = dataset(manifest)
    type(claims).objects.filter(pk=claims.pk).update(silver_sha256="0" * 64)  # its content hash changed
    with pytest.raises(services.PromotionRefused, match="stale"):
        services.promotion_assert_loadable(ready_request)

    tasks.promotion_load(ready_request.pk)  # the queued load, as the worker runs it: stopped at the guard
    ready_request.refresh_from_db()
    assert (ready_request.state, ready_request.attempts, ready_request.load_started_at) == ("approved", 0, None)
    assert refusals("load").count() == 2 and not AuditEvent.objects.filter(action="promotion.load_started").exists()

    # Re-running the gates invalidates the approval: it is gone from the request, the trail keeps what it was.
    services.promotion_recheck(actor=olivia, request=ready_request, enqueue=False)
    request = checked(ready_request)
    assert request.approved_by is None and request.approval_fingerprint == ""
    recheck = AuditEvent.objects.get(action="promotion.recheck_requested")
    assert recheck.before["approved_by"] == arthur.pk and recheck.before["state"] == "approved"
    with pytest.raises(services.PromotionRefused):
        services.promotion_assert_loadable(request)


# --- rejecting -----------------------------------------------------------------------------------


def test_an_approver_rejects_with_a_comment(ready_request, arthur):
    services.promotion_reject(actor=arthur, request=ready_request, comment="wrong plan year")
    assert ready_request.state == "rejected" and ready_request.rejected_by == arthur
    assert ready_request.rejection_comment == "wrong plan year"
    assert AuditEvent.objects.get(action="promotion.rejected").after["comment"] == "wrong plan year"
    with pytest.raises(services.PromotionRefused):
        services.promotion_approve(actor=arthur, request=ready_request, comment="changed my mind")


def test_a_rejection_needs_a_comment_and_another_person(ready_request, arthur, olivia_approver):
    with pytest.raises(services.PromotionRefused, match="comment"):
        services.promotion_reject(actor=arthur, request=ready_request, comment="")
    with pytest.raises(services.PromotionRefused, match="own request"):
        services.promotion_reject(actor=olivia_approver, request=ready_request, comment="no")
    assert refusals("reject").count() == 2


# --- racing approvers ----------------------------------------------------------------------------


@pytest.mark.catalogue(30)
@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_approvers_racing_record_exactly_one_approval(manifest, olivia, arthur, bruno):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    disposition_all(olivia, manifest, [dataset(manifest)])
    request = checked(
        services.promotion_request(actor=olivia, manifest=manifest, datasets=[dataset(manifest)], enqueue=False)
    )
    assert request.state == "ready"
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def approve(actor):
        from django.db import connections

        try:
            barrier.wait(timeout=10)
            services.promotion_approve(actor=actor, request=request, comment=f"approved by {actor.username}")
            outcomes[actor.username] = "approved"
        except services.PromotionRefused as refused:
            outcomes[actor.username] = refused.reason
        finally:
            connections.close_all()

    threads = [threading.Thread(target=approve, args=(user,)) for user in (arthur, bruno)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes.values()).count("approved") == 1, outcomes
    request.refresh_from_db()
    assert request.state == "approved" and request.approved_by.username in outcomes
    assert outcomes[request.approved_by.username] == "approved"
    assert AuditEvent.objects.filter(action="promotion.approved").count() == 1
    assert refusals("approve").count() == 1


def _waiting_on_locks() -> int:
    """Sessions of this database waiting for a lock (read afresh: inside a transaction PostgreSQL keeps showing
    the activity it read first)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0]


def _replays(events: list[AuditEvent], start: str) -> str:
    """The state the request's decisions lead to from `start`, each event's `before` being the state it found."""
    state = start
    for event in events:
        assert event.before["state"] == state, (event.action, event.before, state)
        state = event.after["state"]
    return state


@pytest.mark.catalogue(30)
@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_approve_racing_reject_and_cancel_ends_in_one_terminal_state_rechecked_under_the_row_lock(
    manifest, olivia, arthur, bruno
):
    """All three read the request as ready while the test holds its row; released at once, whichever commits
    first, the others re-check the state under the row lock: exactly one of reject/cancel ends it, an approval is
    recorded at most once and only before it, and every loser's refusal is audited."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    disposition_all(olivia, manifest, [dataset(manifest)])
    request = checked(
        services.promotion_request(actor=olivia, manifest=manifest, datasets=[dataset(manifest)], enqueue=False)
    )
    assert request.state == "ready"
    outcomes: dict[str, str] = {}
    attempts = {
        "approve": lambda: services.promotion_approve(actor=arthur, request=request, comment="figures match"),
        "reject": lambda: services.promotion_reject(actor=bruno, request=request, comment="wrong plan year"),
        "cancel": lambda: services.promotion_cancel(actor=olivia, request=request, reason="sent too early"),
    }

    def attempt(name):
        from django.db import connections

        try:
            attempts[name]()
            outcomes[name] = "done"
        except services.PromotionRefused as refused:
            outcomes[name] = refused.reason
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(name,)) for name in attempts]
    with transaction.atomic():
        PromotionRequest.objects.select_for_update().get(pk=request.pk)  # held until all three wait on it
        for thread in threads:
            thread.start()
        for _ in range(300):
            if _waiting_on_locks() >= 3:
                break
            threading.Event().wait(0.05)
        assert _waiting_on_locks() >= 3, outcomes  # all three read "ready" and now wait for the row
    for thread in threads:
        thread.join(timeout=60)

    request.refresh_from_db()
    assert request.state in ("rejected", "cancelled"), outcomes
    assert [outcomes["reject"], outcomes["cancel"]].count("done") == 1, outcomes  # one terminal decision
    decisions = list(AuditEvent.objects.filter(
        object_type=REQUEST_TYPE, object_id=str(request.pk),
        action__in=["promotion.approved", "promotion.rejected", "promotion.cancelled"]).order_by("seq"))
    assert _replays(decisions, "ready") == request.state
    approvals = [e.action for e in decisions].count("promotion.approved")
    assert approvals == (1 if outcomes["approve"] == "done" else 0)
    if outcomes["approve"] == "done":
        assert decisions[0].action == "promotion.approved"
    losers = [name for name, outcome in outcomes.items() if outcome != "done"]
    assert sorted(e.after["attempt"] for e in AuditEvent.objects.filter(
        action="promotion.refused", object_id=str(request.pk))) == sorted(losers)
