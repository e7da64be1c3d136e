"""The curated load: silver Parquet into versioned tables of the curated database, verified, then pointed at.

Plain module, no models: it takes a connection of the curated alias (a Django connection wrapper,
e.g. `connections["curated"]`, or a raw DB-API connection in autocommit mode: psycopg 3, sqlite3
with isolation_level=None, pyodbc) and manages its own short transactions, so it must not be
called inside an atomic block. Django never migrates "curated"; the registry tables are created
here on first use.

- Each load goes into a fresh table `curated_<slug>__v<N>` (slug from the Domo id, never from
  export text), with a hidden `_row` bigint row number. Column names come from the export: they
  are validated and always quoted here, doubling embedded quotes (Django's quote_name does not
  escape them, so `x"; DROP TABLE y; --` would break out of its quotes).
- `curated_registry` records every version (state loading → verified | failed; verified →
  current → superseded); `curated_current` is the pointer readers follow. The pointer moves with
  one UPDATE/INSERT in a short transaction, so readers see the old version or the new.
- Verification: row count and a content checksum computed the same way over silver (DuckDB over
  the Parquet) and over the loaded table (SQL on PostgreSQL, Python over the rows elsewhere):
  the sum of the first 60 bits of md5 over each row's canonical text. Canonical text: `_row`,
  then per column `|` and `~` for NULL, or for STRING `<utf-8 bytes>:<text>`, or the value's exact
  text: LONG and DECIMAL their decimal digits (DECIMAL at its scale), DOUBLE its IEEE-754 bits as
  a signed int64, DATE days since 1970-01-01, DATETIME microseconds since 1970-01-01 (none of which
  can hold `|` or `~`, so only text needs its length). Exact for every type, order-independent,
  one scan each side.
- Bulk paths: PostgreSQL `COPY ... FROM STDIN (FORMAT csv)` fed with CSV that Arrow writes per
  record batch (C speed, strings always quoted, NULL unquoted-empty); SQLite `executemany`;
  SQL Server pyodbc `fast_executemany` (written, not testable here).
- Idempotent per (dataset_key, load_id, manifest_sha256). On PostgreSQL a session advisory lock
  per dataset is held for the whole load: a killed worker's lock dies with its session, so a
  retry that gets the lock knows the `loading` row it finds is abandoned.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

REGISTRY = "curated_registry"
CURRENT = "curated_current"
ROW_COLUMN = "_row"
BATCH_ROWS = 64 * 1024
MAX_IDENTIFIER_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1, the tightest of our backends
_EPOCH_DATE = dt.date(1970, 1, 1)
_EPOCH = dt.datetime(1970, 1, 1)
_SLUG = re.compile(r"^[a-z0-9_]+$")


class State:
    """States of a curated_registry row (the registry is a table of this module, not a Django model)."""

    LOADING = "loading"
    VERIFIED = "verified"
    CURRENT = "current"
    SUPERSEDED = "superseded"
    FAILED = "failed"


# Versions whose table holds verified data: they can be reused by a retry and pointed at.
VERIFIED_STATES = (State.VERIFIED, State.CURRENT, State.SUPERSEDED)


class CuratedError(Exception):
    """The curated load could not do what it was asked."""


class InvalidIdentifier(CuratedError, ValueError):
    """A dataset key or column name cannot name a curated table or column."""


class LoadBusy(CuratedError):
    """Another live session is loading this dataset."""


class ChecksumMismatch(CuratedError):
    """The loaded table does not hold silver's rows: the version is failed, the pointer untouched."""


@dataclass(frozen=True)
class LoadResult:
    version: int
    table: str
    rows: int
    checksum: str
    reused: bool


@dataclass(frozen=True)
class CurrentVersion:
    version: int
    table: str


# --- identifiers and types ---------------------------------------------------------------------------
def dataset_slug(dataset_key: str) -> str:
    """The table-name slug of a Domo dataset id (hex and dashes): lower-case, dashes dropped."""
    slug = dataset_key.lower().replace("-", "")
    if not _SLUG.match(slug) or len(slug) > 40:
        raise InvalidIdentifier(f"dataset key {dataset_key!r} is not a Domo id")
    return slug


def validate_columns(names: list[str]) -> None:
    seen = set()
    for name in names:
        if not isinstance(name, str) or not name:
            raise InvalidIdentifier("a column name is empty")
        if "\x00" in name:
            raise InvalidIdentifier(f"column {name!r} contains NUL")
        if len(name.encode()) > MAX_IDENTIFIER_BYTES:
            raise InvalidIdentifier(f"column {name!r} is longer than {MAX_IDENTIFIER_BYTES} bytes")
        if name == ROW_COLUMN:
            raise InvalidIdentifier(f"column {name!r} is reserved for the row number")
        if name in seen:
            raise InvalidIdentifier(f"column {name!r} appears twice")
        seen.add(name)


def _column_sql_type(vendor: str, domo_type: str, scale: int) -> str:
    types = {
        "postgresql": {"STRING": "text", "LONG": "bigint", "DOUBLE": "double precision",
                       "DECIMAL": f"numeric(38,{scale})", "DATE": "date", "DATETIME": "timestamp"},
        # SQLite's NUMERIC affinity keeps only 15 significant digits; exact decimals are kept as
        # their canonical text instead (SQLite arithmetic still reads them as numbers).
        "sqlite": {"STRING": "TEXT", "LONG": "INTEGER", "DOUBLE": "REAL", "DECIMAL": "TEXT",
                   "DATE": "DATE", "DATETIME": "DATETIME"},
        "microsoft": {"STRING": "NVARCHAR(MAX)", "LONG": "BIGINT", "DOUBLE": "FLOAT",
                      "DECIMAL": f"DECIMAL(38,{scale})", "DATE": "DATE", "DATETIME": "DATETIME2(6)"},
    }
    try:
        return types[vendor][domo_type]
    except KeyError:
        raise CuratedError(f"no curated type for {domo_type!r} on {vendor}") from None


# --- backends ----------------------------------------------------------------------------------------
class _Backend:
    """One connection of the curated database: its dialect, quoting and transactions."""

    def __init__(self, connection):
        if hasattr(connection, "ensure_connection") and hasattr(connection, "vendor"):  # Django wrapper
            if connection.in_atomic_block:
                raise CuratedError("the curated load runs its own transactions: call it outside atomic()")
            connection.ensure_connection()
            self.vendor, self.raw = connection.vendor, connection.connection
        else:
            module = type(connection).__module__.split(".")[0]
            self.vendor = {"psycopg": "postgresql", "sqlite3": "sqlite", "pyodbc": "microsoft"}.get(module)
            if self.vendor is None:
                raise CuratedError(f"unsupported connection {type(connection).__name__}")
            self.raw = connection
        self.param = "%s" if self.vendor == "postgresql" else "?"

    def quote(self, name: str) -> str:
        if self.vendor == "microsoft":
            return "[" + name.replace("]", "]]") + "]"
        return '"' + name.replace('"', '""') + '"'

    def sql(self, text: str) -> str:
        """Registry SQL is written with %s placeholders; sqlite3 and pyodbc want ?."""
        return text if self.param == "%s" else text.replace("%s", "?")

    @contextmanager
    def transaction(self):
        if self.vendor == "postgresql":
            with self.raw.transaction():
                yield
        elif self.vendor == "sqlite":
            self.raw.execute("BEGIN IMMEDIATE")  # take the write lock now, not at the first write
            try:
                yield
            except BaseException:
                self.raw.execute("ROLLBACK")
                raise
            self.raw.execute("COMMIT")
        else:
            self.raw.autocommit = False
            try:
                yield
                self.raw.commit()
            except BaseException:
                self.raw.rollback()
                raise
            finally:
                self.raw.autocommit = True

    def execute(self, text: str, params=()) -> list:
        cursor = self.raw.cursor()
        try:
            cursor.execute(self.sql(text), params)
            return cursor.fetchall() if cursor.description else []
        finally:
            cursor.close()

    def timestamp(self, value: dt.datetime):
        return value.isoformat() if self.vendor == "sqlite" else value

    @contextmanager
    def dataset_lock(self, key: str):
        """PostgreSQL: a session lock per dataset for the whole load (it dies with a killed worker)."""
        if self.vendor != "postgresql":
            yield  # SQLite has one writer; SQL Server relies on the registry's primary key
            return
        lock = "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))"
        if not self.execute(lock, (f"curated:{key}",))[0][0]:
            raise LoadBusy(f"another session is loading {key}")
        try:
            yield
        finally:
            self.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (f"curated:{key}",))


def ensure_registry(connection) -> None:
    """Create curated_registry and curated_current if absent (Django never migrates "curated")."""
    backend = connection if isinstance(connection, _Backend) else _Backend(connection)
    q = backend.quote
    when = {"postgresql": "timestamp with time zone", "sqlite": "TEXT", "microsoft": "DATETIMEOFFSET"}
    states = ", ".join(f"'{s}'" for s in (State.LOADING, *VERIFIED_STATES, State.FAILED))
    tables = {
        REGISTRY: (
            f"{q('dataset_key')} VARCHAR(100) NOT NULL, {q('version')} INTEGER NOT NULL, "
            f"{q('kind')} VARCHAR(16) NOT NULL, {q('table_name')} VARCHAR(63) NOT NULL, "
            f"{q('load_id')} VARCHAR(100) NOT NULL, {q('manifest_sha256')} VARCHAR(64) NOT NULL, "
            f"{q('rows')} BIGINT NULL, {q('checksum')} VARCHAR(64) NULL, {q('schema')} TEXT NOT NULL, "
            f"{q('loaded_at')} {when[backend.vendor]} NULL, "
            f"{q('state')} VARCHAR(16) NOT NULL CHECK ({q('state')} IN ({states})), "
            f"PRIMARY KEY ({q('dataset_key')}, {q('version')})"
        ),
        CURRENT: f"{q('dataset_key')} VARCHAR(100) NOT NULL PRIMARY KEY, {q('version')} INTEGER NOT NULL",
    }
    for name, body in tables.items():
        if backend.vendor == "microsoft":
            backend.execute(f"IF OBJECT_ID(N'{name}') IS NULL CREATE TABLE {q(name)} ({body})")
        else:
            backend.execute(f"CREATE TABLE IF NOT EXISTS {q(name)} ({body})")


# --- checksum ------------------------------------------------------------------------------------------
def _row_hash_sql(dialect: str, quote, columns: list[tuple[str, str]]) -> str:
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


def _canonical_py(value, domo_type: str) -> str:
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


def _table_checksum(backend: _Backend, table: str, columns: list[tuple[str, str]]) -> tuple[int, str]:
    """(rows, checksum) of a loaded table, computed the same way as silver_checksum."""
    q = backend.quote
    if backend.vendor == "postgresql":
        rows, total = backend.execute(
            f"SELECT count(*), sum({_row_hash_sql('postgresql', q, columns)}) FROM {q(table)}"
        )[0]
        return rows, str(total or 0)
    # SQLite and SQL Server have no md5 in SQL: hash the rows here, one scan, constant memory.
    cursor = backend.raw.cursor()
    cursor.execute(f"SELECT {', '.join(q(c) for c in [ROW_COLUMN, *(n for n, _ in columns)])} FROM {q(table)}")
    rows = total = 0
    while chunk := cursor.fetchmany(BATCH_ROWS):
        for record in chunk:
            text = str(record[0]) + "".join(_canonical_py(v, t) for v, (_, t) in zip(record[1:], columns))
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
            f"SELECT count(*), sum({_row_hash_sql('duckdb', quote, columns)}) FROM silver"
        ).fetchone()
    return rows, str(total or 0)


# --- bulk paths ----------------------------------------------------------------------------------------
def _with_row_numbers(batch: pa.RecordBatch, start: int) -> pa.RecordBatch:
    numbers = pa.array(range(start, start + batch.num_rows), pa.int64())
    return pa.RecordBatch.from_arrays([numbers, *batch.columns], names=[ROW_COLUMN, *batch.schema.names])


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


def _bulk_load(backend: _Backend, table: str, columns: list[tuple[str, str]], batches: Iterator[pa.RecordBatch],
               on_progress: Callable[[int], None] | None) -> int:
    q = backend.quote
    names = ", ".join(q(c) for c in [ROW_COLUMN, *(n for n, _ in columns)])
    rows = 0
    if backend.vendor == "postgresql":
        options = pacsv.WriteOptions(include_header=False, batch_size=BATCH_ROWS)
        with backend.raw.cursor() as cursor, cursor.copy(
            f"COPY {q(table)} ({names}) FROM STDIN (FORMAT csv)"
        ) as copy:
            for batch in batches:
                buffer = io.BytesIO()
                pacsv.write_csv(_with_row_numbers(batch, rows), buffer, options)
                copy.write(buffer.getbuffer())
                rows += batch.num_rows
                if on_progress is not None:
                    on_progress(rows)
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


# --- the load ------------------------------------------------------------------------------------------
def _columns(schema: list[dict]) -> list[tuple[str, str]]:
    columns = [(c["name"], c["type"]) for c in schema]
    validate_columns([name for name, _ in columns])
    return columns


def _load(backend: _Backend, *, key: str, kind: str, table_prefix: str, columns: list[tuple[str, str]],
          arrow_schema: pa.Schema, batches: Callable[[], Iterator[pa.RecordBatch]], load_id: str,
          manifest_sha256: str, on_progress) -> LoadResult:
    q = backend.quote
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
                    _set_state(backend, key, version, State.FAILED)
            top = backend.execute(f"SELECT max({q('version')}) FROM {q(REGISTRY)} WHERE {q('dataset_key')} = %s", (key,))
            version = (top[0][0] or 0) + 1
            table = f"{table_prefix}__v{version}"
            backend.execute(
                f"INSERT INTO {q(REGISTRY)} ({q('dataset_key')}, {q('version')}, {q('kind')}, {q('table_name')}, "
                f"{q('load_id')}, {q('manifest_sha256')}, {q('schema')}, {q('state')}) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (key, version, kind, table, load_id, manifest_sha256,
                 json.dumps([{"name": n, "type": t} for n, t in columns]), State.LOADING),
            )

        decimal_scales = {f.name: getattr(f.type, "scale", 0) for f in arrow_schema}
        body = ", ".join(
            [f"{q(ROW_COLUMN)} BIGINT NOT NULL"]
            + [f"{q(n)} {_column_sql_type(backend.vendor, t, decimal_scales.get(n, 0))}" for n, t in columns]
        )
        expected: dict = {}

        def checksum_silver() -> None:
            try:
                expected["value"] = silver_checksum(batches, arrow_schema, columns)
            except BaseException as exc:  # re-raised in the loading thread below
                expected["error"] = exc

        # Silver's checksum runs in DuckDB while the database scans the table: run during the
        # COPY instead, it only competes with it for the CPU (measured: the COPY took 1.8x longer).
        worker = threading.Thread(target=checksum_silver, daemon=True)
        try:
            # Table and rows in one transaction: a worker killed here leaves no table, only its row.
            with backend.transaction():
                backend.execute(f"DROP TABLE IF EXISTS {q(table)}")
                backend.execute(f"CREATE TABLE {q(table)} ({body})")
                _bulk_load(backend, table, columns, batches(), on_progress)
            worker.start()
            rows, checksum = _table_checksum(backend, table, columns)
        except BaseException:
            _set_state(backend, key, version, State.FAILED)
            raise
        finally:
            if worker.is_alive():
                worker.join()
        if "error" in expected or "value" not in expected:
            _set_state(backend, key, version, State.FAILED)
            raise expected.get("error") or CuratedError("silver's checksum did not run")
        silver_rows, silver_sum = expected["value"]
        ok = (rows, checksum) == (silver_rows, silver_sum)
        with backend.transaction():
            backend.execute(
                f"UPDATE {q(REGISTRY)} SET {q('rows')} = %s, {q('checksum')} = %s, {q('loaded_at')} = %s, "
                f"{q('state')} = %s WHERE {q('dataset_key')} = %s AND {q('version')} = %s",
                (rows, silver_sum, backend.timestamp(dt.datetime.now(dt.UTC)), State.VERIFIED if ok else State.FAILED,
                 key, version),
            )
    if not ok:
        raise ChecksumMismatch(
            f"{table}: {rows} rows, checksum {checksum}; silver has {silver_rows} rows, checksum {silver_sum}"
        )
    return LoadResult(version, table, rows, checksum, reused=False)


def _set_state(backend: _Backend, key: str, version: int, state: str) -> None:
    q = backend.quote
    backend.execute(
        f"UPDATE {q(REGISTRY)} SET {q('state')} = %s WHERE {q('dataset_key')} = %s AND {q('version')} = %s",
        (state, key, version),
    )


def load_dataset(*, connection, dataset_key: str, parquet_path: Path | str, schema: list[dict], load_id: str,
                 manifest_sha256: str, on_progress: Callable[[int], None] | None = None) -> LoadResult:
    """Load a dataset's silver Parquet (a local file) into a new verified version, or reuse the one
    this (load_id, manifest_sha256) already loaded. Raises ChecksumMismatch (version failed, table
    kept for inspection) when the table does not hold silver's rows. The pointer never moves here."""
    backend = _Backend(connection)
    columns = _columns(schema)
    parquet = pq.ParquetFile(parquet_path)
    if parquet.schema_arrow.names != [name for name, _ in columns]:
        raise CuratedError(f"{parquet_path}: Parquet columns differ from the dataset's schema")

    def batches() -> Iterator[pa.RecordBatch]:
        return pq.ParquetFile(parquet_path).iter_batches(batch_size=BATCH_ROWS)

    return _load(backend, key=dataset_key, kind="dataset", table_prefix=f"curated_{dataset_slug(dataset_key)}",
                 columns=columns, arrow_schema=parquet.schema_arrow, batches=batches, load_id=load_id,
                 manifest_sha256=manifest_sha256, on_progress=on_progress)


def golden_key(card_id: int) -> str:
    return f"golden:{int(card_id)}"


def load_golden(*, connection, card_id: int, golden_csv: Path | str, load_id: str, manifest_sha256: str) -> LoadResult:
    """Load a card's golden.csv (all columns text) into `curated_golden_<card id>__v<N>`, registered
    under golden_key(card_id) with kind "golden"; same idempotency and verification as datasets."""
    with Path(golden_csv).open(newline="", encoding="utf-8-sig") as handle:
        records = list(csv.reader(handle))
    header, body = (records[0] if records else []), records[1:]
    columns = _columns([{"name": name, "type": "STRING"} for name in header])
    table = pa.table({name: [row[i] if i < len(row) else None for row in body] for i, name in enumerate(header)},
                     schema=pa.schema([pa.field(name, pa.string()) for name in header]))
    return _load(_Backend(connection), key=golden_key(card_id), kind="golden",
                 table_prefix=f"curated_golden_{int(card_id)}", columns=columns, arrow_schema=table.schema,
                 batches=lambda: iter(table.to_batches(BATCH_ROWS)), load_id=load_id,
                 manifest_sha256=manifest_sha256, on_progress=None)


# --- the pointer ---------------------------------------------------------------------------------------
def _registry_row(backend: _Backend, key: str, version: int):
    q = backend.quote
    found = backend.execute(
        f"SELECT {q('table_name')}, {q('checksum')}, {q('rows')}, {q('state')}, {q('schema')} FROM {q(REGISTRY)} "
        f"WHERE {q('dataset_key')} = %s AND {q('version')} = %s",
        (key, version),
    )
    if not found:
        raise CuratedError(f"{key} has no version {version}")
    return found[0]


def verify_version(*, connection, dataset_key: str, version: int) -> None:
    """Recount and rechecksum a version's table against the registry (silver's figures); a table
    changed since its load marks the version failed and raises ChecksumMismatch."""
    backend = _Backend(connection)
    table, checksum, rows, _, schema = _registry_row(backend, dataset_key, version)
    found = _table_checksum(backend, table, _columns(json.loads(schema)))
    if found != (rows, checksum):
        _set_state(backend, dataset_key, version, State.FAILED)
        raise ChecksumMismatch(f"{table}: {found[0]} rows, checksum {found[1]}; registry says {rows}, {checksum}")


def promote_version(*, connection, dataset_key: str, version: int, verify: bool = True) -> None:
    """Point readers at a verified version, in one short transaction; the old current version
    becomes superseded. By default the table is re-verified first (outside the transaction: a
    full scan must not hold the pointer's lock), so a table changed since its load never goes live."""
    backend = _Backend(connection)
    ensure_registry(backend)
    if verify:
        verify_version(connection=connection, dataset_key=dataset_key, version=version)
    q = backend.quote
    lock = " FOR UPDATE" if backend.vendor == "postgresql" else ""
    hint = " WITH (UPDLOCK, HOLDLOCK)" if backend.vendor == "microsoft" else ""
    with backend.transaction():
        pointer = backend.execute(
            f"SELECT {q('version')} FROM {q(CURRENT)}{hint} WHERE {q('dataset_key')} = %s{lock}", (dataset_key,)
        )
        state = _registry_row(backend, dataset_key, version)[3]
        if state not in VERIFIED_STATES:
            raise CuratedError(f"{dataset_key} v{version} is {state}, not verified")
        old = pointer[0][0] if pointer else None
        if old == version:
            return
        if pointer:
            backend.execute(f"UPDATE {q(CURRENT)} SET {q('version')} = %s WHERE {q('dataset_key')} = %s",
                            (version, dataset_key))
            _set_state(backend, dataset_key, old, State.SUPERSEDED)
        else:
            backend.execute(f"INSERT INTO {q(CURRENT)} ({q('dataset_key')}, {q('version')}) VALUES (%s, %s)",
                            (dataset_key, version))
        _set_state(backend, dataset_key, version, State.CURRENT)


def rollback_to(*, connection, dataset_key: str, version: int) -> None:
    """Point readers back at an earlier verified version (the same pointer move as a promotion)."""
    current = read_current(connection, dataset_key)
    if current is None or version >= current.version:
        raise CuratedError(f"{dataset_key}: v{version} is not earlier than the current version")
    promote_version(connection=connection, dataset_key=dataset_key, version=version, verify=False)


def read_current(connection, dataset_key: str) -> CurrentVersion | None:
    """The version readers should read, and its table (one statement: a consistent pair)."""
    backend = _Backend(connection)
    q = backend.quote
    ensure_registry(backend)
    found = backend.execute(
        f"SELECT c.{q('version')}, r.{q('table_name')} FROM {q(CURRENT)} c JOIN {q(REGISTRY)} r "
        f"ON r.{q('dataset_key')} = c.{q('dataset_key')} AND r.{q('version')} = c.{q('version')} "
        f"WHERE c.{q('dataset_key')} = %s",
        (dataset_key,),
    )
    return CurrentVersion(*found[0]) if found else None


def current_schema(connection, dataset_key: str) -> tuple[int, list[dict]] | None:
    """(version, [{name, type}]) of the current version, for the schema-compatibility gate."""
    backend = _Backend(connection)
    q = backend.quote
    ensure_registry(backend)
    found = backend.execute(
        f"SELECT c.{q('version')}, r.{q('schema')} FROM {q(CURRENT)} c JOIN {q(REGISTRY)} r "
        f"ON r.{q('dataset_key')} = c.{q('dataset_key')} AND r.{q('version')} = c.{q('version')} "
        f"WHERE c.{q('dataset_key')} = %s",
        (dataset_key,),
    )
    return (found[0][0], json.loads(found[0][1])) if found else None


def versions(connection, dataset_key: str) -> list[dict]:
    """Every registered version of a dataset, newest first (for operators and tests)."""
    backend = _Backend(connection)
    q = backend.quote
    names = ("version", "kind", "table_name", "load_id", "manifest_sha256", "rows", "checksum", "loaded_at", "state")
    rows = backend.execute(
        f"SELECT {', '.join(q(n) for n in names)} FROM {q(REGISTRY)} WHERE {q('dataset_key')} = %s "
        f"ORDER BY {q('version')} DESC",
        (dataset_key,),
    )
    return [dict(zip(names, row)) for row in rows]


__all__ = [
    "ChecksumMismatch", "CuratedError", "CurrentVersion", "InvalidIdentifier", "LoadBusy",
    "LoadResult", "State", "ensure_registry", "golden_key", "load_dataset", "load_golden", "promote_version",
    "read_current", "current_schema", "rollback_to", "silver_checksum", "verify_version", "versions",
]
