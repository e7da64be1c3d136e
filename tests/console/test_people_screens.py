"""The People screen: who holds which role, grants awaiting a second admin, each person's history."""
import pytest

from console import people, roles
from console.choices import GrantState
from console.models import RoleGrant
from tests.console.people_helpers import FormClient, events, refusals, roles_of


def test_people_page_lists_everyone_with_their_roles_and_the_pending_grants(client, adam, ada, olivia, oscar):
    people.grant_propose(actor=adam, user=olivia, role=roles.APPROVER)
    client.force_login(ada)
    page = client.get("/people/").content.decode()
    for username in ("adam", "ada", "olivia", "oscar"):
        assert f">{username}</a>" in page
    assert "no role" in page  # oscar
    assert "Confirm approver for olivia" in page


def test_the_proposer_is_not_offered_the_confirmation(client, adam, olivia):
    people.grant_propose(actor=adam, user=olivia, role=roles.APPROVER)
    client.force_login(adam)
    page = client.get("/people/").content.decode()
    assert "Confirm approver for olivia" not in page and "another admin confirms" in page


def test_people_page_is_for_admins(client, olivia):
    client.force_login(olivia)
    assert client.get("/people/").status_code == 403
    assert "People" not in client.get("/").content.decode().split("<main")[0]


@pytest.mark.catalogue(55)
def test_an_admin_giving_himself_approver_and_admin_on_the_screen_is_refused(client, adam):
    client.force_login(adam)
    response = client.post(f"/people/{adam.pk}/roles/", {"groups": [roles.APPROVER, roles.ADMIN], "is_active": "on"},
                           follow=True)
    assert "Refused: no one changes the roles or the active flag of themselves" in response.content.decode()
    assert roles_of(adam) == [roles.ADMIN]
    assert refusals("adam").get().after["attempted"]["groups"] == ["admin", "approver"]


@pytest.mark.catalogue(55)
def test_an_admin_proposing_a_role_for_himself_on_the_screen_is_refused(client, adam):
    client.force_login(adam)
    response = client.post("/people/grants/", {"user": adam.pk, "role": roles.APPROVER}, follow=True)
    assert "Refused" in response.content.decode()
    assert not RoleGrant.objects.exists() and refusals("adam").count() == 1


@pytest.mark.catalogue(55)
def test_two_admins_grant_a_role_on_the_screen(client, adam, ada, olivia):
    client.force_login(adam)
    client.post("/people/grants/", {"user": olivia.pk, "role": roles.APPROVER})
    grant = RoleGrant.objects.get()
    response = client.post(f"/people/grants/{grant.pk}/confirm/", follow=True)
    assert "four eyes" in response.content.decode()
    assert roles_of(olivia) == [roles.OPERATOR]

    client.force_login(ada)
    response = client.post(f"/people/grants/{grant.pk}/confirm/", follow=True)
    assert "Grant of approver to olivia confirmed" in response.content.decode()
    assert roles_of(olivia) == [roles.APPROVER, roles.OPERATOR]
    assert events("role.grant_confirmed", "olivia").get().actor == ada


def test_a_persons_page_shows_the_history_of_their_roles(client, adam, ada, olivia):
    grant = people.grant_propose(actor=adam, user=olivia, role=roles.APPROVER)
    people.grant_confirm(actor=ada, grant=grant)
    client.force_login(adam)
    page = client.get(f"/people/{olivia.pk}/").content.decode()
    for action in ("role.grant_proposed", "role.grant_confirmed", "user.groups_changed", "user.created"):
        assert action in page


def test_a_persons_history_says_in_words_what_changed_not_python(client, adam, ada, olivia):
    grant = people.grant_propose(actor=adam, user=olivia, role=roles.APPROVER)
    people.grant_confirm(actor=ada, grant=grant)
    client.force_login(adam)
    client.post(f"/people/{olivia.pk}/password-reset/")
    history = client.get(f"/people/{olivia.pk}/").content.decode().split('class="history"')[1]
    assert ">roles changed<" in history and ">role confirmed<" in history and ">password changed<" in history
    assert "roles: operator</td>" in history and "roles: approver, operator</td>" in history
    assert "changed; password: set</td>" in history
    assert "active; not staff; not superuser; password: set; username: olivia</td>" in history
    assert "{&#x27;" not in history and "True" not in history and "[]" not in history
    assert 'title="user.groups_changed"' in history  # the code itself, for matching the audit trail
    # a grant's change hash reads as the People page shows it: its first 12 characters (the trail keeps it whole)
    assert f"change hash: {grant.change_hash[:12]}…" in history and grant.change_hash not in history


def test_a_persons_page_says_roles_once_above_the_role_checkboxes(client, adam, olivia):
    client.force_login(adam)
    page = client.get(f"/people/{olivia.pk}/").content.decode()
    form = page.split('<h2 id="roles-heading">Roles</h2>')[1].split("</form>")[0]
    assert 'aria-labelledby="roles-heading"' in form and "Roles:" not in form and "Active (may sign in)" in form


def test_a_password_reset_on_the_screen_shows_the_password_once_and_audits_no_hash(client, adam, olivia):
    client.force_login(adam)
    response = client.post(f"/people/{olivia.pk}/password-reset/")
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    olivia.refresh_from_db()
    event = events("user.password_changed", "olivia").get()
    assert event.actor == adam and olivia.password not in str(event.after)


def test_the_attack_and_a_legitimate_grant_through_a_real_server(live_server, transactional_db, adam, ada, olivia):
    attacker = FormClient(live_server.url, "adam")
    status, page, _url = attacker.post_form(
        f"/people/{adam.pk}/roles/", f"/people/{adam.pk}/",
        [("groups", roles.APPROVER), ("groups", roles.ADMIN), ("is_active", "on")],
    )
    assert status == 200 and "Refused" in page
    assert roles_of(adam) == [roles.ADMIN] and refusals("adam").count() == 1

    status, page, _url = attacker.post_form(
        "/people/grants/", "/people/", [("user", str(olivia.pk)), ("role", roles.APPROVER)]
    )
    assert status == 200 and "another admin confirms it" in page
    grant = RoleGrant.objects.get()
    second = FormClient(live_server.url, "ada")
    status, page, _url = second.post_form(f"/people/grants/{grant.pk}/confirm/", "/people/", [])
    assert status == 200 and "confirmed" in page
    grant.refresh_from_db()
    assert grant.state == GrantState.CONFIRMED and roles_of(olivia) == [roles.APPROVER, roles.OPERATOR]


def test_the_people_page_reads_a_fixed_number_of_queries_whatever_the_number_of_people(
    client, adam, ada, olivia, arthur, audrey, cecilia, oscar, django_assert_max_num_queries
):
    people.grant_propose(actor=adam, user=olivia, role=roles.APPROVER)
    client.force_login(ada)
    with django_assert_max_num_queries(12):
        assert client.get("/people/").status_code == 200
