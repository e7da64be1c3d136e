"""The curated load: silver Parquet into versioned tables of the curated database, verified, then pointed at.

Plain module, no models: it takes a connection of the curated alias (a Django connection wrapper,
e.g. `connections["curated"]`, or a raw DB-API connection in autocommit mode: psycopg 3, sqlite3
with isolation_level=None, pyodbc) and manages its own short transactions, so it must not be
called inside an atomic block. Django never migrates "curated"; the registry tables are created
here on first use.

- Each load goes into a fresh table `curated_<slug>__v<N>` (slug from the Domo id, never from
  export text), with a hidden `_row` bigint row number. Column names come from the export: they
  are validated and always quoted here, doubling embedded quotes (Django's quote_name does not
  escape them, so `x"; DROP TABLE y; --` would break out of its quotes). A name longer than 63 bytes
  (PostgreSQL's limit) is loaded under a deterministic, collision-free shortened identifier
  (sql_identifiers), shown to the approver on the request page; the registry's schema keeps each
  column's name, type and curated column. `_row` is the version's unique key (one table per
  snapshot: the registry holds its manifest_sha256): a unique index `<table>__row_key` (row_key_name)
  built after the rows, in the load's transaction, so a duplicate row is refused by the database.
- `curated_registry` records every version (state loading → verified | failed; verified →
  current → superseded); `curated_current` is the pointer readers follow. A promotion's pointers
  (a dataset and its golden packets) move together with one UPDATE/INSERT each in one short
  transaction (promote_versions), so readers see all the old versions or all the new, whatever
  happens to the process; the move waits at most `lock_timeout` for another session's lock
  (PointerBusy, "waiting for readers"). Each move is written to `curated_moves` in the same
  transaction: the audit trail's outbox (promotion.services.reconcile records it in the trail).
- Verification: row count and a content checksum computed the same way over silver (Arrow compute
  over the Parquet, checksum.py) and over the loaded table (one SQL scan on PostgreSQL, Python over
  the rows elsewhere): per row the XOR of one 64-bit PostgreSQL hash per column (hashint8extended,
  hashtextextended, hashfloat8extended..., reimplemented over Arrow arrays in lookup3.py), each
  column seeded with its position, summed exactly as signed bigints. Every bit of every value counts
  (see checksum.py for the canonical form per type, NULL and -0.0). Silver's checksum runs in a
  low-priority thread beside the COPY; the table's is one scan right after the load commits. A
  version is `verified` only if both agree. promote_version re-verifies by default, on PostgreSQL
  inside the pointer's transaction under a SHARE lock on the table, so a table changed at any time
  after its load never goes live (the version is failed, the pointer stays).
- Bulk paths: PostgreSQL `COPY ... FROM STDIN (FORMAT binary, FREEZE)` fed with tuples that
  pgcopy.py writes per record batch with numpy and Arrow compute (no Python loop per row; `_row`
  numbered in the batch; the server parses no text, which halves its work against CSV); SQLite
  `executemany`; SQL Server pyodbc `fast_executemany` (written, not testable here).
- Idempotent per (dataset_key, load_id, manifest_sha256). On PostgreSQL a session advisory lock
  per dataset is held for the whole load: a killed worker's lock dies with its session, so a
  retry that gets the lock knows the `loading` row it finds is abandoned.
"""

from .backend import (
    VERIFIED_STATES, ChecksumMismatch, CuratedError, CurrentVersion, InvalidIdentifier, LoadBusy, LoadResult,
    PointerBusy, State, dataset_slug, ensure_registry, sql_identifiers, validate_columns,
)
from .checksum import silver_checksum
from .load import golden_key, load_dataset, load_golden
from .pointer import (
    current_schema, current_versions, mark_move_audited, pointer_moves, promote_version, promote_versions,
    read_current, rollback_to, verify_version, versions,
)

__all__ = [
    "VERIFIED_STATES", "ChecksumMismatch", "CuratedError", "CurrentVersion", "InvalidIdentifier", "LoadBusy",
    "LoadResult", "PointerBusy", "State", "current_schema", "current_versions", "dataset_slug",
    "ensure_registry", "golden_key", "load_dataset", "load_golden", "mark_move_audited", "pointer_moves",
    "promote_version", "promote_versions", "read_current", "rollback_to", "silver_checksum",
    "sql_identifiers", "validate_columns", "verify_version", "versions",
]
