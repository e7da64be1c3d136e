"""The current-version pointer: verify, promote, roll back, and what readers read."""
from __future__ import annotations

import json

from console import clock
from promotion.faults import fault_point

from .backend import (
    CURRENT,
    MOVES,
    REGISTRY,
    VERIFIED_STATES,
    Backend,
    ChecksumMismatch,
    CuratedError,
    CurrentVersion,
    PointerBusy,
    State,
    columns_of,
    ensure_registry,
    registry_exists,
    registry_row,
    set_state,
)
from .checksum import table_checksum


def verify_version(*, connection, dataset_key: str, version: int) -> None:
    """Recount and rechecksum a version's table against the registry (silver's figures); a table
    changed since its load marks the version failed and raises ChecksumMismatch."""
    backend = Backend(connection)
    table, checksum, rows, _, schema = registry_row(backend, dataset_key, version)
    found = table_checksum(backend, table, columns_of(json.loads(schema)))
    if found != (rows, checksum):
        set_state(backend, dataset_key, version, State.FAILED)
        raise ChecksumMismatch(f"{table}: {found[0]} rows, checksum {found[1]}; registry says {rows}, {checksum}")


def promote_version(*, connection, dataset_key: str, version: int, verify: bool = True, ref: str = "",
                    lock_timeout: float | None = None) -> None:
    """Point readers at one verified version (promote_versions with one move)."""
    promote_versions(connection=connection, moves=[(dataset_key, version)], verify=verify, ref=ref,
                     lock_timeout=lock_timeout)


class _Mismatch(Exception):
    """A table changed since its load, found inside the pointers' transaction: every move of it rolls back."""

    def __init__(self, key: str, version: int, error: ChecksumMismatch):
        super().__init__(str(error))
        self.key, self.version, self.error = key, version, error


def promote_versions(*, connection, moves: list[tuple[str, int]], verify: bool = True, ref: str = "",
                     lock_timeout: float | None = None) -> list[tuple[str, int | None, int]]:
    """Point readers at verified versions, every pointer in one transaction that readers never wait for:
    they see all the old versions or all the new ones, whatever happens to this process. Each old current
    version becomes superseded, and each move is written to `curated_moves` in the same transaction (the
    audit trail's outbox: promotion.services.reconcile). By default each table is re-verified against the
    registry first, so a table changed since its load never goes live (that version is failed, no pointer
    moves). Returns the moves made, (key, from, to); a pointer already at its version is left alone.

    On PostgreSQL the re-verification runs inside the pointers' transaction, under each pointer row's lock
    and a SHARE lock on the version's table: readers read on (of the old versions or these), nobody can
    change a table between its check and the move, and only another move of the same pointer waits for the
    scan. Elsewhere it runs just before the transaction (SQLite has one writer, which a scan must not hold),
    which leaves that short gap open.

    lock_timeout (seconds; PostgreSQL and SQL Server): a lock held by another session past it (a reader
    pinning a pointer FOR SHARE, a writer on a version's table) aborts the transaction, nothing moved, with
    PointerBusy: the caller retries later instead of queueing every later reader behind the wait."""
    backend = Backend(connection)
    ensure_registry(backend)
    in_transaction = verify and backend.vendor == "postgresql"
    if verify and not in_transaction:
        for key, version in moves:
            verify_version(connection=connection, dataset_key=key, version=version)
    made: list[tuple[str, int | None, int]] = []
    try:
        with backend.transaction():
            _set_lock_timeout(backend, lock_timeout)
            for key, version in sorted(moves):  # one lock order for every mover: no deadlock between two
                moved = _move(backend, key, version, verify=in_transaction, ref=ref)
                if moved is not None:
                    made.append(moved)
            fault_point("curated.pointer_moving")
    except _Mismatch as mismatch:  # the pointers did not move; that version is failed for good
        set_state(backend, mismatch.key, mismatch.version, State.FAILED)
        raise mismatch.error from None
    except CuratedError:
        raise
    except Exception as exc:
        if _is_lock_timeout(backend, exc):
            keys = ", ".join(key for key, _ in sorted(moves))
            raise PointerBusy(
                f"waiting for readers: another session held a lock the pointer move of {keys} needs for more than "
                f"{lock_timeout:g} s (a reader pinning the pointer, or a writer on the version's table); "
                "nothing moved"
            ) from exc
        raise
    if made:
        fault_point("curated.pointer_moved")
    return made


def _set_lock_timeout(backend: Backend, seconds: float | None) -> None:
    if not seconds:
        return
    if backend.vendor == "postgresql":
        backend.execute(f"SET LOCAL lock_timeout = {int(seconds * 1000)}")
    elif backend.vendor == "microsoft":
        backend.execute(f"SET LOCK_TIMEOUT {int(seconds * 1000)}")
    # SQLite: BEGIN IMMEDIATE already waits at most the connection's busy timeout.


def _is_lock_timeout(backend: Backend, exc: Exception) -> bool:
    if backend.vendor == "postgresql":
        return getattr(exc, "sqlstate", None) == "55P03"  # lock_not_available
    if backend.vendor == "microsoft":
        return "1222" in str(exc)  # Lock request time out period exceeded
    return False


def _move(backend: Backend, key: str, version: int, *, verify: bool, ref: str) -> tuple[str, int | None, int] | None:
    """One pointer's move inside the caller's transaction: (key, from, to), or None when already there."""
    q = backend.quote
    lock = " FOR UPDATE" if backend.vendor == "postgresql" else ""
    hint = " WITH (UPDLOCK, HOLDLOCK)" if backend.vendor == "microsoft" else ""
    pointer = backend.execute(f"SELECT {q('version')} FROM {q(CURRENT)}{hint} WHERE {q('dataset_key')} = %s{lock}", (key,))
    table, checksum, rows, state, schema = registry_row(backend, key, version)
    if state not in VERIFIED_STATES:
        raise CuratedError(f"{key} v{version} is {state}, not verified")
    old = pointer[0][0] if pointer else None
    if old == version:
        return None
    if verify:
        backend.execute(f"LOCK TABLE {q(table)} IN SHARE MODE")
        found = table_checksum(backend, table, columns_of(json.loads(schema)))
        if found != (rows, checksum):
            raise _Mismatch(key, version, ChecksumMismatch(
                f"{table}: {found[0]} rows, checksum {found[1]}; registry says {rows}, {checksum}"))
    if pointer:
        backend.execute(f"UPDATE {q(CURRENT)} SET {q('version')} = %s WHERE {q('dataset_key')} = %s", (version, key))
        set_state(backend, key, old, State.SUPERSEDED)
    else:
        backend.execute(f"INSERT INTO {q(CURRENT)} ({q('dataset_key')}, {q('version')}) VALUES (%s, %s)", (key, version))
    set_state(backend, key, version, State.CURRENT)
    if backend.vendor == "postgresql":  # movers of other pointers take their numbers one at a time
        backend.execute(f"LOCK TABLE {q(MOVES)} IN SHARE ROW EXCLUSIVE MODE")
    hint = " WITH (TABLOCKX, HOLDLOCK)" if backend.vendor == "microsoft" else ""
    number = (backend.execute(f"SELECT max({q('id')}) FROM {q(MOVES)}{hint}")[0][0] or 0) + 1
    backend.execute(
        f"INSERT INTO {q(MOVES)} ({q('id')}, {q('dataset_key')}, {q('from_version')}, {q('to_version')}, "
        f"{q('moved_at')}, {q('ref')}) VALUES (%s, %s, %s, %s, %s, %s)",
        (number, key, old, version, backend.timestamp(clock.now()), ref[:200]),
    )
    return key, old, version


def rollback_to(*, connection, dataset_key: str, version: int, verify: bool = False, ref: str = "",
                lock_timeout: float | None = None) -> None:
    """Point readers back at an earlier verified version (the same pointer move as a promotion).
    verify=True re-verifies the table inside the move (see promote_version), with no gap between a
    separate verify_version and the move."""
    current = read_current(connection, dataset_key)
    if current is None or version >= current.version:
        raise CuratedError(f"{dataset_key}: v{version} is not earlier than the current version")
    promote_version(connection=connection, dataset_key=dataset_key, version=version, verify=verify, ref=ref,
                    lock_timeout=lock_timeout)


def read_current(connection, dataset_key: str) -> CurrentVersion | None:
    """The version readers should read, and its table (one statement: a consistent pair)."""
    backend = Backend(connection)
    q = backend.quote
    if not registry_exists(backend):
        return None
    found = backend.execute(
        f"SELECT c.{q('version')}, r.{q('table_name')} FROM {q(CURRENT)} c JOIN {q(REGISTRY)} r "
        f"ON r.{q('dataset_key')} = c.{q('dataset_key')} AND r.{q('version')} = c.{q('version')} "
        f"WHERE c.{q('dataset_key')} = %s",
        (dataset_key,),
    )
    return CurrentVersion(*found[0]) if found else None


def current_schema(connection, dataset_key: str) -> tuple[int, list[dict]] | None:
    """(version, [{name, type, column}]) of the current version (column: its curated column), for the
    schema-compatibility gate."""
    backend = Backend(connection)
    q = backend.quote
    if not registry_exists(backend):
        return None
    found = backend.execute(
        f"SELECT c.{q('version')}, r.{q('schema')} FROM {q(CURRENT)} c JOIN {q(REGISTRY)} r "
        f"ON r.{q('dataset_key')} = c.{q('dataset_key')} AND r.{q('version')} = c.{q('version')} "
        f"WHERE c.{q('dataset_key')} = %s",
        (dataset_key,),
    )
    return (found[0][0], json.loads(found[0][1])) if found else None


def versions(connection, dataset_key: str) -> list[dict]:
    """Every registered version of a dataset, newest first (for operators and tests)."""
    backend = Backend(connection)
    q = backend.quote
    if not registry_exists(backend):
        return []
    names = ("version", "kind", "table_name", "load_id", "manifest_sha256", "rows", "checksum", "loaded_at", "state")
    rows = backend.execute(
        f"SELECT {', '.join(q(n) for n in names)} FROM {q(REGISTRY)} WHERE {q('dataset_key')} = %s "
        f"ORDER BY {q('version')} DESC",
        (dataset_key,),
    )
    return [dict(zip(names, row)) for row in rows]


def current_versions(connection) -> list[dict]:
    """The registry's current version of every dataset key, by key (the registry's front page)."""
    backend = Backend(connection)
    q = backend.quote
    if not registry_exists(backend):
        return []
    names = ("dataset_key", "version", "kind", "table_name", "load_id", "manifest_sha256", "rows", "checksum",
             "loaded_at", "state")
    rows = backend.execute(
        f"SELECT {', '.join('r.' + q(n) for n in names)} FROM {q(CURRENT)} c JOIN {q(REGISTRY)} r "
        f"ON r.{q('dataset_key')} = c.{q('dataset_key')} AND r.{q('version')} = c.{q('version')} "
        f"ORDER BY r.{q('dataset_key')}"
    )
    return [dict(zip(names, row)) for row in rows]


# --- the pointer's history: the audit trail's outbox ---------------------------------------------------
MOVE_FIELDS = ("id", "dataset_key", "from_version", "to_version", "moved_at", "ref", "audited_at")


def pointer_moves(connection, *, unaudited: bool = False, dataset_key: str | None = None) -> list[dict]:
    """Every pointer move (or those the audit trail does not hold yet), oldest first."""
    backend = Backend(connection)
    q = backend.quote
    if not registry_exists(backend, MOVES):
        return []
    where, params = [], []
    if unaudited:
        where.append(f"{q('audited_at')} IS NULL")
    if dataset_key is not None:
        where.append(f"{q('dataset_key')} = %s")
        params.append(dataset_key)
    rows = backend.execute(
        f"SELECT {', '.join(q(n) for n in MOVE_FIELDS)} FROM {q(MOVES)}"
        + (f" WHERE {' AND '.join(where)}" if where else "") + f" ORDER BY {q('id')}",
        tuple(params),
    )
    return [dict(zip(MOVE_FIELDS, row)) for row in rows]


def mark_move_audited(connection, move_id: int) -> None:
    """The audit trail holds this move now."""
    backend = Backend(connection)
    q = backend.quote
    backend.execute(f"UPDATE {q(MOVES)} SET {q('audited_at')} = %s WHERE {q('id')} = %s AND {q('audited_at')} IS NULL",
                    (backend.timestamp(clock.now()), move_id))
