"""The findings hash is the SHA-256 of the findings' canonical text, however many findings there are."""
from __future__ import annotations

import hashlib

import duckdb
import pytest

from deliverables.runs.findings import FINDINGS_COLUMNS, HASH_BATCH, hash_and_write


def _canonical(rows) -> str:
    return "\n".join("|".join("~" if value is None else str(value) for value in row) for row in rows)


def _findings(count: int):
    con = duckdb.connect()
    columns = ", ".join(
        "range::VARCHAR AS claim_id" if name == "claim_id"
        else f"CASE WHEN range % 11 = 0 THEN NULL ELSE 'x' || (range % {index + 3})::VARCHAR END AS {name}"
        for index, name in enumerate(FINDINGS_COLUMNS))
    con.execute(f"CREATE TEMP TABLE run_findings AS SELECT {columns} FROM range({count})")
    rows = con.execute(f"SELECT {', '.join(FINDINGS_COLUMNS)} FROM run_findings "
                       "ORDER BY kind, client_account_id, claim_id").fetchall()
    return con, rows


def test_the_findings_hash_is_the_hash_of_their_canonical_text_across_many_batches():
    con, rows = _findings(2 * HASH_BATCH + 7)
    assert hash_and_write(con)[0] == hashlib.sha256(_canonical(rows).encode()).hexdigest()


def test_the_artifact_is_written_from_the_pass_that_hashes_it():
    """The writer gets every finding, in their order, with their columns (not the hashed text), and the hash is
    the one of the text of those very rows."""
    con, rows = _findings(HASH_BATCH + 3)
    sha, table = hash_and_write(con, lambda reader: reader.read_all())
    assert table.column_names == list(FINDINGS_COLUMNS)
    assert [tuple(r.values()) for r in table.to_pylist()] == rows
    assert sha == hashlib.sha256(_canonical(rows).encode()).hexdigest()


def test_no_findings_hash_as_the_empty_text():
    con = duckdb.connect()
    con.execute(f"CREATE TEMP TABLE run_findings AS SELECT {', '.join(f'NULL::VARCHAR AS {c}' for c in FINDINGS_COLUMNS)} "
                "WHERE false")
    assert hash_and_write(con)[0] == hashlib.sha256(b"").hexdigest()


def test_a_writer_that_stops_early_stores_nothing():
    """A writer that returns before the last finding would leave an artifact and a hash of part of them."""
    con, _ = _findings(HASH_BATCH + 3)
    with pytest.raises(RuntimeError, match="returned before the last finding"):
        hash_and_write(con, lambda reader: reader.read_next_batch())
