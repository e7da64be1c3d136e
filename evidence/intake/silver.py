"""Silver: a Domo data export (CSV) turned into typed Parquet, streaming, deterministic.

Plain module, no Django. Types are evidence.intake.domotypes': STRING → string (an empty field is
the empty string), LONG → int64, DOUBLE → float64, DECIMAL → decimal128 at the column's largest
scale (never float), DATE → date32, DATETIME → timestamp[us] without zone; an empty field is NULL for
every type but STRING.

A CSV is read once, as text, in record batches (memory stays flat as files grow); each batch is
converted (domotypes.convert) and handed to a ParquetStage, which writes row groups of exactly
ROW_GROUP_SIZE rows, so the file does not depend on how the text was batched. The intake's
validation feeds a stage from the very read it checks, so an export's CSVs are parsed once for both
(evidence.intake.validation.check_csv); csv_to_parquet is the standalone way.

DECIMAL columns need their scale before the first row group is written. A stage fed during
validation takes the largest scale of the rows it holds when its first row group fills; a later
batch with more fraction digits spoils it, and the caller converts the file with csv_to_parquet,
which finds the scales first (one more streaming pass). Both ways write the same bytes.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from evidence.intake import domotypes

DOMO_TYPES = domotypes.DOMO_TYPES
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
    try:
        return domotypes.arrow_type(column.type, decimal_scale)
    except ValueError:
        raise SilverError(f"column {column.name!r}: unknown Domo type {column.type!r}") from None


class _HashingFile:
    """The Parquet writer's output: a local file, hashed as it is written (no second read)."""

    def __init__(self, path: Path):
        self.handle = path.open("wb")
        self.digest = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data) -> int:
        view = memoryview(data)
        self.digest.update(view)
        self.size += view.nbytes
        return self.handle.write(view)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.handle.flush()

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.handle.close()


class ParquetStage:
    """Typed batches of one CSV (as domotypes.convert gives them) into one Parquet file on local disk.

    scales: each DECIMAL column's scale, if known; otherwise settled when the first row group fills.
    on_rows: called with the running row count after each row group (progress, heartbeats).
    A stage that meets a batch it cannot write as settled is spoiled (`spoiled` says why) and leaves no
    file; close() then returns None. Row groups are encoded and compressed on a thread of the stage's
    own, one at a time, while the caller reads and converts the next ones (Arrow releases the GIL).
    """

    def __init__(self, out_path: Path, columns: Sequence[Column], *, scales: dict[str, int] | None = None,
                 on_rows: Callable[[int], None] | None = None):
        self.out_path = Path(out_path)
        self.columns = list(columns)
        self.scales = dict(scales) if scales is not None else None
        self.on_rows = on_rows
        self.schema: pa.Schema | None = None
        self.pending: list[list[pa.Array]] = []
        self.pending_rows = 0
        self.rows = 0  # rows written to the file
        self.spoiled: str | None = None
        self._file: _HashingFile | None = None
        self._writer: pq.ParquetWriter | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._writing: Future | None = None

    def write(self, arrays: Sequence[pa.Array]) -> None:
        if self.spoiled:
            return
        if self.schema is not None and not self._fits(arrays):
            return
        self.pending.append(list(arrays))
        self.pending_rows += len(arrays[0]) if arrays else 0
        if self.pending_rows >= ROW_GROUP_SIZE:
            self._flush(final=False)

    def spoil(self, why: str) -> None:
        if self.spoiled:
            return
        self.spoiled = why
        self.pending = []
        self._stop()
        if self._writer is not None:
            try:
                self._writer.close()
            except (OSError, pa.ArrowException):
                pass
        if self._file is not None:
            self._file.close()
        self.out_path.unlink(missing_ok=True)

    def close(self) -> SilverResult | None:
        if self.spoiled:
            return None
        try:
            self._flush(final=True)
            self._join()
        except BaseException:
            self.spoil("the Parquet writer failed")
            raise
        if self.spoiled:
            return None
        self._stop()
        self._writer.close()
        self._file.close()
        # Arrow's allocator keeps what the conversion freed; hand it back before the intake's next steps
        # (golden reproduction in DuckDB) build on top of it (bench.intake).
        pa.default_memory_pool().release_unused()
        return SilverResult(path=self.out_path, rows=self.rows, sha256=self._file.digest.hexdigest(),
                            bytes=self._file.size, arrow_schema=str(self.schema))

    # --- inside --------------------------------------------------------------------------------
    def _fits(self, arrays: Sequence[pa.Array]) -> bool:
        for column, array in zip(self.columns, arrays):
            if column.type == "DECIMAL" and array.type.scale > self.scales[column.name]:
                self.spoil(f"column {column.name!r} has values with {array.type.scale} fraction digits after "
                           f"the first {self.rows + self.pending_rows:,} rows had at most {self.scales[column.name]}")
                return False
        return True

    def _settle(self) -> None:
        if self.scales is None:
            self.scales = {c.name: max((batch[i].type.scale for batch in self.pending), default=0)
                           for i, c in enumerate(self.columns) if c.type == "DECIMAL"}
        self.schema = pa.schema([pa.field(c.name, arrow_type(c, self.scales.get(c.name, 0))) for c in self.columns])

    def _open(self, first: pa.Table) -> None:
        """The writer, its encodings chosen from the first row group: a column whose values there are mostly
        distinct (ids, timestamps) is written plain, since a dictionary would only be built to be dropped."""
        sample = first.slice(0, ROW_GROUP_SIZE)
        dictionary = [name for name in sample.column_names
                      if sample.num_rows == 0 or pc.count_distinct(sample.column(name)).as_py() * 2 <= sample.num_rows]
        self._file = _HashingFile(self.out_path)
        self._writer = pq.ParquetWriter(self._file, self.schema, compression="zstd", write_statistics=True,
                                        use_dictionary=dictionary)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="silver-parquet")

    def _join(self, *, raise_errors: bool = True) -> None:
        """Wait for the row group being written; its error, if any, is raised here."""
        writing, self._writing = self._writing, None
        if writing is not None:
            error = writing.exception()
            if error is not None and raise_errors:
                raise error

    def _stop(self) -> None:
        self._join(raise_errors=False)
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None

    def _write_group(self, group: pa.Table) -> None:
        self._join()  # one row group in the writer at a time: memory stays flat
        self._writing = self._thread.submit(self._writer.write_table, group, row_group_size=ROW_GROUP_SIZE)

    def _flush(self, *, final: bool) -> None:
        if self.schema is None:
            self._settle()
            if any(not self._fits(batch) for batch in self.pending):
                return
        try:
            table = pa.Table.from_batches(
                [pa.RecordBatch.from_arrays([a.cast(f.type) for a, f in zip(batch, self.schema)], schema=self.schema)
                 for batch in self.pending],
                schema=self.schema,
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:  # a rescale past 38 digits
            self.spoil(f"cannot write at the settled scales: {exc}")
            return
        if self._writer is None:
            self._open(table)
        self.pending, self.pending_rows = [], 0
        start = 0
        while table.num_rows - start >= ROW_GROUP_SIZE or (final and start < table.num_rows):
            group = table.slice(start, ROW_GROUP_SIZE)
            self._write_group(group)
            start += group.num_rows
            self.rows += group.num_rows
            if self.on_rows is not None:
                self.on_rows(self.rows)
        if final and table.num_rows == 0 and self.rows == 0:
            self._write_group(self.schema.empty_table())
        if start < table.num_rows:
            rest = table.slice(start).combine_chunks()
            self.pending = [[rest.column(i).chunk(0) if rest.column(i).num_chunks else pa.array([], f.type)
                             for i, f in enumerate(self.schema)]]
            self.pending_rows = rest.num_rows


def decimal_scales(csv_path: Path, columns: Sequence[Column], *,
                   max_field_bytes: int = domotypes.DEFAULT_MAX_FIELD_BYTES) -> dict[str, int]:
    """The largest number of fraction digits in each DECIMAL column (one streaming pass)."""
    names = [c.name for c in columns if c.type == "DECIMAL"]
    scales = dict.fromkeys(names, 0)
    if not names:
        return scales
    for batch in domotypes.text_batches(csv_path, [c.name for c in columns], include=names,
                                        max_field_bytes=max_field_bytes):
        for name in names:
            scales[name] = max(scales[name], domotypes.fraction_digits(batch.column(name)))
    return scales


def csv_to_parquet(
    csv_path: Path, columns: Sequence[Column], out_path: Path, *, on_rows: Callable[[int], None] | None = None,
    max_field_bytes: int = domotypes.DEFAULT_MAX_FIELD_BYTES,
) -> SilverResult:
    """Write typed Parquet for csv_path (a CSV that passed validation) to out_path, a local staging file.

    on_rows, if given, is called with the running row count after each row group: long conversions
    use it to report progress and keep their heartbeat fresh. Raises SilverError naming the file,
    column and row of a value it cannot convert, and leaves no file then."""
    try:
        scales = decimal_scales(csv_path, columns, max_field_bytes=max_field_bytes)
        stage = ParquetStage(out_path, columns, scales=scales, on_rows=on_rows)
        rows = 0
        for batch in domotypes.text_batches(csv_path, [c.name for c in columns], max_field_bytes=max_field_bytes):
            arrays = []
            for column in columns:
                values = batch.column(column.name)
                typed = domotypes.convert(values, column.type, scales.get(column.name, 0))
                if typed is None:
                    stage.spoil("a value cannot be converted")
                    raise SilverError(f"{csv_path.name}: {_refusal(values, column, rows)}")
                arrays.append(typed)
            stage.write(arrays)
            rows += batch.num_rows
            if stage.spoiled:
                raise SilverError(f"{csv_path.name}: {stage.spoiled}")
        result = stage.close()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, KeyError, domotypes.FieldTooLarge) as exc:
        out_path.unlink(missing_ok=True)
        raise SilverError(f"{csv_path.name}: {exc}") from None
    if result is None:
        raise SilverError(f"{csv_path.name}: {stage.spoiled}")
    return result


def _refusal(values: pa.Array, column: Column, rows_before: int) -> str:
    bad = domotypes.bad_values(values, column.type)
    indices = pc.indices_nonzero(bad)
    if len(indices):
        index = indices[0].as_py()
        return f"column {column.name!r}, row {rows_before + index + 1}: {values[index].as_py()!r} is not {column.type}"
    return f"column {column.name!r}: values from row {rows_before + 1} do not fit {column.type} (more than 38 digits?)"


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
