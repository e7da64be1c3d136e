"""The Arrow lookup3 functions return what PostgreSQL's own hash functions return, value by value.

The curated checksum compares silver (hashed here) with the loaded table (hashed by the server); these
hold each function to the server directly, text through both of hash_bytes' paths: every row padded
to the longest (the usual), and block by block (a batch with a very long value)."""
from __future__ import annotations

import pyarrow as pa
import pytest
from django.db import connection

from promotion.curated import lookup3

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db]

TEXTS = ["", "a", "ab", "abc", "abcd", "é", "日本語テキスト", "x" * 11, "x" * 12, "x" * 13, "y" * 23, "y" * 24,
         "y" * 25, "z" * 36, "line\nbreak", "q" * 1000, "Store 17, \"North\""]
SEEDS = [0, 1, 7, 2**16 + 3, -5]


def server(sql: str, params: list) -> list[int]:
    with connection.cursor() as cursor:  # any PostgreSQL session: its hash functions are the reference
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def as_signed(values: pa.Array) -> list[int]:
    return [v - (1 << 64) if v >= 1 << 63 else v for v in values.to_pylist()]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("path", ["padded", "block by block"])
def test_text_hashes_equal_hashtextextended(seed, path, monkeypatch):
    if path == "block by block":
        monkeypatch.setattr(lookup3, "_PAD_BYTES", 0)  # the size limit that sends a batch block by block

    ours = as_signed(lookup3.hash_bytes(pa.array(TEXTS), seed))

    theirs = server('SELECT hashtextextended(t COLLATE "C", %s) FROM unnest(%s::text[]) WITH ORDINALITY AS u(t, i) '
                    "ORDER BY i", [seed, TEXTS])
    assert ours == theirs


@pytest.mark.parametrize("seed", SEEDS)
def test_integer_and_float_hashes_equal_the_servers(seed):
    ints4 = [0, 1, 2**31 - 1, 2**32 - 1, 12345]
    ints8 = [0, 1, -1, 2**31, -(2**31), 2**32, 2**63 - 1, -(2**63), 4294967296 * 7 + 3]
    floats = [1.5, -1.5, 1e308, 5e-324, float("inf"), float("-inf"), float("nan"), 1 / 3]

    assert as_signed(lookup3.hash_uint32(pa.array(ints4, lookup3.U32), seed)) == server(
        "SELECT hashint4extended(CAST(v AS integer), %s) FROM unnest(%s::bigint[]) WITH ORDINALITY AS u(v, i) "
        "ORDER BY i", [seed, [v - (1 << 32) if v >= 1 << 31 else v for v in ints4]])
    assert as_signed(lookup3.hash_int8_folded(pa.array(ints8, pa.int64()), seed)) == server(
        "SELECT hashint8extended(v, %s) FROM unnest(%s::bigint[]) WITH ORDINALITY AS u(v, i) ORDER BY i",
        [seed, ints8])
    assert as_signed(lookup3.hash_float8(pa.array(floats, pa.float64()), seed)) == server(
        "SELECT hashfloat8extended(v, %s) FROM unnest(%s::float8[]) WITH ORDINALITY AS u(v, i) ORDER BY i",
        [seed, floats])
