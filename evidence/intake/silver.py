"""Silver: a Domo data export (CSV) turned into typed Parquet, streaming, deterministic.

Plain module, no Django. Types follow the Leaf IQ format: STRING → string (an empty field is the
empty string), LONG → int64, DOUBLE → float64, DECIMAL → decimal128 at the column's largest scale
(never float), DATE → date32, DATETIME → timestamp[us] without zone; an empty field is NULL for
every type but STRING. The CSV is read in record batches, so memory stays flat as files grow;
DECIMAL columns need their scale before the first batch is written, which costs one extra
streaming pass over those columns only.

Callers validate first (evidence.intake.validation): silver assumes a file that passed its checks and
raises SilverError naming the file and column if it meets a value it cannot convert.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

DOMO_TYPES = ("STRING", "LONG", "DOUBLE", "DECIMAL", "DATE", "DATETIME")
DECIMAL_PRECISION = 38
# Bytes of CSV per record batch. Measured: at 1 MiB the reader's peak memory stays flat (~40 MB) from
# 100 MB to 300 MB files; at 4 MiB and up it grows with the file (read-ahead).
BLOCK_SIZE = 1024 * 1024
ROW_GROUP_SIZE = 128 * 1024


class SilverError(Exception):
    """A CSV could not be turned into typed Parquet."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # one of DOMO_TYPES


@dataclass(frozen=True)
class SilverResult:
    path: Path
    rows: int
    sha256: str
    bytes: int
    arrow_schema: str


def arrow_type(column: Column, decimal_scale: int = 0) -> pa.DataType:
    match column.type:
        case "STRING":
            return pa.string()
        case "LONG":
            return pa.int64()
        case "DOUBLE":
            return pa.float64()
        case "DECIMAL":
            return pa.decimal128(DECIMAL_PRECISION, decimal_scale)
        case "DATE":
            return pa.date32()
        case "DATETIME":
            return pa.timestamp("us")
    raise SilverError(f"column {column.name!r}: unknown Domo type {column.type!r}")


def _reader(csv_path: Path, column_types: dict[str, pa.DataType], include: list[str] | None = None):
    return pacsv.open_csv(
        csv_path,
        read_options=pacsv.ReadOptions(block_size=BLOCK_SIZE, encoding="utf8"),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=column_types,
            include_columns=include,
            null_values=[""],
            strings_can_be_null=False,  # STRING: an empty field, quoted or not, is the empty string
            quoted_strings_can_be_null=True,  # other types: `""` is an empty field (NULL), as validation reads it
            timestamp_parsers=["%Y-%m-%dT%H:%M:%S"],
        ),
    )


def decimal_scales(csv_path: Path, columns: list[Column]) -> dict[str, int]:
    """The largest number of fraction digits in each DECIMAL column (one streaming pass)."""
    names = [c.name for c in columns if c.type == "DECIMAL"]
    scales = dict.fromkeys(names, 0)
    if not names:
        return scales
    reader = _reader(csv_path, {name: pa.string() for name in names}, include=names)
    for batch in reader:
        for name in names:
            values = batch.column(name)
            # Validated DECIMAL text is ASCII: the fraction is whatever follows the point, bytes = characters.
            point = pc.find_substring(values, ".")
            fraction = pc.if_else(pc.less(point, 0), 0, pc.subtract(pc.subtract(pc.binary_length(values), point), 1))
            biggest = pc.max(fraction).as_py()
            if biggest is not None and biggest > scales[name]:
                scales[name] = biggest
    return scales


def csv_to_parquet(
    csv_path: Path, columns: list[Column], out_path: Path, *, on_rows: Callable[[int], None] | None = None
) -> SilverResult:
    """Write typed Parquet for csv_path to out_path (a local staging file) and describe it.

    on_rows, if given, is called with the running row count after each row group: long
    conversions use it to report progress and keep their heartbeat fresh.
    """
    scales = decimal_scales(csv_path, columns)
    target = pa.schema([pa.field(c.name, arrow_type(c, scales.get(c.name, 0))) for c in columns])
    # DECIMAL is read as its decimal type (an empty field is NULL, as the format says): Arrow's reader parses
    # it as a cast from text does, and rescales to the column's scale, without a text column in between.
    read_types = {c.name: target.field(c.name).type for c in columns}
    rows = 0
    pending: list[pa.Table] = []  # batches held back until they fill a row group
    try:
        reader = _reader(csv_path, read_types)
        with pq.ParquetWriter(out_path, target, compression="zstd", write_statistics=True) as writer:
            for batch in reader:
                arrays = [batch.column(c.name) for c in columns]
                pending.append(pa.Table.from_arrays(arrays, schema=target))
                rows += batch.num_rows
                if sum(t.num_rows for t in pending) >= ROW_GROUP_SIZE:
                    writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP_SIZE)
                    pending = []
                    if on_rows is not None:
                        on_rows(rows)
            if pending or rows == 0:
                writer.write_table(pa.concat_tables(pending) if pending else target.empty_table())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        out_path.unlink(missing_ok=True)
        raise SilverError(f"{csv_path.name}: {exc}") from None
    # Arrow's allocator keeps what the conversion freed (about 100 MB after a 1 GiB CSV); hand it back
    # before the intake's next steps (golden reproduction in DuckDB) build on top of it (bench.intake).
    pa.default_memory_pool().release_unused()
    digest = hashlib.sha256()
    with out_path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return SilverResult(
        path=out_path, rows=rows, sha256=digest.hexdigest(), bytes=out_path.stat().st_size,
        arrow_schema=str(target),
    )


def head(parquet_path: Path, limit: int = 50) -> pa.Table:
    """The first rows of a silver file, reading only the row groups needed."""
    parquet = pq.ParquetFile(parquet_path)
    batches = []
    remaining = limit
    for batch in parquet.iter_batches(batch_size=min(limit, 1024)):
        batches.append(batch.slice(0, remaining))
        remaining -= batches[-1].num_rows
        if remaining <= 0:
            break
    return pa.Table.from_batches(batches, schema=parquet.schema_arrow)
