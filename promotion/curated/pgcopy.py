"""PostgreSQL's binary COPY format, written from Arrow record batches without a Python loop per row.

The server reads binary fields with each type's receive function: no text to scan for quotes and
delimiters, no float, numeric, date or timestamp to parse. That halves the server's work of a COPY
against CSV of the same rows (measured: 1.1–1.4 s against 2.5–3.4 s for the bench's 1,000,000 rows).

A tuple is an int16 field count, then per field an int32 byte length (-1 for NULL) and the bytes,
all big-endian (https://www.postgresql.org/docs/current/sql-copy.html, "Binary Format"). Each field
is built for the whole batch at once as an Arrow binary array of its pieces (length and bytes, or
the NULL marker); one `binary_join_element_wise` then lays the pieces out row after row.

Field encodings (the types' `*_send` functions):
- `_row`, LONG: int8; DOUBLE: float8 (IEEE-754 bits as they are: NaN, infinities and -0.0 survive);
- STRING: the UTF-8 bytes (the server checks the encoding, as it does for text input);
- DATE: int4 days since 2000-01-01; DATETIME: int8 microseconds since 2000-01-01;
- DECIMAL: numeric's base-10000 form (ndigits, weight, sign, dscale, digits). Unscaled values that
  fit an int64 at a scale up to 16 are split into a fixed 5 integer and ceil(scale / 4) fraction
  digits, leading and trailing zero digits included: the server strips them (make_result). Wider
  values go through Python ints, the same form with only the digits they need.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
TRAILER = b"\xff\xff"
_NULL = pa.scalar(b"\xff\xff\xff\xff", pa.large_binary())
_PG_EPOCH_DAYS = 10_957  # 2000-01-01 in days since 1970-01-01
_PG_EPOCH_US = 946_684_800_000_000
_NUMERIC_POS, _NUMERIC_NEG = 0x0000, 0x4000
_FAST_SCALE = 16  # fraction * 10**3 stays below 2**64
_INTEGER_GROUPS = 5  # base-10000 digits of any uint64 below 10**20


def encode_batch(batch: pa.RecordBatch, first_row: int, columns: list[tuple[str, str]]) -> pa.Buffer:
    """The binary COPY tuples of one batch: `_row` (first_row, first_row + 1, ...) then its columns."""
    n = batch.num_rows
    pieces = [_fixed(np.full(n, 1 + len(columns), ">i2"), with_length=False),
              _fixed(np.arange(first_row, first_row + n, dtype=">i8"))]
    for array, (_, domo_type) in zip(batch.columns, columns):
        pieces.append(_field(array, domo_type))
    rows = pc.binary_join_element_wise(*pieces, pa.scalar(b"", pa.large_binary()))
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64, count=n + 1, offset=8 * rows.offset)
    return rows.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0]))


def _field(array: pa.Array, domo_type: str) -> pa.Array:
    if domo_type == "STRING":
        piece = _text(array)
    elif domo_type == "LONG":
        piece = _fixed(_values(pc.cast(array, pa.int64()), np.int64).astype(">i8"))
    elif domo_type == "DOUBLE":
        piece = _fixed(_values(pc.cast(array, pa.float64()), np.float64).astype(">f8"))
    elif domo_type == "DATE":
        days = _values(pc.cast(pc.cast(array, pa.date32()), pa.int32()), np.int32)
        piece = _fixed((days - _PG_EPOCH_DAYS).astype(">i4"))
    elif domo_type == "DATETIME":
        micros = pc.cast(pc.cast(array, pa.timestamp("us", getattr(array.type, "tz", None))), pa.int64())
        piece = _fixed((_values(micros, np.int64) - _PG_EPOCH_US).astype(">i8"))
    elif domo_type == "DECIMAL":
        piece = _numeric(array)
    else:
        raise ValueError(f"no binary COPY encoding for {domo_type!r}")
    if array.null_count == 0:
        return piece
    return pc.if_else(pc.is_null(array), _NULL, piece)


def _values(array: pa.Array, dtype) -> np.ndarray:
    """A primitive array's values as numpy (NULL slots hold whatever the buffer holds: masked later)."""
    return np.frombuffer(array.buffers()[1], dtype=dtype, count=len(array), offset=array.offset * np.dtype(dtype).itemsize)


def _fixed(values: np.ndarray, *, with_length: bool = True) -> pa.Array:
    """Each value's big-endian bytes, after their int32 length unless with_length is False."""
    if with_length:
        record = np.empty(len(values), np.dtype([("length", ">i4"), ("value", values.dtype, values.shape[1:])]))
        record["length"] = values.dtype.itemsize * int(np.prod(values.shape[1:], dtype=np.int64))
        record["value"] = values
    else:
        record = values
    width = record.dtype.itemsize
    offsets = np.arange(0, (len(record) + 1) * width, width, dtype=np.int64)
    return pa.Array.from_buffers(pa.large_binary(), len(record), [None, pa.py_buffer(offsets), pa.py_buffer(record)])


def _text(array: pa.Array) -> pa.Array:
    data = pc.cast(array, pa.large_binary())
    lengths = pc.fill_null(pc.binary_length(data), 0)
    prefix = _fixed(lengths.to_numpy(zero_copy_only=False).astype(">i4"), with_length=False)
    return pc.binary_join_element_wise(prefix, data, pa.scalar(b"", pa.large_binary()))


def _numeric(array: pa.Array) -> pa.Array:
    decimal = array if pa.types.is_decimal128(array.type) else pc.cast(array, pa.decimal128(38, array.type.scale))
    scale, n = decimal.type.scale, len(decimal)
    words = np.frombuffer(decimal.buffers()[1], dtype="<i8", count=2 * n, offset=16 * decimal.offset).reshape(n, 2)
    low, high = words[:, 0], words[:, 1]
    valid = ~np.asarray(pc.is_null(decimal)) if decimal.null_count else np.ones(n, bool)
    fits_int64 = (high == (low >> 63)) | ~valid
    if scale > _FAST_SCALE or scale < 0 or not fits_int64.all():
        return _numeric_python(decimal)
    value = np.where(valid, low, 0)
    negative = value < 0
    magnitude = np.where(negative, -(value + 1), value).astype(np.uint64) + negative  # |int64 min| fits uint64
    unit = np.uint64(10 ** scale)
    integer, fraction = magnitude // unit, magnitude % unit
    fraction_groups = -(-scale // 4)
    fraction = fraction * np.uint64(10 ** (4 * fraction_groups - scale))
    groups = _INTEGER_GROUPS + fraction_groups
    record = np.empty(n, np.dtype([("length", ">i4"), ("ndigits", ">i2"), ("weight", ">i2"), ("sign", ">u2"),
                                    ("dscale", ">i2"), ("digits", ">i2", (groups,))]))
    record["length"] = 8 + 2 * groups
    record["ndigits"] = groups
    record["weight"] = _INTEGER_GROUPS - 1
    record["sign"] = np.where(negative, _NUMERIC_NEG, _NUMERIC_POS)
    record["dscale"] = scale
    base = np.uint64(10_000)
    for k in range(_INTEGER_GROUPS):
        record["digits"][:, _INTEGER_GROUPS - 1 - k] = integer % base
        integer //= base
    for k in range(fraction_groups):
        record["digits"][:, groups - 1 - k] = fraction % base
        fraction //= base
    return _fixed(record, with_length=False)


def _numeric_python(decimal: pa.Array) -> pa.Array:
    """Numerics the int64 path cannot hold, through Python ints (slow; only for such batches)."""
    scale = decimal.type.scale
    fraction_groups = -(-scale // 4) if scale > 0 else 0
    pad = 10 ** (4 * fraction_groups - scale) if scale > 0 else 1
    raw = decimal.buffers()[1]
    start = 16 * decimal.offset
    valid = decimal.is_valid().to_pylist() if decimal.null_count else None
    pieces = []
    for i in range(len(decimal)):
        if valid is not None and not valid[i]:
            pieces.append(None)
            continue
        unscaled = int.from_bytes(raw[start + 16 * i:start + 16 * (i + 1)], "little", signed=True)
        sign = _NUMERIC_NEG if unscaled < 0 else _NUMERIC_POS
        if scale >= 0:
            magnitude = abs(unscaled) * pad
        else:  # a negative scale: whole groups of zeros to the left of the point
            magnitude = abs(unscaled) * 10 ** (-scale)
        digits = []
        while magnitude:
            magnitude, digit = divmod(magnitude, 10_000)
            digits.append(digit)
        digits.reverse()
        weight = len(digits) - 1 - fraction_groups
        body = b"".join(d.to_bytes(2, "big") for d in digits)
        head = (len(digits).to_bytes(2, "big") + (weight if digits else 0).to_bytes(2, "big", signed=True)
                + sign.to_bytes(2, "big") + max(scale, 0).to_bytes(2, "big"))
        pieces.append((8 + len(body)).to_bytes(4, "big") + head + body)
    return pc.fill_null(pa.array(pieces, pa.large_binary()), _NULL)
