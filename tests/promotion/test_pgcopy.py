"""The binary COPY the curated load sends to PostgreSQL: the table holds exactly silver's values.

The checksum tests prove silver and the table agree by hash; these read the values back and compare
them with silver's own, so an encoding mistake shows as the value it produced."""
from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.db import connections

from promotion import curated
from promotion.curated import pgcopy

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True, databases=["default", "curated"])]

KEY = "0c0b1a2b-0000-4000-8000-00000000c0de"
INT64_MAX, INT64_MIN = 2**63 - 1, -(2**63)


@pytest.fixture
def curated_connection():
    conn = connections["curated"]
    yield conn
    with conn.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'curated\\_%'")
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP TABLE "{name}"')


def load_and_read(conn, tmp_path, table: pa.Table, schema: list[dict], load_id: str = "pgcopy-1"):
    path = tmp_path / f"{load_id}.parquet"
    pq.write_table(table, path)
    result = curated.load_dataset(connection=conn, dataset_key=KEY, parquet_path=path, schema=schema,
                                  load_id=load_id, manifest_sha256="c" * 64)
    names = ", ".join(f'"{c["name"]}"' for c in schema)
    with conn.cursor() as cursor:
        cursor.execute(f'SELECT _row, {names} FROM "{result.table}" ORDER BY _row')
        return cursor.fetchall()


def same_float(a, b) -> bool:
    if a is None or b is None:
        return a is b
    if math.isnan(a):
        return math.isnan(b)
    return a == b and math.copysign(1, a) == math.copysign(1, b)


def decimals_at(scale: int) -> list[Decimal | None]:
    """The fast path's edges at this scale: int64's extremes unscaled, zero, one unit, None."""
    unit = Decimal(1).scaleb(-scale)
    return [Decimal(INT64_MAX) * unit, Decimal(INT64_MIN) * unit, Decimal(0), unit, -unit,
            Decimal(123456789) * unit, None, Decimal(-9999) * unit, Decimal(10_000) * unit]


@pytest.mark.parametrize("scale", [0, 1, 2, 3, 4, 5, 8, 12, 16, 17, 18, 38])
def test_decimals_round_trip_at_every_scale(curated_connection, tmp_path, scale):
    """Scales up to 16 take the vectorised path, wider ones Python ints: both store the same numbers."""
    values = decimals_at(scale) if scale <= 18 else [Decimal("1").scaleb(-scale), Decimal("-0.5"), None, Decimal(0)]
    table = pa.table({"amount": pa.array(values, pa.decimal128(38, scale))})

    rows = load_and_read(curated_connection, tmp_path, table, [{"name": "amount", "type": "DECIMAL"}])

    assert [amount for _, amount in rows] == values
    assert [row for row, _ in rows] == list(range(len(values)))


def test_decimals_wider_than_int64_take_the_python_path(curated_connection, tmp_path):
    values = [Decimal("12345678901234567890123456789012345.67"), Decimal("-99999999999999999999999999999999999.99"),
              Decimal("0.01"), None, Decimal("-92233720368547758.08")]
    table = pa.table({"amount": pa.array(values, pa.decimal128(38, 2))})

    rows = load_and_read(curated_connection, tmp_path, table, [{"name": "amount", "type": "DECIMAL"}])

    assert [amount for _, amount in rows] == values


def test_every_type_round_trips_with_nulls_and_edges(curated_connection, tmp_path):
    texts = ["", "a", "é", "日本語テキスト", 'x"; DROP TABLE y; --', "tab\tand\nnewline\\", "z" * 5000, None]
    longs = [0, 1, -1, INT64_MAX, INT64_MIN, 2**32, None, 42]
    doubles = [0.0, -0.0, float("nan"), float("inf"), float("-inf"), 5e-324, None, 1 / 3]
    days = [dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(1999, 12, 31), dt.date(2000, 1, 1), None,
            dt.date(2000, 2, 29), dt.date(1970, 1, 1), dt.date(2024, 6, 30)]
    moments = [dt.datetime(1, 1, 1, 0, 0, 0, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
               dt.datetime(1999, 12, 31, 23, 59, 59, 999999), dt.datetime(2000, 1, 1), None,
               dt.datetime(1969, 12, 31, 23, 59, 59), dt.datetime(2262, 4, 11, 23, 47, 16, 1),
               dt.datetime(2021, 3, 4, 5, 6, 7, 8)]
    table = pa.table({
        "name": pa.array(texts, pa.string()), "qty": pa.array(longs, pa.int64()),
        "price": pa.array(doubles, pa.float64()), "day": pa.array(days, pa.date32()),
        "at": pa.array(moments, pa.timestamp("us")),
    })
    schema = [{"name": "name", "type": "STRING"}, {"name": "qty", "type": "LONG"},
              {"name": "price", "type": "DOUBLE"}, {"name": "day", "type": "DATE"},
              {"name": "at", "type": "DATETIME"}]

    rows = load_and_read(curated_connection, tmp_path, table, schema)

    assert [r[1] for r in rows] == texts
    assert [r[2] for r in rows] == longs
    assert all(same_float(r[3], d) for r, d in zip(rows, doubles)), [r[3] for r in rows]
    assert [r[4] for r in rows] == days
    assert [r[5] for r in rows] == moments


def test_row_numbers_continue_across_batches_of_a_sliced_silver(curated_connection, tmp_path, monkeypatch):
    """Batches are slices of one Arrow buffer: each starts where the previous ended, NULLs included."""
    monkeypatch.setattr(curated.load, "BATCH_ROWS", 7)
    longs = [i if i % 3 else None for i in range(50)]
    amounts = [Decimal(i) / 4 if i % 4 else None for i in range(50)]
    table = pa.table({"qty": pa.array(longs, pa.int64()), "amount": pa.array(amounts, pa.decimal128(38, 2))})

    rows = load_and_read(curated_connection, tmp_path, table,
                         [{"name": "qty", "type": "LONG"}, {"name": "amount", "type": "DECIMAL"}])

    assert rows == [(i, q, a) for i, (q, a) in enumerate(zip(longs, amounts))]


def test_encoded_batches_are_the_same_bytes_every_time():
    batch = pa.record_batch({"name": pa.array(["a", None, "ccc"]), "amount": pa.array(
        [Decimal("1.50"), None, Decimal("-2.25")], pa.decimal128(38, 2))})
    columns = [("name", "STRING"), ("amount", "DECIMAL")]

    first = pgcopy.encode_batch(batch, 10, columns).to_pybytes()

    assert first == pgcopy.encode_batch(batch, 10, columns).to_pybytes()
    assert first[:2] == (3).to_bytes(2, "big")  # _row and two columns
    assert first[2:14] == (8).to_bytes(4, "big") + (10).to_bytes(8, "big")


def test_an_empty_dataset_loads_as_an_empty_verified_version(curated_connection, tmp_path):
    table = pa.table({"name": pa.array([], pa.string()), "amount": pa.array([], pa.decimal128(38, 2))})

    rows = load_and_read(curated_connection, tmp_path, table,
                         [{"name": "name", "type": "STRING"}, {"name": "amount", "type": "DECIMAL"}])

    assert rows == []
    assert curated.versions(curated_connection, KEY)[0]["state"] == curated.State.VERIFIED
