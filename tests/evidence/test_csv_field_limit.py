"""One limit on a CSV field (INTAKE_MAX_FIELD_BYTES), honoured by validation, silver and every other reader.

Issue 16, point 3: a legal CSV field over 1 MiB (Domo text columns hold long HTML and notes) passed
validation and failed silver with "straddling object": silver read in 1 MiB blocks, validation allowed
64 MiB. Now a field up to the limit is received into silver whatever the read blocks, and a longer one
is refused at validation, named by file, dataset, row and column.
"""
from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
from django.core.management import call_command

from console.lake import get_lake
from evidence.intake import domotypes
from evidence.models import DomoDataset
from tests.evidence import exports

LIMIT = 4096
MEMBER = 1  # the claims column a long text goes into (STRING)


def claims_with(tmp_path, *values: str, raw: bytes | None = None):
    """The hand-made export whose claims' member column holds values (row by row)."""
    export = exports.Export()
    rows = [list(row) for row in exports.CLAIMS_ROWS]
    for row, value in zip(rows, values):
        row[MEMBER] = value
    header = [name for name, _ in exports.CLAIMS_COLUMNS]
    export.files[exports.CLAIMS_CSV] = raw if raw is not None else exports.csv_bytes(header, rows)
    return export.write(tmp_path / "export")


def receive(path) -> dict:
    out = io.StringIO()
    call_command("ingest_export", str(path), "--json", stdout=out)
    return json.loads(out.getvalue())


def silver_members() -> list[str]:
    claims = DomoDataset.objects.get(domo_id=exports.CLAIMS)
    assert claims.silver_path, "the claims did not reach silver"
    with get_lake().open(claims.silver_path) as handle:
        table = pq.read_table(pa.BufferReader(handle.read()))
    return table.column("member").to_pylist()


def test_a_field_of_exactly_the_limit_reaches_silver(db, tmp_path, settings):
    settings.INTAKE_MAX_FIELD_BYTES = LIMIT
    value = "€" * (LIMIT // 3) + "x" * (LIMIT % 3)  # multi-byte: the limit is in bytes
    assert len(value.encode()) == LIMIT
    result = receive(claims_with(tmp_path, value))
    assert result["status"] == "complete", result["issues"]
    assert silver_members()[0] == value


def test_a_field_one_byte_over_the_limit_is_refused_with_its_file_dataset_row_and_column(db, tmp_path, settings):
    settings.INTAKE_MAX_FIELD_BYTES = LIMIT
    result = receive(claims_with(tmp_path, "M-001", "é" * (LIMIT // 2) + "x"))  # LIMIT + 1 bytes, LIMIT/2 + 1 chars
    assert result["status"] == "invalid"
    assert result["silver"] is None
    [issue] = [i for i in result["issues"] if i["code"] == "CSV_FIELD_TOO_LARGE"]
    assert (issue["file"], issue["object"], issue["row"], issue["column"]) == (
        exports.CLAIMS_CSV, f"dataset {exports.CLAIMS}", 2, "member"
    )
    assert f"{LIMIT + 1:,} bytes" in issue["message"] and f"{LIMIT:,} bytes" in issue["message"]


def test_an_unclosed_quote_stops_at_the_limit_with_its_row(db, tmp_path, settings):
    settings.INTAKE_MAX_FIELD_BYTES = LIMIT
    header = ",".join(name for name, _ in exports.CLAIMS_COLUMNS)
    body = '1001,M-001,2026-01-05,12.50,10.25,2026-01-05T10:11:12\r\n1002,"never closed,' + "x" * (3 * LIMIT)
    result = receive(claims_with(tmp_path, raw=f"{header}\r\n{body}\r\n".encode()))
    assert result["status"] == "invalid"
    [issue] = [i for i in result["issues"] if i["code"] == "CSV_FIELD_TOO_LARGE"]
    assert (issue["file"], issue["row"]) == (exports.CLAIMS_CSV, 2)
    assert "unclosed quote" in issue["message"]


def test_a_field_over_one_mib_under_the_default_limit_reaches_silver(db, tmp_path, settings):
    assert settings.INTAKE_MAX_FIELD_BYTES > 2 * domotypes.BLOCK_SIZE
    notes = "<p>" + "long note, \"quoted\"\r\nand on, " * (domotypes.BLOCK_SIZE // 12) + "</p>"
    assert len(notes.encode()) > 1.5 * domotypes.BLOCK_SIZE
    result = receive(claims_with(tmp_path, "M-001", notes, "M-003"))
    assert result["status"] == "complete", result["issues"]
    assert silver_members() == ["M-001", notes, "M-003"]


def test_quoted_newlines_across_read_block_boundaries_are_read_as_written(db, tmp_path):
    # Fields of 0.4 MiB, each full of quoted line breaks: the 1 MiB read blocks end inside them.
    values = [f"row {n}\r\n" + ("line\r\n\"q\",\n" * (domotypes.BLOCK_SIZE // 30)) for n in range(3)]
    result = receive(claims_with(tmp_path, *values))
    assert result["status"] == "complete", result["issues"]
    assert silver_members() == values


def test_every_batch_reader_gives_the_same_text_whatever_the_record_size(tmp_path):
    header = [name for name, _ in exports.CLAIMS_COLUMNS]
    rows = [list(row) for row in exports.CLAIMS_ROWS] * 2
    rows[4][MEMBER] = "é\r\n" * domotypes.BLOCK_SIZE  # from here, a record no 1 MiB block holds
    path = tmp_path / "data.csv"
    path.write_bytes(exports.csv_bytes(header, rows))
    table = pa.Table.from_batches(list(domotypes.text_batches(path, header)))
    assert table.to_pylist() == [dict(zip(header, row)) for row in rows]
    only = pa.Table.from_batches(list(domotypes.text_batches(path, header, include=["member"])))
    assert only.column("member").to_pylist() == [row[MEMBER] for row in rows]
