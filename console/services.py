"""Services of the console shell: roles and people."""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from console import roles
from console.audit import audit_record


def _permission(label: str) -> Permission:
    app_label, codename = label.split(".", 1)
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


@transaction.atomic
def roles_seed(*, actor=None) -> dict[str, list[str]]:
    """Create the role groups and set their permissions to exactly ROLE_PERMISSIONS. Idempotent."""
    changes: dict[str, list[str]] = {}
    for name, labels in roles.ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        before = sorted(f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type"))
        after = sorted(labels)
        if before != after:
            group.permissions.set([_permission(label) for label in labels])
            audit_record(
                actor=actor,
                action="role.permissions_set",
                object_type="auth.group",
                object_id=name,
                before={"permissions": before},
                after={"permissions": after},
            )
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
def demo_users_create(*, actor=None, reset_passwords: bool = False) -> list[DemoUser]:
    """One user per role for demos. New users (or all, with reset) get a fresh random password."""
    roles_seed(actor=actor)
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
        if created or reset_passwords:
            audit_record(
                actor=actor,
                action="user.demo_created" if created else "user.password_reset",
                object_type="auth.user",
                object_id=username,
                before=None if created else {"username": username},
                after={"username": username, "groups": [role], "is_staff": user.is_staff},
            )
        result.append(DemoUser(username=username, role=role, password=password, created=created))
    return result
