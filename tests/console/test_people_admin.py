"""The attack of issue 16 through Django admin: an admin grants itself approver, admin and superuser."""
import pytest
from django.contrib.auth.models import Permission

from console import roles
from tests.console.people_helpers import FormClient, events, group, refusals, roles_of


@pytest.fixture
def staff_adam(adam):
    adam.is_staff = True  # adam.admin of the demo users is staff: he reaches Django admin
    adam.save()
    return adam


def attack_fields(adam) -> list[tuple[str, str]]:
    return [
        ("username", "adam"), ("is_active", "on"), ("is_staff", "on"), ("is_superuser", "on"),
        ("groups", str(group(roles.APPROVER).pk)), ("groups", str(group(roles.ADMIN).pk)),
    ]


def assert_attack_failed(adam):
    adam.refresh_from_db()
    assert not adam.is_superuser
    assert roles_of(adam) == [roles.ADMIN]
    refusal = refusals("adam").get()
    assert refusal.actor == adam and "is_superuser" in refusal.after["reason"]
    assert refusal.after["attempted"]["is_superuser"] == ["on"]
    assert refusal.before == {"groups": ["admin"], "is_superuser": False, "is_staff": True}


def test_the_change_form_never_offers_superuser(client, staff_adam, olivia):
    client.force_login(staff_adam)
    page = client.get(f"/admin/auth/user/{olivia.pk}/change/").content.decode()
    assert 'name="groups"' in page
    assert 'name="is_superuser"' not in page
    own = client.get(f"/admin/auth/user/{staff_adam.pk}/change/").content.decode()
    assert 'name="groups"' not in own and 'name="is_staff"' not in own  # shown read-only to himself


@pytest.mark.catalogue(55)
def test_an_admin_posting_his_own_change_form_with_approver_admin_and_superuser_gets_none(client, staff_adam):
    client.force_login(staff_adam)
    data = {}
    for name, value in attack_fields(staff_adam):
        data.setdefault(name, []).append(value)
    response = client.post(f"/admin/auth/user/{staff_adam.pk}/change/", data, follow=True)
    assert "Refused" in response.content.decode()
    assert_attack_failed(staff_adam)


def test_the_same_attack_through_a_real_server(live_server, transactional_db, staff_adam):
    browser = FormClient(live_server.url, "adam")
    path = f"/admin/auth/user/{staff_adam.pk}/change/"
    status, page, _url = browser.post_form(path, path, attack_fields(staff_adam))
    assert status == 200 and "Refused" in page
    assert_attack_failed(staff_adam)


def test_an_admin_adding_approver_to_someone_in_django_admin_is_sent_to_the_proposal_screen(
    client, staff_adam, olivia
):
    client.force_login(staff_adam)
    response = client.post(f"/admin/auth/user/{olivia.pk}/change/", {
        "username": "olivia", "is_active": "on", "groups": [group(roles.OPERATOR).pk, group(roles.APPROVER).pk],
    })
    assert response.status_code == 200  # the form again, with the reason
    assert "propose" in response.content.decode() and "/people/" in response.content.decode()
    assert roles_of(olivia) == [roles.OPERATOR]
    assert refusals("olivia").get().after["attempted"] == {"groups_added": ["approver"]}


def test_a_non_decision_role_set_in_django_admin_takes_effect_and_is_audited(client, staff_adam, olivia):
    client.force_login(staff_adam)
    response = client.post(f"/admin/auth/user/{olivia.pk}/change/", {
        "username": "olivia", "is_active": "on", "groups": [group(roles.OPERATOR).pk, group(roles.AUDITOR).pk],
    })
    assert response.status_code == 302
    assert roles_of(olivia) == [roles.AUDITOR, roles.OPERATOR]
    event = events("user.groups_changed", "olivia").last()
    assert event.actor == staff_adam
    assert event.before == {"groups": ["operator"]} and event.after == {"groups": ["auditor", "operator"]}


def test_decision_permissions_are_refused_on_a_group_in_django_admin(client, staff_adam):
    client.force_login(staff_adam)
    operator = group(roles.OPERATOR)
    approve = Permission.objects.get(codename="approve_promotion")
    keep = list(operator.permissions.values_list("pk", flat=True))
    response = client.post(f"/admin/auth/group/{operator.pk}/change/",
                           {"name": "operator", "permissions": [*keep, approve.pk]})
    assert response.status_code == 200 and "seed_roles" in response.content.decode()
    assert not operator.permissions.filter(pk=approve.pk).exists()
    assert refusals("operator").get().object_type == "auth.group"


@pytest.mark.catalogue(55)
def test_an_admin_cannot_change_the_permissions_of_his_own_role_in_django_admin(client, staff_adam):
    client.force_login(staff_adam)
    admin_group = group(roles.ADMIN)
    response = client.post(f"/admin/auth/group/{admin_group.pk}/change/",
                           {"name": "admin", "permissions": [Permission.objects.get(codename="view_audit").pk]},
                           follow=True)
    assert "Refused" in response.content.decode()
    assert admin_group.permissions.count() == len(roles.ROLE_PERMISSIONS[roles.ADMIN])
    assert refusals("admin").filter(object_type="auth.group").exists()
