"""PostgreSQL's own hash functions (Bob Jenkins' lookup3, src/common/hashfn.c), vectorized over Arrow
arrays with pyarrow.compute, so silver's rows hash to exactly what PostgreSQL's `hashint4extended`,
`hashint8extended`, `hashfloat8extended` and `hashtextextended` (C collation) return for the loaded
table. All arithmetic is on uint32 arrays, which wrap like C's; a 64-bit hash is `(b << 32) | c`.

The checksum uses these because PostgreSQL's md5() pays an OpenSSL context per call (about 2 µs a
row, the whole cost of the old checksum) while these run at scan speed. The load itself compares the
two sides on every load; test_edge_values_of_every_type_verify (tests/promotion/test_curated_load.py)
holds them to the server on the hard values of every type."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

U32, U64 = pa.uint32(), pa.uint64()
_MASK32 = 0xFFFFFFFF
_GOLDEN = 0x9E3779B9 + 3923095
_SHIFT = {k: pa.scalar(k, U32) for k in range(1, 32)}
_LOW32 = pa.scalar(_MASK32, U64)
_THIRTY_TWO = pa.scalar(32, U64)
_EMPTY = pa.scalar(b"", pa.large_binary())
_PAD_BYTES = 32 << 20  # at most this much padded copy of a batch's text column


# --- the primitive, once on Python ints (constants) and once on arrays ------------------------------------
def _rot_int(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _MASK32


def _mix_int(a: int, b: int, c: int) -> tuple[int, int, int]:
    for x, y, z, k in ((0, 2, 1, 4), (1, 0, 2, 6), (2, 1, 0, 8), (0, 2, 1, 16), (1, 0, 2, 19), (2, 1, 0, 4)):
        s = [a, b, c]
        s[x] = ((s[x] - s[y]) & _MASK32) ^ _rot_int(s[y], k)
        s[y] = (s[y] + s[z]) & _MASK32
        a, b, c = s
    return a, b, c


def hash_uint32_int(k: int, seed: int) -> int:
    """hash_bytes_uint32_extended on Python ints (for values shared by a whole column)."""
    a = b = c = (_GOLDEN + 4) & _MASK32
    if seed:
        a, b, c = _mix_int((a + (seed >> 32)) & _MASK32, (b + seed) & _MASK32, c)
    a = (a + k) & _MASK32
    for x, y, r in ((2, 1, 14), (0, 2, 11), (1, 0, 25), (2, 1, 16), (0, 2, 4), (1, 0, 14), (2, 1, 24)):
        s = [a, b, c]
        s[x] = ((s[x] ^ s[y]) - _rot_int(s[y], r)) & _MASK32
        a, b, c = s
    return (b << 32) | c


def _rot(x: pa.Array, k: int) -> pa.Array:
    return pc.bit_wise_or(pc.shift_left(x, _SHIFT[k]), pc.shift_right(x, _SHIFT[32 - k]))


def _mix(a, b, c):
    # a -= c; a ^= rot(c, 4); c += b;  b -= a; b ^= rot(a, 6); a += c;  c -= b; c ^= rot(b, 8); b += a; ...
    add, sub, xor = pc.add, pc.subtract, pc.bit_wise_xor
    a = xor(sub(a, c), _rot(c, 4)); c = add(c, b)  # noqa: E702
    b = xor(sub(b, a), _rot(a, 6)); a = add(a, c)  # noqa: E702
    c = xor(sub(c, b), _rot(b, 8)); b = add(b, a)  # noqa: E702
    a = xor(sub(a, c), _rot(c, 16)); c = add(c, b)  # noqa: E702
    b = xor(sub(b, a), _rot(a, 19)); a = add(a, c)  # noqa: E702
    c = xor(sub(c, b), _rot(b, 4)); b = add(b, a)  # noqa: E702
    return a, b, c


def _final(a, b, c) -> pa.Array:
    """lookup3's final() and the 64-bit result (b << 32) | c."""
    xor, sub = pc.bit_wise_xor, pc.subtract
    c = sub(xor(c, b), _rot(b, 14))
    a = sub(xor(a, c), _rot(c, 11))
    b = sub(xor(b, a), _rot(a, 25))
    c = sub(xor(c, b), _rot(b, 16))
    a = sub(xor(a, c), _rot(c, 4))
    b = sub(xor(b, a), _rot(a, 14))
    c = sub(xor(c, b), _rot(b, 24))
    return pc.bit_wise_or(pc.shift_left(pc.cast(b, U64, safe=False), _THIRTY_TWO), pc.cast(c, U64, safe=False))


def _u32(value: int) -> pa.Scalar:
    return pa.scalar(value & _MASK32, U32)


def _state(length, seed, n: int):
    """a, b, c after `a = b = c = 0x9e3779b9 + len + 3923095` and the seed's perturbation (seed != 0)."""
    if isinstance(length, int) and isinstance(seed, int):
        a = b = c = (_GOLDEN + length) & _MASK32
        if seed:
            a, b, c = _mix_int((a + (seed >> 32)) & _MASK32, (b + seed) & _MASK32, c)
        return tuple(pa.repeat(_u32(v), n) for v in (a, b, c))
    init = pc.add(pc.cast(length, U32), _u32(_GOLDEN)) if not isinstance(length, int) else pa.repeat(
        _u32(_GOLDEN + length), n)
    if isinstance(seed, int):
        if not seed:
            return init, init, init
        return _mix(pc.add(init, _u32(seed >> 32)), pc.add(init, _u32(seed)), init)
    hi, lo = split64(seed)
    mixed = _mix(pc.add(init, hi), pc.add(init, lo), init)
    unseeded = pc.equal(seed, pa.scalar(0, U64))
    if not pc.any(unseeded).as_py():  # seeds are hashes here: zero is a 2**-64 chance, kept exact anyway
        return mixed
    return tuple(pc.if_else(unseeded, init, m) for m in mixed)


def split64(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(high, low) 32-bit halves of a uint64 (or int64, as its two's complement) array."""
    bits = values if values.type == U64 else pc.cast(values, U64, safe=False)
    return (pc.cast(pc.shift_right(bits, _THIRTY_TWO), U32, safe=False), pc.cast(bits, U32, safe=False))


# --- PostgreSQL's functions --------------------------------------------------------------------------------
def hash_uint32(values: pa.Array, seed) -> pa.Array:
    """hash_bytes_uint32_extended(k, seed): PostgreSQL's hashint4extended(k, seed) as uint64."""
    a, b, c = _state(4, seed, len(values))
    return _final(pc.add(a, values), b, c)


def hash_int8_folded(values: pa.Array, seed) -> pa.Array:
    """PostgreSQL's hashint8extended (and timestamp_hash_extended): low ^ (v >= 0 ? high : ~high)."""
    bounds = pc.min_max(values).as_py()
    if bounds["min"] is not None and 0 <= bounds["min"] and bounds["max"] < 1 << 32:  # high half 0 (row numbers)
        return hash_uint32(pc.cast(values, U32, safe=False), seed)
    high, low = split64(values)
    negative = pc.less(values, pa.scalar(0, values.type))
    return hash_uint32(pc.bit_wise_xor(low, pc.if_else(negative, pc.bit_wise_not(high), high)), seed)


def hash_float8(values: pa.Array, seed) -> pa.Array:
    """hashfloat8extended for non-zero doubles (PostgreSQL returns the seed for ±0; NaNs are one NaN)."""
    nan = pc.is_nan(values)
    if pc.any(nan).as_py():
        values = pc.if_else(nan, pa.scalar(float("nan")), values)
    bits = pa.Array.from_buffers(U64, len(values), [None, values.buffers()[1]], offset=values.offset)
    high, low = split64(bits)
    a, b, c = _state(8, seed, len(values))
    return _final(pc.add(a, low), pc.add(b, high), c)


def _block_words(blocks: pa.Array, start: int) -> tuple[pa.Array, pa.Array, pa.Array]:
    """The three little-endian uint32 words of each row's 12 bytes from `start`, zero-padded."""
    window = pc.binary_join_element_wise(pc.binary_slice(blocks, start, start + 12),
                                         pa.scalar(b"\x00" * 12, pa.large_binary()), _EMPTY)
    words = _padded_words(window, 12)
    return tuple(pc.list_element(words, i) for i in range(3))


def _padded_words(blocks: pa.Array, width: int) -> pa.FixedSizeListArray:
    """Each row's bytes zero-padded to `width` (a multiple of 12), as little-endian uint32 words."""
    padded = pc.binary_join_element_wise(blocks, pa.scalar(b"\x00" * width, pa.large_binary()), _EMPTY)
    fixed = pc.cast(pc.binary_slice(padded, 0, width), pa.binary(width))
    words = width // 4
    return pa.FixedSizeListArray.from_arrays(
        pa.Array.from_buffers(U32, words * len(blocks), [None, fixed.buffers()[1]], offset=words * fixed.offset), words
    )


def hash_bytes(values: pa.Array, seed) -> pa.Array:
    """hash_bytes_extended over each value's bytes: PostgreSQL's hashtextextended(v COLLATE "C", seed).
    Full 12-byte blocks are mixed in; the last 0..11 bytes are added (c's low byte is the length's)."""
    blocks = pc.fill_null(pc.cast(values, pa.large_binary()), _EMPTY)
    n = len(blocks)
    lengths = pc.binary_length(blocks)
    full = pc.divide(lengths, pa.scalar(12, lengths.type))
    a, b, c = _state(lengths, seed, n)
    top = pc.max(full).as_py() or 0
    # Short values (the usual): pad every row once to the longest; a long one somewhere: block by block.
    words = _padded_words(blocks, 12 * (top + 1)) if 12 * (top + 1) * n <= _PAD_BYTES else None
    for block in range(top + 1):
        if words is not None:
            w0, w1, w2 = (pc.list_element(words, 3 * block + i) for i in range(3))
        else:
            w0, w1, w2 = _block_words(blocks, 12 * block)
        here = pa.scalar(block, full.type)
        # Rows with a full block here mix it in; rows whose tail this is add it (c takes bytes 8..10 << 8);
        # rows already done keep their state. Uniform batches skip the selections.
        ta, tb, tc = pc.add(a, w0), pc.add(b, w1), pc.add(c, pc.shift_left(w2, _SHIFT[8]))
        if block == top:  # no full block left: every row still going adds its tail
            if block == 0 or pc.all(pc.equal(full, here)).as_py():
                a, b, c = ta, tb, tc
            else:
                is_tail = pc.equal(full, here)
                a, b, c = (pc.if_else(is_tail, t, x) for t, x in ((ta, a), (tb, b), (tc, c)))
            break
        is_full, is_tail = pc.greater(full, here), pc.equal(full, here)
        fa, fb, fc = _mix(ta, tb, pc.add(c, w2))
        a = pc.if_else(is_full, fa, pc.if_else(is_tail, ta, a))
        b = pc.if_else(is_full, fb, pc.if_else(is_tail, tb, b))
        c = pc.if_else(is_full, fc, pc.if_else(is_tail, tc, c))
    return _final(a, b, c)


def to_signed_sum(hashes: pa.Array) -> int:
    """The exact sum of uint64 hashes read as PostgreSQL bigints (two's complement)."""
    if len(hashes) == 0:
        return 0
    high, low = split64(hashes)
    negative = pc.sum(pc.cast(pc.greater_equal(hashes, pa.scalar(1 << 63, U64)), pa.int64())).as_py() or 0
    return (pc.sum(low).as_py() or 0) + ((pc.sum(high).as_py() or 0) << 32) - (negative << 64)
