"""The consumer API for Domo: a bearer consumer token reads the live published payload and workbook of the clients
of its scope, and nothing else: every endpoint answers the same 404 for a client outside the scope as for a client
with nothing published; an unknown, revoked or expired token, a session or a person's API token answers 401; a
published file that changed is never served; every read, refused ones included, is recorded."""
from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
import requests
from django.conf import settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from console import clock
from console.models import AuditEvent
from deliverables.consumers import services
from deliverables.models import ConsumerRead, ConsumerToken
from tests.deliverables.consumers.conftest import consumer, issue
from tests.support.api import TIMEOUT, Api

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "curated"])

TRACE = "0af7651916cd43dd8448eb211c80319c"


def _iso(at: dt.datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _urls(client: str) -> dict[str, str]:
    return {"dashboard": f"/api/published/{client}/dashboard/", "workbook": f"/api/published/{client}/workbook/"}


def test_a_token_reads_the_live_publications_of_its_clients_and_each_read_is_recorded(published, adam):
    secret = issue(adam, [published.a, published.c])
    api = consumer(secret)

    dashboard = api.get(_urls(published.a)["dashboard"], HTTP_TRACEPARENT=f"00-{TRACE}-b7ad6b7169203331-01",
                        REMOTE_ADDR="10.1.2.3")
    book = api.get(_urls(published.a)["workbook"])
    listing = api.get("/api/published/")

    payload, live = published.files[published.a, "dashboard"], published.publications[published.a, "dashboard"]
    assert dashboard.status_code == 200 and dashboard["Content-Type"] == "application/json"
    assert b"".join(dashboard.streaming_content) == payload
    assert dashboard["ETag"] == f'"{hashlib.sha256(payload).hexdigest()}"' and dashboard["X-Publication-Version"] == "1"
    assert book.status_code == 200 and book["Content-Disposition"].startswith("attachment")
    assert b"".join(book.streaming_content) == published.files[published.a, "workbook"]
    workbook = published.publications[published.a, "workbook"]
    assert listing.status_code == 200
    assert listing.json()["clients"] == [
        {"client": published.a, "name": listing.json()["clients"][0]["name"],
         "dashboard": {"version": 1, "sha256": live.sha256, "published_at": _iso(live.published_at),
                       "url": f"http://testserver{_urls(published.a)['dashboard']}"},
         "workbook": {"version": 1, "sha256": workbook.sha256, "published_at": _iso(workbook.published_at),
                      "url": f"http://testserver{_urls(published.a)['workbook']}"}},
        {"client": published.c, "name": listing.json()["clients"][1]["name"], "dashboard": None, "workbook": None},
    ]
    assert all(entry["name"] for entry in listing.json()["clients"])
    assert published.b not in listing.content.decode()

    again = api.get(_urls(published.a)["dashboard"], HTTP_IF_NONE_MATCH=dashboard["ETag"])
    assert again.status_code == 304 and not again.content

    token = ConsumerToken.objects.get()
    reads = list(ConsumerRead.objects.order_by("id").values_list("token", "client_account_id", "endpoint",
                                                                  "publication", "status"))
    assert reads == [(token.pk, published.a, "dashboard", live.pk, 200),
                     (token.pk, published.a, "workbook", workbook.pk, 200),
                     (token.pk, "", "list", None, 200),
                     (token.pk, published.a, "dashboard", live.pk, 304)]
    first = ConsumerRead.objects.order_by("id").first()
    assert first.trace_id == TRACE and first.remote_addr == "10.1.2.3"
    assert token.last_used_at == ConsumerRead.objects.order_by("id").last().at

    # A changed byte in the published file: a 500 naming no byte of it, recorded and audited; never served.
    stored = Path(settings.LAKE_URL.removeprefix("file://")) / live.path
    changed = bytearray(stored.read_bytes())
    changed[3] ^= 1
    stored.write_bytes(bytes(changed))

    refused = api.get(_urls(published.a)["dashboard"])

    assert refused.status_code == 500 and "integrity" in refused.json()["detail"]
    assert payload[:40] not in refused.content and "ETag" not in refused.headers
    read = ConsumerRead.objects.order_by("id").last()
    assert (read.status, read.publication_id, read.client_account_id) == (500, live.pk, published.a)
    event = AuditEvent.objects.get(action="consumer.read_refused")
    assert event.object_id == str(live.pk) and live.path in event.after["reason"]
    assert event.actor_label == f"system:consumer-token:{token.prefix}"


@pytest.mark.catalogue(24, 26, 31)
def test_every_endpoint_answers_the_same_404_outside_the_scope_as_with_nothing_published(published, adam):
    api = consumer(issue(adam, [published.a, published.c]))

    for endpoint in ("dashboard", "workbook"):
        outside = api.get(_urls(published.b)[endpoint])  # published, for another client
        nothing = api.get(_urls(published.c)[endpoint])  # in scope, nothing published
        unknown = api.get(_urls("001NOTACLIENT0000X")[endpoint])
        for answer in (outside, nothing, unknown):
            assert answer.status_code == 404, (endpoint, answer.status_code)
            assert answer.content == outside.content == b'{"detail":"Not found."}'
            assert sorted(answer.headers) == sorted(outside.headers)
            assert "ETag" not in answer.headers and "X-Publication-Version" not in answer.headers

    listed = [entry["client"] for entry in api.get("/api/published/").json()["clients"]]
    assert listed == [published.a, published.c]
    refused = ConsumerRead.objects.filter(status=404)
    assert refused.count() == 6 and not refused.filter(publication__isnull=False).exists()
    assert set(refused.values_list("client_account_id", flat=True)) == {published.b, published.c,
                                                                         "001NOTACLIENT0000X"}


@pytest.mark.catalogue(31, 32)
def test_only_an_active_consumer_token_gets_in_and_every_refusal_is_recorded(published, adam, olivia):
    revoked = issue(adam, [published.a])
    services.consumer_token_revoke(actor=adam, token=ConsumerToken.objects.get(), reason="Domo instance retired")
    expiring = issue(adam, [published.a], days=1)
    urls = [*_urls(published.a).values(), "/api/published/"]

    for secret, why in ((revoked, "revoked"), (expiring, "expired"), ("leafc_not-a-token", "Invalid")):
        with clock.frozen(clock.now() + dt.timedelta(days=1, seconds=1)):
            for url in urls:
                answer = consumer(secret).get(url)
                assert answer.status_code == 401, (why, url)
                assert why in answer.json()["detail"] and answer["WWW-Authenticate"].startswith("Bearer")
                assert b"PK" not in answer.content

    by_token = dict(ConsumerToken.objects.values_list("prefix", "pk"))
    statuses = list(ConsumerRead.objects.order_by("id").values_list("token", "status"))
    assert statuses == ([(by_token[revoked[:14]], 401)] * 3 + [(by_token[expiring[:14]], 401)] * 3
                        + [(None, 401)] * 3)
    # Before its expiry the same token reads.
    assert consumer(expiring).get(_urls(published.a)["dashboard"]).status_code == 200

    # A person signed in (a session), or their API token, is not a consumer: 401 too, recorded with no token.
    session = APIClient()
    session.force_login(adam)
    person_token = APIClient()
    person_token.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=olivia).key}")
    for api in (session, person_token, consumer(None)):
        for url in urls:
            answer = api.get(url)
            assert answer.status_code == 401, url
            assert answer["WWW-Authenticate"].startswith("Bearer")
            if api is person_token:  # told what this endpoint takes instead of "credentials were not provided"
                assert "read with a consumer token, `Authorization: Bearer <consumer token>`" in answer.json()["detail"]
    assert ConsumerRead.objects.filter(token=None, status=401).count() == 3 + 9




def test_through_a_real_server_an_admin_issues_a_token_domo_reads_with_it_until_it_is_revoked(published, adam,
                                                                                               live_server):
    admin = Api.with_token(live_server.url, adam)
    issued = admin.post("/api/consumer-tokens/", {"name": "Domo production", "clients": [published.a],
                                                  "expires_in_days": 30})
    assert issued.status_code == 201 and issued.headers["Cache-Control"] == "no-store"
    body = issued.json()
    assert issued.headers["Location"] == body["url"] and body["state"] == "active" and body["clients"] == [published.a]
    domo = requests.Session()
    domo.headers["Authorization"] = f"Bearer {body['secret']}"

    dashboard = domo.get(f"{live_server.url}{_urls(published.a)['dashboard']}", timeout=TIMEOUT)
    book = domo.get(f"{live_server.url}{_urls(published.a)['workbook']}", timeout=TIMEOUT)
    other = domo.get(f"{live_server.url}{_urls(published.b)['dashboard']}", timeout=TIMEOUT)

    assert dashboard.status_code == 200 and dashboard.content == published.files[published.a, "dashboard"]
    assert dashboard.headers["ETag"] == f'"{published.publications[published.a, "dashboard"].sha256}"'
    assert book.status_code == 200 and book.content == published.files[published.a, "workbook"]
    assert other.status_code == 404 and other.json() == {"detail": "Not found."}

    revoked = admin.post(f"/api/consumer-tokens/{body['id']}/revoke/", {"reason": "rotated"})
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    after = domo.get(f"{live_server.url}{_urls(published.a)['dashboard']}", timeout=TIMEOUT)
    assert after.status_code == 401

    reads = list(ConsumerRead.objects.order_by("id").values_list("endpoint", "status", "remote_addr"))
    assert reads == [("dashboard", 200, "127.0.0.1"), ("workbook", 200, "127.0.0.1"),
                     ("dashboard", 404, "127.0.0.1"), ("dashboard", 401, "127.0.0.1")]
    shown = admin.get(f"/api/consumer-tokens/{body['id']}/").json()
    assert (shown["reads"], shown["served"]) == (4, 2) and "secret" not in shown


def test_an_options_call_is_refused_and_no_read_is_counted_served_for_a_client(published, adam):
    api = consumer(issue(adam, [published.a]))
    for client in (published.a, published.b):
        assert api.options(_urls(client)["workbook"]).status_code == 405
    recorded = set(ConsumerRead.objects.values_list("client_account_id", "status"))
    assert recorded == {(published.a, 405), (published.b, 405)}
    assert not ConsumerRead.objects.filter(status__lt=400).exists()


def test_a_path_that_is_not_an_account_id_is_recorded_as_such_never_as_a_real_clients_id(published, adam):
    api = consumer(issue(adam, [published.a]))
    for tricked in (f"{published.a}.json", f"{published.a}%00", f"{published.a}X", published.a.lower()[:17]):
        assert api.get(_urls(tricked)["dashboard"]).status_code == 404, tricked
    assert set(ConsumerRead.objects.values_list("client_account_id", flat=True)) == {services.NOT_AN_ID}
