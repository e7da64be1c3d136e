"""Services of the console shell: roles and people."""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.db import transaction

from console import logins, roles
from console.audit import audit_record
from console.logins import LOCKOUT_OBJECT_TYPE


def _permission(label: str) -> Permission:
    app_label, codename = label.split(".", 1)
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


@transaction.atomic
def roles_seed() -> dict[str, list[str]]:
    """Create the role groups and set their permissions to exactly ROLE_PERMISSIONS. Idempotent.

    Run by commands (seed_roles, demo_users, run_console): the bound command is the actor of the audit."""
    changes: dict[str, list[str]] = {}
    known: dict[str, Permission] | None = None  # every permission by label, read once when a group needs it
    for name, labels in roles.ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        before = sorted(f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type"))
        after = sorted(labels)
        if before != after:
            if known is None:
                known = {f"{p.content_type.app_label}.{p.codename}": p
                         for p in Permission.objects.select_related("content_type")}
            # Audited by console.people_guard ("role.permissions_set", before and after), whoever sets them.
            group.permissions.set([known[label] if label in known else _permission(label) for label in labels])
            changes[name] = after
    return changes


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    password: str
    created: bool


DEMO_USERS = {
    roles.OPERATOR: "olivia.operator",
    roles.APPROVER: "arthur.approver",
    roles.REVIEWER: "cecilia.reviewer",
    roles.AUDITOR: "audrey.auditor",
    roles.ADMIN: "adam.admin",
}


@transaction.atomic
def demo_users_create(*, reset_passwords: bool = False) -> list[DemoUser]:
    """One user per role for demos. New users (or all, with reset) get a fresh random password.

    Audited by console.people_guard (user.created, user.groups_changed, user.password_changed), never the
    password; the bound command is the actor."""
    roles_seed()
    User = get_user_model()
    result = []
    for role, username in DEMO_USERS.items():
        user, created = User.objects.get_or_create(username=username, defaults={"is_staff": role == roles.ADMIN})
        password = ""
        if created or reset_passwords:
            password = secrets.token_urlsafe(12)
            user.set_password(password)
            user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=role))
        result.append(DemoUser(username=username, role=role, password=password, created=created))
    return result


# --- login lockouts ---------------------------------------------------------------------------------


class UnlockRefused(PermissionDenied):
    """The person may not unlock logins (the admin role's console.unlock_login)."""


UNLOCK_KINDS = {"username": "username", "address": "ip_address"}


def login_unlock(*, actor, kind: str, value: str) -> int:
    """Clear the failed logins that lock a username ("username") or an address ("address").

    Unlocking a username clears its failures from every address; unlocking an address clears every
    username's failures from it. Audited with the failures before and after; a refusal is audited too
    (committed on its own: the refused action changes nothing). Returns the failures cleared.
    """
    if kind not in UNLOCK_KINDS:
        raise ValueError(f"unlock what? {kind!r} (expected username or address)")
    object_id = f"{kind}:{value}"
    if not actor.has_perm("console.unlock_login"):
        audit_record(
            actor=actor,
            action="auth.unlock_refused",
            object_type=LOCKOUT_OBJECT_TYPE,
            object_id=object_id,
            after={"reason": "needs the admin role (console.unlock_login)"},
        )
        raise UnlockRefused("Unlocking logins needs the admin role.")
    return _login_unlock(actor=actor, kind=kind, value=value, object_id=object_id)


@transaction.atomic
def _login_unlock(*, actor, kind: str, value: str, object_id: str) -> int:
    attempts = AccessAttempt.objects.select_for_update().filter(**{UNLOCK_KINDS[kind]: value})
    rows = list(attempts.order_by("attempt_time"))
    failures, _last = logins.failures_of(kind=kind, value=value)
    limit = logins.failure_limits()["username" if kind == "username" else "ip_address"]
    before = {
        "locked": failures >= limit,
        "failures": failures,
        "limit": limit,
        "attempts": [
            {
                "username": row.username,
                "ip": row.ip_address,
                "failures": row.failures_since_start,
                "last_failure_at": row.attempt_time,
            }
            for row in rows
        ],
    }
    cleared = sum(row.failures_since_start for row in rows)
    AccessAttempt.objects.filter(pk__in=[row.pk for row in rows]).delete()
    audit_record(
        actor=actor,
        action="auth.unlocked",
        object_type=LOCKOUT_OBJECT_TYPE,
        object_id=object_id,
        before=before,
        after={"locked": False, "failures": 0, "limit": limit, "attempts": []},
    )
    return cleared
