"""A person turned away from a page or an API route for want of a capability is in the audit trail
(`access.refused`: the route, the method, what it needs, the roles they hold); a service's refusal, audited under
its own action, is not counted twice; nobody signed in is asked to sign in, not recorded."""
import requests
from rest_framework.authtoken.models import Token

from console import roles
from console.models import AuditEvent
from tests.console.people_helpers import FormClient


def refused():
    return AuditEvent.objects.filter(action="access.refused").order_by("seq")


def test_a_reviewer_posting_to_an_auditors_action_through_a_real_server_is_refused_and_recorded(
        live_server, transactional_db, cecilia):
    reviewer = FormClient(live_server.url, "cecilia")
    status, _page, _url = reviewer.post_form("/audit/verify/", "/", [])
    assert status == 403
    event = refused().get()
    assert event.actor == cecilia and event.object_type == "route" and event.object_id == "/audit/verify/"
    assert event.after == {"method": "POST", "via": "page", "needed": ["console.view_audit"],
                           "roles": [roles.REVIEWER]}


def test_an_api_token_refused_a_route_is_recorded_with_the_capability_it_needs(live_server, transactional_db, audrey):
    token = Token.objects.create(user=audrey)
    answer = requests.get(f"{live_server.url}/api/people/", headers={"Authorization": f"Token {token.key}"},
                          timeout=30)
    assert answer.status_code == 403
    event = refused().get()
    assert event.actor == audrey and event.object_id == "/api/people/"
    assert event.after["via"] == "api" and event.after["method"] == "GET" and event.after["roles"] == [roles.AUDITOR]
    assert event.after["needed"]  # the capability the route checks, named


def test_a_services_refusal_is_its_own_event_only(client, adam):
    client.force_login(adam)
    answer = client.post("/api/role-grants/", {"user": adam.username, "role": roles.APPROVER}, content_type="application/json")
    assert answer.status_code == 403
    assert AuditEvent.objects.filter(action="role.refused").count() == 1 and not refused().exists()


def test_nobody_signed_in_is_asked_to_sign_in_and_not_recorded(client, db):
    assert client.post("/audit/verify/").status_code == 302
    assert client.get("/api/people/").status_code == 401
    assert not refused().exists()
