"""The model-layer guard of people and roles: every change is audited, self-changes are refused.

Signals on the user, its groups and permissions, and a group's permissions, so no path bypasses it
(screens, Django admin, API, shell, loaddata; only queryset.update() and raw SQL do, and no code of
the console uses them on these tables). While a web request is served (console.middleware binds it):

- no one changes their own groups, permissions or staff flag, nor a group they belong to;
- is_superuser is never changed (`manage.py createsuperuser` makes a superuser);
- a role's group is never renamed, nor another group renamed to a role's name (by any path: a role is
  known by its name, so a rename would move its members to another role); other renames are audited;
- a decision role (roles.DECISION_ROLES, or any group holding a decision permission) is added to a
  person only as the confirmation of a grant (console.people.grant_confirm), and a decision
  permission is never added from the web;
- a username is never changed (the trail knows people by it), no one changes their own email, and
  someone else's password is set only where `reset_refusal` finds nothing against it.

In the Django shell (`manage.py shell`, interactive, `-c`/`--command` or piped stdin: console's
management/commands/shell.py runs it in `shell_session()`) nobody is signed in, so no separation of
duties can be checked: every change of a person's groups or permissions, of a group's permissions, of
is_superuser or is_staff (a new user made staff or superuser too), and a role's deletion, is refused
with a pointer to the People screens and API (where a second admin confirms) and to `createsuperuser`.
This holds for whatever the shell runs, a command it calls (call_command) or a service acting "for" an
admin (console.people.acting: a claimed actor, not a signed-in one). A new user without roles, a
password, is_active and a user's deletion stay allowed there, audited with the shell as actor. The
refusal is itself audited; one met inside a transaction (a many-to-many change, a deletion: Django
opens one) is recorded once that transaction has rolled back (shell_session records it when the
exception reaches the prompt, or when the shell ends).

The shell is a guardrail, not a wall: whoever runs it has the database's own rights (raw SQL,
queryset.update(), rebinding the work context), and `manage.py dbshell` (the database's own client)
cannot be guarded at all. django-extensions' shell_plus is not installed; were it added, it needs the
same wrapper as console/management/commands/shell.py.

Other management commands (createsuperuser, changepassword, loaddata, seed_roles, demo_users) and
tasks may change roles: they are audited with the command or task as actor.
"""
from __future__ import annotations

import contextlib
import contextvars
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.db import router, transaction
from django.db.models.signals import m2m_changed, post_save, pre_delete, pre_save

from console import context, roles
from console.audit import audit_record
from console.models import AuditEvent

User = get_user_model()
USER_FLAGS = ("is_active", "is_staff", "is_superuser")
NAMES = ("username", "email")
WATCHED = (*USER_FLAGS, "password", *NAMES)
REFUSED_ACTION = "role.refused"

# (user pk, group name) of the grant being confirmed: the one decision role a web request may add.
_confirming: contextvars.ContextVar[tuple[int, str] | None] = contextvars.ContextVar("confirming", default=None)


class RoleChangeRefused(PermissionDenied):
    """A change of people or roles that separation of duties forbids (the reason says which rule)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# Who acts, when a service of console.people makes the change on their behalf (outside a request too).
_acting: contextvars.ContextVar = contextvars.ContextVar("acting", default=None)


@contextlib.contextmanager
def acting(actor) -> Iterator[None]:
    token = _acting.set(actor)
    try:
        yield
    finally:
        _acting.reset(token)


@contextlib.contextmanager
def confirming(*, user, role: str) -> Iterator[None]:
    token = _confirming.set((user.pk, role))
    try:
        yield
    finally:
        _confirming.reset(token)


SHELL_REASON = (
    "roles are not changed in the Django shell: nobody is signed in there, so separation of duties cannot be "
    "checked (no one changes their own roles; a second admin confirms a decision role). Use the console's People "
    "screen (/people/) or the people API (/api/people/, /api/role-grants/); the very first admin is made with "
    "`manage.py createsuperuser`, the roles' permissions with `manage.py seed_roles`"
)


@dataclass
class ShellSession:
    """The Django shell being run: refusals met inside a transaction, to record once it has rolled back."""

    pending: list[dict] = field(default_factory=list)

    def record_refusals(self) -> None:
        while self.pending:
            audit_record(**self.pending.pop(0))


_shell: contextvars.ContextVar[ShellSession | None] = contextvars.ContextVar("shell", default=None)


def _in_transaction() -> bool:
    return transaction.get_connection(router.db_for_write(AuditEvent)).in_atomic_block


@contextlib.contextmanager
def shell_session() -> Iterator[ShellSession]:
    """Run the Django shell: every change of roles refused (SHELL_REASON), every refusal audited.

    A refusal met inside a transaction is recorded when its exception reaches the interactive prompt
    (code.interact shows it through sys.excepthook) if no transaction is open then, else when the shell ends.
    """
    session = ShellSession()
    token = _shell.set(session)
    previous_hook = sys.excepthook

    def record_then_show(kind, value, traceback):
        try:
            if not _in_transaction():
                session.record_refusals()
        finally:
            previous_hook(kind, value, traceback)

    sys.excepthook = record_then_show
    try:
        yield session
    finally:
        sys.excepthook = previous_hook
        _shell.reset(token)
        session.record_refusals()


def refuse(*, actor, object_id: str, reason: str, attempted: dict, current: dict | None = None,
           object_type: str = "auth.user") -> RoleChangeRefused:
    """Audit a refusal and return the exception to raise.

    Inside a web request the event is kept for the middleware, which records it once the request's
    transactions are over (the refused change rolls back its transaction); in the shell, inside a
    transaction, it is kept for shell_session, likewise; elsewhere it is recorded now.
    """
    event = {
        "actor": actor,
        "action": REFUSED_ACTION,
        "object_type": object_type,
        "object_id": object_id,
        "before": current,
        "after": {"attempted": attempted, "reason": reason},
    }
    work = context.current()
    shell = _shell.get()
    if work is not None and work.request is not None:
        work.refusals.append(event)
    elif shell is not None and _in_transaction():
        shell.pending.append(event | {"correlation_id": work.correlation_id if work else None})
    else:
        audit_record(**event)
    return RoleChangeRefused(reason)


def _refuse_in_shell(*, object_id: str, attempted: dict, current: dict | None,
                     object_type: str = "auth.user") -> None:
    """In the Django shell, refuse the change (whoever a service claims to act for: nobody is signed in)."""
    if _shell.get() is not None:
        raise refuse(actor=None, object_type=object_type, object_id=object_id, reason=SHELL_REASON,
                     attempted=attempted, current=current)


def groups_of(user) -> list[str]:
    return sorted(user.groups.values_list("name", flat=True))


def permission_labels(queryset) -> list[str]:
    return sorted(f"{app}.{codename}" for app, codename in queryset.values_list("content_type__app_label", "codename"))


def is_decision_group(group) -> bool:
    if group.name in roles.DECISION_ROLES:
        return True
    return any(roles.is_decision_permission(label) for label in permission_labels(group.permissions.all()))


def password_state(encoded: str | None) -> str:
    """What may be said of a password: never its hash."""
    if not encoded:
        return "none"
    return "unusable" if encoded.startswith("!") else "set"


def web_actor():
    """Who acts: the user a console.people service acts for, else the web request's user (AnonymousUser
    if nobody signed in), else None (shell, command, task: the work context names it)."""
    return _acting.get() or context.web_user()


# --- the user's flags and password ------------------------------------------------------------------


def _user_row(user) -> dict | None:
    if user.pk is None:
        return None
    return User._default_manager.filter(pk=user.pk).values(*WATCHED).first()


def user_pre_save(sender, instance, raw=False, update_fields=None, **kwargs):
    if update_fields is not None and not set(update_fields) & set(WATCHED):
        instance._people_before = "skip"
        return
    before = _user_row(instance)
    instance._people_before = before
    _check_flags_in_shell(instance, before)
    actor = web_actor()
    if actor is None:
        return
    was_superuser = bool(before and before["is_superuser"])
    label = instance.get_username()
    if bool(instance.is_superuser) != was_superuser:
        raise refuse(actor=actor, object_id=label, reason="is_superuser is never set from the web: a superuser is "
                     "made with `manage.py createsuperuser` on the server", attempted={"is_superuser": instance.is_superuser},
                     current={"is_superuser": was_superuser})
    if before and actor.pk == instance.pk and bool(before["is_staff"]) != bool(instance.is_staff):
        raise refuse(actor=actor, object_id=label, reason="no one changes their own staff flag",
                     attempted={"is_staff": instance.is_staff}, current={"is_staff": before["is_staff"]})
    if before is None:
        return
    if before["username"] != instance.get_username():
        raise refuse(actor=actor, object_id=before["username"], reason="a username is never changed: the audit "
                     "trail knows people by it (make a new account)", attempted={"username": label},
                     current={"username": before["username"]})
    if actor.pk == instance.pk and (before["email"] or "") != (instance.email or ""):
        raise refuse(actor=actor, object_id=label, reason="no one changes their own email: another admin does",
                     attempted={"email": instance.email}, current={"email": before["email"]})
    if before["password"] != instance.password and actor.is_authenticated:
        reason = reset_refusal(actor, instance, superuser=was_superuser)
        if reason:
            raise refuse(actor=actor, object_id=label, reason=reason, attempted={"password": "set"},
                         current={"groups": groups_of(instance), "is_superuser": was_superuser})


def reset_refusal(actor, user, *, superuser: bool | None = None, roles_kept: bool = True) -> str:
    """Why `actor` may not set `user`'s password ('' if nothing stands against it). Whoever sets another's can
    sign in as them: never a superuser's, never by one who also approves, never a decision-role holder's."""
    if actor.pk == user.pk:
        return ""
    if user.is_superuser if superuser is None else superuser:
        return ("a superuser's password is changed on the server (`manage.py changepassword`), never from the "
                "web")
    deciding = sorted(set(groups_of(actor)) & (set(roles.DECISION_ROLES) - {roles.ADMIN}))
    if deciding:
        return (f"an admin who also holds {', '.join(deciding)} does not reset passwords: they could sign in as "
                "the person and decide on that person's work (another admin resets it)")
    held = sorted(set(groups_of(user)) & set(roles.DECISION_ROLES))
    if held and roles_kept:  # the People screen's reset takes them away first
        return (f"{user.get_username()} holds {', '.join(held)}: the People screen's reset removes decision roles "
                "first (two admins grant them again)")
    return ""


def _check_flags_in_shell(instance, before: dict | None) -> None:
    if before is None:
        if instance.is_superuser or instance.is_staff:
            _refuse_in_shell(object_id=instance.get_username(), current=None, attempted={
                "username": instance.get_username(), "is_staff": bool(instance.is_staff),
                "is_superuser": bool(instance.is_superuser)})
        return
    changed = [name for name in ("is_staff", "is_superuser") if bool(before[name]) != bool(getattr(instance, name))]
    if changed:
        _refuse_in_shell(object_id=instance.get_username(), current={name: before[name] for name in changed},
                         attempted={name: bool(getattr(instance, name)) for name in changed})


def user_post_save(sender, instance, created, raw=False, **kwargs):
    before = getattr(instance, "_people_before", None)
    instance._people_before = None
    if before == "skip":
        return
    actor, label = web_actor(), instance.get_username()
    after = {name: getattr(instance, name) for name in USER_FLAGS}
    if before is None:
        audit_record(actor=actor, action="user.created", object_type="auth.user", object_id=label, before=None,
                     after={"username": label, **after, "password": password_state(instance.password),
                            "loaded": bool(raw)})
        return
    after |= {name: getattr(instance, name) for name in NAMES}
    changed = [name for name in USER_FLAGS if bool(before[name]) != bool(after[name])]
    changed += [name for name in NAMES if (before[name] or "") != (after[name] or "")]
    if changed:
        audit_record(actor=actor, action="user.changed", object_type="auth.user", object_id=label,
                     before={name: before[name] for name in changed},
                     after={name: after[name] for name in changed} | ({"loaded": True} if raw else {}))
    if before["password"] != instance.password:
        audit_record(actor=actor, action="user.password_changed", object_type="auth.user", object_id=label,
                     before={"password": password_state(before["password"])},
                     after={"password": password_state(instance.password), "changed": True}
                     | ({"loaded": True} if raw else {}))


# --- many-to-many: a user's groups and permissions, a group's permissions ------------------------------


def _pairs(instance, reverse: bool, action: str, pk_set, forward_model, related_name: str):
    """The forward-side objects affected (users, or groups for group permissions)."""
    if not reverse:
        return [instance]
    if action == "pre_clear":
        return list(getattr(instance, related_name).all())
    return list(forward_model._default_manager.filter(pk__in=pk_set or ()))


def _stash(instance, key: str, value) -> None:
    stashes = instance.__dict__.setdefault("_people_m2m", {})
    stashes[key] = value


def _unstash(instance, key: str):
    return instance.__dict__.get("_people_m2m", {}).pop(key, None)


def user_groups_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    if action.startswith("pre_"):
        users = _pairs(instance, reverse, action, pk_set, User, "user_set")
        added = list(Group.objects.filter(pk__in=pk_set)) if action == "pre_add" and not reverse else (
            [instance] if action == "pre_add" else [])
        if _shell.get() is not None:
            named = [instance.name] if reverse else sorted(Group.objects.filter(pk__in=pk_set or ()).values_list(
                "name", flat=True))
            for user in users:
                current = groups_of(user)
                _refuse_m2m_in_shell(user.get_username(), "groups", action, current,
                                     current if action == "pre_clear" and not reverse else named)
        actor = web_actor()
        if actor is not None:
            for user in users:
                _check_groups(actor, user, action, added)
        _stash(instance, "groups", {user.pk: (user, groups_of(user)) for user in users})
        return
    if action.startswith("post_"):
        for user, before in (_unstash(instance, "groups") or {}).values():
            after = groups_of(user)
            if after != before:
                audit_record(actor=web_actor(), action="user.groups_changed", object_type="auth.user",
                             object_id=user.get_username(), before={"groups": before}, after={"groups": after})


def _refuse_m2m_in_shell(object_id: str, key: str, action: str, current: list[str], named: list[str],
                         object_type: str = "auth.user") -> None:
    """Refuse, in the shell, a many-to-many change (`key`: groups or permissions) that would change something."""
    kind = action.removeprefix("pre_")
    after = sorted(set(current) | set(named)) if kind == "add" else sorted(set(current) - set(named))
    if after != current:
        changed = sorted(set(after) ^ set(current))
        _refuse_in_shell(object_type=object_type, object_id=object_id, current={key: current},
                         attempted={f"{key}_{'added' if kind == 'add' else 'removed'}": changed, key: after})


def _check_groups(actor, user, action: str, added: list) -> None:
    current = {"groups": groups_of(user)}
    if actor.pk == user.pk:
        attempted = {"groups_added": sorted(g.name for g in added)} if added else {"groups": action.removeprefix("pre_")}
        raise refuse(actor=actor, object_id=user.get_username(), reason="no one changes their own roles or groups",
                     attempted=attempted, current=current)
    for group in added:
        if is_decision_group(group) and _confirming.get() != (user.pk, group.name):
            raise refuse(actor=actor, object_id=user.get_username(),
                         reason=f"{group.name} is a decision role: it is granted by two admins, one proposes "
                                "and another confirms (People screen, /people/)",
                         attempted={"groups_added": [group.name]}, current=current)


def _permissions_of(owner) -> list[str]:
    return permission_labels(owner.user_permissions.all() if isinstance(owner, User) else owner.permissions.all())


def _check_user_permissions(actor, user, action: str, added: list[str]) -> None:
    current = {"permissions": _permissions_of(user)}
    if actor.pk == user.pk:
        raise refuse(actor=actor, object_id=user.get_username(), current=current,
                     reason="no one changes their own permissions",
                     attempted={"permissions_added": added, "action": action.removeprefix("pre_")})
    decision = [label for label in added if roles.is_decision_permission(label)]
    if decision:
        raise refuse(actor=actor, object_id=user.get_username(), current=current,
                     reason="decision permissions come with a decision role, granted by two admins",
                     attempted={"permissions_added": decision})


def _check_group_permissions(actor, group, action: str, added: list[str]) -> None:
    current = {"permissions": _permissions_of(group)}
    if actor.is_authenticated and group.user_set.filter(pk=actor.pk).exists():
        raise refuse(actor=actor, object_type="auth.group", object_id=group.name, current=current,
                     reason="no one changes the permissions of a role they hold",
                     attempted={"permissions_added": added, "action": action.removeprefix("pre_")})
    decision = [label for label in added if roles.is_decision_permission(label)]
    if decision:
        raise refuse(actor=actor, object_type="auth.group", object_id=group.name, current=current,
                     reason="decision permissions are set by `manage.py seed_roles`, never from the web",
                     attempted={"permissions_added": decision})


def _permissions_changed(instance, action: str, reverse: bool, pk_set, owner_model, check) -> None:
    """A user's or a group's permissions (either side of the relation): checked before, audited after."""
    if action.startswith("pre_"):
        owners = _pairs(instance, reverse, action, pk_set, owner_model, "user_set" if owner_model is User else "group_set")
        if _shell.get() is not None:
            named = permission_labels(Permission.objects.filter(pk__in=[instance.pk] if reverse else pk_set or ()))
            for owner in owners:
                current = _permissions_of(owner)
                _refuse_m2m_in_shell(
                    owner.get_username() if owner_model is User else owner.name, "permissions", action, current,
                    current if action == "pre_clear" and not reverse else named,
                    object_type="auth.user" if owner_model is User else "auth.group")
        actor = web_actor()
        if actor is not None:
            added = [] if action != "pre_add" else permission_labels(
                Permission.objects.filter(pk__in=[instance.pk] if reverse else pk_set))
            for owner in owners:
                check(actor, owner, action, added)
        _stash(instance, owner_model.__name__, {owner.pk: (owner, _permissions_of(owner)) for owner in owners})
        return
    if action.startswith("post_"):
        for owner, before in (_unstash(instance, owner_model.__name__) or {}).values():
            after = _permissions_of(owner)
            if after == before:
                continue
            if owner_model is User:
                event = {"action": "user.permissions_changed", "object_type": "auth.user",
                         "object_id": owner.get_username()}
            else:
                event = {"action": "role.permissions_set", "object_type": "auth.group", "object_id": owner.name}
            audit_record(actor=web_actor(), **event, before={"permissions": before}, after={"permissions": after})


def user_permissions_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    _permissions_changed(instance, action, reverse, pk_set, User, _check_user_permissions)


def group_permissions_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    _permissions_changed(instance, action, reverse, pk_set, Group, _check_group_permissions)


def group_pre_delete(sender, instance, **kwargs):
    """Deleting a role drops its members' memberships without m2m signals: record who held it (refused in the shell)."""
    held = {"members": sorted(instance.user_set.values_list("username", flat=True)),
            "permissions": _permissions_of(instance)}
    _refuse_in_shell(object_type="auth.group", object_id=instance.name, current=held, attempted={"deleted": True})
    audit_record(actor=web_actor(), action="role.group_deleted", object_type="auth.group", object_id=instance.name,
                 before=held, after=None)


def group_pre_save(sender, instance, raw=False, **kwargs):
    """A role's name is how the console knows it (roles.ROLE_PERMISSIONS): renaming one, or another group to
    one's name, would move everyone in it to another role without a grant, so it is refused by every path.
    Another group's rename is audited with before and after."""
    if raw or instance.pk is None:
        return
    before = Group._default_manager.filter(pk=instance.pk).values_list("name", flat=True).first()
    if before is None or before == instance.name:
        return
    if before in roles.ROLE_PERMISSIONS or instance.name in roles.ROLE_PERMISSIONS:
        raise refuse(actor=web_actor(), object_type="auth.group", object_id=before, current={"name": before},
                     attempted={"name": instance.name},
                     reason="a role is known by its name: no role is renamed, and no group is renamed to a role's name")
    _refuse_in_shell(object_type="auth.group", object_id=before, current={"name": before},
                     attempted={"name": instance.name})
    audit_record(actor=web_actor(), action="role.group_renamed", object_type="auth.group", object_id=before,
                 before={"name": before}, after={"name": instance.name})


def user_pre_delete(sender, instance, **kwargs):
    audit_record(actor=web_actor(), action="user.deleted", object_type="auth.user", object_id=instance.get_username(),
                 before={"groups": groups_of(instance), **{name: getattr(instance, name) for name in USER_FLAGS}},
                 after=None)


def connect() -> None:
    pre_save.connect(user_pre_save, sender=User, dispatch_uid="console.people.user_pre_save")
    post_save.connect(user_post_save, sender=User, dispatch_uid="console.people.user_post_save")
    pre_delete.connect(user_pre_delete, sender=User, dispatch_uid="console.people.user_pre_delete")
    pre_delete.connect(group_pre_delete, sender=Group, dispatch_uid="console.people.group_pre_delete")
    pre_save.connect(group_pre_save, sender=Group, dispatch_uid="console.people.group_pre_save")
    m2m_changed.connect(user_groups_changed, sender=User.groups.through, dispatch_uid="console.people.groups")
    m2m_changed.connect(user_permissions_changed, sender=User.user_permissions.through,
                        dispatch_uid="console.people.user_permissions")
    m2m_changed.connect(group_permissions_changed, sender=Group.permissions.through,
                        dispatch_uid="console.people.group_permissions")
