"""The load: silver record batches into a fresh versioned table through the backend's bulk path, then verified."""
from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from console import clock
from evidence.intake.csvfields import DEFAULT_MAX_FIELD_BYTES, read_records
from promotion.faults import fault_point

from . import pgcopy
from .backend import (
    BATCH_ROWS,
    REGISTRY,
    ROW_COLUMN,
    VERIFIED_STATES,
    Backend,
    ChecksumMismatch,
    CuratedError,
    LoadResult,
    State,
    column_sql_type,
    columns_of,
    dataset_slug,
    ensure_registry,
    row_key_sql,
    schema_record,
    set_state,
)
from .checksum import silver_checksum, table_checksum


def _yield_cpu() -> None:
    """Lower this thread's priority (Linux: per thread): it takes the CPU the COPY leaves idle."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass


# --- bulk paths ----------------------------------------------------------------------------------------
def _python_rows(batch: pa.RecordBatch, start: int, columns: list[tuple[str, str]], vendor: str) -> list[tuple]:
    values = []
    for column, (_, domo_type) in zip(batch.columns, columns):
        items = column.to_pylist()
        if vendor == "sqlite":  # sqlite3's date adapters are deprecated; decimals stay exact as text
            convert = {"DECIMAL": lambda v: format(v, "f"), "DATE": dt.date.isoformat,
                       "DATETIME": lambda v: v.isoformat(sep=" ")}.get(domo_type)
            if convert is not None:
                items = [None if v is None else convert(v) for v in items]
        values.append(items)
    return list(zip(range(start, start + batch.num_rows), *values))


def _bulk_load(backend: Backend, table: str, columns: list[tuple[str, str]], batches: Iterator[pa.RecordBatch],
               on_progress: Callable[[int], None] | None) -> int:
    q = backend.quote
    names = ", ".join(q(c) for c in [ROW_COLUMN, *(n for n, _ in columns)])
    rows = 0
    if backend.vendor == "postgresql":
        # Binary COPY (pgcopy): the server parses no text. FREEZE: the table was created in this
        # transaction, so its rows are written frozen and the checksum scan after commit sets no
        # hint bits (nobody reads a version before its pointer moves).
        with backend.raw.cursor() as cursor, cursor.copy(
            f"COPY {q(table)} ({names}) FROM STDIN (FORMAT binary, FREEZE)"
        ) as copy:
            copy.write(pgcopy.HEADER)
            for batch in batches:
                copy.write(pgcopy.encode_batch(batch, rows, columns))
                rows += batch.num_rows
                if on_progress is not None:
                    on_progress(rows)
            copy.write(pgcopy.TRAILER)
        return rows
    placeholders = ", ".join("?" for _ in range(len(columns) + 1))
    insert = f"INSERT INTO {q(table)} ({names}) VALUES ({placeholders})"
    cursor = backend.raw.cursor()
    if backend.vendor == "microsoft":
        cursor.fast_executemany = True  # pyodbc's array binding; untested here (no SQL Server)
    for batch in batches:
        cursor.executemany(insert, _python_rows(batch, rows, columns, backend.vendor))
        rows += batch.num_rows
        if on_progress is not None:
            on_progress(rows)
    cursor.close()
    return rows


def _load(backend: Backend, *, key: str, kind: str, table_prefix: str, schema: list[dict],
          arrow_schema: pa.Schema, batches: Callable[[], Iterator[pa.RecordBatch]], load_id: str,
          manifest_sha256: str, on_progress) -> LoadResult:
    """Load batches (columns in schema's order) under the schema's curated columns (columns_of)."""
    q = backend.quote
    columns = columns_of(schema)
    ensure_registry(backend)
    registry = f"SELECT {q('version')}, {q('table_name')}, {q('rows')}, {q('checksum')}, {q('state')} FROM {q(REGISTRY)}"
    with backend.dataset_lock(key):
        with backend.transaction():
            previous = backend.execute(
                f"{registry} WHERE {q('dataset_key')} = %s AND {q('load_id')} = %s AND {q('manifest_sha256')} = %s "
                f"ORDER BY {q('version')} DESC",
                (key, load_id, manifest_sha256),
            )
            for version, table, rows, checksum, state in previous:
                if state in VERIFIED_STATES:
                    return LoadResult(version, table, rows, checksum, reused=True)
            for version, table, _, _, state in previous:
                if state == State.LOADING:
                    # A killed worker's half load (we hold the dataset's lock, so nobody is still
                    # writing it): its table goes, its row stays as failed history.
                    backend.execute(f"DROP TABLE IF EXISTS {q(table)}")
                    set_state(backend, key, version, State.FAILED)
            top = backend.execute(f"SELECT max({q('version')}) FROM {q(REGISTRY)} WHERE {q('dataset_key')} = %s", (key,))
            version = (top[0][0] or 0) + 1
            table = f"{table_prefix}__v{version}"
            backend.execute(
                f"INSERT INTO {q(REGISTRY)} ({q('dataset_key')}, {q('version')}, {q('kind')}, {q('table_name')}, "
                f"{q('load_id')}, {q('manifest_sha256')}, {q('schema')}, {q('state')}) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (key, version, kind, table, load_id, manifest_sha256,
                 json.dumps(schema_record(schema)), State.LOADING),
            )

        body = ", ".join(
            [f"{q(ROW_COLUMN)} BIGINT NOT NULL"]
            + [f"{q(n)} {column_sql_type(backend.vendor, t, getattr(f.type, 'scale', 0))}"
               for (n, t), f in zip(columns, arrow_schema, strict=True)]
        )
        expected: dict = {}

        def checksum_silver() -> None:
            try:
                _yield_cpu()
                expected["value"] = silver_checksum(batches, arrow_schema, columns)
            except BaseException as exc:  # noqa: BLE001 -- re-raised in the loading thread below
                expected["error"] = exc

        # Silver's checksum reads the Parquet on its own, in a thread (Arrow compute releases the GIL)
        # at the lowest priority: it takes the CPU the COPY leaves idle, then runs beside the table's
        # scan. The table is checksummed once its transaction has committed: the same rows, scanned
        # twice as fast as while they are still our own uncommitted ones (measured); a change made
        # after this scan is what promote_version's re-verification under lock is there for.
        worker = threading.Thread(target=checksum_silver, name=f"silver-checksum-{version}", daemon=True)
        try:
            # Table, rows and unique key in one transaction: a worker killed here leaves no table, only its
            # registry row.
            with backend.transaction():
                backend.execute(f"DROP TABLE IF EXISTS {q(table)}")
                backend.execute(f"CREATE TABLE {q(table)} ({body})")
                worker.start()
                _bulk_load(backend, table, columns, batches(), on_progress)
                # `_row` is the version's row key (one table per snapshot: its manifest_sha256 is in the
                # registry), unique in the database itself: built after the rows, in one sorted pass, so
                # the COPY maintains no index; a duplicate fails the load here, and no later write can
                # add one.
                backend.execute(row_key_sql(backend, table))
            fault_point("curated.loaded")
            rows, checksum = table_checksum(backend, table, columns)
        except BaseException:
            set_state(backend, key, version, State.FAILED)
            raise
        finally:
            if worker.is_alive():
                worker.join()
        if "error" in expected or "value" not in expected:
            set_state(backend, key, version, State.FAILED)
            raise expected.get("error") or CuratedError("silver's checksum did not run")
        silver_rows, silver_sum = expected["value"]
        ok = (rows, checksum) == (silver_rows, silver_sum)
        with backend.transaction():
            backend.execute(
                f"UPDATE {q(REGISTRY)} SET {q('rows')} = %s, {q('checksum')} = %s, {q('loaded_at')} = %s, "
                f"{q('state')} = %s WHERE {q('dataset_key')} = %s AND {q('version')} = %s",
                (rows, silver_sum, backend.timestamp(clock.now()), State.VERIFIED if ok else State.FAILED,
                 key, version),
            )
    if not ok:
        raise ChecksumMismatch(
            f"{table}: {rows} rows, checksum {checksum}; silver has {silver_rows} rows, checksum {silver_sum}"
        )
    fault_point("curated.verified")
    return LoadResult(version, table, rows, checksum, reused=False)


def load_dataset(*, connection, dataset_key: str, parquet_path: Path | str, schema: list[dict], load_id: str,
                 manifest_sha256: str, on_progress: Callable[[int], None] | None = None) -> LoadResult:
    """Load a dataset's silver Parquet (a local file) into a new verified version, or reuse the one
    this (load_id, manifest_sha256) already loaded. Raises ChecksumMismatch (version failed, table
    kept for inspection) when the table does not hold silver's rows. The pointer never moves here."""
    backend = Backend(connection)
    schema = [{"name": c["name"], "type": c["type"]} for c in schema]
    parquet = pq.ParquetFile(parquet_path)
    if parquet.schema_arrow.names != [c["name"] for c in schema]:
        raise CuratedError(f"{parquet_path}: Parquet columns differ from the dataset's schema")

    def batches() -> Iterator[pa.RecordBatch]:
        return pq.ParquetFile(parquet_path).iter_batches(batch_size=BATCH_ROWS)

    return _load(backend, key=dataset_key, kind="dataset", table_prefix=f"curated_{dataset_slug(dataset_key)}",
                 schema=schema, arrow_schema=parquet.schema_arrow, batches=batches, load_id=load_id,
                 manifest_sha256=manifest_sha256, on_progress=on_progress)


def golden_key(card_id: int) -> str:
    return f"golden:{int(card_id)}"


def load_golden(*, connection, card_id: int, golden_csv: Path | str, load_id: str, manifest_sha256: str,
                max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES) -> LoadResult:
    """Load a card's golden.csv (all columns text) into `curated_golden_<card id>__v<N>`, registered
    under golden_key(card_id) with kind "golden"; same idempotency and verification as datasets. Fields
    are read up to the intake's limit (max_field_bytes), as validation checked them."""
    with Path(golden_csv).open(newline="", encoding="utf-8-sig") as handle:
        records = read_records(handle, max_field_bytes)
    header, body = (records[0] if records else []), records[1:]
    schema = [{"name": name, "type": "STRING"} for name in header]
    table = pa.table({name: [row[i] if i < len(row) else None for row in body] for i, name in enumerate(header)},
                     schema=pa.schema([pa.field(name, pa.string()) for name in header]))
    return _load(Backend(connection), key=golden_key(card_id), kind="golden",
                 table_prefix=f"curated_golden_{int(card_id)}", schema=schema, arrow_schema=table.schema,
                 batches=lambda: iter(table.to_batches(BATCH_ROWS)), load_id=load_id,
                 manifest_sha256=manifest_sha256, on_progress=None)
