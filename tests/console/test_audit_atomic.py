"""A business write and its audit event commit together or not at all (fail closed): an error after the
write rolls both back, and an audit insert the database refuses takes the business write down with it.

The service is the admin's unlock (console.services.login_unlock): it deletes the failed-login rows and
records auth.unlocked, in one transaction. The failures are real database failures (a trigger, a lock
timeout), never a patch of the console's code."""
from __future__ import annotations

import psycopg
import pytest
from axes.models import AccessAttempt
from django.db import DatabaseError, OperationalError, connection, transaction

from console.audit import APPEND_LOCK_KEY
from console.models import AuditEvent
from console.services import login_unlock
from tests.console.conftest import postgresql_only
from tests.support.worker import database_url_for_current_test_db

pytestmark = [pytest.mark.catalogue(22)]


@pytest.fixture
def locked_olivia(client, olivia, settings):
    """Olivia locked out by failed logins from two addresses (real logins through the login view)."""
    for index in range(settings.LOGIN_FAILURES_PER_USERNAME):
        client.post("/login/", {"username": "olivia", "password": f"guess-{index}"},
                    REMOTE_ADDR="203.0.113.5" if index % 2 else "203.0.113.6")
    rows = sorted(AccessAttempt.objects.values_list("pk", "failures_since_start"))
    assert len(rows) == 2
    return rows


def unlocked_events():
    return AuditEvent.objects.filter(action="auth.unlocked")


def test_an_error_after_the_write_and_before_commit_keeps_neither(locked_olivia, adam):
    with pytest.raises(RuntimeError, match="after the write"), transaction.atomic():
        assert login_unlock(actor=adam, kind="username", value="olivia") == 5
        assert not AccessAttempt.objects.exists() and unlocked_events().exists()  # both written...
        raise RuntimeError("after the write, before the commit")
    # ...and both rolled back.
    assert sorted(AccessAttempt.objects.values_list("pk", "failures_since_start")) == locked_olivia
    assert not unlocked_events().exists()


@pytest.fixture
def audit_store_refuses(db):
    """The database refuses to insert an auth.unlocked event (a trigger; gone with the test's transaction)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("""
                CREATE FUNCTION test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'the audit store refuses %', NEW.action; END; $$""")
            cursor.execute("""
                CREATE TRIGGER test_refuse_audit BEFORE INSERT ON console_auditevent FOR EACH ROW
                WHEN (NEW.action = 'auth.unlocked') EXECUTE FUNCTION test_refuse_audit()""")
        else:
            cursor.execute("""
                CREATE TRIGGER test_refuse_audit BEFORE INSERT ON console_auditevent
                WHEN NEW.action = 'auth.unlocked' BEGIN SELECT RAISE(ABORT, 'the audit store refuses'); END""")
    yield
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP TRIGGER test_refuse_audit ON console_auditevent")
            cursor.execute("DROP FUNCTION test_refuse_audit()")
        else:
            cursor.execute("DROP TRIGGER test_refuse_audit")


def test_an_audit_insert_the_database_refuses_rolls_the_business_write_back(locked_olivia, adam, audit_store_refuses):
    with pytest.raises(DatabaseError, match="the audit store refuses"):
        login_unlock(actor=adam, kind="username", value="olivia")
    assert sorted(AccessAttempt.objects.values_list("pk", "failures_since_start")) == locked_olivia
    assert not unlocked_events().exists()


@postgresql_only
@pytest.mark.django_db(transaction=True)  # the logins' appends commit: their hold on the append lock ends
def test_an_audit_append_that_cannot_get_the_chain_lock_rolls_the_business_write_back(locked_olivia, adam):
    """Another session holds the chain's append lock past this one's lock timeout: the append fails, and so
    does the unlock it belongs to."""
    with psycopg.connect(database_url_for_current_test_db()) as other:
        other.execute("SELECT pg_advisory_xact_lock(%s)", [APPEND_LOCK_KEY])  # held until `other` ends
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '300ms'")
        try:
            with pytest.raises(OperationalError, match="lock timeout"):
                login_unlock(actor=adam, kind="username", value="olivia")
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = DEFAULT")
    assert sorted(AccessAttempt.objects.values_list("pk", "failures_since_start")) == locked_olivia
    assert not unlocked_events().exists()
