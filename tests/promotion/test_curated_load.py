"""The curated load: versioned tables, verification against silver, the current-version pointer.

Every behaviour runs on PostgreSQL (the curated alias, COPY) and on a temporary SQLite file
(executemany); the reader-during-a-pointer-move test and the advisory lock are PostgreSQL only.
"""
from __future__ import annotations

import datetime as dt
import math
import os
import sqlite3
import subprocess
import sys
import threading
import time
from decimal import Decimal

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.db import DatabaseError, IntegrityError

from promotion import curated
from promotion.curated.backend import Backend, row_key_name, row_key_sql

KEY = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
CRAFTED = 'x"; DROP TABLE y; --'
SCHEMA = [
    {"name": "name", "type": "STRING"},
    {"name": "qty", "type": "LONG"},
    {"name": "price", "type": "DOUBLE"},
    {"name": "amount", "type": "DECIMAL"},
    {"name": "day", "type": "DATE"},
    {"name": "at", "type": "DATETIME"},
]


def write_silver(path, rows: int, *, bump: int = 0, schema=SCHEMA):
    """Silver Parquet as evidence.intake.silver writes it: every Domo type, NULLs, quotes and newlines in text."""
    arrays = {
        "STRING": pa.array([f'n{i},"q"\n' if i % 7 else "" for i in range(rows)]),
        "LONG": pa.array([i + bump if i % 5 else None for i in range(rows)], pa.int64()),
        "DOUBLE": pa.array([i / 3 if i % 11 else None for i in range(rows)], pa.float64()),
        "DECIMAL": pa.array(
            [Decimal(i) / 100 - 5 if i % 13 else None for i in range(rows)] , pa.decimal128(38, 2)
        ),
        "DATE": pa.array([dt.date(2020, 1, 1) + dt.timedelta(days=i % 999) for i in range(rows)], pa.date32()),
        "DATETIME": pa.array([dt.datetime(2021, 3, 4, 5, 6, 7, i % 1_000_000) for i in range(rows)], pa.timestamp("us")),
    }
    pq.write_table(pa.table({c["name"]: arrays[c["type"]] for c in schema}), path)
    return path


def expected_qty(rows: int, bump: int = 0) -> int:
    return sum(i + bump for i in range(rows) if i % 5)


def query(connection, sql: str) -> list[tuple]:
    if isinstance(connection, sqlite3.Connection):
        return connection.execute(sql).fetchall()
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall() if cursor.description else []


def load(connection, path, load_id="load-1", schema=SCHEMA, **kwargs):
    return curated.load_dataset(
        connection=connection, dataset_key=KEY, parquet_path=path, schema=schema, load_id=load_id,
        manifest_sha256="a" * 64, **kwargs,
    )


def state_of(connection, version: int) -> str:
    return {v["version"]: v["state"] for v in curated.versions(connection, KEY)}[version]


@pytest.fixture(
    params=[
        pytest.param(
            "postgresql",
            marks=[pytest.mark.postgres_only, pytest.mark.django_db(transaction=True, databases=["default", "curated"])],
        ),
        "sqlite",
    ]
)
def connection(request, tmp_path):
    if request.param == "sqlite":
        conn = sqlite3.connect(tmp_path / "curated.sqlite3", isolation_level=None)
        yield conn
        conn.close()
        return
    from django.db import connections

    conn = connections["curated"]
    yield conn
    # A transactional test's flush only empties Django's tables: the curated ones go here.
    for (name,) in query(conn, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'curated\\_%'"):
        query(conn, f'DROP TABLE "{name}"')


@pytest.fixture
def silver(tmp_path):
    return write_silver(tmp_path / "silver.parquet", 1000)


# --- load, verify, promote -----------------------------------------------------------------------------
def test_readers_find_no_current_version_before_any_load(connection):
    assert curated.read_current(connection, KEY) is None
    assert curated.versions(connection, KEY) == []


def test_load_verifies_a_new_version_without_moving_the_pointer(connection, silver):
    result = load(connection, silver)

    assert (result.version, result.reused, result.rows) == (1, False, 1000)
    assert result.table == "curated_0a1b2c3d4e5f6789abcdef0123456789__v1"
    assert state_of(connection, 1) == curated.State.VERIFIED
    assert curated.read_current(connection, KEY) is None


def test_promotion_points_readers_at_the_version(connection, silver):
    result = load(connection, silver)

    curated.promote_version(connection=connection, dataset_key=KEY, version=result.version)

    current = curated.read_current(connection, KEY)
    assert current == curated.CurrentVersion(1, result.table)
    assert state_of(connection, 1) == curated.State.CURRENT
    assert curated.current_schema(connection, KEY) == (1, [{**c, "column": c["name"]} for c in SCHEMA])
    assert query(connection, f'SELECT sum(qty), count(*) FROM "{current.table}"')[0] == (expected_qty(1000), 1000)


def test_rows_and_checksum_equal_silvers(connection, silver):
    result = load(connection, silver)

    arrow = pq.ParquetFile(silver)
    columns = [(c["name"], c["type"]) for c in SCHEMA]
    assert curated.silver_checksum(lambda: arrow.iter_batches(), arrow.schema_arrow, columns) == (
        result.rows, result.checksum,
    )
    assert curated.versions(connection, KEY)[0]["checksum"] == result.checksum


@pytest.mark.catalogue(45, 50)
def test_decimals_load_exactly(connection, tmp_path):
    path = tmp_path / "wide.parquet"
    values = [Decimal("12345678901234567890123456.123456789012"), Decimal("-0.000000000001"), None]
    pq.write_table(pa.table({"amount": pa.array(values, pa.decimal128(38, 12))}), path)

    result = load(connection, path, schema=[{"name": "amount", "type": "DECIMAL"}])

    loaded = [Decimal(str(v)) for (v,) in query(connection, f'SELECT amount FROM "{result.table}" ORDER BY _row') if v]
    assert loaded == values[:2]


@pytest.mark.parametrize("longs", [
    [0, 1, -1, 2**31, -2**31, 2**32, 2**63 - 1, -2**63, 4294967295, -4294967296],  # every bit of the high half
    [0, 1, -1, 2**31 - 1, -2**31, 5, -7, 100, 65536, -65536],  # high half only the sign
])
def test_edge_values_of_every_type_verify(connection, tmp_path, longs):
    """The checksum over silver (Arrow) and over the table (SQL, or Python on SQLite) agree on the
    hard values: empty and long and multi-byte text, the int8 extremes, NaN, -0.0 and infinities,
    38-digit and tiny decimals, dates and timestamps far from 1970, NULL in every column."""
    texts = ["", "a", "abcd", "é", "日本語テキスト", CRAFTED, "line\nbreak", "z" * 11, "z" * 12, "z" * 13, "q" * 1000]
    doubles = [0.0, -0.0, 1.5, -1.5, float("nan"), float("inf"), float("-inf"), 1e308, 5e-324, 1 / 3]
    decimals = [Decimal("0.00"), Decimal("-0.01"), Decimal("12345678901234567890123456789012345.67"),
                Decimal("-99999999999999999999999999999999999.99"), Decimal("1.10")]
    days = [dt.date(1970, 1, 1), dt.date(1969, 12, 31), dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(2000, 2, 29)]
    moments = [dt.datetime(1970, 1, 1), dt.datetime(1969, 12, 31, 23, 59, 59, 999999), dt.datetime(1, 1, 1, 0, 0, 0, 1),
               dt.datetime(9999, 12, 31, 23, 59, 59, 999999), dt.datetime(2000, 1, 1), dt.datetime(2262, 4, 11, 23, 47, 16, 1)]
    if isinstance(connection, sqlite3.Connection):
        doubles = [v for v in doubles if not math.isnan(v) and str(v) != "-0.0"]  # SQLite keeps neither (next test)
    rows = 30

    def column(values, kind):
        return pa.array([values[i % len(values)] for i in range(rows - 1)] + [None], kind)

    path = tmp_path / "edges.parquet"
    pq.write_table(pa.table({
        "name": column(texts, pa.string()), "qty": column(longs, pa.int64()), "price": column(doubles, pa.float64()),
        "amount": column(decimals, pa.decimal128(38, 2)), "day": column(days, pa.date32()),
        "at": column(moments, pa.timestamp("us")),
    }), path)

    result = load(connection, path)  # raises ChecksumMismatch if the two sides disagree

    assert (result.rows, state_of(connection, result.version)) == (rows, curated.State.VERIFIED)


@pytest.mark.catalogue(50)
def test_sqlite_turns_nan_into_null_and_the_checksum_refuses_the_load(tmp_path):
    """SQLite stores NaN as NULL (and -0.0 as 0.0): the table then does not hold silver's values,
    and the verification says so instead of letting the version through."""
    conn = sqlite3.connect(tmp_path / "curated.sqlite3", isolation_level=None)
    path = tmp_path / "nan.parquet"
    pq.write_table(pa.table({"price": pa.array([1.5, float("nan")], pa.float64())}), path)
    try:
        with pytest.raises(curated.ChecksumMismatch):
            load(conn, path, schema=[{"name": "price", "type": "DOUBLE"}])
        assert state_of(conn, 1) == curated.State.FAILED
    finally:
        conn.close()


def test_progress_is_reported_per_batch(connection, tmp_path, monkeypatch):
    monkeypatch.setattr(curated.load, "BATCH_ROWS", 400)
    seen = []

    load(connection, write_silver(tmp_path / "s.parquet", 1000), on_progress=seen.append)

    assert seen == [400, 800, 1000]


# --- idempotency and retries ---------------------------------------------------------------------------
def test_reloading_the_same_load_id_is_a_no_op(connection, silver):
    first = load(connection, silver)

    again = load(connection, silver)

    assert again == curated.LoadResult(first.version, first.table, first.rows, first.checksum, reused=True)
    assert len(curated.versions(connection, KEY)) == 1
    assert query(connection, f'SELECT count(*) FROM "{first.table}"')[0][0] == 1000


def test_another_load_id_makes_a_new_version(connection, silver):
    load(connection, silver)

    second = load(connection, silver, load_id="load-2")

    assert (second.version, second.reused) == (2, False)


def test_a_half_loaded_version_is_cleaned_and_reloaded(connection, silver):
    # What a worker killed mid-COPY leaves behind: its registry row still loading, part of a table.
    curated.ensure_registry(connection)
    query(
        connection,
        "INSERT INTO curated_registry (dataset_key, version, kind, table_name, load_id, manifest_sha256, state, "
        "schema) "
        f"VALUES ('{KEY}', 1, 'dataset', 'curated_0a1b2c3d4e5f6789abcdef0123456789__v1', 'load-1', '{'a' * 64}', "
        "'loading', '[]')",
    )
    query(connection, 'CREATE TABLE "curated_0a1b2c3d4e5f6789abcdef0123456789__v1" (_row bigint, qty bigint)')
    query(connection, 'INSERT INTO "curated_0a1b2c3d4e5f6789abcdef0123456789__v1" VALUES (0, 1), (1, 2)')

    result = load(connection, silver)

    assert (result.version, result.rows, result.reused) == (2, 1000, False)
    assert query(connection, f'SELECT count(*), sum(qty) FROM "{result.table}"')[0] == (1000, expected_qty(1000))
    assert state_of(connection, 1) == curated.State.FAILED
    with pytest.raises((DatabaseError, sqlite3.OperationalError)):  # the half table is gone
        query(connection, 'SELECT 1 FROM "curated_0a1b2c3d4e5f6789abcdef0123456789__v1"')


KILLED_WORKER = """
import os, signal, sys
import psycopg
from promotion import curated
from promotion.curated.backend import Backend, row_key_name, row_key_sql
curated.load.BATCH_ROWS = 100

def die(rows):
    if rows >= 300:  # mid-COPY, as an OOM kill or a lost node would
        os.kill(os.getpid(), signal.SIGKILL)

curated.load_dataset(connection=psycopg.connect(sys.argv[1], autocommit=True), dataset_key=sys.argv[2],
                     parquet_path=sys.argv[3], schema={schema!r}, load_id="load-2", manifest_sha256="a" * 64,
                     on_progress=die)
"""


def conninfo(settings) -> str:
    return psycopg.conninfo.make_conninfo(
        dbname=settings["NAME"], host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"]
    )


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True, databases=["default", "curated"])
def test_a_worker_killed_mid_load_leaves_the_current_version_and_a_retry_finishes(tmp_path):
    from django.db import connections

    conn = connections["curated"]
    first = load(conn, write_silver(tmp_path / "one.parquet", 1000))
    curated.promote_version(connection=conn, dataset_key=KEY, version=first.version)
    second_silver = write_silver(tmp_path / "two.parquet", 1000, bump=1)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_WORKER.format(schema=SCHEMA), conninfo(conn.settings_dict), KEY,
         str(second_silver)],
        check=False, cwd=root, capture_output=True, text=True, timeout=60,
    )
    assert killed.returncode == -9, killed.stderr
    assert state_of(conn, 2) == curated.State.LOADING
    assert curated.read_current(conn, KEY).version == first.version

    for _ in range(50):  # the killed session's lock goes when its backend notices the lost client
        try:
            retried = load(conn, second_silver, load_id="load-2")
            break
        except curated.LoadBusy:
            time.sleep(0.1)

    assert (retried.version, retried.rows, retried.reused) == (3, 1000, False)
    assert query(conn, f'SELECT count(*), sum(qty) FROM "{retried.table}"')[0] == (1000, expected_qty(1000, 1))
    assert state_of(conn, 2) == curated.State.FAILED
    assert curated.read_current(conn, KEY).version == first.version
    for (name,) in query(conn, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'curated\\_%'"):
        query(conn, f'DROP TABLE "{name}"')


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True, databases=["default", "curated"])
def test_a_live_load_holds_the_dataset(silver):
    from django.db import connections

    settings = connections["curated"].settings_dict
    with psycopg.connect(conninfo(settings), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (f"curated:{KEY}",))
        with pytest.raises(curated.LoadBusy):
            load(connections["curated"], silver)
    query(connections["curated"], "DROP TABLE curated_registry; DROP TABLE curated_current")


# --- hostile text ----------------------------------------------------------------------------------
@pytest.mark.catalogue(44, 50)
def test_a_crafted_column_name_loads_as_a_column(connection, tmp_path):
    schema = [{"name": CRAFTED, "type": "LONG"}, {"name": "name", "type": "STRING"}]
    path = tmp_path / "crafted.parquet"
    pq.write_table(pa.table({CRAFTED: pa.array([1, 2, 3], pa.int64()), "name": ["a", "b", "'; DROP"]}), path)

    result = load(connection, path, schema=schema)

    quoted = '"' + CRAFTED.replace('"', '""') + '"'
    assert query(connection, f'SELECT sum({quoted}) FROM "{result.table}"')[0][0] == 6
    assert result.rows == 3


@pytest.mark.parametrize("name", ["", "nul\x00"])
def test_bad_column_names_are_refused(name):
    with pytest.raises(curated.InvalidIdentifier):
        curated.validate_columns([name])


@pytest.mark.catalogue(44)
def test_a_dataset_key_must_be_a_domo_id():
    with pytest.raises(curated.InvalidIdentifier):
        curated.dataset_slug('x"; DROP TABLE y; --')


# --- verification failures ------------------------------------------------------------------------------
def test_a_tampered_table_fails_and_the_pointer_stays(connection, tmp_path):
    first = load(connection, write_silver(tmp_path / "one.parquet", 1000))
    curated.promote_version(connection=connection, dataset_key=KEY, version=first.version)
    second = load(connection, write_silver(tmp_path / "two.parquet", 1000, bump=1), load_id="load-2")
    query(connection, f'UPDATE "{second.table}" SET amount = amount + 0.01 WHERE _row = 500')

    with pytest.raises(curated.ChecksumMismatch):
        curated.promote_version(connection=connection, dataset_key=KEY, version=second.version)

    assert curated.read_current(connection, KEY).version == first.version
    assert state_of(connection, second.version) == curated.State.FAILED
    assert query(connection, f'SELECT count(*) FROM "{second.table}"')[0][0] == 1000  # kept for inspection


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True, databases=["default", "curated"])
def test_a_change_committed_while_the_promotion_waits_for_the_table_is_caught(tmp_path):
    """No gap between the re-verification and the pointer move: a writer's open transaction on the
    version's table holds the promotion back, and what it commits is what the promotion checks."""
    from django.db import connections

    conn = connections["curated"]
    try:
        first = load(conn, write_silver(tmp_path / "one.parquet", 1000))
        curated.promote_version(connection=conn, dataset_key=KEY, version=first.version)
        second = load(conn, write_silver(tmp_path / "two.parquet", 1000, bump=1), load_id="load-2")
        outcome = []
        with psycopg.connect(conninfo(conn.settings_dict), autocommit=True) as writer:
            with writer.transaction():
                writer.execute(f'UPDATE "{second.table}" SET qty = qty + 1 WHERE _row = 1')

                def promote():
                    with psycopg.connect(conninfo(conn.settings_dict), autocommit=True) as promoter:
                        try:
                            curated.promote_version(connection=promoter, dataset_key=KEY, version=second.version)
                            outcome.append("promoted")
                        except curated.ChecksumMismatch as exc:
                            outcome.append(exc)

                thread = threading.Thread(target=promote)
                thread.start()
                time.sleep(1.0)
                assert thread.is_alive() and outcome == []  # waiting for the writer, pointer untouched
                assert curated.read_current(conn, KEY).version == first.version
            thread.join(timeout=60)
        assert len(outcome) == 1 and isinstance(outcome[0], curated.ChecksumMismatch)
        assert curated.read_current(conn, KEY).version == first.version
        assert state_of(conn, second.version) == curated.State.FAILED
    finally:
        for (name,) in query(conn, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'curated\\_%'"):
            query(conn, f'DROP TABLE "{name}"')


@pytest.fixture
def rows_altered_on_arrival():
    """A PostgreSQL database that changes what it is sent: an event trigger gives every new curated
    table a row trigger that doubles `qty` as rows arrive (COPY fires row triggers). Nothing of ours
    is patched: the load really writes, and the table really differs from silver."""
    from django.db import connections

    conn = connections["curated"]
    statements = [
        """CREATE FUNCTION test_double_qty() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN NEW.qty := NEW.qty * 2; RETURN NEW; END $$""",
        """CREATE FUNCTION test_arm_new_tables() RETURNS event_trigger LANGUAGE plpgsql AS $$
           DECLARE created record;
           BEGIN
             FOR created IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE TABLE' LOOP
               IF created.object_identity LIKE '%curated\\_0a1b%' THEN
                 EXECUTE format('CREATE TRIGGER double_qty BEFORE INSERT ON %s FOR EACH ROW '
                                'EXECUTE FUNCTION test_double_qty()', created.object_identity);
               END IF;
             END LOOP;
           END $$""",
        "CREATE EVENT TRIGGER test_arm_new_tables ON ddl_command_end EXECUTE FUNCTION test_arm_new_tables()",
    ]
    for statement in statements:
        query(conn, statement)
    yield
    for statement in ["DROP EVENT TRIGGER test_arm_new_tables", "DROP FUNCTION test_arm_new_tables()",
                      "DROP FUNCTION test_double_qty() CASCADE"]:
        query(conn, statement)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True, databases=["default", "curated"])
def test_a_load_that_differs_from_silver_is_failed(rows_altered_on_arrival, tmp_path):
    from django.db import connections

    connection = connections["curated"]
    try:
        with pytest.raises(curated.ChecksumMismatch):
            load(connection, write_silver(tmp_path / "s.parquet", 100))

        assert state_of(connection, 1) == curated.State.FAILED
        assert curated.read_current(connection, KEY) is None
        with pytest.raises(curated.CuratedError):
            curated.promote_version(connection=connection, dataset_key=KEY, version=1)
        # the table stays for inspection, holding what the database made of the rows
        table = curated.versions(connection, KEY)[0]["table_name"]
        assert query(connection, f'SELECT sum(qty) FROM "{table}"')[0][0] == 2 * expected_qty(100)
    finally:
        for (name,) in query(connection, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'curated\\_%'"):
            query(connection, f'DROP TABLE "{name}"')


# --- the pointer --------------------------------------------------------------------------------------
def test_rollback_moves_the_pointer_back(connection, tmp_path):
    first = load(connection, write_silver(tmp_path / "one.parquet", 1000))
    curated.promote_version(connection=connection, dataset_key=KEY, version=first.version)
    second = load(connection, write_silver(tmp_path / "two.parquet", 1000, bump=1), load_id="load-2")
    curated.promote_version(connection=connection, dataset_key=KEY, version=second.version)

    curated.rollback_to(connection=connection, dataset_key=KEY, version=first.version)

    assert curated.read_current(connection, KEY).version == first.version
    assert state_of(connection, first.version) == curated.State.CURRENT
    assert state_of(connection, second.version) == curated.State.SUPERSEDED


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True, databases=["default", "curated"])
@pytest.mark.catalogue(11)
def test_readers_see_the_old_or_the_new_version_during_a_load_and_its_pointer_move(tmp_path):
    """A reader loops from before the second version's load until after its pointer moved: every total
    it reads is the old version's or the new one's, never a mix, never an empty or half-loaded table."""
    from django.db import connections

    conn = connections["curated"]
    rows = 20_000
    first = load(conn, write_silver(tmp_path / "one.parquet", rows))
    curated.promote_version(connection=conn, dataset_key=KEY, version=first.version)
    second_silver = write_silver(tmp_path / "two.parquet", rows, bump=1)
    old, new = expected_qty(rows), expected_qty(rows, bump=1)
    settings = conn.settings_dict
    seen: list[int] = []
    stop = threading.Event()

    def reader():
        with psycopg.connect(conninfo(settings), autocommit=True) as own:
            while not stop.is_set() or len(seen) < 5:
                current = curated.read_current(own, KEY)
                seen.append(own.execute(f'SELECT sum(qty) FROM "{current.table}"').fetchone()[0])

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        while len(seen) < 5:
            stop.wait(0.01)
        second = load(conn, second_silver, load_id="load-2")
        curated.promote_version(connection=conn, dataset_key=KEY, version=second.version)
        count_at_move = len(seen)
        while len(seen) < count_at_move + 5:
            stop.wait(0.01)
    finally:
        stop.set()
        thread.join()
    for (name,) in query(conn, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'curated\\_%'"):
        query(conn, f'DROP TABLE "{name}"')

    assert set(seen) <= {old, new}
    assert seen[0] == old and seen[-1] == new


@pytest.mark.catalogue(11)
def test_sqlite_readers_see_the_old_or_the_new_version_during_a_load_and_its_pointer_move(tmp_path):
    """The same reader loop on a SQLite curated store (its own connection, the file's locks): every total is
    the old version's or the new one's."""
    path = tmp_path / "curated.sqlite3"
    writer = sqlite3.connect(path, isolation_level=None)
    rows = 5_000
    first = load(writer, write_silver(tmp_path / "one.parquet", rows))
    curated.promote_version(connection=writer, dataset_key=KEY, version=first.version)
    second_silver = write_silver(tmp_path / "two.parquet", rows, bump=1)
    old, new = expected_qty(rows), expected_qty(rows, bump=1)
    seen: list[int] = []
    stop = threading.Event()

    def reader():
        own = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            while not stop.is_set() or len(seen) < 5:
                current = curated.read_current(own, KEY)
                seen.append(own.execute(f'SELECT sum(qty) FROM "{current.table}"').fetchone()[0])
        finally:
            own.close()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        while len(seen) < 5:
            stop.wait(0.01)
        second = load(writer, second_silver, load_id="load-2")
        curated.promote_version(connection=writer, dataset_key=KEY, version=second.version)
        count_at_move = len(seen)
        while len(seen) < count_at_move + 5:
            stop.wait(0.01)
    finally:
        stop.set()
        thread.join()
        writer.close()

    assert set(seen) <= {old, new}
    assert seen[0] == old and seen[-1] == new


# --- golden packets -------------------------------------------------------------------------------------
def test_a_golden_packet_loads_as_text(connection, tmp_path):
    golden = tmp_path / "golden.csv"
    golden.write_text('Region,"Total, $"\nEast,12.50\nWest,\n', encoding="utf-8")

    result = curated.load_golden(
        connection=connection, card_id=1234, golden_csv=golden, load_id="load-1", manifest_sha256="a" * 64
    )

    assert (result.table, result.rows) == ("curated_golden_1234__v1", 2)
    assert query(connection, f'SELECT "Total, $" FROM "{result.table}" ORDER BY _row') == [("12.50",), ("",)]
    assert curated.versions(connection, curated.golden_key(1234))[0]["kind"] == "golden"


# --- the row key ----------------------------------------------------------------------------------------
def indexes(connection, table: str) -> list[tuple[str, bool, list[str]]]:
    """(name, unique, columns) of each index of a table, as the database describes it."""
    if isinstance(connection, sqlite3.Connection):
        return [(name, bool(unique), [column for _, _, column in connection.execute(f'PRAGMA index_info("{name}")')])
                for _, name, unique, *_ in connection.execute(f'PRAGMA index_list("{table}")')]
    return query(
        connection,
        "SELECT i.relname::text, x.indisunique, array_agg(a.attname::text ORDER BY k.n) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid CROSS JOIN unnest(x.indkey) WITH ORDINALITY k(attnum, n) "
        "JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum "
        f"WHERE x.indrelid = '\"{table}\"'::regclass GROUP BY i.relname, x.indisunique",
    )


def load_kind(connection, tmp_path, kind: str) -> tuple[str, curated.LoadResult]:
    if kind == "dataset":
        return KEY, load(connection, write_silver(tmp_path / "s.parquet", 1000))
    golden = tmp_path / "golden.csv"
    golden.write_text("Region,Total\nEast,12.50\nWest,\nNorth,3\n", encoding="utf-8")
    return curated.golden_key(1234), curated.load_golden(
        connection=connection, card_id=1234, golden_csv=golden, load_id="load-1", manifest_sha256="a" * 64
    )


@pytest.mark.catalogue(1)
@pytest.mark.parametrize("kind", ["dataset", "golden"])
def test_a_loaded_version_refuses_a_duplicate_row_key_and_stays_as_loaded(connection, tmp_path, kind):
    key, result = load_kind(connection, tmp_path, kind)
    before = query(connection, f'SELECT * FROM "{result.table}" ORDER BY _row')

    # The same row again (an executemany or COPY run twice would write this): refused by the database.
    with pytest.raises((IntegrityError, sqlite3.IntegrityError)):
        query(connection, f'INSERT INTO "{result.table}" SELECT * FROM "{result.table}" WHERE _row = 1')
    with pytest.raises((IntegrityError, sqlite3.IntegrityError)):
        query(connection, f'UPDATE "{result.table}" SET _row = 0 WHERE _row = 1')

    assert query(connection, f'SELECT * FROM "{result.table}" ORDER BY _row') == before
    curated.verify_version(connection=connection, dataset_key=key, version=result.version)  # still silver's rows
    assert indexes(connection, result.table) == [(f"{result.table}__row_key", True, ["_row"])]


def test_the_row_key_of_a_table_with_the_longest_name_is_named_within_63_bytes(connection, tmp_path):
    key = "0123456789abcdef" * 2 + "01234567"  # a 40-character slug, the longest a table name takes
    curated.ensure_registry(connection)
    query(
        connection,
        "INSERT INTO curated_registry (dataset_key, version, kind, table_name, load_id, manifest_sha256, state, "
        f"schema) VALUES ('{key}', 999, 'dataset', 'gone', 'load-0', '{'a' * 64}', 'failed', '[]')",
    )

    result = curated.load_dataset(connection=connection, dataset_key=key, schema=SCHEMA, load_id="load-1",
                                  parquet_path=write_silver(tmp_path / "s.parquet", 10), manifest_sha256="a" * 64)

    assert result.table == f"curated_{key}__v1000"  # 55 bytes: `<table>__row_key` would be 64
    [(name, unique, columns)] = indexes(connection, result.table)
    assert (name, unique, columns) == (row_key_name(result.table), True, ["_row"])  # as named: nothing cut
    assert len(name.encode()) <= 63 and name.startswith("curated_") and name != result.table
    assert name != row_key_name(f"curated_{key}__v1001") and name == row_key_name(result.table)
    with pytest.raises((IntegrityError, sqlite3.IntegrityError)):
        query(connection, f'INSERT INTO "{result.table}" (_row) VALUES (3)')


def test_the_row_key_in_t_sql():
    """SQL Server cannot run here: the statement the load sends it, checked as text and parsed back."""
    import sqlglot

    odbc = type("Connection", (), {"__module__": "pyodbc"})()  # what Backend reads of a pyodbc connection
    sql = row_key_sql(Backend(odbc), "curated_0a1b__v7")

    assert sql == "CREATE UNIQUE INDEX [curated_0a1b__v7__row_key] ON [curated_0a1b__v7] ([_row])"
    assert sqlglot.parse_one(sql, read="tsql").args["unique"]
