"""Who reaches which API route, read off the URL resolver (every route the console serves, so a new one cannot slip
past): no view lets an anonymous caller in, none takes a CSRF-exempt session class, and every /api/ route is either
client-scoped (the consumer API, where a token reads only its own clients) or listed here as not client-scoped,
with the reason.

Client scoping in this console: people who sign in (operators, approvers, reviewers, auditors, admins) are the
console's own staff and read every client by capability; the one principal scoped to clients is a consumer token
(Domo), bound to a set of Salesforce accounts. So the cross-client matrix is: a consumer token reaches nothing but
the consumer routes (401 everywhere else, whatever the method), and on those it reads only its own clients (the
same 404 for another client's publication as for nothing published:
tests/deliverables/consumers/test_consumer_api.py).
"""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from deliverables.consumers import services as consumers
from deliverables.consumers.auth import ConsumerTokenAuthentication, IsConsumer
from tests.deliverables.consumers.test_tokens import clients  # noqa: F401 (fixture)

# The consumer API: read-only, bearer consumer tokens only, scoped to the token's clients.
CLIENT_SCOPED = {
    "api/published/": "the token's own clients only (deliverables.consumers.selectors.published_clients)",
    "api/published/<str:client>/dashboard/": "404 outside the token's clients, as with nothing published",
    "api/published/<str:client>/workbook/": "404 outside the token's clients, as with nothing published",
}
STAFF = "console staff read every client by capability; no client signs in to the console"
# Every other /api/ route, by prefix: not client-scoped, and why.
NOT_CLIENT_SCOPED = {
    "api/audit-events/": "the audit trail, for auditors (console.view_audit), of every client by design",
    "api/people/": "the console's own people and roles, not client data (admins)",
    "api/operations/": "queue depths and the jobs in flight (kind, id, state, worker), no client data: the "
                       "operations page's figures, for whoever reads provenance",
    "api/role-grants/": "the console's own people and roles, not client data (admins, four eyes)",
    "api/intake-runs/": f"Domo export intake: {STAFF}",
    "api/manifests/": f"Domo export evidence: {STAFF}",
    "api/issues/": f"Domo export evidence: {STAFF}",
    "api/datasets/": f"Domo export evidence: {STAFF}",
    "api/cards/": f"Domo export evidence: {STAFF}",
    "api/beast-modes/": f"Domo export evidence: {STAFF}",
    "api/dataflows/": f"Domo export evidence: {STAFF}",
    "api/policies/": f"Domo export evidence (the PDP policies themselves): {STAFF}",
    "api/calculation-flaws/": f"Domo export evidence: {STAFF}",
    "api/formulas/": "analyzes a formula sent in the body; reads no stored data",
    "api/evidence/": f"evidence coverage and decisions: {STAFF}",
    "api/evidence-flag-runs/": f"evidence flags: {STAFF}",
    "api/evidence-packets/": f"evidence packets from the systems of record: {STAFF}",
    "api/evidence-packet-refusals/": f"evidence packets from the systems of record: {STAFF}",
    "api/evidence-packet-receipts/": f"evidence packets from the systems of record: {STAFF}",
    "api/evidence-candidates/": f"candidate evidence under review: {STAFF}",
    "api/promotions/": f"promotion of datasets (whole datasets, every client): {STAFF}",
    "api/curated/": f"the curated registry (whole datasets): {STAFF}",
    "api/runs/": f"calculation runs over every client, their numbers and payloads: {STAFF}",
    "api/reconciliation/": f"reconciliation against Domo: {STAFF}",
    "api/reconciliations/": f"reconciliation against Domo: {STAFF}",
    "api/reconciliation-items/": f"reconciliation against Domo: {STAFF}",
    "api/adjudications/": f"reconciliation against Domo: {STAFF}",
    "api/deliverables/": f"deliverables built for clients, before publication: {STAFF}",
    "api/publications/": f"publication decisions (four eyes): {STAFF}",
    "api/consumer-tokens/": "consumer tokens themselves, for admins (console.manage_consumer_tokens)",
    "api/provenance/": f"provenance search over every run: {STAFF}",
    "api/scope/": f"the client scope report (who may see each client, backend against Domo's PDP): {STAFF}",
    "api/schemas/": "the payload's JSON Schema: no client data",
    "api/schema/": "the OpenAPI schema: no client data",
    "api/docs/": "the API's documentation page: no client data",
}
# Views that may let an anonymous caller in (AllowAny), each with why. None does.
ALLOW_ANY: dict[str, str] = {}
UNSAFE = ("post", "put", "patch", "delete")


def _routes(patterns, prefix: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def view_class(callback):
    return getattr(callback, "cls", None) or getattr(callback, "view_class", None)


def drf_routes() -> dict[str, type[APIView]]:
    """Every route the console serves whose view is a DRF view (the API, its schema and docs; not only /api/)."""
    found = {}
    for route, callback in _routes(get_resolver().url_patterns):
        cls = view_class(callback)
        if cls is not None and issubclass(cls, APIView):
            found[route] = cls
    return found


def api_routes() -> dict[str, object]:
    return {route: view_class(cb) or cb for route, cb in _routes(get_resolver().url_patterns) if route.startswith("api/")}


def permissions_of(cls: type[APIView], method: str) -> list:
    """The permission instances the view checks for `method` (get_permissions may choose by method)."""
    view = cls()
    view.request = SimpleNamespace(method=method.upper())
    view.kwargs, view.args = {}, ()
    return list(view.get_permissions())


def url_of(route: str) -> str:
    """The route with a sample value in each of its parameters."""
    return "/" + re.sub(r"<(?:(\w+):)?\w+>", lambda m: "1" if m.group(1) == "int" else "x", route)


def methods_of(cls) -> list[str]:
    return [m for m in ("get", *UNSAFE) if hasattr(cls, m)]


# --- default permission guard (item 25) ----------------------------------------------------------------


@pytest.mark.catalogue(25)
def test_the_default_permission_is_not_allow_any():
    defaults = api_settings.DEFAULT_PERMISSION_CLASSES
    assert defaults and not any(issubclass(cls, AllowAny) for cls in defaults)
    assert settings.SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"] != ["rest_framework.permissions.AllowAny"]


@pytest.mark.catalogue(25)
def test_no_view_lets_anyone_in_unless_allow_listed():
    routes = drf_routes()
    assert len(routes) > 50  # the resolver was read, not an empty list
    open_to_anyone = sorted(
        f"{route} {method.upper()}" for route, cls in routes.items() for method in methods_of(cls)
        if any(isinstance(p, AllowAny) for p in permissions_of(cls, method)) and route not in ALLOW_ANY
    )
    assert open_to_anyone == []
    assert set(ALLOW_ANY) <= set(routes), "an allow-list entry names no route"


@pytest.mark.catalogue(25)
def test_every_api_route_refuses_an_anonymous_caller(db):
    anonymous, let_in, asked = Client(), [], 0
    for route, cls in api_routes().items():
        if route in ALLOW_ANY:
            continue
        for method in methods_of(cls):
            asked += 1
            answer = getattr(anonymous, method)(url_of(route), {}, content_type="application/json") \
                if method != "get" else anonymous.get(url_of(route))
            if answer.status_code not in (401, 403):
                let_in.append(f"{method.upper()} {route}: {answer.status_code}")
    assert let_in == [] and asked > 100


# --- CSRF: no session class without it (item 33) --------------------------------------------------------


@pytest.mark.catalogue(33)
def test_no_view_takes_a_csrf_exempt_session_authentication():
    exempt = sorted(
        f"{route}: {auth.__module__}.{auth.__name__}"
        for route, cls in drf_routes().items() for auth in cls.authentication_classes
        if issubclass(auth, SessionAuthentication) and auth.enforce_csrf is not SessionAuthentication.enforce_csrf
    )
    assert exempt == []
    used = {auth for cls in drf_routes().values() for auth in cls.authentication_classes}
    assert SessionAuthentication in used  # the check above looked at the session class the API takes


# --- the cross-client matrix (items 24, 26, 27) ---------------------------------------------------------


@pytest.mark.catalogue(24, 26, 27)
def test_every_api_route_is_client_scoped_or_listed_with_why():
    routes = api_routes()
    unlisted = sorted(r for r in routes if r not in CLIENT_SCOPED and not r.startswith(tuple(NOT_CLIENT_SCOPED)))
    assert unlisted == [], "a new /api/ route: scope it to the caller's clients or say here why it is not"
    assert set(CLIENT_SCOPED) <= set(routes)
    stale = sorted(p for p in NOT_CLIENT_SCOPED if not any(r.startswith(p) for r in routes))
    assert stale == []


@pytest.mark.catalogue(24, 26, 27)
def test_client_scoped_routes_take_consumer_tokens_alone_and_only_read():
    for route, cls in api_routes().items():
        takes_consumers = ConsumerTokenAuthentication in getattr(cls, "authentication_classes", ())
        if route in CLIENT_SCOPED:
            assert tuple(cls.authentication_classes) == (ConsumerTokenAuthentication,), route
            assert any(isinstance(p, IsConsumer) for p in permissions_of(cls, "get")), route
            # Nothing is created or changed through them: no create to scope (item 27).
            assert methods_of(cls) == ["get"], route
        else:
            assert not takes_consumers, f"{route} takes consumer tokens but is not client-scoped"


@pytest.mark.catalogue(24, 26, 27)
def test_a_consumer_token_gets_401_on_every_route_that_is_not_its_clients(clients, adam):  # noqa: F811
    secret = consumers.consumer_token_create(actor=adam, name="Domo", clients=clients[:1], days=30).secret
    token = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert token.get("/api/published/").status_code == 200  # the token is good where it belongs
    reached, asked = [], 0
    for route, cls in api_routes().items():
        if route in CLIENT_SCOPED:
            continue
        for method in methods_of(cls):
            asked += 1
            url = url_of(route)
            answer = token.get(url) if method == "get" else \
                getattr(token, method)(url, {"client": clients[1]}, content_type="application/json")
            if answer.status_code != 401:
                reached.append(f"{method.upper()} {route}: {answer.status_code}")
    assert reached == [] and asked > 100
    other = token.get(f"/api/published/{clients[1]}/dashboard/")  # another client's, by id
    assert other.status_code == 404 and other.json() == {"detail": "Not found."}
