"""Domo's column types: the fast batch conversion never lets through a value the exact rule refuses,
and takes the values the format allows as the values they are."""
import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence.intake.domotypes import bad_values, convert

TYPED = ("LONG", "DOUBLE", "DECIMAL", "DATE", "DATETIME")
# Spellings near every type's: digits, signs, points, exponents, hex, separators of dates and times,
# the letters of nan and infinity, zones, and a few characters Arrow or Python read as digits or space.
NEAR = "0123456789+-.eExX:TtZz _,nafityNAFITYd\u0663\u00a0"
SHAPES = ["12", "-9223372036854775808", "9223372036854775807", "1.5e10", "-.5", "nan", "-Infinity", "123.45",
          "-0.5", "2025-05-17", "1999-12-31", "2025-05-17T20:41:21", "2000-02-29T00:00:00"]
EXACT = settings(max_examples=400, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def near_misses(draw) -> str:
    """A well-shaped value with a few characters changed, inserted or dropped; or arbitrary near text."""
    if draw(st.booleans()):
        return draw(st.text(alphabet=NEAR, min_size=1, max_size=24))
    text = list(draw(st.sampled_from(SHAPES)))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        match draw(st.sampled_from(("replace", "insert", "drop"))):
            case "replace" if text:
                text[min(at, len(text) - 1)] = draw(st.sampled_from(NEAR))
            case "insert":
                text.insert(at, draw(st.sampled_from(NEAR)))
            case "drop" if text:
                del text[min(at, len(text) - 1)]
    return "".join(text)


@pytest.mark.parametrize("column_type", TYPED)
@EXACT
@given(values=st.lists(near_misses(), min_size=1, max_size=8))
def test_a_batch_converts_only_if_the_exact_rule_finds_no_bad_value(column_type, values):
    batch = pa.array(values, pa.string())
    bad = bad_values(batch, column_type).to_pylist()
    converted = convert(batch, column_type)
    if converted is not None:
        assert not any(bad), [v for v, b in zip(values, bad) if b]
    # Each value alone: the fast way and the exact way agree, value by value, both ways.
    for value, refused in zip(values, bad):
        assert (convert(pa.array([value]), column_type) is None) == refused, value


@EXACT
@given(
    longs=st.lists(st.integers(-2**63, 2**63 - 1), min_size=1, max_size=5),
    decimals=st.lists(st.decimals(min_value=-10**12, max_value=10**12, places=4, allow_nan=False), min_size=1, max_size=5),
    days=st.lists(st.dates(), min_size=1, max_size=5),
    moments=st.lists(st.datetimes(), min_size=1, max_size=5),
)
def test_what_the_format_allows_converts_to_the_value_it_spells(longs, decimals, days, moments):
    assert convert(pa.array([str(n) for n in longs]), "LONG").to_pylist() == longs
    converted = convert(pa.array([f"{d:.4f}" for d in decimals]), "DECIMAL")
    assert converted.to_pylist() == decimals and converted.type.scale == 4
    assert convert(pa.array([d.isoformat() for d in days]), "DATE").to_pylist() == days
    whole = [m.replace(microsecond=0) for m in moments]
    assert convert(pa.array([m.isoformat(timespec="seconds") for m in whole]), "DATETIME").to_pylist() == whole


def test_an_empty_field_is_null_for_every_type_but_string():
    values = pa.array(["", "2025-05-17T20:41:21", ""])
    assert convert(values, "DATETIME").to_pylist() == [None, dt.datetime(2025, 5, 17, 20, 41, 21), None]
    assert convert(pa.array(["", "7"]), "LONG").to_pylist() == [None, 7]
    assert convert(pa.array(["", "x"]), "STRING").to_pylist() == ["", "x"]


@pytest.mark.parametrize("column_type, refused", [
    ("LONG", "0x1F"),                       # Arrow's cast reads hexadecimal
    ("DECIMAL", "1e3"),                     # and exponents in a decimal
    ("DATETIME", "2025-05-17"),             # and a bare date as a time
    ("DATETIME", "2025-05-17 20:41:21"),    # and a space for the T
    ("DATETIME", "2025-05-17T20:41"),       # and minutes only
    ("DATETIME", "2025-05-17T20:41:21.5"),  # and fractions of a second
    ("DATE", "2025-02-30"),
    ("LONG", "9223372036854775808"),
])
def test_spellings_arrow_would_take_but_the_format_does_not_are_refused(column_type, refused):
    batch = pa.array(["", refused])
    assert convert(batch, column_type) is None
    assert bad_values(batch, column_type).to_pylist() == [False, True]


def test_leading_zeros_do_not_make_a_long_overflow():
    batch = pa.array(["09223372036854775807", "-000000000000000000001"])
    assert bad_values(batch, "LONG").to_pylist() == [False, False]
    assert convert(batch, "LONG").to_pylist() == [9223372036854775807, -1]


def test_a_decimal_batch_comes_at_the_columns_scale_or_wider_never_narrower():
    assert convert(pa.array(["1.5", "2"]), "DECIMAL", 3).type == pa.decimal128(38, 3)
    wider = convert(pa.array(["1.12345", "2"]), "DECIMAL", 3)
    assert wider.type == pa.decimal128(38, 5) and wider.to_pylist() == [Decimal("1.12345"), Decimal("2.00000")]
