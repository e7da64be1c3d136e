"""The model-layer guard (console.people_guard): every change of people and roles is audited, whatever the
path; from a web request, self-changes, superusers and unconfirmed decision roles are refused."""
import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import transaction
from django.test import RequestFactory

from console import context, roles
from console.people_guard import RoleChangeRefused
from tests.console.people_helpers import events, group, roles_of


def web_request_of(user):
    request = RequestFactory().post("/anything/")
    request.user = user
    return context.for_request(request, "test-request-0001")


@pytest.mark.catalogue(55)
def test_a_change_made_in_the_shell_is_audited_with_the_command_as_actor(oscar):
    call_command("shell", command=(
        "from django.contrib.auth.models import Group, User; "
        "User.objects.get(username='oscar').groups.add(Group.objects.get(name='approver'))"
    ))
    assert roles_of(oscar) == [roles.APPROVER]  # the shell may change roles
    event = events("user.groups_changed", "oscar").get()
    assert event.actor_label == "system:command:shell"
    assert event.before == {"groups": []} and event.after == {"groups": ["approver"]}


def test_createsuperuser_is_the_way_to_a_superuser_and_it_is_audited(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-enough-password-7")
    call_command("createsuperuser", interactive=False, username="root", email="root@example.com", verbosity=0)
    event = events("user.created", "root").get()
    assert event.actor_label == "system:command:createsuperuser"
    assert event.after["is_superuser"] is True and event.after["is_staff"] is True
    assert event.after["password"] == "set"
    assert get_user_model().objects.get(username="root").password not in json.dumps(event.after)


def test_loaddata_of_people_is_audited(oscar, tmp_path):
    fixture = tmp_path / "people.json"
    fixture.write_text(json.dumps([
        {"model": "auth.user", "pk": oscar.pk, "fields": {
            "username": "oscar", "password": oscar.password, "is_staff": True, "is_superuser": True,
            "is_active": True, "groups": [group(roles.ADMIN).pk], "user_permissions": [],
            "date_joined": "2026-01-01T00:00:00Z"}},
        {"model": "auth.user", "pk": oscar.pk + 100, "fields": {
            "username": "loaded", "password": "!unusable", "is_staff": False, "is_superuser": False,
            "is_active": True, "groups": [], "user_permissions": [], "date_joined": "2026-01-01T00:00:00Z"}},
    ]))
    call_command("loaddata", str(fixture), verbosity=0)

    changed = events("user.changed", "oscar").get()
    assert changed.actor_label == "system:command:loaddata"
    assert changed.before == {"is_staff": False, "is_superuser": False}
    assert changed.after == {"is_staff": True, "is_superuser": True, "loaded": True}
    assert events("user.groups_changed", "oscar").get().after == {"groups": ["admin"]}
    created = events("user.created", "loaded").get()
    assert created.after["loaded"] is True and created.after["password"] == "unusable"


def test_a_change_of_a_groups_permissions_is_audited(seeded_roles):
    reviewer = group(roles.REVIEWER)
    reviewer.permissions.add(Permission.objects.get(codename="view_audit"))
    event = events("role.permissions_set", "reviewer").last()
    assert event.actor_label == "system:unknown"  # plain ORM, no command bound
    assert event.before == {"permissions": ["console.view_provenance"]}
    assert event.after == {"permissions": ["console.view_audit", "console.view_provenance"]}


def test_a_change_of_a_persons_own_permissions_is_audited(oscar):
    oscar.user_permissions.add(Permission.objects.get(codename="view_provenance"))
    assert events("user.permissions_changed", "oscar").get().after == {"permissions": ["console.view_provenance"]}


@pytest.mark.catalogue(55)
def test_from_a_web_request_no_one_adds_a_group_to_themselves(adam):
    with web_request_of(adam) as work, pytest.raises(RoleChangeRefused, match="their own"), transaction.atomic():
        adam.groups.add(group(roles.APPROVER))
    assert roles_of(adam) == [roles.ADMIN]
    (refusal,) = work.refusals  # audited by the middleware once the request is over
    assert refusal["action"] == "role.refused" and refusal["after"]["attempted"] == {"groups_added": ["approver"]}


def test_from_a_web_request_the_group_side_is_guarded_too(adam):
    with web_request_of(adam), pytest.raises(RoleChangeRefused), transaction.atomic():
        group(roles.APPROVER).user_set.add(adam)
    assert roles_of(adam) == [roles.ADMIN]


def test_from_a_web_request_a_decision_role_is_added_only_by_a_confirmed_grant(adam, oscar):
    with web_request_of(adam), pytest.raises(RoleChangeRefused, match="two admins"), transaction.atomic():
        oscar.groups.add(group(roles.APPROVER))
    with web_request_of(adam):
        oscar.groups.add(group(roles.AUDITOR))  # not a decision role: at once
    assert roles_of(oscar) == [roles.AUDITOR]


@pytest.mark.catalogue(55)
def test_from_a_web_request_no_one_is_made_superuser(adam, oscar):
    oscar.is_superuser = True
    with web_request_of(adam), pytest.raises(RoleChangeRefused, match="createsuperuser"), transaction.atomic():
        oscar.save()
    oscar.refresh_from_db()
    assert not oscar.is_superuser


@pytest.mark.catalogue(55)
def test_from_a_web_request_no_one_changes_their_own_staff_flag_or_permissions(oscar):
    oscar.is_staff = True
    with web_request_of(oscar), pytest.raises(RoleChangeRefused, match="staff"), transaction.atomic():
        oscar.save()
    with web_request_of(oscar), pytest.raises(RoleChangeRefused, match="permissions"), transaction.atomic():
        oscar.user_permissions.add(Permission.objects.get(codename="view_provenance"))


@pytest.mark.catalogue(55)
def test_from_a_web_request_no_one_changes_the_permissions_of_a_role_they_hold(adam):
    with web_request_of(adam), pytest.raises(RoleChangeRefused, match="role they hold"), transaction.atomic():
        group(roles.ADMIN).permissions.add(Permission.objects.get(codename="approve_promotion"))


def test_from_a_web_request_decision_permissions_are_never_added_to_a_group(adam):
    with web_request_of(adam), pytest.raises(RoleChangeRefused, match="seed_roles"), transaction.atomic():
        group(roles.OPERATOR).permissions.add(Permission.objects.get(codename="approve_promotion"))
    assert "console.approve_promotion" not in roles.ROLE_PERMISSIONS[roles.OPERATOR]


def test_signing_in_is_not_a_change_of_roles(client, olivia):
    client.post("/login/", {"username": "olivia", "password": "correct-horse-battery-staple"})
    assert not events("user.changed", "olivia").exists()
    assert not events("role.refused").exists()


def test_demo_users_are_audited_with_the_command_as_actor_and_no_password(db, capsys):
    call_command("demo_users")
    password = next(line.split()[2] for line in capsys.readouterr().out.splitlines() if "adam.admin" in line)
    created = events("user.created", "adam.admin").get()
    assert created.actor_label == "system:command:demo_users" and created.after["is_staff"] is True
    assert events("user.groups_changed", "adam.admin").get().after == {"groups": ["admin"]}
    changed = events("user.password_changed", "adam.admin").get()
    assert password not in json.dumps(changed.after) and changed.after["password"] == "set"


def test_deleting_a_role_or_a_person_records_who_held_what(olivia):
    group(roles.OPERATOR).delete()
    deleted = events("role.group_deleted", "operator").get()
    assert deleted.before["members"] == ["olivia"] and "console.receive_export" in deleted.before["permissions"]
    olivia.refresh_from_db()
    olivia.delete()
    assert events("user.deleted", "olivia").get().before["groups"] == []
