"""Consumer tokens, page and API: only admins create or revoke them; a new token's secret is shown once and never
stored (its SHA-256 and prefix are); creation and revocation are audited, never the secret; refusals name the
field; the tokens list shows state, last use and read counts; the OpenAPI schema documents the bearer scheme."""
from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from django.urls import include, path
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from console import clock
from console.models import AuditEvent
from deliverables.choices import CONSUMER_TOKEN_TYPE
from deliverables.consumers import selectors, services
from deliverables.models import ConsumerRead, ConsumerToken
from evidence.packets.services import packet_receive
from evidence.samples.evidence import write_sample_evidence
from tests.deliverables.consumers.conftest import consumer
from tests.deliverables.runs.conftest import LATER, ROWS

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.timezone.utc)


def receive_salesforce(tmp_path, olivia) -> None:
    summary = write_sample_evidence(tmp_path / "evidence", seed=7, rows=ROWS, exported_at=LATER)
    for _packet_id, kind, packet in summary.packets:
        if kind == "salesforce":
            assert packet_receive(actor=olivia, source=packet, original_name=packet.name).status == "accepted"


@pytest.fixture
def clients(states, tmp_path, olivia) -> list[str]:
    """The accounts of the sample's Salesforce evidence packets, received through the real service."""
    states.get("consumers: the sample's Salesforce packets received", lambda: receive_salesforce(tmp_path, olivia))
    known = sorted(selectors.known_clients())
    assert len(known) >= 2
    return known


def _audited(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type=CONSUMER_TOKEN_TYPE, action=action).order_by("seq"))


@pytest.mark.django_db
def test_no_role_but_admin_may_create_list_or_revoke_tokens(clients, adam, olivia, arthur, cecilia, audrey, oscar,
                                                            client):
    token = services.consumer_token_create(actor=adam, name="Domo", clients=clients[:1]).token
    for person in (olivia, arthur, cecilia, audrey, oscar):
        with pytest.raises(services.Forbidden, match="manage_consumer_tokens"):
            services.consumer_token_create(actor=person, name="mine", clients=clients[:1])
        client.force_login(person)
        assert client.get("/consumers/").status_code == 403
        assert client.get(f"/consumers/{token.pk}/").status_code == 403
        assert client.post("/consumers/new/", {"name": "mine", "clients": clients[:1],
                                               "expires_in_days": 30}).status_code == 403
        assert client.post(f"/consumers/{token.pk}/revoke/", {"reason": "mine now"}).status_code == 403
        api = APIClient()
        api.force_authenticate(person)
        assert api.get("/api/consumer-tokens/").status_code == 403
        answer = api.post("/api/consumer-tokens/", {"name": "mine", "clients": clients[:1]}, format="json")
        assert answer.status_code == 403 and "manage_consumer_tokens" in answer.json()["detail"]
        assert api.post(f"/api/consumer-tokens/{token.pk}/revoke/", {"reason": "x"}, format="json").status_code == 403

    token.refresh_from_db()
    assert ConsumerToken.objects.count() == 1 and token.revoked_at is None
    refusals = _audited("consumer_token.refused")
    assert len(refusals) == 5 * 5 and {e.actor_label for e in refusals} == {"olivia", "arthur", "cecilia", "audrey",
                                                                            "oscar"}


@pytest.mark.django_db
def test_an_admin_creates_a_token_whose_secret_is_shown_once_and_never_stored_or_audited(clients, adam, client):
    client.force_login(adam)
    with clock.frozen(NOW):
        page = client.post("/consumers/new/", {"name": "Domo production", "clients": clients[:2],
                                               "expires_in_days": 90})

    token = ConsumerToken.objects.get()
    secret = page.context["secret"]
    assert page.status_code == 200 and page["Cache-Control"] == "no-store" and secret in page.content.decode()
    assert secret.startswith("leafc_") and token.prefix == secret[:14]
    assert token.token_sha256 == hashlib.sha256(secret.encode()).hexdigest() and secret not in json.dumps(
        list(ConsumerToken.objects.values()), default=str)
    assert token.clients == sorted(clients[:2]) and token.created_by == adam
    assert token.expires_at == NOW + dt.timedelta(days=90)
    (event,) = _audited("consumer_token.created")
    assert event.actor == adam and event.object_id == str(token.pk)
    assert event.after["prefix"] == token.prefix and event.after["clients"] == token.clients
    assert event.after["expires_at"].startswith("2026-05-31")
    assert secret not in json.dumps([e.after for e in AuditEvent.objects.all()])
    # Later pages name the token by its prefix, never its secret.
    for url in ("/consumers/", f"/consumers/{token.pk}/"):
        shown = client.get(url).content.decode()
        assert token.prefix in shown and secret not in shown
    # The default expiry is 90 days.
    with clock.frozen(NOW):
        assert services.consumer_token_create(actor=adam, name="x", clients=clients[:1]).token.expires_at == (
            NOW + dt.timedelta(days=90))


@pytest.mark.django_db
def test_a_token_asked_with_an_unknown_client_or_too_long_a_life_is_refused_naming_the_field(clients, adam, client):
    client.force_login(adam)
    page = client.post("/consumers/new/", {"name": "Domo", "clients": ["001NOTACLIENT0000X"], "expires_in_days": 400})
    assert page.status_code == 400
    assert set(page.context["form"].errors) == {"clients", "expires_in_days"}
    api = APIClient()
    api.force_authenticate(adam)

    unknown = api.post("/api/consumer-tokens/", {"name": "Domo", "clients": [clients[0], "001NOTACLIENT0000X"]},
                       format="json")
    too_long = api.post("/api/consumer-tokens/", {"name": "Domo", "clients": clients[:1], "expires_in_days": 366},
                        format="json")
    nameless = api.post("/api/consumer-tokens/", {"name": " ", "clients": clients[:1]}, format="json")
    twice = api.post("/api/consumer-tokens/", {"name": "Domo", "clients": [clients[0], clients[0]]}, format="json")
    assert twice.status_code == 400 and twice.json()["clients"] == [
        f"{clients[0]} named more than once: name each client once"]

    assert unknown.status_code == 400 and "001NOTACLIENT0000X" in unknown.json()["clients"][0]
    assert too_long.status_code == 400 and set(too_long.json()) == {"expires_in_days"}
    assert nameless.status_code == 400 and set(nameless.json()) == {"name"}
    with pytest.raises(services.Invalid, match="expires_in_days"):
        services.consumer_token_create(actor=adam, name="Domo", clients=clients[:1], days=366)
    assert not ConsumerToken.objects.exists()


@pytest.mark.django_db
def test_a_revocation_needs_a_reason_is_audited_and_happens_once(clients, adam, ada, client):
    secret = services.consumer_token_create(actor=adam, name="Domo", clients=clients[:1]).secret
    token = ConsumerToken.objects.get()
    client.force_login(ada)

    assert client.post(f"/consumers/{token.pk}/revoke/", {"reason": ""}).status_code == 400
    token.refresh_from_db()
    assert token.revoked_at is None and not _audited("consumer_token.revoked")

    with clock.frozen(NOW):
        done = client.post(f"/consumers/{token.pk}/revoke/", {"reason": "Domo instance retired"})
    assert done.status_code == 302
    token.refresh_from_db()
    assert (token.revoked_by, token.revoked_at, token.revocation_reason) == (ada, NOW, "Domo instance retired")
    (event,) = _audited("consumer_token.revoked")
    assert event.actor == ada and event.before["state"] == "active"
    assert event.after["state"] == "revoked" and event.after["reason"] == "Domo instance retired"

    api = APIClient()
    api.force_authenticate(adam)
    again = api.post(f"/api/consumer-tokens/{token.pk}/revoke/", {"reason": "twice"}, format="json")
    assert again.status_code == 409 and "already revoked by ada" in again.json()["detail"]
    token.refresh_from_db()
    assert token.revocation_reason == "Domo instance retired"
    # The list and the detail show it revoked, with its reads (here one refused read).
    assert consumer(secret).get("/api/published/").status_code == 401
    listed = api.get("/api/consumer-tokens/").json()["results"][0]
    assert (listed["state"], listed["revoked_by"], listed["reads"], listed["served"]) == ("revoked", "ada", 1, 0)
    assert listed["last_used_at"] is not None and "secret" not in listed
    assert ConsumerRead.objects.get().token == token
    page = client.get("/consumers/").content.decode()
    assert 'data-state="revoked"' in page


def test_the_schema_documents_the_consumer_endpoints_with_the_bearer_scheme():
    # Only this package's operations (the whole schema is validated, warnings failing, by the other API tests).
    generator = SchemaGenerator(patterns=[path("api/", include("deliverables.consumers.api_urls"))])
    schema = generator.get_schema(request=None, public=True)
    validate_schema(schema)
    scheme = schema["components"]["securitySchemes"]["consumerToken"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for url in ("/api/published/", "/api/published/{client}/dashboard/", "/api/published/{client}/workbook/"):
        operation = schema["paths"][url]["get"]
        assert operation["security"] == [{"consumerToken": []}], url
        assert {"200", "401"} <= set(operation["responses"]), url
    workbook = schema["paths"]["/api/published/{client}/workbook/"]["get"]["responses"]
    assert {"304", "404", "500"} <= set(workbook)
    assert {"get", "post"} <= set(schema["paths"]["/api/consumer-tokens/"])
    assert "secret" in schema["components"]["schemas"]["IssuedToken"]["properties"]
