"""The console's own database role cannot change the trail: not with UPDATE, DELETE or TRUNCATE even when
granted them, and not by switching the append-only triggers off (that takes a superuser or the tables'
owner; what such a session changes, verify_audit_chain reports: tests/console/test_audit_tamper.py)."""
from __future__ import annotations

import os

import pytest
from django.db import DatabaseError, connection, transaction

from console.models import AuditEvent
from tests.console.conftest import postgresql_only

pytestmark = [pytest.mark.catalogue(19), postgresql_only]

ATTEMPTS = {
    "update": "UPDATE console_auditevent SET action = 'test.changed' WHERE seq = 1",
    "delete": "DELETE FROM console_auditevent WHERE seq = 2",
    "truncate": "TRUNCATE console_auditevent",
    "replica": "SET session_replication_role = replica",  # would skip the triggers
    "disable": "ALTER TABLE console_auditevent DISABLE TRIGGER USER",
    "drop": "DROP TRIGGER console_auditevent_no_update_delete ON console_auditevent",
}


class Undo(Exception):
    """Rolls the role back out of the cluster with the transaction that created it."""


@pytest.mark.django_db(transaction=True)  # committed events: the triggers fire on real rows
def test_the_app_role_is_refused_every_change_to_the_trail(record_events):
    record_events(3)
    role = f"leaf_console_app_{os.getpid()}"
    refused = {}
    with pytest.raises(Undo), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE ROLE "{role}" NOSUPERUSER NOLOGIN')
            # Every privilege on the table: what stops the role is the trigger, not a missing grant.
            cursor.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON console_auditevent TO "{role}"')
            cursor.execute(f'SET LOCAL ROLE "{role}"')
        for name, statement in ATTEMPTS.items():
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(statement)
            except DatabaseError as error:
                refused[name] = str(error)
        raise Undo
    assert set(refused) == set(ATTEMPTS), f"the app role was allowed: {sorted(set(ATTEMPTS) - set(refused))}"
    for name in ("update", "delete", "truncate"):
        assert "console_auditevent is append-only" in refused[name], refused[name]
    assert "permission denied" in refused["replica"]
    assert "must be owner" in refused["disable"] and "must be owner" in refused["drop"]
    assert list(AuditEvent.objects.order_by("seq").values_list("action", flat=True)) == [
        "test.step_0", "test.step_1", "test.step_2"]
