"""The whole API, fuzzed from the OpenAPI schema it serves (/api/schema/), signed in as each persona.

schemathesis generates requests for every operation of the schema (valid ones and ones that break it) and
sends them through the console's WSGI application with a session cookie and its CSRF token, as a browser
session would. What must hold, for every role and every operation:
- no answer is a server error (5xx);
- every 4xx is JSON that says what is wrong: DRF's {"detail": ...} or the fields named with their errors;
- the status code is one the schema documents, and a 2xx body conforms to the schema.

A sample export is received and a promotion request made first, and path parameters and the body fields that
name objects (manifest, datasets, fingerprint) are drawn half the time from those that exist, so detail, action
and create endpoints are exercised on real objects, not only as 404s and 400s.
The examples are bounded and derandomized: the same requests on every run.
"""
from __future__ import annotations

import json
import os
import re
import traceback
from urllib.parse import quote, urlencode

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import got_request_exception, request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import ignored_auth, negative_data_rejection, positive_data_acceptance

from tests.conftest import PERSONAS
from tests.support.fuzz import (
    CSRF_HEADERS,
    known_body_values,
    known_path_values,
    seed_api_objects,
    served_schema,
    signed_in_cookies,
)

schema = schemathesis.pytest.from_fixture("api_schema")

# Not run here, and why:
# - ignored_auth sends the request again with the schema's auth left out, but the browser session's cookies
#   stay with the client: it would see the signed-in answer. test_an_anonymous_call_to_any_operation_is_refused
#   checks every operation without a session instead;
# - positive_data_acceptance expects a schema-valid body to be accepted, but a valid body names objects that
#   do not exist or are in the wrong state (manifest 0, a request not ready): a 400, 404 or 409 with a
#   message is the right answer there, and refusal_says_why checks that message;
# - negative_data_rejection expects every schema-violating input refused, but the API is lenient where DRF
#   and django-filter are by design: `page_size=null` falls back to the default page, an empty filter value
#   filters nothing, {"formula": 0} is read as the text "0". None of these changes what a request does.
# Bounded for CI (about 300 requests, each sent as every persona). A deeper run, by hand: API_FUZZ_EXAMPLES=100 adds examples
# per operation; API_FUZZ_COVERAGE=1 adds schemathesis's coverage phase (boundary and schema-breaking values
# of every parameter, about three times the requests).
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "6"))
COVERAGE = os.environ.get("API_FUZZ_COVERAGE", "") == "1"
FUZZ_CONFIG = schemathesis.Config.from_dict({"seed": 16, "phases": {"coverage": {"enabled": COVERAGE}}})
EXCLUDED = [ignored_auth, positive_data_acceptance, negative_data_rejection]


def _says_something(errors) -> bool:
    """A message, or field errors all the way down: {"field": ["what is wrong"]}, ["what is wrong"]."""
    if isinstance(errors, str):
        return bool(errors.strip())
    if isinstance(errors, list):
        return bool(errors) and all(_says_something(e) for e in errors)
    if isinstance(errors, dict):
        return bool(errors) and all(_says_something(e) for e in errors.values())
    return False


@schemathesis.check
def refusal_says_why(ctx, response, case):
    """Every 4xx is JSON with a message: {"detail": "..."}, or the fields named with their errors."""
    if not 400 <= response.status_code < 500:
        return
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"{response.status_code} without a JSON body: {response.text[:200]!r}") from None
    if not (isinstance(body, dict) and _says_something(body)):
        raise AssertionError(f"{response.status_code} without a message: {body!r}")


class ConsoleWSGI(WSGIHandler):
    """The console's WSGI application, as the test client runs it: inside the test's transaction.

    Django's handler closes "old" connections when a request starts and ends; inside a test's transaction
    that would close the test's own connection (the test client disconnects the same signal).
    """

    def __init__(self):
        super().__init__()
        self.tracebacks: list[str] = []

    def __call__(self, environ, start_response):
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        got_request_exception.connect(self._keep_traceback)
        try:
            return super().__call__(environ, start_response)
        finally:
            got_request_exception.disconnect(self._keep_traceback)
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)

    def _keep_traceback(self, sender, request=None, **kwargs):
        """What a 500 hides from the client: shown in the test's failure, so a finding names its line."""
        self.tracebacks.append(traceback.format_exc())


@pytest.fixture
def app():
    return ConsoleWSGI()


@pytest.fixture
def seeded(seeded_roles, states, tmp_path):
    """Every persona, and objects of every kind the API shows (tests.support.fuzz.seed_api_objects)."""
    return seed_api_objects(states, tmp_path)


@pytest.fixture
def cookies(seeded, django_user_model):
    """Each persona's browser cookies, in a fixed order."""
    return {persona: signed_in_cookies(django_user_model.objects.get(username=persona)) for persona in sorted(PERSONAS)}


@pytest.fixture
def api_schema(app, cookies, seeded):
    reader = Client()  # the schema served is the same for everyone signed in (drf-spectacular's SERVE_PUBLIC)
    reader.cookies.load(cookies["adam"])
    loaded = schemathesis.openapi.from_dict(served_schema(reader), config=FUZZ_CONFIG)
    loaded.app = app
    values = known_path_values(seeded)  # path parameters: half the time an id that exists

    @loaded.hook
    def flatmap_path_parameters(context, path_parameters):
        real = values.get(context.operation.path, {})
        if not real:
            return st.just(path_parameters)
        known = st.fixed_dictionaries({name: st.sampled_from(choices) for name, choices in real.items()})
        return st.one_of(st.just(path_parameters), known.map(lambda chosen: {**path_parameters, **chosen}))

    fields = known_body_values(seeded)

    @loaded.hook
    def flatmap_body(context, body):
        real = {name: st.sampled_from(fields[name]) for name in fields if isinstance(body, dict) and name in body}
        if not real:
            return st.just(body)
        return st.one_of(st.just(body), st.fixed_dictionaries(real).map(lambda chosen: {**body, **chosen}))

    return loaded


@pytest.mark.django_db
# Once, on the PostgreSQL pass (the deployment's database), to keep the suite's time; the edges test below,
# which found the SQLite-only 500s, runs on both passes.
@pytest.mark.postgres_only
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_a_server_error_or_an_unexplained_refusal(case, app, cookies):
    # Each generated request is sent as every persona in turn: the requests are drawn once (derandomized, they
    # would be the same for each persona anyway), and the answers differ by role.
    for persona, signed_in in cookies.items():
        app.tracebacks.clear()
        response = case.call(app=app, headers=CSRF_HEADERS, cookies=signed_in)
        assert not app.tracebacks, f"as {persona}: {app.tracebacks[0]}"
        try:
            case.validate_response(response, excluded_checks=EXCLUDED, additional_checks=[refusal_says_why])
        except Exception as failure:
            failure.add_note(f"sent as {persona}")
            raise


@pytest.mark.django_db
def test_an_anonymous_call_to_any_operation_is_refused_with_401_and_a_message(client, olivia):
    """What ignored_auth would check, without the session: every operation of the schema, called with no
    session and no token, answers 401 with a message (and does nothing)."""
    client.force_login(olivia)
    paths = served_schema(client)["paths"]
    anonymous = Client(enforce_csrf_checks=True)
    called = 0
    for template, operations in paths.items():
        url = re.sub(r"\{[^}]+\}", "1", template)
        for method in operations:
            response = anonymous.generic(method.upper(), url, "{}", content_type="application/json")
            assert response.status_code == 401, (method, url, response.status_code)
            assert response.json()["detail"], (method, url)
            called += 1
    assert called >= 30


# --- the edges of every parameter, sent on purpose ------------------------------------------------------------
# Values a few examples rarely draw, each one a 500 found here once: a NUL byte (PostgreSQL refuses it in text),
# times at the calendar's edges with an offset (no UTC reading), the calendar's last day (no next day), integers
# past PostgreSQL's bigint.
EDGES = {
    "string": ["\x00", "x" * 5_000],
    "integer": [str(2**63), "-1"],
    "date": ["0001-01-01", "9999-12-31"],
    "date-time": ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"],
}


def _edges(parameter_schema: dict) -> list[str]:
    kind = parameter_schema.get("format") if parameter_schema.get("format") in EDGES else parameter_schema.get("type")
    if kind == "array":
        return _edges(parameter_schema.get("items", {}))
    return EDGES.get(kind, EDGES["string"])


def _edge_bodies(operation: dict, components: dict) -> list[dict]:
    """JSON bodies with every field of the operation's body at one of its edges (the first edge of each
    field, then the second)."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if not content:
        return []
    ref = content["schema"].get("$ref", "")
    properties = components.get(ref.rsplit("/", 1)[-1], {}).get("properties", {})
    writable = {name: field for name, field in properties.items() if not field.get("readOnly")}
    return [{name: _edge_value(field, index) for name, field in writable.items()} for index in range(2)]


def _edge_value(field: dict, index: int):
    if field.get("type") == "array":
        return [_edge_value(field.get("items", {}), index)]
    value = _edges(field)[index]
    return int(value) if field.get("type") == "integer" else value


def _edge_calls(paths: dict, components: dict, real: dict):
    """(method, url, query, body) for each edge value of each parameter and body field of each operation; the
    other path parameters name existing objects."""
    for template, operations in paths.items():
        for method, operation in operations.items():
            known = {name: values[0] for name, values in real.get(template, {}).items()}
            parameters = operation.get("parameters", [])
            path_names = [p["name"] for p in parameters if p["in"] == "path"]

            def url(overrides, template=template, known=known, path_names=path_names):
                values = {name: str(known.get(name, 1)) for name in path_names} | overrides
                return re.sub(r"\{([^}]+)\}", lambda m: quote(values[m.group(1)], safe=""), template)

            body = {} if method in ("post", "put", "patch") else None
            yield method, url({}), {}, body
            for edge_body in _edge_bodies(operation, components):
                yield method, url({}), {}, edge_body
            for parameter in parameters:
                for value in _edges(parameter.get("schema", {})):
                    if parameter["in"] == "path":
                        yield method, url({parameter["name"]: value}), {}, body
                    elif parameter["in"] == "query":
                        yield method, url({}), {parameter["name"]: value}, body


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["adam", "arthur"])  # every capability but approving, and approving
def test_the_edges_of_every_parameter_answer_no_server_error_and_a_message(seeded, client, persona, django_user_model):
    client.force_login(django_user_model.objects.get(username=persona))
    client.raise_request_exception = False  # every 500 listed at the end (tracebacks in the captured log)
    served = served_schema(client)
    real = known_path_values(seeded)
    failures = []
    for method, url, query, body in _edge_calls(served["paths"], served["components"]["schemas"], real):
        target = f"{url}?{urlencode(query)}" if query else url
        response = client.generic(method.upper(), target, "" if body is None else json.dumps(body),
                                  content_type="application/json")
        if response.status_code >= 500:
            failures.append(f"{method.upper()} {target[:200]}: {response.status_code}")
        elif response.status_code >= 400:
            try:
                said = _says_something(response.json())
            except ValueError:
                said = False
            if not said:
                failures.append(f"{method.upper()} {target[:200]}: {response.status_code} without a message")
    assert not failures, "\n".join(failures)
