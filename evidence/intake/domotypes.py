"""Domo's column types in Arrow: which text is a value of a type, and that text as a typed array.

Plain module, no Django. Types follow the Leaf IQ format: STRING → string (an empty field is the
empty string), LONG → int64, DOUBLE → float64, DECIMAL → decimal128(38, s) at the column's largest
scale (never float), DATE → date32, DATETIME → timestamp[us] without zone; an empty field is NULL for
every type but STRING.

Two functions, one rule:
- bad_values() is the rule, value by value: regular expressions of the format's spellings, with a
  round trip for dates (2026-02-30 is not a date). Validation lists bad values with it;
- convert() turns a whole batch of text into its typed array in one pass (Arrow's casts, plus the few
  checks where a cast accepts spellings the format does not: hexadecimal integers, exponents in a
  decimal, other ISO 8601 forms of a time). It is what validation tries first and what silver
  writes, so a CSV is parsed once for both. It returns None when it cannot take the batch as it
  stands; bad_values() then says which values are wrong, if any.
convert() never accepts a value bad_values() refuses (tests/evidence/test_domotypes.py holds them
to it on generated text).

text_batches() is how every reader takes a CSV's text: Arrow's streaming reader in 1 MiB blocks, and
record by record where a record is longer than a block, with no field over the intake's limit
(evidence.intake.csvfields).
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from evidence.intake.csvfields import DEFAULT_MAX_FIELD_BYTES, FieldTooLarge, field_limit, oversized

DOMO_TYPES = ("STRING", "LONG", "DOUBLE", "DECIMAL", "DATE", "DATETIME")
DECIMAL_PRECISION = 38

VALUE_PATTERNS = {
    "LONG": r"^-?[0-9]+$",
    "DOUBLE": r"^[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|(?i:nan|inf|infinity))$",
    "DECIMAL": r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)$",
    "DATE": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    "DATETIME": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$",
}
TIME_FORMATS = {"DATE": "%Y-%m-%d", "DATETIME": "%Y-%m-%dT%H:%M:%S"}
_NO_TEXT = pa.scalar(None, pa.string())
# Bytes of CSV per record batch. Measured: at 1 MiB the reader's peak memory stays flat (~40 MB) from
# 100 MB to 300 MB files; at 4 MiB and up it grows with the file (read-ahead).
BLOCK_SIZE = 1024 * 1024


def text_reader(path: Path, names: Sequence[str], include: Sequence[str] | None = None) -> pacsv.CSVStreamingReader:
    """A Domo CSV, streamed in record batches with every column (or those in include) as text, exactly
    as written: an empty field (quoted or not) is the empty string, a blank line is a record, bytes
    must be UTF-8 (a byte order mark is skipped)."""
    return pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=BLOCK_SIZE),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            include_columns=list(include) if include is not None else None,
            strings_can_be_null=False, quoted_strings_can_be_null=False, null_values=[], check_utf8=True,
        ),
    )


def text_batches(path: Path, names: Sequence[str], include: Sequence[str] | None = None, *,
                 max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES) -> Iterator[pa.RecordBatch]:
    """text_reader's batches, whatever the size of a record, with no field over max_field_bytes.

    Arrow reads a record only if it fits in one block (BLOCK_SIZE): a longer one (a field of long
    HTML) is "straddling". From there the CSV is read on record by record with Python's csv module,
    in batches of about BLOCK_SIZE, the same text as Arrow's. Raises FieldTooLarge (row and column) for
    a field over the limit, and ArrowInvalid for what Arrow's reader would refuse (a ragged record,
    bytes that are not UTF-8)."""
    rows = 0
    try:
        reader = text_reader(path, names, include)
        if include is None and reader.schema.names != list(names):
            raise pa.ArrowInvalid(f"CSV header {reader.schema.names} is not {list(names)}")
        for batch in reader:
            _check_sizes(batch, rows, max_field_bytes)
            yield batch
            rows += batch.num_rows
        return
    except pa.ArrowInvalid as exc:
        if "straddling" not in str(exc):
            raise
    yield from _record_batches(path, names, include, skip=rows, max_field_bytes=max_field_bytes)


def _check_sizes(batch: pa.RecordBatch, rows_before: int, limit: int) -> None:
    if batch.num_rows == 0 or batch.nbytes <= limit:
        return
    for name, values in zip(batch.schema.names, batch.columns):
        lengths = pc.binary_length(values)
        if (pc.max(lengths).as_py() or 0) > limit:
            index = pc.indices_nonzero(pc.greater(lengths, limit))[0].as_py()
            raise FieldTooLarge(row=rows_before + index + 1, column=name, size=lengths[index].as_py(), limit=limit)


def _record_batches(path: Path, names: Sequence[str], include: Sequence[str] | None, *, skip: int,
                    max_field_bytes: int) -> Iterator[pa.RecordBatch]:
    wanted = list(include) if include is not None else list(names)
    positions = [list(names).index(name) for name in wanted]
    schema = pa.schema([pa.field(name, pa.string()) for name in wanted])
    columns: list[list[str]] = [[] for _ in wanted]
    held = rows = batched = 0
    with field_limit(max_field_bytes), path.open("rb") as handle:
        text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="strict", newline="")
        reader = csv.reader(text)
        try:
            next(reader, None)  # the header
            for record in reader:
                rows += 1
                if rows <= skip:
                    continue
                record = record or [""]  # a blank line: one empty field, as Arrow reads it
                if len(record) != len(names):
                    raise pa.ArrowInvalid(f"CSV parse error: row {rows} has {len(record)} fields, expected {len(names)}")
                if (found := oversized(record, max_field_bytes)) is not None:
                    raise FieldTooLarge(row=rows, column=names[found[0]], size=found[1], limit=max_field_bytes)
                for values, position in zip(columns, positions):
                    values.append(record[position])
                    held += len(record[position])
                batched += 1
                if held >= BLOCK_SIZE or batched >= 65536:
                    yield pa.record_batch([pa.array(values, pa.string()) for values in columns], schema=schema)
                    columns, held, batched = [[] for _ in wanted], 0, 0
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise FieldTooLarge(row=rows + 1, column=None, size=None, limit=max_field_bytes) from None
            raise pa.ArrowInvalid(f"CSV parse error: row {rows + 1}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise pa.ArrowInvalid(f"CSV conversion error: invalid UTF-8 after row {rows}: {exc}") from None
    if batched and wanted:
        yield pa.record_batch([pa.array(values, pa.string()) for values in columns], schema=schema)


def arrow_type(column_type: str, decimal_scale: int = 0) -> pa.DataType:
    """The Arrow type of a Domo type (ValueError for a type the format does not name)."""
    match column_type:
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
    raise ValueError(f"unknown Domo type {column_type!r}")


# --- the rule, value by value -------------------------------------------------------------------
def bad_values(values: pa.Array, column_type: str) -> pa.Array:
    """True where a text value is not a column_type value; empty is NULL, valid for every type."""
    if column_type == "STRING":
        return pa.repeat(pa.scalar(False), len(values))
    ok = pc.match_substring_regex(values, VALUE_PATTERNS[column_type])
    if column_type in TIME_FORMATS and not _real_times(pc.if_else(ok, values, _NO_TEXT), column_type):
        # strptime rolls 2026-02-30 over to March; a value is a real date only if it prints back as itself.
        fmt = TIME_FORMATS[column_type]
        parsed = pc.strptime(pc.if_else(ok, values, _NO_TEXT), format=fmt, unit="s", error_is_null=True)
        ok = pc.equal(pc.strftime(parsed, format=fmt), values)
    elif column_type == "LONG":
        # Over 64 bits: more than 19 significant digits, or 19 and above the limit (leading zeros are not digits).
        digits = pc.replace_substring_regex(values, "^-?0*", "")
        limit = pc.if_else(pc.starts_with(values, "-"), pa.scalar("9223372036854775808"),
                           pa.scalar("9223372036854775807"))
        overflow = pc.and_(pc.greater_equal(pc.utf8_length(digits), 19),
                           pc.or_(pc.greater(pc.utf8_length(digits), 19), pc.greater(digits, limit)))
        ok = pc.and_(ok, pc.invert(overflow))
    return pc.and_(pc.not_equal(values, ""), pc.invert(pc.fill_null(ok, False)))


def _real_times(shaped: pa.Array, column_type: str) -> bool:
    """True when every well-shaped value is a real date (time): Arrow's cast refuses 2026-02-30 and 24:00:00
    where strptime rolls them over. The common all-valid batch then skips the strftime round trip."""
    try:
        pc.cast(shaped, pa.date32() if column_type == "DATE" else pa.timestamp("s"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


# --- the batch, in one pass ---------------------------------------------------------------------
def _layout(values: pa.Array) -> tuple[np.ndarray, bytes]:
    """A text array's value offsets (len + 1, into the returned bytes) and the bytes of its values."""
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset:values.offset + len(values) + 1]
    data = values.buffers()[2]
    text = data[int(offsets[0]):int(offsets[-1])].to_pybytes() if data is not None and len(values) else b""
    return offsets - offsets[0], text


def fraction_digits(values: pa.Array) -> int:
    """The largest number of digits written after the point among DECIMAL texts (0 for none): 7.80 has
    two, as the exporter wrote it, so a column keeps the scale it is written with."""
    offsets, text = _layout(values)
    return _fraction_digits(offsets, text)


def _fraction_digits(offsets: np.ndarray, text: bytes) -> int:
    points = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == ord("."))
    if points.size == 0:
        return 0
    ends = offsets[np.searchsorted(offsets, points, side="right")]  # the end of the value holding each point
    return int((ends - points - 1).max())


def convert(values: pa.Array, column_type: str, scale: int = 0) -> pa.Array | None:
    """values (text, no NULLs) as column_type's Arrow array; None when the batch cannot be taken as it
    stands (a bad value, or a decimal wider than 38 digits): bad_values() then tells.

    A DECIMAL batch comes at `scale` (the column's scale so far) or, if some value is written with more
    fraction digits, at the batch's own scale (fraction_digits)."""
    if column_type == "STRING":
        return values
    if len(values) == 0:
        return pa.array([], arrow_type(column_type, scale))
    try:
        offsets, text_bytes = _layout(values)
        if column_type == "LONG" and (b"x" in text_bytes or b"X" in text_bytes):
            return None  # Arrow reads 0x1F as hexadecimal; the format has decimal digits only
        if column_type == "DECIMAL" and (b"e" in text_bytes or b"E" in text_bytes):
            return None  # Arrow reads 1e3 as a decimal; the format has no exponent
        lengths = np.diff(offsets)
        if column_type == "DATETIME" and not _datetime_shaped(values, lengths, text_bytes):
            return None
        # Empty is NULL (a batch without one, the common case, is cast as it is).
        text = pc.if_else(pc.equal(values, ""), _NO_TEXT, values) if not lengths.all() else values
        if column_type == "DECIMAL":
            scale = max(scale, _fraction_digits(offsets, text_bytes))
            if scale > DECIMAL_PRECISION:
                return None
        return pc.cast(text, arrow_type(column_type, scale))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _datetime_shaped(values: pa.Array, lengths: np.ndarray, text_bytes: bytes) -> bool:
    """Every non-empty value is YYYY-MM-DDTHH:MM:SS in length and separator: Arrow's ISO 8601 cast also
    reads a bare date, a space for the T, minutes only and fractions of a second (it refuses zones)."""
    filled = lengths[lengths > 0]
    if filled.size == 0 or (filled == 19).all():
        return b" " not in text_bytes  # 19 characters with a T, not a space, at 10: the format's shape
    return False
