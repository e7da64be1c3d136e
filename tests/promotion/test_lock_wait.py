"""Bounded lock wait: publishing (the pointer move) never waits without bound on another session.

A plain long read of the live table holds no lock the move needs: the move goes through at once and the
reader is not queued behind anything. A reader that pins the pointers (LOCK TABLE curated_current IN SHARE
MODE, to read several datasets at one set of versions) does hold one: the move gives up after
CURATED_LOCK_TIMEOUT (PointerBusy, "waiting for readers"), nothing moved, other readers never wait behind it;
the load is retried, says so on the request and in the trail, and fails with the reason after its last attempt.
"""
from __future__ import annotations

import contextlib
import threading
import time

import psycopg
import pytest
from django.db import connections

from console.models import AuditEvent
from promotion import curated, services
from tests.promotion.conftest import CURATED_DB, REBATES, dataset
from tests.promotion.test_curated_load import KEY, conninfo, expected_qty, load, write_silver

pytestmark = [CURATED_DB, pytest.mark.postgres_only, pytest.mark.catalogue(13)]


@contextlib.contextmanager
def session():
    with psycopg.connect(conninfo(connections["curated"].settings_dict), autocommit=True) as own:
        yield own


@contextlib.contextmanager
def pointers_pinned():
    """A reader that keeps every pointer where it is while it reads (an open transaction, as long as it likes)."""
    with session() as reader, reader.transaction():
        reader.execute("LOCK TABLE curated_current IN SHARE MODE")
        yield reader


@pytest.fixture
def two_loaded(curated_db, tmp_path):
    """v1 live, v2 loaded and verified."""
    first = load(curated_db, write_silver(tmp_path / "one.parquet", 1000))
    curated.promote_version(connection=curated_db, dataset_key=KEY, version=first.version)
    second = load(curated_db, write_silver(tmp_path / "two.parquet", 1000, bump=1), load_id="load-2")
    return first, second


def test_a_long_read_of_the_live_table_does_not_hold_the_publish_back(two_loaded, curated_db):
    _, second = two_loaded
    with session() as reader, reader.transaction():
        live = curated.read_current(reader, KEY)
        assert reader.execute(f'SELECT sum(qty) FROM "{live.table}"').fetchone()[0] == expected_qty(1000)

        started = time.monotonic()
        curated.promote_version(connection=curated_db, dataset_key=KEY, version=second.version, lock_timeout=5)

        assert time.monotonic() - started < 5  # never waited for the reader's lock
        # the reader reads on, in its own open transaction, the version it started with
        assert reader.execute(f'SELECT sum(qty) FROM "{live.table}"').fetchone()[0] == expected_qty(1000)
    assert curated.read_current(curated_db, KEY).version == second.version


def test_a_reader_pinning_the_pointers_makes_the_publish_give_up_after_the_lock_timeout(two_loaded, curated_db):
    first, second = two_loaded
    waits, outcome = [], []
    with pointers_pinned():

        def publish():
            with session() as publisher:
                started = time.monotonic()
                try:
                    curated.promote_version(connection=publisher, dataset_key=KEY, version=second.version,
                                            lock_timeout=1)
                except curated.PointerBusy as busy:
                    outcome.append(busy)
                waits.append(time.monotonic() - started)

        thread = threading.Thread(target=publish)
        thread.start()
        time.sleep(0.3)
        with session() as another:  # while the publish waits, readers are not queued behind it
            started = time.monotonic()
            assert curated.read_current(another, KEY).version == first.version
            assert time.monotonic() - started < 0.5
        thread.join(timeout=30)

    assert not thread.is_alive()
    assert len(outcome) == 1 and "waiting for readers" in str(outcome[0])
    assert 1 <= waits[0] < 5
    assert curated.read_current(curated_db, KEY).version == first.version
    assert {v["version"]: v["state"] for v in curated.versions(curated_db, KEY)}[second.version] == "verified"
    assert curated.pointer_moves(curated_db, dataset_key=KEY)[-1]["to_version"] == first.version  # no move recorded

    curated.promote_version(connection=curated_db, dataset_key=KEY, version=second.version, lock_timeout=1)
    assert curated.read_current(curated_db, KEY).version == second.version  # the reader gone, it goes through


def test_a_load_waiting_for_readers_says_so_retries_and_promotes_once_they_let_go(
    approved_rebates, curated_db, no_enqueue, settings
):
    settings.CURATED_LOCK_TIMEOUT = 1
    rebates = dataset(approved_rebates.manifest, REBATES)
    curated.ensure_registry(curated_db)
    with pointers_pinned():
        with pytest.raises(services.LoadInterrupted) as interrupted:
            services.load_requested_datasets(request=approved_rebates)

        approved_rebates.refresh_from_db()
        assert approved_rebates.state == "loading"
        assert approved_rebates.load_progress["stage"] == "waiting to retry"
        assert approved_rebates.load_progress["error"].startswith("PointerBusy: waiting for readers")
        event = AuditEvent.objects.get(action="promotion.load_interrupted", object_id=str(approved_rebates.pk))
        assert event.after["retry"] is True and "waiting for readers" in event.after["reason"]
        assert curated.read_current(curated_db, rebates.domo_id) is None

    services.load_requested_datasets(request=approved_rebates, resume_attempt=interrupted.value.attempt)

    approved_rebates.refresh_from_db()
    assert approved_rebates.state == "promoted", approved_rebates.error
    assert curated.read_current(curated_db, rebates.domo_id).version == 1  # the verified version, reused


def test_a_load_whose_readers_never_let_go_fails_with_the_reason_after_its_last_attempt(
    approved_rebates, curated_db, no_enqueue, settings
):
    settings.CURATED_LOCK_TIMEOUT = 1
    rebates = dataset(approved_rebates.manifest, REBATES)
    curated.ensure_registry(curated_db)
    with pointers_pinned():
        attempt = None
        for _ in range(services.MAX_LOAD_ATTEMPTS - 1):
            with pytest.raises(services.LoadInterrupted) as interrupted:
                approved_rebates.refresh_from_db()
                services.load_requested_datasets(request=approved_rebates, resume_attempt=attempt)
            attempt = interrupted.value.attempt
        approved_rebates.refresh_from_db()
        services.load_requested_datasets(request=approved_rebates, resume_attempt=attempt)

    approved_rebates.refresh_from_db()
    assert approved_rebates.state == "failed" and approved_rebates.attempts == services.MAX_LOAD_ATTEMPTS
    assert approved_rebates.error.startswith("PointerBusy: waiting for readers")
    failed = AuditEvent.objects.get(action="promotion.load_failed", object_id=str(approved_rebates.pk))
    assert "waiting for readers" in failed.after["error"]
    assert curated.read_current(curated_db, rebates.domo_id) is None
