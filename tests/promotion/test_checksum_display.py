"""How the registry pages show a content checksum: hexadecimal, one fixed width, whatever its sign or size."""
from __future__ import annotations

from promotion.tables import hex_checksum


def test_a_checksum_reads_in_hex_at_one_fixed_width():
    assert hex_checksum("255") == "00000000 00000000 000000ff"
    assert hex_checksum("-1") == "ffffffff ffffffff ffffffff"  # two's complement in 96 bits
    assert hex_checksum(str(-(2**63) * 4_000_000)) == "ffe17b80 00000000 00000000"  # four million rows at the floor
    assert {len(hex_checksum(str(v))) for v in (0, 1, -1, 2**90, -(2**90))} == {26}
    assert hex_checksum(None) == "" and hex_checksum("") == ""
