"""Silver Parquet keeps Domo's types exactly: decimals stay decimal, NULLs stay NULL."""
import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from evidence.intake.silver import Column, SilverError, csv_to_parquet, head

COLUMNS = [
    Column("Claim ID", "STRING"),
    Column("Quantity", "LONG"),
    Column("Days Ratio", "DOUBLE"),
    Column("Ingredient Cost Paid", "DECIMAL"),
    Column("Fill Date", "DATE"),
    Column("Adjudicated At", "DATETIME"),
]


def write_csv(path, text, bom=False):
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


@pytest.fixture
def claims_csv(tmp_path):
    return write_csv(
        tmp_path / "data.csv",
        "Claim ID,Quantity,Days Ratio,Ingredient Cost Paid,Fill Date,Adjudicated At\n"
        "C-0001,30,1.0,112.37,2025-03-01,2025-03-01T09:15:00\n"
        ",,,,,\n"
        '"C-0003, split",90,0.5,0.1,2025-12-31,2025-12-31T23:59:59\n',
    )


def test_types_follow_the_domo_schema(claims_csv, tmp_path):
    result = csv_to_parquet(claims_csv, COLUMNS, tmp_path / "out.parquet")
    schema = pq.read_schema(result.path)
    assert schema.field("Quantity").type == pa.int64()
    assert schema.field("Days Ratio").type == pa.float64()
    assert schema.field("Ingredient Cost Paid").type == pa.decimal128(38, 2)
    assert schema.field("Fill Date").type == pa.date32()
    assert schema.field("Adjudicated At").type == pa.timestamp("us")
    assert result.rows == 3


def test_money_is_exact_decimal_and_empty_fields_are_null_except_strings(claims_csv, tmp_path):
    rows = head(csv_to_parquet(claims_csv, COLUMNS, tmp_path / "out.parquet").path).to_pylist()
    assert rows[0]["Ingredient Cost Paid"] == Decimal("112.37")
    assert rows[2]["Ingredient Cost Paid"] == Decimal("0.10")
    assert rows[1] == {
        "Claim ID": "", "Quantity": None, "Days Ratio": None, "Ingredient Cost Paid": None,
        "Fill Date": None, "Adjudicated At": None,
    }
    assert rows[2]["Claim ID"] == "C-0003, split"
    assert rows[2]["Fill Date"] == dt.date(2025, 12, 31)
    assert rows[2]["Adjudicated At"] == dt.datetime(2025, 12, 31, 23, 59, 59)


def test_a_quoted_empty_field_is_null_except_for_strings(tmp_path):
    csv = write_csv(
        tmp_path / "data.csv",
        "Claim ID,Quantity,Days Ratio,Ingredient Cost Paid,Fill Date,Adjudicated At\n"
        '"","","","","",""\n'
        'C-0002,30,1.0,"112.3",2025-03-01,2025-03-01T09:15:00\n',
    )
    rows = head(csv_to_parquet(csv, COLUMNS, tmp_path / "out.parquet").path).to_pylist()
    assert rows[0] == {
        "Claim ID": "", "Quantity": None, "Days Ratio": None, "Ingredient Cost Paid": None,
        "Fill Date": None, "Adjudicated At": None,
    }
    assert rows[1]["Ingredient Cost Paid"] == Decimal("112.3")


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
    csv = write_csv(tmp_path / "bom.csv", "Claim ID,Quantity\nC-1,2\n", bom=True)
    result = csv_to_parquet(csv, COLUMNS[:2], tmp_path / "out.parquet")
    assert head(result.path).to_pylist() == [{"Claim ID": "C-1", "Quantity": 2}]


def test_same_csv_gives_byte_identical_parquet(claims_csv, tmp_path):
    first = csv_to_parquet(claims_csv, COLUMNS, tmp_path / "a.parquet")
    second = csv_to_parquet(claims_csv, COLUMNS, tmp_path / "b.parquet")
    assert first.sha256 == second.sha256
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_unconvertible_value_names_the_file_and_leaves_no_parquet(tmp_path):
    csv = write_csv(tmp_path / "bad.csv", "Claim ID,Quantity\nC-1,lots\n")
    with pytest.raises(SilverError, match="bad.csv"):
        csv_to_parquet(csv, COLUMNS[:2], tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


def test_header_only_csv_gives_an_empty_typed_table(tmp_path):
    csv = write_csv(tmp_path / "empty.csv", "Claim ID,Quantity\n")
    result = csv_to_parquet(csv, COLUMNS[:2], tmp_path / "out.parquet")
    assert result.rows == 0
    assert pq.read_table(result.path).schema.field("Quantity").type == pa.int64()


MEASURE = """
import sys, pyarrow as pa
from pathlib import Path
from evidence.intake.silver import Column, csv_to_parquet
rows, csv, out = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
with csv.open("w") as handle:
    handle.write("Claim ID,Quantity,Ingredient Cost Paid,Fill Date\\n")
    for i in range(rows):
        handle.write(f"C-{i:07d},30,{i % 900}.{i % 100:02d},2025-03-01\\n")
columns = [Column("Claim ID", "STRING"), Column("Quantity", "LONG"),
           Column("Ingredient Cost Paid", "DECIMAL"), Column("Fill Date", "DATE")]
pool = pa.default_memory_pool()
base = pool.max_memory()
assert csv_to_parquet(csv, columns, out).rows == rows
print(pool.max_memory() - base)
"""


def peak_arrow_bytes(rows, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(rows), str(tmp_path / f"{rows}.csv"), str(tmp_path / f"{rows}.parquet")],
        cwd=root, capture_output=True, text=True, timeout=300, env={"PYTHONPATH": str(root)},
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip())


def test_memory_stays_far_below_the_file_size(tmp_path):
    # Arrow's read-ahead is bounded by the block size, so the peak levels off (about 40 MB)
    # however large the file grows; a whole-file read would need several times the file.
    rows = 3_200_000  # about 100 MB of CSV
    peak = peak_arrow_bytes(rows, tmp_path)
    size = (tmp_path / f"{rows}.csv").stat().st_size
    assert size > 90 * 2**20
    assert peak < 64 * 2**20, (peak, size)
