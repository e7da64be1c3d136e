"""Who may take which action on a promotion request, and in which state: the one home of these rules.

`RULES` is the table. The services enforce it (`who_refusal` before they read anything, `state_refusal`
under their lock), the model's transitions read their source states from it (`from_states`), and the
pages, templates and API only ask (`allowed`, `offered`): none of them writes a rule of its own.

An action has two parts, checked in this order, and a refusal of each kind answers differently:
- *who*: a capability, and four eyes (the requester never approves or rejects their own request).
  A refusal here is `forbidden` (HTTP 403): asking again later cannot help.
- *when*: the request's state. A refusal here is a conflict (HTTP 409).
What an action needs beyond this table (a comment, complete manifests, fresh passed gates, a rollback
that goes backwards) is the service's own check of its input, not a rule of who or when.

The console's own steps (the check's verdict, the load's claim and finish) have states but no person.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from promotion.choices import PromotionState

VIEW_PERMISSION = "console.view_provenance"
REQUEST_PERMISSION = "console.request_promotion"
CONTRACT_PERMISSION = "console.request_contract_promotion"
APPROVE_PERMISSION = "console.approve_promotion"

# A person's actions. REQUEST, CONTRACT and ROLLBACK make a request; DISPOSE is a flaw disposition, its
# withdrawal or a schema-drift acknowledgement (decisions on the manifest the request's gates read).
REQUEST = "request"
CONTRACT = "request_contract"
ROLLBACK = "rollback"
RECHECK = "recheck"
APPROVE = "approve"
REJECT = "reject"
CANCEL = "cancel"
DISPOSE = "dispose"
# The console's own steps (a worker's, never a person's).
START_CHECK = "start_check"
FINISH_CHECK = "finish_check"
LOAD = "load"
RESUME_LOAD = "resume_load"
FINISH_LOAD = "finish_load"

_S = PromotionState
OPEN_STATES = (_S.DRAFT, _S.CHECKING, _S.BLOCKED, _S.READY, _S.APPROVED)
DECIDABLE_STATES = (_S.BLOCKED, _S.READY, _S.APPROVED)
# While a request is in one of these, its page polls (the gates run, or the load is queued or running).
LIVE_STATES = (_S.CHECKING, _S.APPROVED, _S.LOADING)


def _holds(*permissions: str) -> Callable:
    def check(user, request) -> bool:
        return any(user.has_perm(p) for p in permissions)

    return check


def _requester_or(permission: str) -> Callable:
    def check(user, request) -> bool:
        return (request is not None and user.pk == request.requested_by_id) or user.has_perm(permission)

    return check


def _console(user, request) -> bool:
    return user is None


@dataclass(frozen=True)
class Rule:
    """One action: the states it is taken from (empty: it makes a request), who may take it, and the refusals."""

    states: tuple[str, ...]
    may: Callable  # (user, request or None) -> bool
    denied: str  # who may not
    wrong_state: str = ""  # the request's state does not allow it ({state} is filled in)
    four_eyes: str = ""  # set when the requester may never take it: what they read instead


RULES: dict[str, Rule] = {
    REQUEST: Rule((), _holds(REQUEST_PERMISSION), "requesting a promotion needs the request_promotion permission"),
    CONTRACT: Rule((), _holds(CONTRACT_PERMISSION),
                   "promoting into a backend contract needs the request_contract_promotion permission"),
    ROLLBACK: Rule((), _holds(REQUEST_PERMISSION), "requesting a rollback needs the request_promotion permission"),
    RECHECK: Rule(DECIDABLE_STATES, _holds(REQUEST_PERMISSION, APPROVE_PERMISSION),
                  "re-running the gates needs the request or approve permission",
                  "a {state} request cannot be checked again"),
    APPROVE: Rule((_S.READY,), _holds(APPROVE_PERMISSION), "approving needs the approve_promotion permission",
                  "only a ready request can be approved; this one is {state}",
                  four_eyes="the requester cannot approve their own request (four eyes)"),
    REJECT: Rule(DECIDABLE_STATES, _holds(APPROVE_PERMISSION), "rejecting needs the approve_promotion permission",
                 "a {state} request cannot be rejected",
                 four_eyes="the requester cannot reject their own request; cancel it"),
    CANCEL: Rule(OPEN_STATES, _requester_or(APPROVE_PERMISSION), "only the requester or an approver can cancel a request",
                 "a {state} request cannot be cancelled"),
    # A disposition decides a flaw of the manifest (every request on it reads it): its service asks who
    # only; the states are where a request's page offers the form.
    DISPOSE: Rule(OPEN_STATES, _holds(REQUEST_PERMISSION), "dispositioning a flaw needs the request_promotion permission",
                  "the flaws of a {state} request are no longer offered for a decision"),
}
# The console's own steps: the states each is taken from (no person takes them; the model's
# transitions and the load's guard read them here), and the refusal of any other state.
STEPS: dict[str, Rule] = {
    START_CHECK: Rule((_S.DRAFT, *DECIDABLE_STATES), _console, "", "a {state} request cannot be checked"),
    FINISH_CHECK: Rule((_S.CHECKING,), _console, "", "a {state} request is not being checked"),
    LOAD: Rule((_S.APPROVED,), _console, "", "the request is {state}, not approved"),
    RESUME_LOAD: Rule((_S.LOADING,), _console, "", "the request is {state}, not loading"),
    FINISH_LOAD: Rule((_S.LOADING,), _console, "", "a {state} request is not loading"),
}
# What a person may be offered on a request's page (in this order).
REQUEST_ACTIONS = (RECHECK, APPROVE, REJECT, CANCEL, DISPOSE)


@dataclass(frozen=True)
class Refusal:
    """Why an action is refused; `forbidden` when it is about who asks (403), else about when (409)."""

    reason: str
    forbidden: bool


def who_refusal(user, action: str, request=None, *, denied: str = "") -> Refusal | None:
    """Refused because of who asks (a capability, four eyes), or None. `denied` words the refusal of a
    caller that does the action under another name (a withdrawal, an acknowledgement)."""
    rule = RULES[action]
    if not rule.may(user, request):
        return Refusal(denied or rule.denied, forbidden=True)
    if rule.four_eyes and request is not None and user.pk == request.requested_by_id:
        return Refusal(rule.four_eyes, forbidden=True)
    return None


def state_refusal(action: str, state: str) -> Refusal | None:
    """Refused because the request's state does not allow the action, or None."""
    rule = RULES.get(action) or STEPS[action]
    if state in rule.states:
        return None
    return Refusal(rule.wrong_state.format(state=state), forbidden=False)


def from_states(action: str) -> tuple[str, ...]:
    """The states an action or a step is taken from (the model's transitions read them here)."""
    return (RULES.get(action) or STEPS[action]).states


def refusal(user, action: str, request) -> Refusal | None:
    """Who first, then when: what the service would answer, before it looks at anything else."""
    return who_refusal(user, action, request) or (
        state_refusal(action, request.state) if RULES[action].states else None
    )


def allowed(user, action: str, request=None) -> bool:
    """May this person take this action (on this request, in its present state)?"""
    return refusal(user, action, request) is None if request is not None else who_refusal(user, action) is None


def offered(user, request) -> dict[str, bool]:
    """What a person is offered on a request's page now (the rest is hidden), and whether they read
    that a ready request awaits a second person."""
    found = {action: allowed(user, action, request) for action in REQUEST_ACTIONS}
    found["awaiting_second"] = request.state == _S.READY and not found[APPROVE]
    return found


def may_read(user) -> bool:
    """Reading promotions (pages and API): one of the provenance, request or approve capabilities."""
    return user.has_perm(VIEW_PERMISSION) or user.has_perm(REQUEST_PERMISSION) or user.has_perm(APPROVE_PERMISSION)
