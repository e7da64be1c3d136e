"""The promotion load: an approved request loads its datasets and golden packets into the curated store,
verified, then points readers at them; reruns are no-ops, lost workers are swept or taken over."""
from __future__ import annotations

import csv
import datetime as dt
import io
import os
import time

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import redis
from django.db import connections

from console import clock
from console.lake import get_lake
from console.models import AuditEvent
from promotion import curated, services, tasks
from promotion.models import PromotionRequest

# Its card's golden packet has plain column names (see test_a_percent_sign_in_a_golden_column_...): REBATES.
from tests.promotion.conftest import CURATED_DB, REBATES, checked, dataset, disposition_all, forced, promoted

NUMERIC = ("LONG", "DOUBLE", "DECIMAL")


@pytest.fixture
def rebates_request(manifest, olivia) -> PromotionRequest:
    """Olivia's request for the rebate invoices, every flaw behind them dispositioned, gates passed."""
    rebates = dataset(manifest, REBATES)
    disposition_all(olivia, manifest, [rebates])
    request = checked(services.promotion_request(actor=olivia, manifest=manifest, datasets=[rebates]))
    assert request.state == "ready", list(request.gate_results.values_list("gate", "outcome", "details"))
    return request


def approve(request, arthur) -> PromotionRequest:
    return services.promotion_approve(actor=arthur, request=request, comment="figures match Domo")


def silver_totals(ds) -> tuple[int, dict[str, float]]:
    table = pq.read_table(pa.BufferReader(get_lake().read(ds.silver_path)))
    numeric = [c["name"] for c in ds.schema if c["type"] in NUMERIC]
    return table.num_rows, {name: float(pc.sum(table[name]).as_py() or 0) for name in numeric}


def current_totals(connection, ds) -> tuple[int, dict[str, float]]:
    current = curated.read_current(connection, ds.domo_id)
    numeric = [c["name"] for c in ds.schema if c["type"] in NUMERIC]
    sums = ", ".join(f'coalesce(sum("{name}"), 0)' for name in numeric)
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*){", " + sums if sums else ""} FROM "{current.table}"')
        row = cursor.fetchone()
    return row[0], {name: float(value) for name, value in zip(numeric, row[1:])}


def assert_same_totals(ours, silver) -> None:
    """Same row count, same column sums (DOUBLE sums only up to summation order)."""
    assert ours[0] == silver[0]
    assert ours[1] == pytest.approx(silver[1], rel=1e-12)


# --- enqueue ---------------------------------------------------------------------------------------


@pytest.mark.catalogue(7)
def test_approval_enqueues_the_load_after_commit(ready_request, arthur, no_enqueue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        approve(ready_request, arthur)
    assert len(callbacks) == 2  # the audit head's anchor (console.anchors), then the load
    assert no_enqueue.sent() == [(ready_request.pk,)]


@CURATED_DB
@pytest.mark.postgres_only  # two writers at once (SQLite has one)
@pytest.mark.catalogue(5, 8)
def test_two_deliveries_of_one_load_at_once_run_it_once(rebates_request, arthur, curated_db, no_enqueue):
    """The same load submitted twice at the same moment (a duplicate message, a double click that sent two):
    one delivery claims and runs it; the other finds it claimed and runs nothing."""
    import threading

    approve(rebates_request, arthur)
    start, outcomes = threading.Barrier(2), []

    def deliver():
        try:
            start.wait()
            tasks.promotion_load(rebates_request.pk)
            outcomes.append("returned")
        except services.LoadHeld:
            outcomes.append("held")  # a worker's task would look again later, and find it final
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(outcomes) == 2
    rebates_request.refresh_from_db()
    assert rebates_request.state == "promoted", rebates_request.error
    assert rebates_request.attempts == 1
    done = AuditEvent.objects.filter(object_id=str(rebates_request.pk))
    assert done.filter(action="promotion.load_started").count() == 1
    assert done.filter(action="promotion.promoted").count() == 1
    assert not done.filter(action="promotion.load_resumed").exists()
    key = dataset(rebates_request.manifest, REBATES).domo_id
    assert [(v["version"], v["state"]) for v in curated.versions(curated_db, key)] == [(1, "current")]


# --- the load, end to end --------------------------------------------------------------------------


@CURATED_DB
def test_an_approved_request_loads_and_is_promoted(rebates_request, arthur, curated_db, no_enqueue):
    approve(rebates_request, arthur)

    tasks.promotion_load(rebates_request.pk)

    rebates_request.refresh_from_db()
    assert rebates_request.state == "promoted", rebates_request.error
    assert rebates_request.attempts == 1 and rebates_request.heartbeat_at is not None
    rebates = dataset(rebates_request.manifest, REBATES)
    assert_same_totals(current_totals(curated_db, rebates), silver_totals(rebates))
    registered = curated.versions(curated_db, rebates.domo_id)
    assert [(v["version"], v["state"], v["load_id"]) for v in registered] == [
        (1, "current", rebates_request.manifest.load_id)
    ]
    assert rebates_request.load_progress["datasets"][rebates.domo_id]["version"] == 1
    assert rebates_request.load_progress["stage"] == "promoted"


@CURATED_DB
def test_the_golden_packets_of_the_cards_on_the_datasets_are_promoted_beside_them(
    rebates_request, arthur, curated_db, no_enqueue
):
    approve(rebates_request, arthur)
    tasks.promotion_load(rebates_request.pk)

    cards = [c for c in dataset(rebates_request.manifest, REBATES).cards.exclude(golden_path="")]
    assert cards
    for card in cards:
        current = curated.read_current(curated_db, curated.golden_key(card.domo_id))
        assert current is not None, card
        with curated_db.cursor() as cursor:
            cursor.execute(f'SELECT count(*) FROM "{current.table}"')
            rows = cursor.fetchone()[0]
        golden = get_lake().read(card.manifest.files.get(path=card.golden_path).bronze_path).decode("utf-8-sig")
        assert rows == len(list(csv.reader(io.StringIO(golden)))) - 1


@CURATED_DB
def test_a_card_that_also_reads_a_dataset_left_out_loads_its_golden_packet_with_the_last_of_them(
    manifest, olivia, arthur, curated_db, no_enqueue
):
    """A golden packet is Domo's output over all of a card's datasets: promoting one of them alone loads no
    packet (the gate passes with a note, the audit names it); promoting the other from the same export
    then loads it beside that one."""
    rebates, claims = dataset(manifest, REBATES), dataset(manifest)
    card = rebates.cards.exclude(golden_path="").order_by("pk").first()
    card.datasets.add(claims)
    golden = curated.golden_key(card.domo_id)

    first = promoted(manifest, REBATES, olivia, arthur)

    gate = first.gate_results.get(current=True, gate="golden_reproduced")
    [note] = [d for d in gate.details if d.get("note")]
    assert gate.outcome == "passed" and f"card {card.domo_id} is not loaded" in note["what"]
    assert "'PBM Claims 2025'" in note["what"]
    assert curated.read_current(curated_db, golden) is None
    event = AuditEvent.objects.get(action="promotion.promoted", object_id=str(first.pk))
    assert golden in event.after["golden_kept"]

    second = promoted(manifest, "PBM Claims 2025", olivia, arthur)

    assert curated.read_current(curated_db, golden).version == 1
    assert golden in second.load_progress["datasets"]


@CURATED_DB
def test_a_rerun_on_a_promoted_request_is_a_no_op(rebates_request, arthur, curated_db, no_enqueue):
    approve(rebates_request, arthur)
    tasks.promotion_load(rebates_request.pk)
    key = dataset(rebates_request.manifest, REBATES).domo_id
    before = (curated.versions(curated_db, key), AuditEvent.objects.count())

    tasks.promotion_load(rebates_request.pk)  # a redelivered message

    rebates_request.refresh_from_db()
    assert rebates_request.state == "promoted" and rebates_request.attempts == 1
    assert (curated.versions(curated_db, key), AuditEvent.objects.count()) == before


@CURATED_DB
def test_a_crafted_load_message_for_a_partial_manifest_loads_nothing(partial_manifest, olivia, arthur, curated_db):
    request = forced(partial_manifest, requested_by=olivia, approved_by=arthur)

    tasks.promotion_load(request.pk)

    request.refresh_from_db()
    assert request.state == "approved"
    assert AuditEvent.objects.filter(action="promotion.refused", after__attempt="load").exists()
    assert curated.versions(curated_db, dataset(partial_manifest).domo_id) == []


@CURATED_DB
def test_the_schema_gate_sees_the_promoted_version(rebates_request, arthur, curated_db, no_enqueue):
    approve(rebates_request, arthur)
    tasks.promotion_load(rebates_request.pk)

    found = services.curated_schema_from_registry(dataset(rebates_request.manifest, REBATES))

    assert found.version == "1"
    # The registry keeps each column's curated column beside its name and type.
    assert [{"name": c["name"], "type": c["type"]} for c in found.schema] == dataset(rebates_request.manifest, REBATES).schema
    assert all(c["column"] == c["name"] for c in found.schema)


@CURATED_DB
@pytest.mark.postgres_only  # psycopg's placeholders; sqlite3's are ?
def test_a_percent_sign_in_a_golden_column_name_loads(ready_request, arthur, curated_db, no_enqueue):
    approve(ready_request, arthur)
    tasks.promotion_load(ready_request.pk)
    ready_request.refresh_from_db()
    assert ready_request.state == "promoted", ready_request.error


# --- failures and retries: real ones ---------------------------------------------------------------


def curated_session():
    """A session of our own on the curated database, as another loader (or an operator's psql) would hold."""
    settings = connections["curated"].settings_dict
    return psycopg.connect(
        psycopg.conninfo.make_conninfo(dbname=settings["NAME"], host=settings["HOST"],
                                       port=settings["PORT"] or 5432, user=settings["USER"]),
        autocommit=True,
    )


def hold_load_lock(session, key: str) -> None:
    """Take the dataset's load lock, the session advisory lock the curated engine takes for a load."""
    session.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (f"curated:{key}",))


def assert_promoted_once(curated_db, ds) -> None:
    current = curated.read_current(curated_db, ds.domo_id)
    assert [(v["version"], v["state"]) for v in curated.versions(curated_db, ds.domo_id)] == [(1, "current")]
    with curated_db.cursor() as cursor:
        cursor.execute(f'SELECT count(*), count(DISTINCT "_row") FROM "{current.table}"')
        assert cursor.fetchone() == (ds.silver_rows, ds.silver_rows)  # no duplicate rows
    assert_same_totals(current_totals(curated_db, ds), silver_totals(ds))


@CURATED_DB
@pytest.mark.postgres_only  # the dataset's load lock is a PostgreSQL advisory lock
def test_a_dataset_locked_by_another_session_keeps_the_request_loading_for_a_retry_that_resumes_it(
    rebates_request, arthur, curated_db, no_enqueue
):
    approve(rebates_request, arthur)
    rebates = dataset(rebates_request.manifest, REBATES)
    with curated_session() as other:
        hold_load_lock(other, rebates.domo_id)

        with pytest.raises(services.LoadInterrupted) as interrupted:
            services.load_requested_datasets(request=rebates_request)

        rebates_request.refresh_from_db()
        assert rebates_request.state == "loading" and rebates_request.attempts == 1
        assert rebates_request.load_progress["stage"] == "waiting to retry"
        assert rebates_request.load_progress["error"].startswith("LoadBusy")
        assert curated.read_current(curated_db, rebates.domo_id) is None  # readers saw nothing
        assert curated.versions(curated_db, rebates.domo_id) == []  # nothing was written under the lock
    # Our session closed: its lock went with it, as a dead loader's does.

    services.load_requested_datasets(request=rebates_request, resume_attempt=interrupted.value.attempt)

    rebates_request.refresh_from_db()
    assert rebates_request.state == "promoted", rebates_request.error
    assert rebates_request.attempts == 2
    assert AuditEvent.objects.filter(action="promotion.load_resumed").count() == 1
    assert_promoted_once(curated_db, rebates)


@CURATED_DB
@pytest.mark.postgres_only
def test_a_dataset_locked_through_every_attempt_fails_the_request_after_three(
    rebates_request, arthur, curated_db, no_enqueue
):
    approve(rebates_request, arthur)
    rebates = dataset(rebates_request.manifest, REBATES)
    with curated_session() as other:
        hold_load_lock(other, rebates.domo_id)
        attempt = None
        for _ in range(services.MAX_LOAD_ATTEMPTS - 1):
            with pytest.raises(services.LoadInterrupted) as interrupted:
                rebates_request.refresh_from_db()
                services.load_requested_datasets(request=rebates_request, resume_attempt=attempt)
            attempt = interrupted.value.attempt
        rebates_request.refresh_from_db()
        services.load_requested_datasets(request=rebates_request, resume_attempt=attempt)

    rebates_request.refresh_from_db()
    assert rebates_request.state == "failed" and rebates_request.attempts == services.MAX_LOAD_ATTEMPTS
    assert "LoadBusy" in rebates_request.error
    assert curated.read_current(curated_db, rebates.domo_id) is None
    assert curated.versions(curated_db, rebates.domo_id) == []


@CURATED_DB
def test_a_verified_version_changed_before_its_promotion_fails_the_request_without_a_retry(
    rebates_request, arthur, curated_db, no_enqueue, tmp_path
):
    """An earlier attempt verified the version; a row went missing before the pointer moved: the
    promotion re-verifies, finds it, and fails for good (a retry would only find it again)."""
    approve(rebates_request, arthur)
    rebates = dataset(rebates_request.manifest, REBATES)
    manifest = rebates_request.manifest
    parquet = tmp_path / "silver.parquet"
    parquet.write_bytes(get_lake().read(rebates.silver_path))
    earlier = curated.load_dataset(
        connection=curated_db, dataset_key=rebates.domo_id, parquet_path=parquet, schema=rebates.schema,
        load_id=manifest.load_id, manifest_sha256=manifest.manifest_sha256,
    )
    with curated_db.cursor() as cursor:
        cursor.execute(f'DELETE FROM "{earlier.table}" WHERE "_row" = 0')

    services.load_requested_datasets(request=rebates_request)

    rebates_request.refresh_from_db()
    assert rebates_request.state == "failed" and rebates_request.attempts == 1
    assert rebates_request.error.startswith("ChecksumMismatch")
    assert AuditEvent.objects.get(action="promotion.load_failed").after["error"] == rebates_request.error
    assert curated.read_current(curated_db, rebates.domo_id) is None
    assert [(v["version"], v["state"]) for v in curated.versions(curated_db, rebates.domo_id)] == [(1, "failed")]


# --- the sweeper -----------------------------------------------------------------------------------


def test_the_sweeper_fails_a_load_whose_heartbeat_went_stale(manifest, olivia, arthur, settings):
    settings.PROMOTION_ABANDONED_SECONDS = 300
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    stale = forced(manifest, requested_by=olivia, approved_by=arthur, state="loading")
    alive = forced(manifest, requested_by=olivia, approved_by=arthur, state="loading")
    PromotionRequest.objects.filter(pk=stale.pk).update(load_started_at=start, heartbeat_at=start, attempts=1)
    PromotionRequest.objects.filter(pk=alive.pk).update(
        load_started_at=start, heartbeat_at=start + dt.timedelta(seconds=200), attempts=1
    )

    with clock.frozen(start + dt.timedelta(seconds=301)):
        swept = tasks.promotion_sweep()

    assert swept == [stale.pk]
    stale.refresh_from_db()
    alive.refresh_from_db()
    assert stale.state == "failed" and "heartbeat stopped" in stale.error
    assert alive.state == "loading"


def test_the_sweeper_leaves_a_load_a_redelivered_task_may_still_resume(manifest, olivia, arthur, settings):
    settings.PROMOTION_STALE_SECONDS = 300
    settings.PROMOTION_ABANDONED_SECONDS = 7200
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    request = forced(manifest, requested_by=olivia, approved_by=arthur, state="loading")
    PromotionRequest.objects.filter(pk=request.pk).update(load_started_at=start, heartbeat_at=start, attempts=1)

    with clock.frozen(start + dt.timedelta(hours=1)):  # stale enough to take over, not abandoned
        assert tasks.promotion_sweep() == []
    request.refresh_from_db()
    assert request.state == "loading"


def test_a_redelivered_task_leaves_a_live_load_alone(manifest, olivia, arthur, settings):
    settings.PROMOTION_STALE_SECONDS = 300
    now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    request = forced(manifest, requested_by=olivia, approved_by=arthur, state="loading")
    PromotionRequest.objects.filter(pk=request.pk).update(load_started_at=now, heartbeat_at=now, attempts=1)
    request.refresh_from_db()

    with clock.frozen(now + dt.timedelta(seconds=10)), pytest.raises(services.LoadHeld):
        services.load_requested_datasets(request=request)

    request.refresh_from_db()
    assert request.state == "loading" and request.attempts == 1


# --- a real worker, killed mid-load ------------------------------------------------------------------


@CURATED_DB
@pytest.mark.worker
@pytest.mark.postgres_only
@pytest.mark.catalogue(2)
def test_a_worker_killed_mid_load_leaves_the_pointer_and_the_redelivered_task_promotes(
    big_ready_request, curated_db, arthur
):
    from tests.support.worker import Worker, flush_test_broker, wait_until

    request = big_ready_request
    claims = dataset(request.manifest)
    # The unacknowledged message comes back 15 s after its delivery (longer than the load runs before it is
    # killed); a load whose heartbeat is 2 s old may be taken over.
    visibility = 15
    fast_redelivery = {"CELERY_VISIBILITY_TIMEOUT": str(visibility), "PROMOTION_STALE_SECONDS": "2"}
    flush_test_broker()
    first = Worker(env=fast_redelivery).start()
    try:
        approve(request, arthur)  # enqueues the load after its commit
        wait_until(
            lambda: PromotionRequest.objects.get(pk=request.pk).load_progress.get("rows", 0) > 0,
            timeout=120, interval=0.02, message="the load to start copying rows",
        )
        first.kill()
    finally:
        first.stop()
    request.refresh_from_db()
    assert request.state == "loading" and request.attempts == 1
    assert curated.read_current(curated_db, claims.domo_id) is None  # readers never saw the half load
    assert services.promotion_sweep_stale() == []  # the reaper leaves it to the redelivery
    # The message is still the dead worker's: delivered, never acknowledged.
    [(_, delivered_at)] = unacknowledged()
    assert time.time() < delivered_at + visibility, f"the load ran {time.time() - delivered_at:.1f} s before the kill"

    second = Worker(env=fast_redelivery).start()
    try:
        # Until the visibility timeout the message stays with the dead worker: nothing runs the load.
        while time.time() < delivered_at + visibility - 0.5:
            assert PromotionRequest.objects.get(pk=request.pk).attempts == 1
            time.sleep(0.1)
        wait_until(lambda: PromotionRequest.objects.get(pk=request.pk).is_final, timeout=240,
                   message="the redelivered load to finish")
    finally:
        second.stop()
    [resumed] = AuditEvent.objects.filter(action="promotion.load_resumed", object_id=str(request.pk))
    assert resumed.occurred_at.timestamp() >= delivered_at + visibility
    request.refresh_from_db()
    assert request.state == "promoted", (request.error, second.output()[-3000:])
    assert request.attempts == 2
    assert AuditEvent.objects.filter(action="promotion.promoted", object_id=str(request.pk)).count() == 1
    current = curated.read_current(curated_db, claims.domo_id)
    states = {v["version"]: v["state"] for v in curated.versions(curated_db, claims.domo_id)}
    assert states[current.version] == "current"
    assert all(state == "failed" for version, state in states.items() if version != current.version)
    with curated_db.cursor() as cursor:
        cursor.execute(f'SELECT count(*), count(DISTINCT "_row") FROM "{current.table}"')
        assert cursor.fetchone() == (claims.silver_rows, claims.silver_rows)  # no duplicate rows
    assert_same_totals(current_totals(curated_db, claims), silver_totals(claims))  # as a clean run's


def unacknowledged() -> list[tuple[bytes, float]]:
    """(delivery tag, when it was delivered) of the messages delivered and not acknowledged on this run's broker."""
    client = redis.Redis.from_url(os.environ["TEST_REDIS_URL"])
    return client.zrange(os.environ["CELERY_REDIS_KEY_PREFIX"] + "unacked_index", 0, -1, withscores=True)


# --- the gates run once per action -----------------------------------------------------------------


def gate_runs(queries) -> int:
    """How many times the load_id gate ran: its one query, for promotions of the same load id with other content."""
    return sum(1 for q in queries if "promotion_promotionrequest" in q["sql"] and "manifest_sha256" in q["sql"]
               and "'loading', 'promoted'" in q["sql"])


@CURATED_DB
def test_the_gates_run_once_for_the_check_once_for_the_approval_and_once_for_the_load(
    manifest, olivia, arthur, curated_db, broker
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rebates = dataset(manifest, REBATES)
    disposition_all(olivia, manifest, [rebates])
    request = services.promotion_request(actor=olivia, manifest=manifest, datasets=[rebates], enqueue=False)
    runs = {}
    for action, step in (
        ("check", lambda: services.promotion_check(request_id=request.pk)),
        ("approve", lambda: approve(request, arthur)),
        ("load", lambda: tasks.promotion_load(request.pk)),
    ):
        with CaptureQueriesContext(connection) as queries:
            step()
        runs[action] = gate_runs(queries.captured_queries)
    request.refresh_from_db()
    assert request.state == "promoted", request.error
    assert runs == {"check": 1, "approve": 1, "load": 1}
