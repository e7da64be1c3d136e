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
from console.people_guard import RoleChangeRefused, permission_labels
from tests.console.people_helpers import events, group, roles_of


def web_request_of(user):
    request = RequestFactory().post("/anything/")
    request.user = user
    return context.for_request(request, "test-request-0001")


def shell(code: str) -> None:
    """`manage.py shell -c <code>`: run in autocommit, as the real shell is (the tests that use it take
    transactional_db, so a refused change rolls back its own transaction, not the test's)."""
    call_command("shell", command="from django.contrib.auth.models import Group, Permission, User\n" + code)


def assert_refused_in_the_shell(code: str, *, object_id: str, attempted: dict, before: dict | None,
                                object_type: str = "auth.user") -> None:
    with pytest.raises(RoleChangeRefused) as refused:
        shell(code)
    message = str(refused.value)
    assert "nobody is signed in" in message and "/people/" in message and "createsuperuser" in message
    refusal = events("role.refused", object_id).get()
    assert refusal.actor_label == "system:command:shell" and refusal.object_type == object_type
    assert refusal.before == before
    assert refusal.after == {"attempted": attempted, "reason": message}


@pytest.mark.catalogue(55)
def test_the_shell_adds_no_group_to_anyone(transactional_db, adam, oscar):
    assert_refused_in_the_shell("User.objects.get(username='oscar').groups.add(Group.objects.get(name='auditor'))",
                                object_id="oscar", before={"groups": []},
                                attempted={"groups_added": ["auditor"], "groups": ["auditor"]})
    assert roles_of(oscar) == []
    assert_refused_in_the_shell("Group.objects.get(name='approver').user_set.add(User.objects.get(username='adam'))",
                                object_id="adam", before={"groups": ["admin"]},
                                attempted={"groups_added": ["approver"], "groups": ["admin", "approver"]})
    assert roles_of(adam) == [roles.ADMIN]
    assert not events("user.groups_changed", "oscar").exists()
    assert events("user.groups_changed", "adam").count() == 1  # adam's persona, made before the shell


@pytest.mark.catalogue(55)
def test_the_shell_removes_no_group_either(transactional_db, adam):
    assert_refused_in_the_shell("User.objects.get(username='adam').groups.clear()", object_id="adam",
                                before={"groups": ["admin"]}, attempted={"groups_removed": ["admin"], "groups": []})
    assert roles_of(adam) == [roles.ADMIN]
    assert_refused_in_the_shell("Group.objects.get(name='admin').delete()", object_type="auth.group",
                                object_id="admin", before={"members": ["adam"], "permissions": sorted(
                                    roles.ROLE_PERMISSIONS[roles.ADMIN])}, attempted={"deleted": True})
    assert roles_of(adam) == [roles.ADMIN]


@pytest.mark.catalogue(55)
def test_a_refusal_the_shell_code_catches_is_still_in_the_trail(transactional_db, oscar):
    shell("from console.people_guard import RoleChangeRefused\n"
          "try:\n"
          "    User.objects.get(username='oscar').groups.add(Group.objects.get(name='approver'))\n"
          "except RoleChangeRefused:\n"
          "    pass\n")
    assert roles_of(oscar) == []
    refusal = events("role.refused", "oscar").get()
    assert refusal.actor_label == "system:command:shell" and refusal.after["attempted"]["groups"] == ["approver"]


@pytest.mark.catalogue(55)
def test_the_shell_makes_no_one_superuser_nor_staff(transactional_db, oscar):
    for flag in ("is_superuser", "is_staff"):
        code = f"oscar = User.objects.get(username='oscar'); oscar.{flag} = True; oscar.save()"
        with pytest.raises(RoleChangeRefused, match="createsuperuser"):
            shell(code)
        refusal = events("role.refused", "oscar").last()
        assert refusal.actor_label == "system:command:shell"
        assert refusal.before == {flag: False} and refusal.after["attempted"] == {flag: True}
    oscar.refresh_from_db()
    assert not oscar.is_superuser and not oscar.is_staff
    assert not events("user.changed", "oscar").exists()
    assert_refused_in_the_shell("User.objects.create_superuser('mallory', password='a-long-enough-password-7')",
                                object_id="mallory", before=None,
                                attempted={"username": "mallory", "is_staff": True, "is_superuser": True})
    assert not get_user_model().objects.filter(username="mallory").exists()


@pytest.mark.catalogue(55)
def test_the_shell_adds_no_permission_to_a_person_nor_to_a_role(transactional_db, oscar):
    assert_refused_in_the_shell(
        "User.objects.get(username='oscar').user_permissions.add(Permission.objects.get(codename='view_audit'))",
        object_id="oscar", before={"permissions": []},
        attempted={"permissions_added": ["console.view_audit"], "permissions": ["console.view_audit"]})
    assert not oscar.user_permissions.exists()
    assert_refused_in_the_shell(
        "Group.objects.get(name='operator').permissions.add(Permission.objects.get(codename='approve_promotion'))",
        object_type="auth.group", object_id="operator",
        before={"permissions": sorted(roles.ROLE_PERMISSIONS[roles.OPERATOR])},
        attempted={"permissions_added": ["console.approve_promotion"],
                   "permissions": sorted([*roles.ROLE_PERMISSIONS[roles.OPERATOR], "console.approve_promotion"])})
    assert "console.approve_promotion" not in permission_labels(group(roles.OPERATOR).permissions.all())
    assert not events("role.permissions_set", "operator").filter(actor_label="system:command:shell").exists()


@pytest.mark.catalogue(55)
def test_the_shell_cannot_act_for_an_admin_nor_call_a_command_that_would(transactional_db, adam, oscar, tmp_path):
    """A service acting "for" adam, or loaddata called from the shell: still the shell, still refused."""
    with pytest.raises(RoleChangeRefused, match="nobody is signed in"):
        shell("from console import people\n"
              "people.user_change(actor=User.objects.get(username='adam'), user=User.objects.get(username='oscar'),"
              " groups=['auditor'])")
    assert roles_of(oscar) == []
    fixture = tmp_path / "people.json"
    fixture.write_text(json.dumps([{"model": "auth.user", "pk": oscar.pk, "fields": {
        "username": "oscar", "password": oscar.password, "is_staff": True, "is_superuser": True, "is_active": True,
        "groups": [], "user_permissions": [], "date_joined": "2026-01-01T00:00:00Z"}}]))
    with pytest.raises(RoleChangeRefused, match="createsuperuser"):
        shell(f"from django.core.management import call_command\ncall_command('loaddata', {str(fixture)!r}, verbosity=0)")
    oscar.refresh_from_db()
    assert not oscar.is_superuser and not oscar.is_staff
    assert events("role.refused", "oscar").count() == 2
    assert set(events("role.refused", "oscar").values_list("actor_label", flat=True)) == {"system:command:shell"}


def test_the_shell_may_still_make_a_person_without_roles_and_set_a_password(transactional_db):
    shell("User.objects.create_user('newcomer', password='a-long-enough-password-7')")
    created = events("user.created", "newcomer").get()
    assert created.actor_label == "system:command:shell"
    assert created.after["is_staff"] is False and created.after["is_superuser"] is False
    assert not events("role.refused").exists()


@pytest.mark.catalogue(55)
def test_createsuperuser_is_the_way_to_a_superuser_and_it_is_audited(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-enough-password-7")
    call_command("createsuperuser", interactive=False, username="root", email="root@example.com", verbosity=0)
    event = events("user.created", "root").get()
    assert event.actor_label == "system:command:createsuperuser"
    assert event.after["is_superuser"] is True and event.after["is_staff"] is True
    assert event.after["password"] == "set"
    assert get_user_model().objects.get(username="root").password not in json.dumps(event.after)


@pytest.mark.catalogue(55)
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


@pytest.mark.catalogue(55)
def test_no_role_is_renamed_nor_another_group_renamed_to_a_role(transactional_db, adam, oscar):
    """Renaming "approver" away and "auditor" to "approver" would make every auditor an approver without a grant."""
    for old, new in [("approver", "approvers"), ("auditor", "approver")]:
        with web_request_of(adam), pytest.raises(RoleChangeRefused, match="no role is renamed"):
            renamed = group(old)
            renamed.name = new
            renamed.save()
        with pytest.raises(RoleChangeRefused, match="no role is renamed"):
            shell(f"g = Group.objects.get(name={old!r}); g.name = {new!r}; g.save()")
        assert group(old).name == old
        refusal = events("role.refused", old).last()
        assert refusal.actor_label == "system:command:shell"
        assert refusal.before == {"name": old} and refusal.after["attempted"] == {"name": new}


def test_another_groups_rename_is_audited_with_before_and_after(transactional_db, seeded_roles):
    from django.contrib.auth.models import Group

    team = Group.objects.create(name="reporting team")
    with context.for_command("rename_team"):
        team.name = "reporting"
        team.save()
    event = events("role.group_renamed", "reporting team").get()
    assert event.actor_label == "system:command:rename_team"
    assert event.before == {"name": "reporting team"} and event.after == {"name": "reporting"}
