"""One read of each file: validation's CSV check writes the typed Parquet silver publishes, and the bronze
copy, on its own thread, gives validation each file's hash. The results are those of reading twice."""
import hashlib
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command

from console.lake import LakeConflict, get_lake
from evidence.choices import IntakeStatus
from evidence.intake import domotypes, leafiq, silver
from evidence.intake.validation import check_csv
from evidence.models import DomoDataset, IntakeRun, SourceManifest
from tests.evidence import exports

COLUMNS = [("Claim ID", "STRING"), ("Quantity", "LONG"), ("Paid", "DECIMAL"), ("Ratio", "DOUBLE"),
           ("Fill Date", "DATE"), ("Adjudicated At", "DATETIME")]


def claims(rows: int, *, wide_at: int | None = None) -> bytes:
    """A claims CSV; from row wide_at on, Paid is written with three fraction digits instead of two."""
    body = []
    for i in range(1, rows + 1):
        paid = f"{i % 700}.{i % 10}{i % 7}" + ("5" if wide_at and i >= wide_at else "")
        fill = "" if i % 11 == 0 else f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}"
        body.append([f"C-{i:06d}", str(i % 90), paid, f"{i / 7:.3f}", fill, f"2025-03-01T{i % 24:02d}:15:00"])
    return exports.csv_bytes([name for name, _ in COLUMNS], body)


def columns() -> list[leafiq.Column]:
    return [leafiq.Column(name=name, type=kind) for name, kind in COLUMNS]


@pytest.fixture
def small_batches(monkeypatch):
    """Many record batches and row groups from a few hundred rows (the same code paths as gigabytes)."""
    monkeypatch.setattr(domotypes, "BLOCK_SIZE", 2048)
    monkeypatch.setattr(silver, "ROW_GROUP_SIZE", 64)


def test_the_parquet_staged_by_validation_is_byte_identical_to_a_second_read(tmp_path, small_batches):
    csv = tmp_path / "data.csv"
    csv.write_bytes(claims(1000))
    stage = silver.ParquetStage(tmp_path / "staged.parquet", [silver.Column(n, t) for n, t in COLUMNS])
    assert check_csv(csv, file="data.csv", columns=columns(), expected_rows=1000, stage=stage) == []
    staged = stage.close()
    again = silver.csv_to_parquet(csv, [silver.Column(n, t) for n, t in COLUMNS], tmp_path / "again.parquet")
    assert staged.sha256 == again.sha256
    assert (tmp_path / "staged.parquet").read_bytes() == (tmp_path / "again.parquet").read_bytes()
    # Row groups of exactly ROW_GROUP_SIZE rows, whatever the batches were: the file does not depend on them.
    meta = pq.ParquetFile(tmp_path / "staged.parquet").metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [64] * 15 + [40]
    assert pq.read_schema(tmp_path / "staged.parquet").field("Paid").type == pa.decimal128(38, 2)


def test_a_decimal_written_wider_late_spoils_the_stage_and_silver_reads_the_csv_again(tmp_path, small_batches):
    csv = tmp_path / "data.csv"
    csv.write_bytes(claims(1000, wide_at=900))
    stage = silver.ParquetStage(tmp_path / "staged.parquet", [silver.Column(n, t) for n, t in COLUMNS])
    assert check_csv(csv, file="data.csv", columns=columns(), expected_rows=1000, stage=stage) == []
    assert stage.close() is None and "3 fraction digits" in stage.spoiled
    assert not (tmp_path / "staged.parquet").exists()
    again = silver.csv_to_parquet(csv, [silver.Column(n, t) for n, t in COLUMNS], tmp_path / "again.parquet")
    assert pq.read_schema(again.path).field("Paid").type == pa.decimal128(38, 3)


def test_a_bad_value_spoils_the_stage_and_is_listed_with_its_row(tmp_path, small_batches):
    csv = tmp_path / "data.csv"
    text = claims(300).decode().replace("C-000200,20,", "C-000200,twenty,")
    csv.write_text(text)
    stage = silver.ParquetStage(tmp_path / "staged.parquet", [silver.Column(n, t) for n, t in COLUMNS])
    issues = check_csv(csv, file="data.csv", columns=columns(), expected_rows=300, stage=stage)
    assert [(i.code, i.row, i.column) for i in issues] == [("CSV_BAD_VALUE", 200, "Quantity")]
    assert stage.close() is None and not (tmp_path / "staged.parquet").exists()


def ingest(path) -> dict:
    out = io.StringIO()
    call_command("ingest_export", str(path), "--json", stdout=out)
    return json.loads(out.getvalue())


def wide_late_export(rows: int = 400) -> exports.Export:
    export = exports.Export()
    body = [[str(1000 + i), f"M-{i:03d}", "2026-01-05", f"{i}.50" if i < rows - 1 else f"{i}.125", "1.5",
             "2026-01-05T10:11:12"] for i in range(rows)]
    export.files[exports.CLAIMS_CSV] = exports.csv_bytes([name for name, _ in exports.CLAIMS_COLUMNS], body)
    export.files[exports.CLAIMS_METADATA] = exports.claims_metadata(rows=rows)
    return export


def test_the_intake_publishes_the_right_scale_when_a_late_row_is_written_wider(db, tmp_path, small_batches):
    result = ingest(wide_late_export().write(tmp_path / "export"))
    assert result["status"] == "complete"
    dataset = DomoDataset.objects.get(manifest__load_id=result["load_id"], domo_id=exports.CLAIMS)
    with get_lake().open(dataset.silver_path) as handle:
        table = pq.read_table(pa.BufferReader(handle.read()))
    assert table.schema.field("paid").type == pa.decimal128(38, 3)
    assert table.num_rows == 400 and str(table.column("paid")[-1]) == "399.125"


def test_files_the_bronze_copy_hashed_are_checked_against_the_manifest(db, tmp_path):
    export = exports.Export()
    export.manifest["files"] = [exports.file_entry(path, export.content(path)) for path in sorted(export.files)]
    export.files[exports.CLAIMS_POLICIES] = b"[]"  # changed after the manifest listed it
    result = ingest(export.write(tmp_path / "export"))
    manifest = SourceManifest.objects.get(load_id=result["load_id"])
    assert manifest.status == "invalid"
    mismatch = manifest.issues.get(code="HASH_MISMATCH")
    assert mismatch.file == exports.CLAIMS_POLICIES and "the manifest says" in mismatch.message
    # Bronze holds what arrived, with the hash the manifest check used.
    bronze = manifest.files.get(path=exports.CLAIMS_POLICIES)
    assert get_lake().read(bronze.bronze_path) == b"[]" and bronze.sha256 in mismatch.message


def test_a_lake_that_refuses_the_bronze_copy_fails_the_intake_and_records_nothing(db, tmp_path, lake):
    export = exports.Export()
    root = export.write(tmp_path / "export")
    prefix = f"bronze/leafiq/{export.manifest['load_id']}/{hashlib.sha256(export.manifest_bytes()).hexdigest()}"
    # Bronze already holds other bytes at one of the export's paths: the lake refuses the copy. That is the
    # intake's failure, not a file of the export gone missing.
    lake.put(f"{prefix}/files/{exports.CLAIMS_POLICIES}", b"other bytes")
    with pytest.raises(LakeConflict, match="already holds different content"):
        ingest(root)
    run = IntakeRun.objects.get()
    assert run.status == IntakeStatus.FAILED and "already holds different content" in run.error
    assert not SourceManifest.objects.exists()
