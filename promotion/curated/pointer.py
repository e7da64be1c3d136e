"""The current-version pointer: verify, promote, roll back, and what readers read."""
from __future__ import annotations

import json

from .backend import (
    CURRENT, REGISTRY, VERIFIED_STATES, Backend, ChecksumMismatch, CuratedError, CurrentVersion, State,
    columns_of, ensure_registry, registry_exists, registry_row, set_state,
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


def promote_version(*, connection, dataset_key: str, version: int, verify: bool = True) -> None:
    """Point readers at a verified version, in one transaction that readers never wait for; the old
    current version becomes superseded. By default the table is re-verified against the registry
    first, so a table changed since its load never goes live (the version is failed instead).

    On PostgreSQL the re-verification runs inside the pointer's transaction, under the pointer row's
    lock and a SHARE lock on the version's table: readers read on (of the old version or this one),
    nobody can change the table between its check and the pointer move, and only another move of
    the same pointer waits for the scan. Elsewhere it runs just before the transaction (SQLite has
    one writer, which a scan must not hold), which leaves that short gap open."""
    backend = Backend(connection)
    ensure_registry(backend)
    in_transaction = verify and backend.vendor == "postgresql"
    if verify and not in_transaction:
        verify_version(connection=connection, dataset_key=dataset_key, version=version)
    q = backend.quote
    lock = " FOR UPDATE" if backend.vendor == "postgresql" else ""
    hint = " WITH (UPDLOCK, HOLDLOCK)" if backend.vendor == "microsoft" else ""
    mismatch = None
    with backend.transaction():
        pointer = backend.execute(
            f"SELECT {q('version')} FROM {q(CURRENT)}{hint} WHERE {q('dataset_key')} = %s{lock}", (dataset_key,)
        )
        table, checksum, rows, state, schema = registry_row(backend, dataset_key, version)
        if state not in VERIFIED_STATES:
            raise CuratedError(f"{dataset_key} v{version} is {state}, not verified")
        old = pointer[0][0] if pointer else None
        if old == version:
            return
        if in_transaction:
            backend.execute(f"LOCK TABLE {q(table)} IN SHARE MODE")
            found = table_checksum(backend, table, columns_of(json.loads(schema)))
            if found != (rows, checksum):
                mismatch = ChecksumMismatch(
                    f"{table}: {found[0]} rows, checksum {found[1]}; registry says {rows}, {checksum}"
                )
        if mismatch is None:
            if pointer:
                backend.execute(f"UPDATE {q(CURRENT)} SET {q('version')} = %s WHERE {q('dataset_key')} = %s",
                                (version, dataset_key))
                set_state(backend, dataset_key, old, State.SUPERSEDED)
            else:
                backend.execute(f"INSERT INTO {q(CURRENT)} ({q('dataset_key')}, {q('version')}) VALUES (%s, %s)",
                                (dataset_key, version))
            set_state(backend, dataset_key, version, State.CURRENT)
    if mismatch is not None:  # the pointer did not move; the version is failed for good
        set_state(backend, dataset_key, version, State.FAILED)
        raise mismatch


def rollback_to(*, connection, dataset_key: str, version: int, verify: bool = False) -> None:
    """Point readers back at an earlier verified version (the same pointer move as a promotion).
    verify=True re-verifies the table inside the move (see promote_version), with no gap between a
    separate verify_version and the move."""
    current = read_current(connection, dataset_key)
    if current is None or version >= current.version:
        raise CuratedError(f"{dataset_key}: v{version} is not earlier than the current version")
    promote_version(connection=connection, dataset_key=dataset_key, version=version, verify=verify)


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
