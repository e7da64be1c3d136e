"""CSV checks (check_csv): encoding, header, ragged rows, values against their column types and the
row count, streamed with Arrow and, where Arrow cannot say where a problem is, record by record.

The Arrow pass converts each batch to its column types (evidence.intake.domotypes.convert) and can hand
the typed batches to silver as it goes (a `stage`), so an export's CSV is parsed once for both."""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc

from evidence.intake import leafiq
from evidence.intake.csvfields import DEFAULT_MAX_FIELD_BYTES, FieldTooLarge, field_limit, oversized
from evidence.intake.domotypes import bad_values, convert, text_batches
from evidence.intake.validation.issues import (
    CSV_BAD_VALUE,
    CSV_BOM,
    CSV_ENCODING,
    CSV_FIELD_TOO_LARGE,
    CSV_HEADER_MISMATCH,
    CSV_NUL_BYTE,
    CSV_RAGGED_ROW,
    CSV_ROW_COUNT_MISMATCH,
    Issue,
    issue,
)

# Records per type-checked batch when a file is read record by record.
SLOW_BATCH_ROWS = 4096
# Issues listed per file and kind (per column for values); the rest are counted in one more issue.
MAX_LISTED = 20

_TYPE_HINTS = {"LONG": "a 64-bit integer", "DOUBLE": "a number", "DECIMAL": "a decimal number",
               "DATE": "a date YYYY-MM-DD", "DATETIME": "a date and time YYYY-MM-DDTHH:MM:SS"}
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


class Stage(Protocol):
    """Where check_csv hands a CSV's typed batches (silver.ParquetStage): all of them, or a spoil()."""

    def write(self, arrays: Sequence[pa.Array]) -> None: ...

    def spoil(self, why: str) -> None: ...


class _CsvIssues:
    """A CSV's issues, the first MAX_LISTED of each kind listed and the rest counted."""

    def __init__(self, file: str, object: str | None):
        self.file, self.object = file, object
        self.issues: list[Issue] = []
        self.listed: dict[tuple, int] = {}
        self.unlisted: dict[tuple, list] = {}  # kind -> [count, first row, column, noun]

    def add(self, code: str, message: str, *, row: int | None = None, column: str | None = None,
            field: str | None = None, noun: str = "") -> None:
        kind = (code, column)
        if self.listed.get(kind, 0) < MAX_LISTED:
            self.listed[kind] = self.listed.get(kind, 0) + 1
            self.issues.append(issue(code, message, file=self.file, object=self.object, field=field, row=row,
                                     column=column))
        else:
            self.skip(code, 1, row, column, noun)

    def skip(self, code: str, count: int, row: int | None, column: str | None, noun: str) -> None:
        if count:
            entry = self.unlisted.setdefault((code, column), [0, row, column, noun])
            entry[0] += count

    def copy(self) -> _CsvIssues:
        twin = _CsvIssues(self.file, self.object)
        twin.issues, twin.listed = list(self.issues), dict(self.listed)
        twin.unlisted = {kind: list(entry) for kind, entry in self.unlisted.items()}
        return twin

    def room(self, code: str, column: str | None) -> int:
        return MAX_LISTED - self.listed.get((code, column), 0)

    def finish(self) -> list[Issue]:
        for (code, _), (count, row, column, noun) in self.unlisted.items():
            where = f" in column {column}" if column else ""
            self.issues.append(issue(
                code, f"{count} more {noun}{where}, the first at row {row}; only the first {MAX_LISTED} are listed",
                file=self.file, object=self.object, row=row, column=column,
            ))
        return self.issues


class _Fallback(Exception):
    """The fast reader cannot say where the problem is; read the file record by record."""


def check_csv(path: Path, *, file: str, object: str | None = None,
              columns: Sequence[leafiq.Column] | None = None, header: Sequence[str] | None = None,
              expected_rows: int | None = None, stage: Stage | None = None,
              max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES) -> list[Issue]:
    """A CSV's issues: encoding, header (the columns' names, or header), ragged rows, values, row count,
    fields over max_field_bytes (each named by row and column; an unclosed quote stops the reading there).

    stage, if given (with columns), gets every typed batch of a CSV whose values all convert, in order;
    it is spoiled instead when they do not, or when the CSV must be read record by record."""
    sink = _CsvIssues(file, object)
    expected_header = [c.name for c in columns] if columns is not None else (list(header) if header else None)
    try:
        with path.open("rb") as handle:
            bom = handle.read(3) == b"\xef\xbb\xbf"
        actual = _read_header(path, max_field_bytes)
    except (OSError, csv.Error) as exc:
        sink.add(CSV_HEADER_MISMATCH, f"the header row cannot be read: {exc}", field="header")
        return sink.finish()
    if bom:
        sink.add(CSV_BOM, "starts with a UTF-8 byte order mark (allowed)")
    if actual is None:
        sink.add(CSV_HEADER_MISMATCH, "is empty: no header row", field="header")
        return sink.finish()
    utf8 = True
    for index, name in enumerate(actual):
        if match := _NOT_UTF8.search(name):
            utf8 = False
            sink.add(CSV_ENCODING, f"header field {index + 1} holds byte 0x{ord(match.group()) - 0xDC00:02X}, "
                                   "which is not UTF-8", field="header")
    names = [_NOT_UTF8.sub("\ufffd", name) for name in actual]  # printable in every message
    header_ok = _check_header(sink, names, expected_header)
    types = [c.type for c in columns] if columns is not None and header_ok else None
    if stage is not None and types is None:
        stage.spoil("the header does not match the columns")
        stage = None
    rows = None
    if utf8:
        fast = sink.copy()
        try:
            rows = _scan_fast(path, names, types, fast, stage, max_field_bytes)
            sink = fast
        except (_Fallback, FieldTooLarge, pa.ArrowInvalid):
            rows = None
    if rows is None:
        if stage is not None:
            stage.spoil("the CSV had to be read record by record")
        rows = _scan_slow(path, len(names), names, types, sink, max_field_bytes)
    if expected_rows is not None and rows is not None and rows != expected_rows:
        sink.add(CSV_ROW_COUNT_MISMATCH, f"holds {rows} data rows, the metadata says {expected_rows}")
    return sink.finish()


def _text(handle) -> io.TextIOWrapper:
    # Undecodable bytes become lone surrogates (U+DC80..U+DCFF), so a record can still be split and the
    # bad field named; valid UTF-8 never decodes to one.
    return io.TextIOWrapper(handle, encoding="utf-8-sig", errors="surrogateescape", newline="")


def _read_header(path: Path, max_field_bytes: int) -> list[str] | None:
    with path.open("rb") as handle, _text(handle) as text, field_limit(max_field_bytes):
        return next(csv.reader(text), None)


def _check_header(sink: _CsvIssues, actual: list[str], expected: list[str] | None) -> bool:
    if expected is None or actual == expected:
        return True
    seen: dict[str, int] = {}
    for index, name in enumerate(actual):
        if name in seen:
            sink.add(CSV_HEADER_MISMATCH, f"header names {name!r} twice (columns {seen[name] + 1} and {index + 1})",
                     field="header", column=name)
            return False
        seen[name] = index
    if len(actual) != len(expected):
        absent = [name for name in expected if name not in actual]
        extra = [name for name in actual if name not in expected]
        detail = "; ".join(part for part in (
            f"missing {', '.join(absent)}" if absent else "", f"unexpected {', '.join(extra)}" if extra else "",
        ) if part)
        sink.add(CSV_HEADER_MISMATCH, f"header has {len(actual)} columns, the schema {len(expected)}"
                                      + (f" ({detail})" if detail else ""), field="header")
        return False
    index = next(i for i, (a, e) in enumerate(zip(actual, expected)) if a != e)
    sink.add(CSV_HEADER_MISMATCH, f"header column {index + 1} is {actual[index]!r}, the schema says {expected[index]!r}",
             field="header", column=expected[index])
    return False


def _scan_fast(path: Path, header: list[str], types: list[str] | None, sink: _CsvIssues,
               stage: Stage | None, max_field_bytes: int) -> int:
    """Arrow's streaming reader (text_batches), every column as text, each batch converted to its types;
    raises _Fallback, FieldTooLarge or ArrowInvalid where it cannot tell."""
    rows = 0
    scales = dict.fromkeys(header, 0)  # each DECIMAL column's scale so far
    for batch in text_batches(path, header, max_field_bytes=max_field_bytes):
        if batch.num_columns > 1 and _blank_line(batch):
            raise _Fallback()  # Arrow reads a blank line as a row of empty fields; only the slow reader tells
        if any(pc.any(pc.match_substring(column, "\x00")).as_py() for column in batch.columns):
            raise _Fallback()  # the slow reader names each NUL's row and column
        if types:
            typed: list[pa.Array] | None = []
            for values, name, column_type in zip(batch.columns, header, types):
                array = convert(values, column_type, scales[name])
                if array is None:
                    typed = None
                    _check_values(sink, [values], [name], [column_type], lambda index, base=rows: base + index + 1)
                elif typed is not None:
                    typed.append(array)
                    if column_type == "DECIMAL":
                        scales[name] = array.type.scale
            if stage is not None:
                if typed is None:
                    stage.spoil("a value does not convert to its column's type")
                    stage = None
                else:
                    stage.write(typed)
        rows += batch.num_rows
    return rows


def _blank_line(batch: pa.RecordBatch) -> bool:
    """Whether some row is all empty fields (a blank line): only rows whose first field is empty can be."""
    first = batch.column(0)
    if not pc.any(pc.equal(first, "")).as_py():
        return False
    lengths = [pc.utf8_length(column) for column in batch.columns]
    return bool(pc.any(pc.equal(_sum(lengths), 0)).as_py())


def _sum(arrays: list[pa.Array]) -> pa.Array:
    total = arrays[0]
    for array in arrays[1:]:
        total = pc.add(total, array)
    return total


def _check_values(sink: _CsvIssues, arrays: Sequence[pa.Array], names: list[str], types: list[str], row_of) -> None:
    for values, name, column_type in zip(arrays, names, types):
        if column_type == "STRING":
            continue
        bad = bad_values(values, column_type)
        count = pc.sum(bad).as_py() or 0
        if not count:
            continue
        indices = pc.indices_nonzero(bad)
        room = max(sink.room(CSV_BAD_VALUE, name), 0)
        for index in indices[:room].to_pylist():
            value = values[index].as_py()
            shown = value if len(value) <= 40 else value[:40] + "…"
            sink.add(CSV_BAD_VALUE, f"{shown!r} is not {_TYPE_HINTS[column_type]} ({column_type})",
                     row=row_of(index), column=name)
        if count > room:
            sink.skip(CSV_BAD_VALUE, count - room, row_of(indices[room].as_py()), name, f"values not {column_type}")


def _scan_slow(path: Path, width: int, header: list[str], types: list[str] | None, sink: _CsvIssues,
               max_field_bytes: int) -> int | None:
    """Record by record with Python's csv module, for exact rows; type checks still run in Arrow batches."""
    rows = 0
    batch_rows: list[int] = []
    batch: list[list[str]] = []

    def flush() -> None:
        if types and batch:
            arrays = [pa.array(values, pa.string()) for values in zip(*batch)]
            numbers = list(batch_rows)
            _check_values(sink, arrays, header, types, lambda index: numbers[index])
        batch_rows.clear()
        batch.clear()

    try:
        with path.open("rb") as handle, _text(handle) as text, field_limit(max_field_bytes):
            reader = csv.reader(text)
            next(reader, None)
            for record in reader:
                rows += 1
                if not record:
                    record = [""]  # a blank line: one empty field
                if len(record) != width:
                    what = "a blank line" if record == [""] else f"{len(record)} fields"
                    sink.add(CSV_RAGGED_ROW, f"row has {what}, the header {width}", row=rows, noun="ragged rows")
                    continue
                if _NOT_UTF8.search("".join(record)):
                    for index, value in enumerate(record):
                        if match := _NOT_UTF8.search(value):
                            byte = ord(match.group()) - 0xDC00
                            sink.add(CSV_ENCODING, f"byte 0x{byte:02X} is not UTF-8 (a Windows-1252 export?)",
                                     row=rows, column=header[index], noun="values not UTF-8")
                            record[index] = ""  # reported; not type-checked as well
                if "\x00" in "".join(record):
                    for index, value in enumerate(record):
                        if "\x00" in value:
                            sink.add(CSV_NUL_BYTE, f"field holds a NUL byte (0x00) at character {value.index(chr(0)) + 1}; "
                                                   "no database text column can store it", row=rows,
                                     column=header[index], noun="fields with a NUL byte")
                            record[index] = ""  # reported; not type-checked as well
                while (found := oversized(record, max_field_bytes)) is not None:
                    index, size = found
                    sink.add(CSV_FIELD_TOO_LARGE, str(FieldTooLarge(row=rows, column=header[index], size=size,
                                                                     limit=max_field_bytes)),
                             row=rows, column=header[index], noun="fields over the limit")
                    record[index] = ""  # reported; not type-checked as well
                if types:
                    batch_rows.append(rows)
                    batch.append(record)
                    if len(batch) >= SLOW_BATCH_ROWS:
                        flush()
            flush()
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            too_large = FieldTooLarge(row=rows + 1, column=None, size=None, limit=max_field_bytes)
            sink.add(CSV_FIELD_TOO_LARGE, f"{too_large}; the file is not read further", row=rows + 1)
        else:
            sink.add(CSV_RAGGED_ROW, f"malformed CSV from here on: {exc}", row=rows + 1)
        return None
    return rows
