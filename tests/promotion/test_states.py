"""The named states of tests/support/states.py: what a restore puts back is what the real build made."""
from __future__ import annotations

import shutil
import sqlite3
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction

from console.audit import audit_verify_chain
from console.models import AuditEvent
from evidence.samples.export import write_sample_export
from tests.conftest import make_persona
from tests.promotion.conftest import ingest
from tests.support import states as named

# A restored event is appended to the test's own chain: its time (and so its link) is the restore's.
RESTAMPED = ("occurred_at", "clock_reading", "hash", "prev_hash")


def database() -> dict[str, list]:
    """Every row of every model (the audit trail apart), keyed by model."""
    return {
        model._meta.label_lower: sorted(map(repr, named._rows(model).items()))
        for model in named._models()
        if model._meta.label_lower != named.AUDIT
    }


def trail() -> list[dict]:
    return [
        {name: value for name, value in row.items() if name not in RESTAMPED}
        for row in AuditEvent.objects.order_by("seq").values()
    ]


def lake_files() -> dict[str, bytes]:
    root = Path(settings.LAKE_URL)
    return {str(path.relative_to(root)): path.read_bytes() for path in root.rglob("*") if path.is_file()}


@pytest.mark.django_db
def test_a_restored_state_is_the_rows_audit_events_and_lake_files_its_build_made(tmp_path, olivia, arthur):
    states = named.States()
    name = f"self-check {uuid.uuid4()}"  # new to this process: the first request builds it

    def build():
        return ingest(write_sample_export(tmp_path / f"export-{len(states.built)}", rows=30).path)

    before = transaction.savepoint()
    built = states.get(name, build)
    made = (database(), trail(), lake_files())
    assert audit_verify_chain(record_head=False, audit=False).ok
    transaction.savepoint_rollback(before)
    shutil.rmtree(settings.LAKE_URL)
    assert not database()["evidence.sourcemanifest"] and not lake_files()

    restored = states.get(name, build)

    assert (states.built, states.restored) == ([name], [name])
    assert restored.pk == built.pk and restored.status == built.status == "complete"
    assert (database(), trail(), lake_files()) == made
    assert audit_verify_chain(record_head=False, audit=False).ok


@pytest.mark.django_db
def test_a_state_is_built_again_when_it_would_not_start_from_the_same_place(tmp_path, olivia):
    states = named.States()
    name = f"self-check {uuid.uuid4()}"
    before = transaction.savepoint()
    states.get(name, lambda: ingest(write_sample_export(tmp_path / "first", rows=30).path))
    transaction.savepoint_rollback(before)
    shutil.rmtree(settings.LAKE_URL)
    make_persona("arthur")  # one more account than the build saw

    states.get(name, lambda: ingest(write_sample_export(tmp_path / "second", rows=30).path))

    assert (states.built, states.restored) == ([name, name], [])


@pytest.mark.django_db
def test_every_state_is_built_the_honest_way_when_asked_to(tmp_path, olivia, monkeypatch):
    states = named.States()
    name = f"self-check {uuid.uuid4()}"
    before = transaction.savepoint()
    states.get(name, lambda: ingest(write_sample_export(tmp_path / "first", rows=30).path))
    transaction.savepoint_rollback(before)
    shutil.rmtree(settings.LAKE_URL)
    monkeypatch.setenv("LEAF_TEST_STATES", "build")

    states.get(name, lambda: ingest(write_sample_export(tmp_path / "second", rows=30).path))

    assert (states.built, states.restored) == ([name, name], [])


@pytest.mark.django_db(transaction=True, databases=["default", "curated"])
def test_a_restored_curated_table_keeps_its_rows_and_its_row_key(tmp_path):
    from django.db import IntegrityError, connections

    from promotion import curated
    from tests.promotion.test_curated_load import indexes, load, query, write_silver

    connection = connections["curated"]
    connection.ensure_connection()
    if connection.vendor == "sqlite":  # the helpers of test_curated_load read SQLite through sqlite3 itself
        connection = connection.connection
    states = named.States(curated=True)
    name = f"self-check {uuid.uuid4()}"
    table = states.get(name, lambda: load(connection, write_silver(tmp_path / "s.parquet", 50)).table)
    made = (query(connection, f'SELECT * FROM "{table}" ORDER BY "_row"'), indexes(connection, table))
    for made_table in named.CuratedCopies().tables():  # the version and the registry's own tables
        query(connection, f'DROP TABLE "{made_table}"')

    assert states.get(name, lambda: pytest.fail("restored, not built")) == table

    assert (query(connection, f'SELECT * FROM "{table}" ORDER BY "_row"'), indexes(connection, table)) == made
    assert made[1] == [(curated.backend.row_key_name(table), True, ["_row"])]
    with pytest.raises((IntegrityError, sqlite3.IntegrityError)):
        query(connection, f'INSERT INTO "{table}" SELECT * FROM "{table}" WHERE "_row" = 0')


@pytest.mark.django_db
def test_the_replayed_roles_are_the_rows_and_events_roles_seed_makes():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from console.services import roles_seed

    def made():  # ids apart (a rolled-back savepoint keeps PostgreSQL's sequences moved on)
        from django.contrib.auth.models import Group

        return (list(Group.objects.order_by("id").values_list("name", flat=True)),
                list(Group.permissions.through.objects.order_by("id").values_list(
                    "group__name", "permission__content_type__app_label", "permission__codename")),
                [{k: v for k, v in row.items() if k != "correlation_id"} for row in trail()])

    first = transaction.savepoint()
    named.seed_roles()  # this process's first: roles_seed itself, kept (or kept already by an earlier test)
    transaction.savepoint_rollback(first)
    assert named._ROLES and not database()["auth.group"]
    before = transaction.savepoint()
    roles_seed()
    honest = made()
    transaction.savepoint_rollback(before)
    assert not database()["auth.group"] and honest[0] and honest[1]

    with CaptureQueriesContext(connection) as queries:
        named.seed_roles()

    assert made() == honest
    assert audit_verify_chain(record_head=False, audit=False).ok
    assert len(queries) < 20  # replayed: roles_seed itself takes about eighty
