"""The people API: list people, propose a decision role, confirm or cancel it (four eyes), as the screens do."""
import pytest

from console import roles
from console.choices import GrantState
from console.models import RoleGrant
from tests.conftest import PASSWORD
from tests.console.people_helpers import events, refusals, roles_of
from tests.support.api import Api


def post(client, url: str, body: dict | None = None):
    return client.post(url, body or {}, content_type="application/json")


def test_people_lists_everyone_with_their_roles_for_admins_only(client, adam, olivia):
    client.force_login(olivia)
    assert client.get("/api/people/").status_code == 403
    client.force_login(adam)
    listed = {p["username"]: p["roles"] for p in client.get("/api/people/").json()["results"]}
    assert listed == {"adam": ["admin"], "olivia": ["operator"]}


def test_a_persons_detail_has_roles_pending_grants_and_role_history_as_their_page(client, adam, olivia):
    client.force_login(adam)
    proposed = post(client, "/api/role-grants/", {"user": "olivia", "role": roles.APPROVER}).json()
    client.force_login(olivia)
    assert client.get(f"/api/people/{olivia.pk}/").status_code == 403

    client.force_login(adam)
    person = client.get(f"/api/people/{olivia.pk}/").json()
    assert (person["username"], person["roles"]) == ("olivia", ["operator"])
    assert [(g["id"], g["role"], g["state"]) for g in person["pending_grants"]] == [
        (proposed["id"], roles.APPROVER, "pending")]
    actions = [event["action"] for event in person["history"]]
    assert actions[0] == "role.grant_proposed" and "user.created" in actions  # newest first
    assert [e["seq"] for e in person["history"]] == sorted((e["seq"] for e in person["history"]), reverse=True)
    assert client.get("/api/people/99999999/").status_code == 404


@pytest.mark.catalogue(55)
def test_an_admin_proposing_a_role_for_himself_gets_403_and_it_is_audited(client, adam):
    client.force_login(adam)
    response = post(client, "/api/role-grants/", {"user": "adam", "role": roles.APPROVER})
    assert response.status_code == 403 and "themselves" in response.json()["detail"]
    assert roles_of(adam) == [roles.ADMIN] and refusals("adam").count() == 1


@pytest.mark.catalogue(55)
def test_propose_answers_201_with_a_string_location_then_another_admin_confirms(client, adam, ada, olivia):
    client.force_login(adam)
    response = post(client, "/api/role-grants/", {"user": "olivia", "role": roles.APPROVER})
    assert response.status_code == 201
    grant = RoleGrant.objects.get()
    assert isinstance(response["Location"], str) and response["Location"].endswith(f"/api/role-grants/{grant.pk}/")
    assert response.json()["state"] == "pending"

    own = post(client, f"/api/role-grants/{grant.pk}/confirm/")
    assert own.status_code == 403 and "four eyes" in own.json()["detail"]

    client.force_login(ada)
    confirmed = post(client, f"/api/role-grants/{grant.pk}/confirm/")
    assert confirmed.status_code == 200 and confirmed.json()["decided_by"] == "ada"
    assert roles_of(olivia) == [roles.APPROVER, roles.OPERATOR]
    assert events("role.grant_confirmed", "olivia").get().before == {"groups": ["operator"]}


def test_cancel_and_unknown_grants(client, adam, ada, olivia):
    client.force_login(adam)
    grant_id = post(client, "/api/role-grants/", {"user": "olivia", "role": roles.ADMIN}).json()["id"]
    client.force_login(ada)
    assert post(client, f"/api/role-grants/{grant_id}/cancel/").json()["state"] == "cancelled"
    assert post(client, f"/api/role-grants/{grant_id}/confirm/").status_code == 403
    assert post(client, "/api/role-grants/999999/confirm/").status_code == 404


def test_a_bad_proposal_names_the_field(client, adam):
    client.force_login(adam)
    response = post(client, "/api/role-grants/", {"user": "nobody", "role": roles.OPERATOR})
    assert response.status_code == 400 and set(response.json()) == {"user", "role"}


def test_a_username_with_a_nul_byte_names_no_one_400_not_500(client, adam):
    """Found by the API fuzz: the NUL reached PostgreSQL, which refuses it in text (500)."""
    client.force_login(adam)
    response = post(client, "/api/role-grants/", {"user": "olivia\x00", "role": roles.APPROVER})
    assert response.status_code == 400 and "does not exist" in response.json()["user"][0]
    assert not RoleGrant.objects.exists()


def test_a_pending_grant_is_read_back_with_no_decider_as_the_schema_says(client, adam, ada, olivia):
    """Found by the API fuzz: a pending grant's decided_by is null; the schema said it was always text."""
    client.force_login(adam)
    created = post(client, "/api/role-grants/", {"user": "olivia", "role": roles.APPROVER}).json()
    assert created["decided_by"] is None
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert schema["components"]["schemas"]["RoleGrant"]["properties"]["decided_by"]["nullable"] is True


def test_the_attack_and_two_admin_grant_through_a_real_server(live_server, transactional_db, adam, ada, olivia):
    attacker = Api.signed_in(live_server.url, "adam", PASSWORD)
    answer = attacker.post("/api/role-grants/", {"user": "adam", "role": roles.APPROVER})
    assert answer.status_code == 403 and roles_of(adam) == [roles.ADMIN] and refusals("adam").count() == 1

    answer = attacker.post("/api/role-grants/", {"user": "olivia", "role": roles.APPROVER}, key="grant-olivia")
    grant_id = answer.json()["id"]
    assert answer.status_code == 201 and answer.headers["Location"] == f"{live_server.url}/api/role-grants/{grant_id}/"
    retried = attacker.post("/api/role-grants/", {"user": "olivia", "role": roles.APPROVER}, key="grant-olivia")
    assert retried.status_code == 201 and retried.json()["id"] == grant_id
    assert attacker.post(f"/api/role-grants/{grant_id}/confirm/").status_code == 403

    second = Api.with_token(live_server.url, ada)
    answer = second.post(f"/api/role-grants/{grant_id}/confirm/")
    assert answer.status_code == 200 and answer.json()["state"] == GrantState.CONFIRMED
    assert roles_of(olivia) == [roles.APPROVER, roles.OPERATOR]
    assert events("role.grant_confirmed", "olivia").get().actor == ada


def test_a_grant_id_beyond_any_integer_is_404_not_500(client, adam):
    client.force_login(adam)
    assert post(client, f"/api/role-grants/{10**30}/confirm/").status_code == 404
    assert client.get(f"/api/role-grants/{10**30}/").status_code == 404
    assert client.post(f"/people/grants/{10**30}/cancel/").status_code == 404


@pytest.mark.catalogue(56)
def test_a_retried_proposal_with_the_same_idempotency_key_returns_the_same_grant(client, adam, olivia):
    client.force_login(adam)
    body = {"user": "olivia", "role": roles.APPROVER}
    first = client.post("/api/role-grants/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="grant-1")
    again = client.post("/api/role-grants/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="grant-1")
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again["Location"] == first["Location"]
    assert RoleGrant.objects.count() == 1
