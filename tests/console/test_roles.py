"""Roles are groups with exactly the permissions the console defines."""
from django.contrib.auth.models import Group
from django.core.management import call_command

from console import roles
from console.models import AuditEvent


def permissions_of(name):
    group = Group.objects.get(name=name)
    return sorted(f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type"))


def test_seed_roles_creates_every_role_with_its_permissions(db):
    call_command("seed_roles")
    for name, expected in roles.ROLE_PERMISSIONS.items():
        assert permissions_of(name) == sorted(expected)


def test_seed_roles_is_idempotent_and_audits_only_changes(db):
    call_command("seed_roles")
    events = AuditEvent.objects.count()
    call_command("seed_roles")
    assert Group.objects.filter(name__in=roles.ROLE_PERMISSIONS).count() == len(roles.ROLE_PERMISSIONS)
    assert AuditEvent.objects.count() == events


def test_seed_roles_restores_a_tampered_role_and_records_before_and_after(db):
    call_command("seed_roles")
    Group.objects.get(name=roles.REVIEWER).permissions.clear()
    call_command("seed_roles")
    assert permissions_of(roles.REVIEWER) == ["console.view_provenance"]
    event = AuditEvent.objects.filter(action="role.permissions_set", object_id=roles.REVIEWER).last()
    assert event.before == {"permissions": []}
    assert event.after == {"permissions": ["console.view_provenance"]}
    assert event.actor_label == "system:command:seed_roles"


def test_no_role_both_administers_and_approves(db):
    """Separation of duties: the admin manages people but cannot approve promotions or publications."""
    admin = set(roles.ROLE_PERMISSIONS[roles.ADMIN])
    assert "console.approve_promotion" not in admin
    assert "console.approve_publication" not in admin


def test_demo_users_prints_one_login_per_role(db, capsys):
    call_command("demo_users")
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(roles.ROLE_PERMISSIONS)
    for line in out:
        role, username, password = line.split()[:3]
        assert role in roles.ROLE_PERMISSIONS
        assert len(password) >= 12


def test_demo_user_can_log_in_with_the_printed_password(db, client, capsys):
    call_command("demo_users")
    role, username, password = capsys.readouterr().out.splitlines()[0].split()[:3]
    response = client.post("/login/", {"username": username, "password": password})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_demo_users_again_keeps_passwords_unless_reset(db, capsys):
    call_command("demo_users")
    capsys.readouterr()
    call_command("demo_users")
    assert "unchanged" in capsys.readouterr().out
