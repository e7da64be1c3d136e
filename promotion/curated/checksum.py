"""The content checksum, computed the same way over silver (Arrow) and over a loaded table (SQL or Python).

Per row: the XOR of one 64-bit hash per column, each with its own seed (the column's position, `_row`
first with seed 1), so a value moved to another column or row changes the row's hash. The checksum is
the exact sum of those hashes read as signed bigints; the row count is checked beside it. The hashes
are PostgreSQL's own lookup3 functions (lookup3.py computes them over Arrow arrays):

- `_row`: hashint8extended(_row, 1), which folds the halves into 32 bits: one to one below 2**32 rows;
- LONG: hashint4extended(low 32 bits, seed) XOR hashint4extended(high 32 bits, seed + 2**16), so all
  64 bits count;
- STRING: hashtextextended(v COLLATE "C", seed), over the UTF-8 bytes;
- DOUBLE: hashfloat8extended(v, seed), its IEEE-754 bits (NaNs are one NaN); -0.0, which that function
  hashes like 0.0, has its own marker (-seed - 2**32);
- DECIMAL: hashtextextended of its text at the column's scale (sign and every digit);
- DATE: hashint4extended(days since 1970-01-01, seed);
- DATETIME: hashfloat8extended(seconds since 1970 as a double, seed) XOR hashint8extended(microseconds
  since 2000, seed + 2**16): the double alone tells microseconds apart from 1698 to 2242, the folded
  integer beside it everywhere else;
- NULL: the marker -seed.

PostgreSQL computes it in one (parallel) scan at about scan speed; md5 per row, the old form, cost
about 2 µs a row in OpenSSL context set-up alone."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from . import lookup3
from .backend import BATCH_ROWS, ROW_COLUMN, Backend

_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in microseconds since 1970 (PostgreSQL's timestamp zero)
NEGATIVE_ZERO = 1 << 32
HIGH_HALF = 1 << 16  # seed offset of a value's second hash (LONG's high half, DATETIME's microseconds)


def row_hash_sql(quote, columns: list[tuple[str, str]]) -> str:
    """PostgreSQL expression (bigint) of a row's hash; see the module docstring."""

    def int8(v: str, seed: int) -> str:
        return (f"hashint4extended(CAST({v} << 32 >> 32 AS integer), {seed}) "
                f"# hashint4extended(CAST({v} >> 32 AS integer), {seed + HIGH_HALF})")

    pieces = [f"hashint8extended({quote(ROW_COLUMN)}, 1)"]
    for position, (name, domo_type) in enumerate(columns, start=2):
        v, s = quote(name), position
        if domo_type == "DOUBLE":
            pieces.append(
                f"(CASE WHEN {v} IS NULL THEN {-s} WHEN {v} = 0 THEN "
                f"(CASE WHEN CAST({v} AS text) = '-0' THEN {-s - NEGATIVE_ZERO} ELSE {s} END) "
                f"ELSE hashfloat8extended({v}, {s}) END)"
            )
            continue
        hashed = {
            "STRING": f'hashtextextended({v} COLLATE "C", {s})',
            "LONG": int8(v, s),
            "DECIMAL": f"hashtextextended(CAST({v} AS text), {s})",
            "DATE": f"hashint4extended({v} - DATE '1970-01-01', {s})",
            "DATETIME": f"hashfloat8extended(date_part('epoch', {v}), {s}) # timestamp_hash_extended({v}, {s + HIGH_HALF})",
        }[domo_type]
        pieces.append(f"coalesce({hashed}, {-s})")  # one NULL operand makes the XOR NULL too
    return " # ".join(pieces)


def arrow_row_hashes(row_numbers: pa.Array, arrays: list[pa.Array], columns: list[tuple[str, str]]) -> pa.Array:
    """uint64 row hashes of silver's (or a fetched table's) columns, as PostgreSQL's row_hash_sql."""
    row = lookup3.hash_int8_folded(row_numbers, 1)
    for position, (array, (_, domo_type)) in enumerate(zip(arrays, columns), start=2):
        row = pc.bit_wise_xor(row, _column_hashes(array, domo_type, position))
    return row


def _marker(value: int, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value & 0xFFFFFFFFFFFFFFFF, lookup3.U64), n)


def _per_distinct(array: pa.Array, hash_values: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """hash_values over each distinct value once when a batch repeats them (names, dates, codes)."""
    if len(array) >= 1024:  # encoding costs a fraction of hashing text; a column of unique values wastes it
        encoded = pc.dictionary_encode(array)
        if 2 * len(encoded.dictionary) <= len(array):
            return pc.take(hash_values(encoded.dictionary), encoded.indices)
    return hash_values(array)


def _column_hashes(array: pa.Array, domo_type: str, seed: int) -> pa.Array:
    n = len(array)
    if domo_type == "STRING":
        hashed = _per_distinct(array, lambda values: lookup3.hash_bytes(values, seed))
    elif domo_type == "LONG":
        values = pc.cast(array, pa.int64())
        high, low = lookup3.split64(values)
        bounds = pc.min_max(values).as_py()
        if bounds["min"] is not None and -(1 << 31) <= bounds["min"] and bounds["max"] < 1 << 31:
            # high half is only the sign: its two hashes are constants
            signs = {0: lookup3.hash_uint32_int(0, seed + HIGH_HALF),
                     1: lookup3.hash_uint32_int(0xFFFFFFFF, seed + HIGH_HALF)}
            high_hash = pc.if_else(pc.less(values, pa.scalar(0, pa.int64())),
                                   pa.scalar(signs[1], lookup3.U64), pa.scalar(signs[0], lookup3.U64)) \
                if bounds["min"] < 0 else pa.scalar(signs[0], lookup3.U64)
        else:
            high_hash = lookup3.hash_uint32(high, seed + HIGH_HALF)
        hashed = pc.bit_wise_xor(lookup3.hash_uint32(low, seed), high_hash)
    elif domo_type == "DECIMAL":
        hashed = lookup3.hash_bytes(array if pa.types.is_string(array.type) else decimal_text(array), seed)
    elif domo_type == "DATE":
        days = pc.cast(pc.cast(array, pa.date32()), pa.int32())
        hashed = _per_distinct(days, lambda values: lookup3.hash_uint32(pc.cast(values, lookup3.U32, safe=False), seed))
    elif domo_type == "DATETIME":
        micros = pc.cast(pc.cast(array, pa.timestamp("us", getattr(array.type, "tz", None))), pa.int64())
        seconds = pc.divide(pc.cast(micros, pa.float64(), safe=False), pa.scalar(1_000_000.0))
        folded = lookup3.hash_int8_folded(pc.subtract(micros, pa.scalar(_PG_EPOCH_US)), seed + HIGH_HALF)
        float_hash = lookup3.hash_float8(seconds, seed)
        zero = pc.equal(seconds, pa.scalar(0.0))  # hashfloat8extended(0, s) is s
        if pc.any(zero).as_py():
            float_hash = pc.if_else(zero, _marker(seed, n), float_hash)
        hashed = pc.bit_wise_xor(float_hash, folded)
    elif domo_type == "DOUBLE":
        values = pc.cast(array, pa.float64())
        bits = pa.Array.from_buffers(lookup3.U64, n, [None, values.buffers()[1]], offset=values.offset)
        hashed = lookup3.hash_float8(values, seed)
        zero = pc.equal(values, pa.scalar(0.0))
        if pc.any(zero).as_py():
            negative_zero = pc.and_(zero, pc.not_equal(bits, pa.scalar(0, lookup3.U64)))
            hashed = pc.if_else(
                zero, pc.if_else(negative_zero, _marker(-seed - NEGATIVE_ZERO, n), _marker(seed, n)), hashed
            )
    else:
        raise ValueError(f"no checksum for {domo_type!r}")
    if array.null_count == 0:
        return hashed
    return pc.if_else(pc.is_null(array), _marker(-seed, n), hashed)


def decimal_text(array: pa.Array) -> pa.Array:
    """Decimals as PostgreSQL's numeric(p, s) prints them: plain digits at the scale. Arrow writes
    small values at a large scale in scientific notation (1E-12, 0E-12): those rows go through Python."""
    text = pc.cast(array, pa.string())
    scientific = pc.match_substring(text, "E")
    if not pc.any(scientific).as_py():
        return text
    fixed = [format(value, "f") if sci else None
             for value, sci in zip(array.to_pylist(), scientific.to_pylist())]
    return pc.if_else(scientific, pa.array(fixed, pa.string()), text)


def table_checksum(backend: Backend, table: str, columns: list[tuple[str, str]]) -> tuple[int, str]:
    """(rows, checksum) of a loaded table, computed the same way as silver_checksum."""
    q = backend.quote
    if backend.vendor == "postgresql":
        rows, total = backend.execute(f"SELECT count(*), sum({row_hash_sql(q, columns)}) FROM {q(table)}")[0]
        return rows, str(total or 0)
    # SQLite and SQL Server have none of these functions in SQL: hash the rows here, one scan, in chunks.
    cursor = backend.raw.cursor()
    cursor.execute(f"SELECT {', '.join(q(c) for c in [ROW_COLUMN, *(n for n, _ in columns)])} FROM {q(table)}")
    rows = total = 0
    while chunk := cursor.fetchmany(BATCH_ROWS):
        fields = list(zip(*chunk))
        arrays = [_fetched_array(values, domo_type) for values, (_, domo_type) in zip(fields[1:], columns)]
        hashes = arrow_row_hashes(pa.array(fields[0], pa.int64()), arrays, columns)
        total += lookup3.to_signed_sum(hashes)
        rows += len(chunk)
    cursor.close()
    return rows, str(total)


def _fetched_array(values: tuple, domo_type: str) -> pa.Array:
    """A column as the driver returned it (SQLite: dates and decimals as text) as an Arrow array."""
    if domo_type == "STRING":
        return pa.array(values, pa.string())
    if domo_type == "LONG":
        return pa.array([None if v is None else int(v) for v in values], pa.int64())
    if domo_type == "DOUBLE":
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    if domo_type == "DECIMAL":  # the canonical text at the column's scale
        return pa.array([None if v is None else (v if isinstance(v, str) else format(Decimal(v), "f"))
                         for v in values], pa.string())
    if domo_type == "DATE":
        return pa.array([None if v is None else (dt.date.fromisoformat(v[:10]) if isinstance(v, str) else v)
                         for v in values], pa.date32())
    if domo_type == "DATETIME":
        return pa.array([None if v is None else (dt.datetime.fromisoformat(v) if isinstance(v, str) else v)
                         .replace(tzinfo=None) for v in values], pa.timestamp("us"))
    raise ValueError(f"no checksum for {domo_type!r}")


def silver_checksum(batches: Callable[[], Iterator[pa.RecordBatch]], arrow_schema: pa.Schema,
                    columns: list[tuple[str, str]]) -> tuple[int, str]:
    """(rows, checksum) of silver record batches: the twin of the loaded table's checksum."""
    rows = total = 0
    base = None
    for batch in batches():
        if base is None or len(base) < batch.num_rows:
            base = pa.array(range(batch.num_rows), pa.int64())
        numbers = pc.add(base.slice(0, batch.num_rows), pa.scalar(rows, pa.int64()))
        total += lookup3.to_signed_sum(arrow_row_hashes(numbers, list(batch.columns), columns))
        rows += batch.num_rows
    return rows, str(total)
