"""A card's rows against its golden.csv.

Rows are keyed by the card's groupBy columns (by position when it has none; the row order itself
is not compared); a cell matches when both are empty (Domo shows NULL as an empty cell), when both
are numbers within half a unit of the golden's last decimal place (money has two decimals, doubles
six), or when the texts are equal (dates as YYYY-MM-DD).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from evidence.golden.model import CellDifference, GoldenComparison, Row
from evidence.golden.query import CardQuery
from evidence.intake import leafiq
from evidence.intake.csvfields import DEFAULT_MAX_FIELD_BYTES, read_records


def read_golden(path: Path, max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a golden.csv, no field over max_field_bytes (FieldTooLarge)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = read_records(handle, max_field_bytes)
    return (rows[0] if rows else []), rows[1:]



def compare(
    card: leafiq.CardDefinition,
    query: CardQuery,
    header: Sequence[str],
    golden: list[list[str]],
    ours: list[tuple],
) -> GoldenComparison:
    keys = [index for index, select in enumerate(query.selects) if select.is_key]
    key_columns = tuple(header[index] for index in keys)

    def keyed(rows: list[Sequence[str]]) -> dict[tuple[str, ...], Sequence[str]]:
        out: dict[tuple[str, ...], Sequence[str]] = {}
        for position, row in enumerate(rows):
            key = tuple(_key_text(row[index]) for index in keys) if keys else (str(position + 1),)
            while key in out:  # a repeated key: numbered, so neither row is lost
                key = (*key, "#")
            out[key] = row
        return out

    formatted = [tuple(format_value(value) for value in row) for row in ours]
    golden_by_key = keyed(golden)
    ours_by_key = keyed([list(row) for row in ours])
    texts_by_key = dict(zip(ours_by_key, formatted, strict=True))
    matched, differing = 0, []
    for key, golden_row in golden_by_key.items():
        if key not in ours_by_key:
            continue
        ours_row = ours_by_key[key]
        row_differences = []
        for index, column in enumerate(header):
            same, difference = compare_cell(golden_row[index], ours_row[index])
            if not same:
                row_differences.append(
                    CellDifference(key, column, golden_row[index], texts_by_key[key][index], difference)
                )
        differing.extend(row_differences)
        matched += not row_differences
    only_golden = tuple(Row(k, tuple(v)) for k, v in golden_by_key.items() if k not in ours_by_key)
    only_ours = tuple(Row(k, texts_by_key[k]) for k in ours_by_key if k not in golden_by_key)
    status = "reproduced" if not differing and not only_golden and not only_ours else "differs"
    return GoldenComparison(
        card.id, card.title, status, query.sql(), tuple(header), key_columns, len(golden), len(ours), matched,
        tuple(differing), only_golden, only_ours, (), tuple(query.notes),
    )  # fmt: skip


def compare_cell(golden: str, ours: object) -> tuple[bool, Decimal | None]:
    """(whether the cells agree, ours - golden when both are numbers)."""
    if ours is None or ours == "":
        return golden == "", None
    if isinstance(ours, (int, float, Decimal)) and not isinstance(ours, bool):
        try:
            expected = Decimal(golden)
        except InvalidOperation:
            return False, None
        difference = (Decimal(repr(ours)) if isinstance(ours, float) else Decimal(ours)) - expected
        return abs(difference) <= _tolerance(expected), difference
    return format_value(ours) == golden, None


def _tolerance(expected: Decimal) -> Decimal:
    """Half a unit of the golden's last decimal place, plus the noise of summing many doubles."""
    exponent = expected.as_tuple().exponent
    half_unit = Decimal(5).scaleb(exponent - 1) if isinstance(exponent, int) else Decimal(0)
    return half_unit + abs(expected) * Decimal("1e-12")


def format_value(value: object) -> str:
    """A value as the golden writes it: empty for NULL, dates ISO, doubles to six places."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        text = f"{value:.6f}"
        return "0.000000" if text == "-0.000000" else text
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def _key_text(value: object) -> str:
    """A key cell in one spelling for both sides: 1.50 and 1.5 are the same key."""
    text = format_value(value) if not isinstance(value, str) else value
    if isinstance(value, float):
        text = repr(value)
    if _NUMBER.match(text):
        number = Decimal(text).normalize()
        return format(number, "f")
    return text
