"""Shared fixtures: the named personas of every permission test, the lake, a real worker."""
from __future__ import annotations

import contextlib

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from console import roles

PASSWORD = "correct-horse-battery-staple"

# Olivia operates, Arthur approves, Cecilia (C-suite) reviews, Audrey audits, Adam administers and
# Ada is the second admin (four eyes on decision roles), Oscar is an outsider with an account and no role.
PERSONAS = {
    "olivia": roles.OPERATOR,
    "arthur": roles.APPROVER,
    "cecilia": roles.REVIEWER,
    "audrey": roles.AUDITOR,
    "adam": roles.ADMIN,
    "ada": roles.ADMIN,
    "oscar": None,
}


def make_persona(username: str, at=None):
    """The persona's account and role; their creation is audited (console.people_guard), at `at` if given."""
    from console import clock

    role = PERSONAS[username]
    with clock.frozen(at) if at else contextlib.nullcontext():
        user = get_user_model().objects.create_user(username=username, password=PASSWORD)
        if role:
            user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def personas_at():
    """When personas are created (None: now). Tests that pin the clock earlier override it."""


@pytest.fixture
def seeded_roles(db):
    """The role groups and their permissions (console.services.roles_seed, replayed: tests/support/states.py)."""
    from tests.support.states import seed_roles

    seed_roles()


@pytest.fixture
def olivia(seeded_roles, personas_at):
    return make_persona("olivia", personas_at)


@pytest.fixture
def arthur(seeded_roles, personas_at):
    return make_persona("arthur", personas_at)


@pytest.fixture
def cecilia(seeded_roles, personas_at):
    return make_persona("cecilia", personas_at)


@pytest.fixture
def audrey(seeded_roles, personas_at):
    return make_persona("audrey", personas_at)


@pytest.fixture
def adam(seeded_roles, personas_at):
    return make_persona("adam", personas_at)


@pytest.fixture
def ada(seeded_roles, personas_at):
    return make_persona("ada", personas_at)


@pytest.fixture
def oscar(seeded_roles, personas_at):
    return make_persona("oscar", personas_at)


# --- the test database -------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker, django_db_modify_db_settings):
    """pytest-django's set-up of the test databases, from the migrated template where there is one
    (PostgreSQL: tests/support/template_db.py); dropped after, even with a session a test left open."""
    from django.test.utils import setup_databases
    from pytest_django.fixtures import _get_databases_for_setup

    from tests.support.template_db import from_template, teardown

    aliases, serialized_aliases = _get_databases_for_setup(request.session.items)
    with django_db_blocker.unblock(), from_template() as copied:
        config = setup_databases(verbosity=request.config.option.verbose, interactive=False, keepdb=copied,
                                 aliases=aliases, serialized_aliases=serialized_aliases)
    yield
    with django_db_blocker.unblock():
        teardown(config, verbosity=request.config.option.verbose)


# --- lake ----------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def lake(settings, tmp_path_factory):
    """Every test gets an empty local lake of its own (workers started by the test use it too)."""
    from console.lake import get_lake

    settings.LAKE_URL = str(tmp_path_factory.mktemp("lake"))
    return get_lake()


# --- named states, built once per process -----------------------------------------------------------
@pytest.fixture
def states(request, lake):
    """Named states (a received sample export, promoted versions): the first request in this process builds
    one with the real services, later ones restore it (tests/support/states.py)."""
    from tests.support.states import States

    marker = request.node.get_closest_marker("django_db")
    curated = bool(marker and marker.kwargs.get("transaction") and "curated" in (marker.kwargs.get("databases") or ()))
    return States(curated=curated)


# --- real worker ---------------------------------------------------------------------------------
@pytest.fixture
def broker():
    """This run's broker keys, emptied before and after (enqueued messages are real, no worker reads them)."""
    from tests.support.worker import flush_test_broker

    flush_test_broker()
    yield
    flush_test_broker()


@pytest.fixture
def celery_worker(transactional_db, lake):
    """A real Celery worker on the test Redis; tests using it see committed data only."""
    from tests.support.worker import Worker, flush_test_broker

    flush_test_broker()
    worker = Worker().start()
    yield worker
    worker.stop()


# --- browser -------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, chromium_available

    if not chromium_available():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh page on the live server; whatever the test does, the console's CSP refuses nothing on it."""
    from tests.support.browser import watch_csp_violations

    context = browser.new_context(base_url=live_server.url, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15000)
    page.csp_violations = watch_csp_violations(page)
    yield page
    context.close()
    assert page.csp_violations == [], f"Content-Security-Policy violations: {page.csp_violations}"


def login(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
