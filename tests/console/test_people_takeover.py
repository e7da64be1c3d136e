"""No one admin takes over another person's account to pass four eyes: a reset password is known to the admin
who reset it, so the reset takes the person's decision roles away (two admins grant them again) and revokes their
API tokens; a superuser's password is never reset from the web, nor by an admin who also approves; the admin's
own password form is for one's own password; a username is never renamed; token keys are never shown."""
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token

from console import people, roles
from console.credentials import fingerprint
from tests.conftest import PASSWORD
from tests.console.people_helpers import FormClient, events, refusals, roles_of
from tests.support.api import Api


@pytest.fixture
def staff(adam, ada):
    """adam and ada may open Django admin, as `make run`'s admin may (the personas are not staff)."""
    for admin in (adam, ada):
        admin.is_staff = True
        admin.save(update_fields=["is_staff"])


@pytest.fixture
def sam(seeded_roles):
    """A superuser, made as `manage.py createsuperuser` makes one (outside a web request)."""
    return get_user_model().objects.create_superuser("sam", password=PASSWORD)


def test_resetting_an_approvers_password_through_a_real_server_takes_the_approver_role_and_tokens_away(
        live_server, transactional_db, adam, arthur):
    token = Token.objects.create(user=arthur)
    assert Api.with_token(live_server.url, arthur).get("/api/manifests/").status_code == 200
    admin = FormClient(live_server.url, "adam")
    person_page = admin.api.get(f"/people/{arthur.pk}/").text
    assert 'id="reset-takes"' in person_page and "takes away arthur's\n  approver" in person_page

    status, page, _url = admin.post_form(f"/people/{arthur.pk}/password-reset/", f"/people/{arthur.pk}/", [])
    assert status == 200
    password = re.search(r'<code class="secret">([^<]+)</code>', page).group(1)
    assert "took away arthur's decision\nrole: <strong>approver</strong>" in page
    assert "API token was revoked" in page
    arthur.refresh_from_db()
    assert roles_of(arthur) == [] and not Token.objects.filter(user=arthur).exists()
    assert Api.signed_in(live_server.url, "arthur", password)  # the new password signs in
    # (tests/promotion/test_reset_takeover.py: whoever knows it approves nothing)
    stale = Api(live_server.url, Api.with_token(live_server.url, adam).session)
    stale.session.headers["Authorization"] = f"Token {token.key}"
    assert stale.get("/api/manifests/").status_code == 401
    # all of it in the trail, as adam: the role taken away, the password, the token (its fingerprint)
    assert events("user.groups_changed", "arthur").last().after == {"groups": []}
    assert events("user.groups_changed", "arthur").last().actor == adam
    assert events("user.password_changed", "arthur").last().actor == adam
    revoked = events("auth.token_deleted", "arthur").get()
    assert revoked.actor == adam and revoked.before["fingerprint"] == fingerprint(token.key)


def test_an_operators_reset_keeps_their_roles(client, adam, olivia):
    client.force_login(adam)
    page = client.post(f"/people/{olivia.pk}/password-reset/").content.decode()
    assert '<code class="secret">' in page and "took away" not in page
    assert roles_of(olivia) == [roles.OPERATOR]


def test_a_superusers_password_is_never_reset_from_the_web(client, adam, sam):
    client.force_login(adam)
    assert 'id="reset-refused"' in client.get(f"/people/{sam.pk}/").content.decode()
    before = get_user_model().objects.get(pk=sam.pk).password
    response = client.post(f"/people/{sam.pk}/password-reset/", follow=True)
    assert "superuser&#x27;s password is changed on the server" in response.content.decode()
    assert get_user_model().objects.get(pk=sam.pk).password == before
    assert "manage.py changepassword" in refusals("sam").get().after["reason"]


def test_an_admin_who_also_approves_resets_no_one(client, adam, ada, olivia):
    people.grant_propose(actor=ada, user=adam, role=roles.APPROVER)
    adam.groups.add(Group.objects.get(name=roles.APPROVER))  # as a confirmed grant would (the test's own setup)
    client.force_login(adam)
    before = get_user_model().objects.get(pk=olivia.pk).password
    response = client.post(f"/people/{olivia.pk}/password-reset/", follow=True)
    assert "who also holds approver does not reset passwords" in response.content.decode()
    assert get_user_model().objects.get(pk=olivia.pk).password == before


def test_the_admins_password_form_is_for_ones_own_password_only(client, staff, adam, olivia, sam):
    client.force_login(adam)
    before = get_user_model().objects.get(pk=olivia.pk).password
    for person in (olivia, sam):
        response = client.post(f"/admin/auth/user/{person.pk}/password/",
                               {"password1": "Chosen-by-adam-42", "password2": "Chosen-by-adam-42",
                                "usable_password": "true"}, follow=True)
        assert "password is reset on their People page" in response.content.decode()
    assert get_user_model().objects.get(pk=olivia.pk).password == before
    assert refusals("olivia").get().after["attempted"] == {"password": "set in the admin"}


def test_a_username_is_never_renamed_and_an_email_change_is_in_the_trail(client, staff, adam, ada, audrey):
    client.force_login(adam)
    form = client.get(f"/admin/auth/user/{audrey.pk}/change/").content.decode()
    assert 'name="username"' not in form  # shown, not editable
    fields = {"username": "audrey.renamed", "email": "audrey@leaf.example", "is_active": "on",
              "groups": [Group.objects.get(name=roles.AUDITOR).pk], "date_joined_0": "2026-01-05",
              "date_joined_1": "08:00:00", "initial-date_joined_0": "2026-01-05", "initial-date_joined_1": "08:00:00"}
    client.post(f"/admin/auth/user/{audrey.pk}/change/", fields)
    audrey.refresh_from_db()
    assert audrey.username == "audrey" and audrey.email == "audrey@leaf.example"  # the username field is ignored
    changed = events("user.changed", "audrey").get()
    assert changed.actor == adam and changed.before == {"email": ""}
    assert changed.after == {"email": "audrey@leaf.example"}
    # renamed by any web path anyway (the model guard): refused and audited
    client.force_login(ada)
    with pytest.raises(people.RoleChangeRefused):
        from console import context

        request = type("Request", (), {"user": ada})()
        with context.for_request(request, "r" * 16):
            audrey.username = "audrey.renamed"
            audrey.save()
    assert get_user_model().objects.filter(username="audrey").exists()


def test_no_one_changes_their_own_email_in_the_admin(client, staff, adam):
    client.force_login(adam)
    fields = {"email": "boss@leaf.example", "is_active": "on", "date_joined_0": "2026-01-05",
              "date_joined_1": "08:00:00", "initial-date_joined_0": "2026-01-05", "initial-date_joined_1": "08:00:00"}
    client.post(f"/admin/auth/user/{adam.pk}/change/", fields)
    adam.refresh_from_db()
    assert adam.email == ""
    assert refusals("adam").get().after["reason"] == "no one changes their own email: another admin does"


def test_the_token_admin_shows_fingerprints_never_keys_and_makes_no_tokens(client, sam, arthur):
    token = Token.objects.create(user=arthur)
    client.force_login(sam)
    listing = client.get("/admin/console/apitoken/").content.decode()
    assert token.key not in listing and fingerprint(token.key) in listing
    assert client.get("/admin/console/apitoken/add/").status_code == 403
    detail = client.get(f"/admin/console/apitoken/{arthur.pk}/change/").content.decode()
    assert token.key not in detail
    client.post(f"/admin/console/apitoken/{arthur.pk}/delete/", {"post": "yes"})
    assert not Token.objects.filter(user=arthur).exists()
    assert events("auth.token_deleted", "arthur").get().actor == sam
