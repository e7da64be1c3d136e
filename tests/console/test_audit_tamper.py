"""Tampering with the audit rows is refused by PostgreSQL and, when forced, reported by verify_audit_chain."""

import json

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.test import override_settings

from console import chain
from console.audit import BreakKind, audit_verify_chain
from console.models import AuditEvent
from tests.console.conftest import bypassing_triggers, postgresql_only
from tests.support.worker import database_url_for_current_test_db


def json_param() -> str:
    return "%s::jsonb" if connection.vendor == "postgresql" else "%s"


def verify_json(capsys) -> dict:
    """Run the command as an operator would; it must fail and print its JSON report."""
    with pytest.raises(CommandError, match="audit chain broken") as failure:
        call_command("verify_audit_chain", "--json")
    report = json.loads(capsys.readouterr().out)
    assert str(report["first_break"]["seq"]) in str(failure.value)
    return report


def test_the_command_reports_an_intact_chain(db, lake, record_events, capsys):
    record_events(3)
    call_command("verify_audit_chain")
    out = capsys.readouterr().out
    assert "Audit chain intact: 3 events" in out


@pytest.mark.catalogue(20)
def test_an_edited_row_is_reported_at_its_seq(db, lake, record_events, capsys):
    record_events(6)
    with bypassing_triggers() as cursor:
        cursor.execute(
            f"UPDATE console_auditevent SET after = {json_param()} WHERE seq = 3", ['{"index": 99}']
        )
    report = verify_json(capsys)
    assert report["ok"] is False
    assert report["first_break"]["seq"] == 3 and report["first_break"]["kind"] == "edited"
    assert report["checked"] == 2


@pytest.mark.catalogue(20)
def test_a_deleted_middle_row_is_reported_at_its_seq(db, lake, record_events, capsys):
    record_events(6)
    with bypassing_triggers() as cursor:
        cursor.execute("DELETE FROM console_auditevent WHERE seq = 4")
    report = verify_json(capsys)
    assert (report["first_break"]["seq"], report["first_break"]["kind"]) == (4, "deleted")


@pytest.mark.catalogue(20)
def test_reordered_rows_are_reported_at_the_first_moved_seq(db, lake, record_events, capsys):
    record_events(7)
    # Swap the content of events 3 and 5 (each keeps its hashes: only the order changes).
    with bypassing_triggers() as cursor:
        cursor.execute("UPDATE console_auditevent SET seq = 1000 WHERE seq = 3")
        cursor.execute("UPDATE console_auditevent SET seq = 3 WHERE seq = 5")
        cursor.execute("UPDATE console_auditevent SET seq = 5 WHERE seq = 1000")
    report = verify_json(capsys)
    assert (report["first_break"]["seq"], report["first_break"]["kind"]) == (3, "reordered")


@pytest.mark.catalogue(20)
def test_a_truncated_tail_is_reported_from_the_head_recorded_in_the_lake(db, lake, record_events, capsys):
    record_events(8)
    recorded = audit_verify_chain()  # head seq 8 in the lake, then the verify event as seq 9
    assert recorded.head_seq == 8
    with bypassing_triggers() as cursor:
        cursor.execute("DELETE FROM console_auditevent WHERE seq > 5")
    report = verify_json(capsys)
    assert (report["first_break"]["seq"], report["first_break"]["kind"]) == (6, "truncated-tail")
    assert "000000000008.json" in report["first_break"]["detail"]


@pytest.mark.catalogue(20)
def test_a_recomputed_chain_is_reported_against_the_recorded_head(db, lake, record_events, capsys):
    record_events(6)
    audit_verify_chain(audit=False)  # head seq 6 in the lake
    # A privileged forger edits event 2 and recomputes every hash after it: internally consistent.
    forged_prev = AuditEvent.objects.get(seq=1).hash
    with bypassing_triggers() as cursor:
        for event in AuditEvent.objects.filter(seq__gte=2).order_by("seq"):
            if event.seq == 2:
                event.after = {"index": "forged"}
            event.prev_hash, event.hash = forged_prev, chain.link_hash(forged_prev, event.payload())
            cursor.execute(
                f"UPDATE console_auditevent SET after = {json_param()}, prev_hash = %s, hash = %s WHERE seq = %s",
                [json.dumps(event.after), event.prev_hash, event.hash, event.seq],
            )
            forged_prev = event.hash
    report = verify_json(capsys)
    assert (report["first_break"]["seq"], report["first_break"]["kind"]) == (6, "rewritten")


def test_a_replaced_predecessor_is_reported_at_its_seq(db, lake, record_events, capsys):
    record_events(5)
    event = AuditEvent.objects.get(seq=3)
    event.after = {"index": "forged"}
    forged_hash = chain.link_hash(event.prev_hash, event.payload())  # consistent itself, not with seq 4
    with bypassing_triggers() as cursor:
        cursor.execute(
            f"UPDATE console_auditevent SET after = {json_param()}, hash = %s WHERE seq = 3",
            [json.dumps(event.after), forged_hash],
        )
    report = verify_json(capsys)
    assert (report["first_break"]["seq"], report["first_break"]["kind"]) == (3, "edited")


def test_a_broken_chain_records_no_head_and_audits_the_failed_run(db, lake, record_events, capsys):
    record_events(4)
    with bypassing_triggers() as cursor:
        cursor.execute("DELETE FROM console_auditevent WHERE seq = 2")
    verify_json(capsys)
    assert lake.list("audit/heads") == []
    event = AuditEvent.objects.latest()
    assert event.action == "audit.verified" and event.actor_label == "system:command:verify_audit_chain"
    assert event.after["ok"] is False and event.after["first_break"]["kind"] == BreakKind.DELETED


# --- PostgreSQL refuses the changes themselves ---------------------------------------------------


@pytest.mark.catalogue(19)
@postgresql_only
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE console_auditevent SET action = 'test.changed' WHERE seq = 1",
        "DELETE FROM console_auditevent WHERE seq = 1",
    ],
)
def test_postgresql_refuses_update_and_delete(db, record_events, statement):
    record_events(2)
    with pytest.raises(DatabaseError, match="console_auditevent is append-only: (UPDATE|DELETE) refused"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert AuditEvent.objects.count() == 2
    assert audit_verify_chain(record_head=False, audit=False).ok


@pytest.mark.catalogue(19)
@postgresql_only
def test_postgresql_refuses_truncate(transactional_db, record_events):
    # On its own connection: inside the test's transaction the deferred foreign key checks of
    # the new rows would make PostgreSQL refuse the TRUNCATE before the trigger runs.
    record_events(2)
    with psycopg.connect(database_url_for_current_test_db()) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="TRUNCATE refused"):
            conn.execute("TRUNCATE console_auditevent")
    assert AuditEvent.objects.count() == 2


@pytest.mark.catalogue(20)
@postgresql_only
def test_a_table_truncated_by_a_privileged_connection_is_reported(
    transactional_db, lake, record_events, capsys
):
    record_events(5)
    audit_verify_chain(audit=False)  # head seq 5 in the lake
    with psycopg.connect(database_url_for_current_test_db(), autocommit=True) as privileged:
        privileged.execute("SET session_replication_role = replica")
        privileged.execute("TRUNCATE console_auditevent")
    assert AuditEvent.objects.count() == 0
    report = verify_json(capsys)
    assert (report["first_break"]["seq"], report["first_break"]["kind"]) == (1, "truncated-tail")


@postgresql_only
def test_flush_empties_the_test_database_and_restores_the_triggers(transactional_db, record_events):
    record_events(2)
    call_command("flush", interactive=False, verbosity=0)
    assert AuditEvent.objects.count() == 0
    with connection.cursor() as cursor:
        cursor.execute("SHOW session_replication_role")
        assert cursor.fetchone()[0] == "origin"


@postgresql_only
def test_the_flush_after_each_test_deletes_the_filled_tables_rows_and_sends_post_migrate(transactional_db, record_events):
    """What TransactionTestCase asks for (no sequence reset, not interactive): the filled tables emptied by
    DELETE, the triggers back on afterwards, the content types made again by post_migrate."""
    from django.contrib.auth import get_user_model
    from django.contrib.contenttypes.models import ContentType

    record_events(2)
    get_user_model().objects.create_user(username="flushed")
    call_command("flush", interactive=False, verbosity=0, reset_sequences=False)
    assert AuditEvent.objects.count() == 0 and not get_user_model().objects.exists()
    assert ContentType.objects.filter(app_label="console", model="auditevent").exists()
    with connection.cursor() as cursor:
        cursor.execute("SHOW session_replication_role")
        assert cursor.fetchone()[0] == "origin"
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():  # the trigger is on again
            cursor.execute("TRUNCATE console_auditevent")


@postgresql_only
def test_flush_outside_the_test_environment_cannot_wipe_the_trail(transactional_db, record_events):
    record_events(2)
    # Not the `settings` fixture: the test database's own flush, at teardown, must run as "test".
    with override_settings(DJANGO_ENV="production"), pytest.raises(CommandError, match="couldn't be flushed"):
        call_command("flush", interactive=False, verbosity=0)
    assert AuditEvent.objects.count() == 2
