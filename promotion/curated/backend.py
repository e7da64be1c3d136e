"""The curated store's vocabulary and its connections: states, errors, identifiers, types,
one Backend per connection (dialect, quoting, transactions) and the registry tables."""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from contextlib import contextmanager
from dataclasses import dataclass

REGISTRY = "curated_registry"
CURRENT = "curated_current"
MOVES = "curated_moves"  # every pointer move, written in the move's own transaction (pointer.py)
ROW_COLUMN = "_row"
ROW_KEY_SUFFIX = "__row_key"  # a version table's unique index on ROW_COLUMN: row_key_name()
BATCH_ROWS = 64 * 1024
MAX_IDENTIFIER_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1, the tightest of our backends
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


class PointerBusy(CuratedError):
    """Another session held a lock the pointer move needs past the lock timeout: nothing moved; retry later."""


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
    """Names a curated table can hold, each under its sql_identifiers() identifier (InvalidIdentifier
    naming the column otherwise)."""
    seen = set()
    for position, name in enumerate(names, start=1):
        if not isinstance(name, str) or not name:
            raise InvalidIdentifier(f"column {position} has no name")
        if "\x00" in name:
            raise InvalidIdentifier(f"column {name!r} contains NUL")
        if name in seen:
            raise InvalidIdentifier(f"column {name!r} appears twice")
        seen.add(name)


def sql_identifiers(names: list[str]) -> list[str]:
    """The curated column of each name: the name itself when it fits in MAX_IDENTIFIER_BYTES (PostgreSQL
    would cut it silently at 63 bytes, so two long names sharing their first 63 bytes would collide) and
    is not ROW_COLUMN, otherwise its first bytes (whole characters) then `~` and the start of its SHA-256.

    Deterministic (the same names always get the same identifiers, in any export) and collision-free:
    should a shortened name equal another identifier, longer hashes are taken until none does. The
    approver sees each shortened name beside its original before approving, and the registry keeps both."""
    validate_columns(names)
    for digits in (8, 16, 32, 64):
        identifiers = [_fitted(name, digits) for name in names]
        if len(set(identifiers)) == len(identifiers) and ROW_COLUMN not in identifiers:
            return identifiers
    raise InvalidIdentifier("column names that cannot be told apart within 63 bytes")  # a SHA-256 collision


def _fitted(name: str, digits: int) -> str:
    if len(name.encode()) <= MAX_IDENTIFIER_BYTES and name != ROW_COLUMN:
        return name
    suffix = "~" + hashlib.sha256(name.encode()).hexdigest()[:digits]
    room = MAX_IDENTIFIER_BYTES - len(suffix)
    return name.encode()[:room].decode("utf-8", "ignore") + suffix


def row_key_name(table: str) -> str:
    """The name of a version table's unique index on ROW_COLUMN: `<table>__row_key` when that fits in
    MAX_IDENTIFIER_BYTES (PostgreSQL would cut a longer one silently), otherwise the table's first bytes
    then `~` and the start of the table name's SHA-256. Deterministic: a table always names the same index,
    and two tables never name the same one (index names are per schema on PostgreSQL and SQLite)."""
    name = table + ROW_KEY_SUFFIX
    if len(name.encode()) <= MAX_IDENTIFIER_BYTES:
        return name
    suffix = "~" + hashlib.sha256(table.encode()).hexdigest()[:16]
    return table.encode()[:MAX_IDENTIFIER_BYTES - len(suffix)].decode("utf-8", "ignore") + suffix


def row_key_sql(backend: Backend, table: str) -> str:
    """The statement that makes ROW_COLUMN a unique key of a version table: the same CREATE UNIQUE INDEX on
    PostgreSQL, SQLite and SQL Server (T-SQL: bracket-quoted, a nonclustered index on the heap)."""
    q = backend.quote
    return f"CREATE UNIQUE INDEX {q(row_key_name(table))} ON {q(table)} ({q(ROW_COLUMN)})"


def column_sql_type(vendor: str, domo_type: str, scale: int) -> str:
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
class Backend:
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
            if params:
                cursor.execute(self.sql(text), params)
            else:
                # No placeholders, so none may be read: a quoted column such as "Discount (17%)"
                # must reach the server as written (psycopg parses % whenever params are given).
                cursor.execute(text)
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
    backend = connection if isinstance(connection, Backend) else Backend(connection)
    q = backend.quote
    when = {"postgresql": "timestamp with time zone", "sqlite": "TEXT", "microsoft": "DATETIMEOFFSET"}
    states = ", ".join(f"'{s}'" for s in (State.LOADING, *VERIFIED_STATES, State.FAILED))
    tables = {
        REGISTRY: (
            f"{q('dataset_key')} VARCHAR(100) NOT NULL, {q('version')} INTEGER NOT NULL, "
            f"{q('kind')} VARCHAR(16) NOT NULL, {q('table_name')} VARCHAR(63) NOT NULL, "
            f"{q('load_id')} VARCHAR(100) NOT NULL, {q('manifest_sha256')} VARCHAR(64) NOT NULL, "
            f"{q('rows')} BIGINT NULL, {q('checksum')} VARCHAR(64) NULL, "
            f"{q('schema')} {'NVARCHAR(MAX)' if backend.vendor == 'microsoft' else 'TEXT'} NOT NULL, "
            f"{q('loaded_at')} {when[backend.vendor]} NULL, "
            f"{q('state')} VARCHAR(16) NOT NULL CHECK ({q('state')} IN ({states})), "
            f"PRIMARY KEY ({q('dataset_key')}, {q('version')})"
        ),
        CURRENT: f"{q('dataset_key')} VARCHAR(100) NOT NULL PRIMARY KEY, {q('version')} INTEGER NOT NULL",
        # The pointer's history, an outbox for the audit trail (which may live in another database): a move
        # and its row commit together, and `audited_at` is set once the trail holds the move.
        # Its ids are numbered by the mover under a lock (pointer._move), not by an identity column: the same
        # on every backend, and a copy of the table (a backup, a test's snapshot) keeps numbering on.
        MOVES: (
            f"{q('id')} BIGINT NOT NULL PRIMARY KEY, {q('dataset_key')} VARCHAR(100) NOT NULL, "
            f"{q('from_version')} INTEGER NULL, "
            f"{q('to_version')} INTEGER NOT NULL, {q('moved_at')} {when[backend.vendor]} NOT NULL, "
            f"{q('ref')} VARCHAR(200) NOT NULL, {q('audited_at')} {when[backend.vendor]} NULL"
        ),
    }
    for name, body in tables.items():
        if backend.vendor == "microsoft":
            backend.execute(f"IF OBJECT_ID(N'{name}') IS NULL CREATE TABLE {q(name)} ({body})")
        else:
            backend.execute(f"CREATE TABLE IF NOT EXISTS {q(name)} ({body})")


def registry_exists(backend: Backend, table: str = CURRENT) -> bool:
    """Whether the registry is there: readers check, they never create it (they may not be allowed to)."""
    probe = {
        "postgresql": "SELECT to_regclass(%s) IS NOT NULL",
        "sqlite": "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = %s",
        "microsoft": "SELECT CASE WHEN OBJECT_ID(%s) IS NULL THEN 0 ELSE 1 END",
    }[backend.vendor]
    return bool(backend.execute(probe, (table,))[0][0])


def columns_of(schema: list[dict]) -> list[tuple[str, str]]:
    """(curated column, type) of each column of a schema [{name, type}]: the SQL side of a load."""
    names = [c["name"] for c in schema]
    return list(zip(sql_identifiers(names), (c["type"] for c in schema), strict=True))


def schema_record(schema: list[dict]) -> list[dict]:
    """The registry's copy of a schema: each column's name, type and curated column (the mapping)."""
    identifiers = sql_identifiers([c["name"] for c in schema])
    return [{"name": c["name"], "type": c["type"], "column": column} for c, column in zip(schema, identifiers)]



def set_state(backend: Backend, key: str, version: int, state: str) -> None:
    q = backend.quote
    backend.execute(
        f"UPDATE {q(REGISTRY)} SET {q('state')} = %s WHERE {q('dataset_key')} = %s AND {q('version')} = %s",
        (state, key, version),
    )



def registry_row(backend: Backend, key: str, version: int):
    q = backend.quote
    found = backend.execute(
        f"SELECT {q('table_name')}, {q('checksum')}, {q('rows')}, {q('state')}, {q('schema')} FROM {q(REGISTRY)} "
        f"WHERE {q('dataset_key')} = %s AND {q('version')} = %s",
        (key, version),
    )
    if not found:
        raise CuratedError(f"{key} has no version {version}")
    return found[0]
