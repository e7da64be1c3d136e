"""One limit on the size of a CSV field, honoured by every reader of an export's CSVs.

Plain module, no Django: the limit is settings.INTAKE_MAX_FIELD_BYTES, passed in by the callers
(validation, silver, the golden comparison, the curated load, the preview pages). Validation refuses a
field over it with a located issue (CSV_FIELD_TOO_LARGE: file, dataset, row, column); every later
reader reads a field up to it, whatever its own block size.

The limit is in UTF-8 bytes. Python's csv module counts characters, so record readers here let it
read fields up to twice the limit in characters (memory stays bounded: an unclosed quote stops
there) and measure each field in bytes themselves, which names the column of a field just over.
"""
from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator, Sequence

MIB = 1024 ** 2
DEFAULT_MAX_FIELD_BYTES = 64 * MIB


class FieldTooLarge(Exception):
    """A field over the limit: where it is (1-based data row, or None when unknown) and its size."""

    def __init__(self, *, row: int | None, column: str | None, size: int | None, limit: int):
        self.row, self.column, self.size, self.limit = row, column, size, limit
        if size is None:
            what = f"a field is longer than {limit:,} bytes, the limit on one field (an unclosed quote?)"
        else:
            what = f"the field is {size:,} bytes, over the limit of {limit:,} bytes on one field"
        super().__init__(what)


def csv_char_limit(max_field_bytes: int) -> int:
    """The csv module's field limit (characters) for a limit in bytes: twice it, measured exactly after."""
    return 2 * max_field_bytes + 2


@contextlib.contextmanager
def field_limit(max_field_bytes: int) -> Iterator[None]:
    """Python's csv module reads fields up to csv_char_limit(max_field_bytes) characters inside."""
    previous = csv.field_size_limit(csv_char_limit(max_field_bytes))
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def oversized(record: Sequence[str], max_field_bytes: int) -> tuple[int, int] | None:
    """(index, bytes) of the first field of record over the limit, or None. A field of n characters
    holds n to 4n bytes, so only fields over a quarter of the limit are encoded to be measured."""
    quarter = max_field_bytes // 4
    for index, value in enumerate(record):
        if len(value) > quarter:
            size = len(value.encode("utf-8", "surrogateescape"))
            if size > max_field_bytes:
                return index, size
    return None


def read_records(handle, max_field_bytes: int) -> list[list[str]]:
    """Every record of a small CSV (a golden packet) read from a text handle, under the field limit;
    raises FieldTooLarge naming the row (0 is the header) and column of a field over it."""
    records: list[list[str]] = []
    with field_limit(max_field_bytes):
        try:
            for record in csv.reader(handle):
                found = oversized(record, max_field_bytes)
                if found is not None:
                    index, size = found
                    column = records[0][index] if records and index < len(records[0]) else f"field {index + 1}"
                    raise FieldTooLarge(row=len(records), column=column, size=size, limit=max_field_bytes)
                records.append(record)
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise FieldTooLarge(row=len(records), column=None, size=None, limit=max_field_bytes) from None
            raise
    return records
