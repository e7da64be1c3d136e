"""The content checksum, computed the same way over silver (DuckDB) and over a loaded table (SQL or Python)."""
from __future__ import annotations

import datetime as dt
import hashlib
import struct
from collections.abc import Callable, Iterator

import pyarrow as pa

from .backend import BATCH_ROWS, ROW_COLUMN, Backend

_EPOCH_DATE = dt.date(1970, 1, 1)
_EPOCH = dt.datetime(1970, 1, 1)


def row_hash_sql(dialect: str, quote, columns: list[tuple[str, str]]) -> str:
    """SQL (PostgreSQL or DuckDB) of the 60-bit row hash over the canonical row text."""
    text = "text" if dialect == "postgresql" else "VARCHAR"
    pieces = [f"CAST({quote(ROW_COLUMN)} AS {text})"]
    for name, domo_type in columns:
        v = quote(name)
        if dialect == "postgresql":
            canonical = {
                "STRING": v,
                "LONG": f"CAST({v} AS text)",
                "DECIMAL": f"CAST({v} AS text)",
                "DOUBLE": f"CAST(CAST(CAST('x' || encode(float8send({v}), 'hex') AS bit(64)) AS bigint) AS text)",
                "DATE": f"CAST({v} - DATE '1970-01-01' AS text)",
                "DATETIME": f"CAST(CAST(extract(epoch FROM {v}) * 1000000 AS bigint) AS text)",
            }[domo_type]
            length = f"CAST(octet_length({v}) AS text)"
        else:  # DuckDB over silver, where DOUBLE columns arrive as their int64 bits
            canonical = {
                "STRING": v,
                "DATE": f"CAST(date_diff('day', DATE '1970-01-01', {v}) AS VARCHAR)",
                "DATETIME": f"CAST(epoch_us({v}) AS VARCHAR)",
            }.get(domo_type, f"CAST({v} AS VARCHAR)")
            length = f"CAST(strlen({v}) AS VARCHAR)"
        if domo_type == "STRING":  # only text can hold the separator: it alone carries its length
            pieces.append(f"CASE WHEN {v} IS NULL THEN '|~' ELSE '|' || {length} || ':' || {v} END")
        else:
            pieces.append(f"'|' || coalesce({canonical}, '~')")
    row = " || ".join(pieces)
    if dialect == "postgresql":
        return f"CAST(CAST('x' || substr(md5({row}), 1, 15) AS bit(60)) AS bigint)"
    return f"CAST('0x' || substr(md5({row}), 1, 15) AS UBIGINT)"


def canonical_py(value, domo_type: str) -> str:
    if value is None:
        return "|~"
    if domo_type == "STRING":
        return f"|{len(value.encode())}:{value}"
    if domo_type == "DECIMAL":
        text = value if isinstance(value, str) else format(value, "f")
    elif domo_type == "DOUBLE":
        text = str(struct.unpack(">q", struct.pack(">d", float(value)))[0])
    elif domo_type == "DATE":
        day = dt.date.fromisoformat(value[:10]) if isinstance(value, str) else value
        text = str((day - _EPOCH_DATE).days)
    elif domo_type == "DATETIME":
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
        text = str((moment.replace(tzinfo=None) - _EPOCH) // dt.timedelta(microseconds=1))
    else:
        text = str(int(value))
    return f"|{text}"


def table_checksum(backend: Backend, table: str, columns: list[tuple[str, str]]) -> tuple[int, str]:
    """(rows, checksum) of a loaded table, computed the same way as silver_checksum."""
    q = backend.quote
    if backend.vendor == "postgresql":
        rows, total = backend.execute(
            f"SELECT count(*), sum({row_hash_sql('postgresql', q, columns)}) FROM {q(table)}"
        )[0]
        return rows, str(total or 0)
    # SQLite and SQL Server have no md5 in SQL: hash the rows here, one scan, constant memory.
    cursor = backend.raw.cursor()
    cursor.execute(f"SELECT {', '.join(q(c) for c in [ROW_COLUMN, *(n for n, _ in columns)])} FROM {q(table)}")
    rows = total = 0
    while chunk := cursor.fetchmany(BATCH_ROWS):
        for record in chunk:
            text = str(record[0]) + "".join(canonical_py(v, t) for v, (_, t) in zip(record[1:], columns))
            total += int(hashlib.md5(text.encode()).hexdigest()[:15], 16)
            rows += 1
    cursor.close()
    return rows, str(total)


def silver_checksum(batches: Callable[[], Iterator[pa.RecordBatch]], arrow_schema: pa.Schema,
                    columns: list[tuple[str, str]]) -> tuple[int, str]:
    """(rows, checksum) of silver record batches, in DuckDB: the twin of the loaded table's checksum."""
    import duckdb

    doubles = {name for name, domo_type in columns if domo_type == "DOUBLE"}
    fields = [pa.field(ROW_COLUMN, pa.int64())] + [
        pa.field(f.name, pa.int64() if f.name in doubles else f.type) for f in arrow_schema
    ]

    def bits() -> Iterator[pa.RecordBatch]:
        start = 0
        for batch in batches():
            arrays = [pa.array(range(start, start + batch.num_rows), pa.int64())] + [
                batch.column(i).view(pa.int64()) if f.name in doubles else batch.column(i)
                for i, f in enumerate(arrow_schema)
            ]
            start += batch.num_rows
            yield pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))

    silver = pa.RecordBatchReader.from_batches(pa.schema(fields), bits())  # noqa: F841 (DuckDB reads it by name)
    quote = lambda name: '"' + name.replace('"', '""') + '"'  # noqa: E731
    with duckdb.connect() as duck:
        duck.register("silver", silver)
        rows, total = duck.execute(
            f"SELECT count(*), sum({row_hash_sql('duckdb', quote, columns)}) FROM silver"
        ).fetchone()
    return rows, str(total or 0)
