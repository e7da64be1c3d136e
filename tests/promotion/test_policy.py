"""Who may take which action on a promotion request in which state: every role × state × action.

The table below is written out by hand (not read from promotion.policy); the tests check that the
policy answers it, that the request's page offers exactly it, and that the services enforce it: a
refusal says who (403) or when (409), is audited, and changes nothing.
"""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from console import roles
from console.models import AuditEvent
from promotion import policy, services
from promotion.models import PromotionRequest
from tests.promotion.conftest import forced

STATES = ("draft", "checking", "blocked", "ready", "approved", "rejected", "loading", "promoted", "failed", "cancelled")
ACTIONS = ("recheck", "approve", "reject", "cancel", "dispose")
OPEN = "draft checking blocked ready approved"
DECIDABLE = "blocked ready approved"

# role -> {action: the states in which it is allowed}; an action not named is allowed in no state.
# "requester" is Olivia (an operator) on her own request; "requester+approver" is an operator who also
# approves, on their own request (four eyes stops them); everyone else looks at Olivia's request.
EXPECTED: dict[str, dict[str, str]] = {
    "requester": {"recheck": DECIDABLE, "cancel": OPEN, "dispose": OPEN},
    "requester+approver": {"recheck": DECIDABLE, "cancel": OPEN, "dispose": OPEN},
    "approver": {"recheck": DECIDABLE, "approve": "ready", "reject": DECIDABLE, "cancel": OPEN},
    "reviewer": {},
    "auditor": {},
    "admin": {"recheck": DECIDABLE, "dispose": OPEN},
    "no role": {},
}
# Whether a refusal of the role is about who asks (403) whatever the state, else about when (409).
NEVER: dict[str, set[str]] = {
    role: {action for action in ACTIONS if action not in allowed} for role, allowed in EXPECTED.items()
}
NEVER["requester+approver"] |= {"approve", "reject"}  # four eyes


def expected(role: str, action: str, state: str) -> bool:
    return state in EXPECTED[role].get(action, "").split()


@pytest.fixture
def people(olivia, arthur, cecilia, audrey, adam, oscar):
    both = type(adam).objects.create_user(username="otto", password="x")
    both.groups.add(Group.objects.get(name=roles.OPERATOR), Group.objects.get(name=roles.APPROVER))
    return {
        "requester": olivia, "requester+approver": both, "approver": arthur, "reviewer": cecilia,
        "auditor": audrey, "admin": adam, "no role": oscar,
    }


def requests_of(people, manifest) -> dict[str, PromotionRequest]:
    """One request per role to look at: the role's own for the requesters, Olivia's for the others."""
    olivias = forced(manifest, requested_by=people["requester"], state="draft")
    ottos = forced(manifest, requested_by=people["requester+approver"], state="draft")
    return {role: ottos if role == "requester+approver" else olivias for role in EXPECTED}


def in_state(request: PromotionRequest, state: str) -> PromotionRequest:
    PromotionRequest.objects.filter(pk=request.pk).update(state=state, approved_by=None, rejected_by=None,
                                                        cancelled_by=None)
    return PromotionRequest.objects.get(pk=request.pk)


def test_the_policy_answers_the_table(people, manifest):
    mismatches = []
    for role, request in requests_of(people, manifest).items():
        user = people[role]
        for state in STATES:
            request.state = state
            offered = policy.offered(user, request)
            for action in ACTIONS:
                if offered[action] != expected(role, action, state):
                    mismatches.append((role, state, action, offered[action]))
            awaiting = state == "ready" and not expected(role, "approve", state)
            assert offered["awaiting_second"] == awaiting, (role, state)
    assert mismatches == []


def test_the_request_page_and_the_api_offer_exactly_what_the_table_allows(client, people, manifest):
    buttons = {"recheck": 'id="recheck-button"', "approve": 'id="approve-button"', "reject": 'id="reject-button"',
               "cancel": 'id="cancel-button"'}
    requests = requests_of(people, manifest)
    for state in ("ready", "blocked"):
        for role, request in requests.items():
            in_state(request, state)
            client.force_login(people[role])
            response = client.get(f"/promotions/{request.pk}/")
            if not policy.may_read(people[role]):
                assert response.status_code == 403, role
                continue
            html = response.content.decode()
            shown = {action for action, marker in buttons.items() if marker in html}
            wanted = {action for action in buttons if expected(role, action, state)}
            assert shown == wanted, (role, state)
            # The API tells its callers the same (what its endpoints would answer).
            told = client.get(f"/api/promotions/{request.pk}/").json()["actions"]
            assert {a for a in ACTIONS if told[a]} == {a for a in ACTIONS if expected(role, a, state)}, (role, state)


def _attempt(action: str, user, request: PromotionRequest, manifest):
    if action == "recheck":
        return services.promotion_recheck(actor=user, request=request, enqueue=False)
    if action == "approve":
        return services.promotion_approve(actor=user, request=request, comment="checked")
    if action == "reject":
        return services.promotion_reject(actor=user, request=request, comment="not this one")
    if action == "cancel":
        return services.promotion_cancel(actor=user, request=request, reason="asked twice")
    return services.flaw_disposition_set(actor=user, manifest=manifest, fingerprint="0" * 64,
                                         decision="not_applicable", note="n/a")


# What an allowed action does to a request (approve: it passed who and when, and then stops at the gates
# the forced request never ran; dispose: it passed who, and then finds no flaw with that fingerprint).
DONE = {"recheck": "checking", "reject": "rejected", "cancel": "cancelled"}
BEYOND_THE_POLICY = {"approve": "has no current result", "dispose": "no flaw of this manifest"}


def test_the_services_enforce_the_table_and_a_refusal_changes_nothing(people, manifest):
    requests = requests_of(people, manifest)
    wrong = []
    for role, request in requests.items():
        user = people[role]
        for state in STATES:
            for action in ACTIONS:
                if action == "dispose" and state not in ("draft", "promoted"):
                    continue  # the service asks only who: two states show that the state does not matter
                request = in_state(request, state)
                refusals_before = AuditEvent.objects.filter(action="promotion.refused").count()
                try:
                    _attempt(action, user, request, manifest)
                    refused = None
                except services.PromotionRefused as exc:
                    refused = exc
                after = PromotionRequest.objects.get(pk=request.pk).state
                if action == "dispose":
                    # A decision on the manifest the request's gates read: the service asks who, whatever
                    # this one request's state (the page offers the form on open requests only).
                    outcome = refused is not None and (
                        refused.forbidden if action in NEVER[role] else BEYOND_THE_POLICY[action] in refused.reason
                    )
                elif expected(role, action, state) and action in DONE:
                    outcome = refused is None and after == DONE[action]
                elif expected(role, action, state):
                    outcome = refused is not None and BEYOND_THE_POLICY[action] in refused.reason
                else:
                    outcome = (
                        refused is not None
                        and refused.forbidden == (action in NEVER[role])
                        and after == state
                        and AuditEvent.objects.filter(action="promotion.refused").count() == refusals_before + 1
                    )
                if not outcome:
                    wrong.append((role, state, action, after, refused and refused.reason))
    assert wrong == []


def test_a_refusal_names_the_action_the_state_and_who_may(people, manifest):
    request = in_state(requests_of(people, manifest)["approver"], "loading")
    with pytest.raises(services.PromotionRefused) as when:
        services.promotion_cancel(actor=people["requester"], request=request, reason="not needed")
    assert when.value.reason == "a loading request cannot be cancelled" and not when.value.forbidden
    with pytest.raises(services.PromotionRefused) as who:
        services.promotion_cancel(actor=people["reviewer"], request=request, reason="not needed")
    assert who.value.reason == "only the requester or an approver can cancel a request" and who.value.forbidden
