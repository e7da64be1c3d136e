"""People and their roles: the one service every screen, the admin and the API call.

- A non-decision role (operator, reviewer, auditor), the active flag and a password reset take effect
  at once.
- A decision role (roles.DECISION_ROLES: approver, admin) takes two admins: one proposes
  (`grant_propose`), another confirms (`grant_confirm`). The confirmation is bound to the exact change:
  the hash of (user, role, the user's groups when proposed); if the groups changed meanwhile it is
  refused as stale, as promotions are bound to their hash.
- No one changes their own roles, and no one grants a role to themselves.

Changes are audited by console.people_guard's signals ("user.*"), whatever the path; the grant's own
steps and every refusal here are "role.*" events.
"""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from rest_framework.authtoken.models import Token

from console import chain, clock, roles
from console.audit import audit_record
from console.choices import GrantState
from console.models import AuditEvent, RoleGrant
from console.people_guard import RoleChangeRefused, acting, confirming, groups_of, refuse, reset_refusal

MANAGE_PERMISSION = "auth.change_user"

__all__ = [  # RoleChangeRefused is raised by these services and by the guard they share
    "PasswordReset",
    "RoleChangeRefused",
    "change_hash",
    "grant_cancel",
    "grant_confirm",
    "grant_propose",
    "pending_grants",
    "people_list",
    "person_history",
    "reset_refusal",
    "user_change",
    "user_password_reset",
]


def _user_label(user) -> str:
    return user.get_username()


def _require_manager(actor, user, attempted: dict) -> None:
    if not actor.is_authenticated or not actor.has_perm(MANAGE_PERMISSION):
        raise refuse(actor=actor, object_id=_user_label(user), attempted=attempted,
                     reason="managing people needs the admin role (auth.change_user)")


def _refuse_self(actor, user, attempted: dict, what: str) -> None:
    if actor.pk == user.pk:
        raise refuse(actor=actor, object_id=_user_label(user), attempted=attempted,
                     current={"groups": groups_of(user)}, reason=f"no one {what} themselves")


def change_hash(*, user_id: int, role: str, groups: Iterable[str]) -> str:
    """What a confirmation is bound to: this person, this role, the groups they held when proposed."""
    change = {"user": user_id, "role": role, "groups": sorted(groups)}
    return hashlib.sha256(chain.canonical_json(change).encode()).hexdigest()


# --- changes that take effect at once ------------------------------------------------------------------


def user_change(*, actor, user, groups: Iterable[str] | None = None, is_active: bool | None = None) -> None:
    """Set a person's non-decision roles and/or active flag. Decision roles present are kept as they are;
    adding one is refused (propose it), removing one takes effect at once."""
    attempted = {k: v for k, v in {"groups": sorted(groups) if groups is not None else None,
                                   "is_active": is_active}.items() if v is not None}
    _require_manager(actor, user, attempted)
    _refuse_self(actor, user, attempted, "changes the roles or the active flag of")
    if groups is not None:
        wanted = set(groups)
        unknown = wanted - set(Group.objects.filter(name__in=wanted).values_list("name", flat=True))
        if unknown:
            raise ValueError(f"no such role: {', '.join(sorted(unknown))}")
        added_decision = sorted((wanted - set(groups_of(user))) & set(roles.DECISION_ROLES))
        if added_decision:
            raise refuse(actor=actor, object_id=_user_label(user), attempted=attempted,
                         current={"groups": groups_of(user)},
                         reason=f"{', '.join(added_decision)} is a decision role: propose it, and another "
                                "admin confirms it")
    with acting(actor):
        _user_change(user=user, groups=groups, is_active=is_active)


@transaction.atomic
def _user_change(*, user, groups, is_active) -> None:
    if groups is not None:
        user.groups.set(Group.objects.filter(name__in=set(groups)))
    if is_active is not None and user.is_active != is_active:
        user.is_active = is_active
        user.save(update_fields=["is_active"])


@dataclass(frozen=True)
class PasswordReset:
    password: str  # shown once to the admin, never stored in clear
    roles_removed: tuple[str, ...]  # the decision roles the reset took away (two admins grant them again)
    tokens_revoked: int  # the person's API tokens, revoked with it


def user_password_reset(*, actor, user) -> PasswordReset:
    """Give a person a fresh random password (shown once to the admin). Whoever knows it can sign in as them, so
    the reset takes away their decision roles (re-granted by two admins, console.people_guard.reset_refusal
    says why) and revokes their API tokens; a superuser's, or one by an admin who also approves, is refused.
    Audited by the guard's signals (roles, password, tokens), never the hash or a key."""
    _require_manager(actor, user, {"password": "reset"})
    _refuse_self(actor, user, {"password": "reset"}, "resets the password of")  # they change their own
    reason = reset_refusal(actor, user, roles_kept=False)
    if reason:
        raise refuse(actor=actor, object_id=_user_label(user), attempted={"password": "reset"},
                     current={"groups": groups_of(user), "is_superuser": user.is_superuser}, reason=reason)
    password = secrets.token_urlsafe(12)
    with acting(actor), transaction.atomic():
        removed = tuple(sorted(set(groups_of(user)) & set(roles.DECISION_ROLES)))
        if removed:
            user.groups.remove(*Group.objects.filter(name__in=removed))
        user.set_password(password)
        user.save(update_fields=["password"])
        tokens = list(Token.objects.filter(user=user))
        for token in tokens:  # one by one: each revocation is audited (console.credentials)
            token.delete()
    return PasswordReset(password=password, roles_removed=removed, tokens_revoked=len(tokens))


# --- decision roles: four eyes --------------------------------------------------------------------------


def _grant_event(grant: RoleGrant) -> dict:
    return {"grant": grant.pk, "user": _user_label(grant.user), "role": grant.role, "state": grant.state,
            "change_hash": grant.change_hash, "groups_at_proposal": grant.groups_at_proposal}


def grant_propose(*, actor, user, role: str) -> RoleGrant:
    """Propose a decision role for a person; another admin confirms it."""
    attempted = {"propose": role}
    _require_manager(actor, user, attempted)
    _refuse_self(actor, user, attempted, "proposes a role for")
    if role not in roles.DECISION_ROLES:
        raise ValueError(f"{role!r} is not a decision role ({', '.join(roles.DECISION_ROLES)}): "
                         "other roles are set at once")
    groups = groups_of(user)
    if role in groups:
        raise refuse(actor=actor, object_id=_user_label(user), attempted=attempted, current={"groups": groups},
                     reason=f"{_user_label(user)} already holds {role}")
    if RoleGrant.objects.filter(user=user, role=role, state=GrantState.PENDING).exists():
        raise refuse(actor=actor, object_id=_user_label(user), attempted=attempted, current={"groups": groups},
                     reason=f"a grant of {role} to {_user_label(user)} is already awaiting confirmation")
    return _grant_propose(actor=actor, user=user, role=role, groups=groups)


@transaction.atomic
def _grant_propose(*, actor, user, role: str, groups: list[str]) -> RoleGrant:
    grant = RoleGrant.objects.create(
        user=user, role=role, groups_at_proposal=groups, proposed_by=actor, proposed_at=clock.now(),
        change_hash=change_hash(user_id=user.pk, role=role, groups=groups),
    )
    audit_record(actor=actor, action="role.grant_proposed", object_type="auth.user", object_id=_user_label(user),
                 before={"groups": groups}, after={**_grant_event(grant), "groups": sorted({*groups, role})})
    return grant


def _refuse_decision(actor, grant: RoleGrant, verb: str, reason: str):
    return refuse(actor=actor, object_id=_user_label(grant.user), current={"groups": groups_of(grant.user)},
                  attempted={verb: grant.pk, "role": grant.role}, reason=reason)


def grant_confirm(*, actor, grant: RoleGrant) -> RoleGrant:
    """Confirm another admin's proposal: the person gets the role, if their groups are as proposed."""
    _require_manager(actor, grant.user, {"confirm": grant.pk, "role": grant.role})
    if actor.pk == grant.proposed_by_id:
        raise _refuse_decision(actor, grant, "confirm", "four eyes: the admin who proposed a grant cannot confirm it")
    if actor.pk == grant.user_id:
        raise _refuse_decision(actor, grant, "confirm", "no one confirms a role for themselves")
    if not grant.is_pending:
        raise _refuse_decision(actor, grant, "confirm", f"the grant is already {grant.state}")
    current = groups_of(grant.user)
    if change_hash(user_id=grant.user_id, role=grant.role, groups=current) != grant.change_hash:
        raise _refuse_decision(actor, grant, "confirm",
                               f"stale: {_user_label(grant.user)}'s roles changed since the proposal "
                               f"({', '.join(grant.groups_at_proposal) or 'none'} then, "
                               f"{', '.join(current) or 'none'} now); cancel it and propose again")
    return _grant_confirm(actor=actor, grant_id=grant.pk)


@transaction.atomic
def _grant_confirm(*, actor, grant_id: int) -> RoleGrant:
    grant = RoleGrant.objects.select_for_update().select_related("user").get(pk=grant_id)
    if not grant.is_pending:  # lost a race with another admin
        raise _refuse_decision(actor, grant, "confirm", f"the grant is already {grant.state}")
    before = groups_of(grant.user)
    grant.decide(state=GrantState.CONFIRMED, by=actor, at=clock.now())
    grant.save(update_fields=["state", "decided_by", "decided_at"])
    with acting(actor), confirming(user=grant.user, role=grant.role):
        grant.user.groups.add(Group.objects.get(name=grant.role))
    audit_record(actor=actor, action="role.grant_confirmed", object_type="auth.user",
                 object_id=_user_label(grant.user), before={"groups": before},
                 after={**_grant_event(grant), "proposed_by": _user_label(grant.proposed_by),
                        "groups": groups_of(grant.user)})
    return grant


def grant_cancel(*, actor, grant: RoleGrant) -> RoleGrant:
    """Cancel a pending grant (its proposer withdrawing it, or another admin refusing it)."""
    _require_manager(actor, grant.user, {"cancel": grant.pk, "role": grant.role})
    if actor.pk == grant.user_id:
        raise _refuse_decision(actor, grant, "cancel", "no one decides a role for themselves")
    if not grant.is_pending:
        raise _refuse_decision(actor, grant, "cancel", f"the grant is already {grant.state}")
    return _grant_cancel(actor=actor, grant_id=grant.pk)


@transaction.atomic
def _grant_cancel(*, actor, grant_id: int) -> RoleGrant:
    grant = RoleGrant.objects.select_for_update().select_related("user").get(pk=grant_id)
    if not grant.is_pending:
        raise _refuse_decision(actor, grant, "cancel", f"the grant is already {grant.state}")
    grant.decide(state=GrantState.CANCELLED, by=actor, at=clock.now())
    grant.save(update_fields=["state", "decided_by", "decided_at"])
    groups = groups_of(grant.user)
    audit_record(actor=actor, action="role.grant_cancelled", object_type="auth.user",
                 object_id=_user_label(grant.user), before={"groups": groups},
                 after={**_grant_event(grant), "groups": groups})
    return grant


# --- reads --------------------------------------------------------------------------------------------


def people_list():
    return get_user_model().objects.order_by("username").prefetch_related("groups")


def pending_grants():
    return RoleGrant.objects.filter(state=GrantState.PENDING).select_related("user", "proposed_by").order_by("pk")


def person_history(user, limit: int = 200):
    """The trail's events about this person's account and roles, newest first."""
    events = AuditEvent.objects.filter(object_type="auth.user", object_id=_user_label(user))
    events = events.filter(action__regex=r"^(user|role)\.")
    return events.order_by("-seq")[:limit]
