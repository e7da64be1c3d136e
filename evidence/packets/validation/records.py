"""The records file: read once, streaming, with the csv module, hashed in the same pass (so the records
typed are the very bytes whose SHA-256 was checked), every row typed into the kind's dataclass and
checked against the packet's period, its clients, the kind's key and its contract's guarantee_basis.

Row N is the Nth record after the header, counting records, not lines (a quoted value may span lines)."""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from evidence.intake.validation.archive import MIB
from evidence.packets.model import (
    COLUMNS,
    CONTRACT,
    KEYS,
    PRICING,
    REBATE,
    RECORD_TYPES,
    SALESFORCE,
    Record,
    quarter_bounds,
)
from evidence.packets.validation.issues import (
    CLIENT_UNLISTED,
    DUPLICATE_KEY,
    ENCODING_INVALID,
    HEADER_MISMATCH,
    OUT_OF_PERIOD,
    VALUE_INVALID,
    _Issues,
)
from evidence.packets.validation.values import PARSERS

MAX_FIELD_CHARS = 1 * MIB
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
_CLIENT_COLUMN = {CONTRACT: "client_account_id", REBATE: "client_account_id", SALESFORCE: "account_id"}


class _Hashing(io.RawIOBase):
    """A binary file whose every byte read is hashed and counted."""

    def __init__(self, raw):
        self.raw = raw
        self.digest = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        read = self.raw.readinto(buffer)
        if read:
            self.digest.update(memoryview(buffer)[:read])
            self.size += read
        return read

    def drain(self) -> None:
        """Hash the bytes the reader never reached (it stopped at a malformed record)."""
        buffer = bytearray(MIB)
        while self.readinto(buffer):
            pass

    def close(self) -> None:
        self.raw.close()
        super().close()


@dataclass
class RecordsRead:
    sha256: str
    size: int
    rows: int | None  # None when a malformed record stopped the reading
    records: list[Record] = field(default_factory=list)


def read_records(path: Path, *, file: str, kind: str, sink: _Issues,
                 period: tuple[dt.date, dt.date] | None, clients: tuple[str, ...] | None) -> RecordsRead:
    """Every issue of the records file into sink; its hash, size, rows and typed records. OSError if unreadable."""
    hashing = _Hashing(path.open("rb"))
    checks = _RowChecks(file, kind, sink, period, clients)
    with hashing:
        text = io.TextIOWrapper(io.BufferedReader(hashing, MIB), encoding="utf-8-sig", errors="surrogateescape",
                                newline="")
        previous = csv.field_size_limit(MAX_FIELD_CHARS)
        rows: int | None = 0
        try:
            reader = csv.reader(text, strict=True)
            header = next(reader, None)
            if header is None:
                sink.add(HEADER_MISMATCH, f"is empty: no header row; expected {', '.join(COLUMNS[kind])}",
                         file=file, field="header")
            else:
                typed = _check_header(header, file, kind, sink)
                for record in reader:
                    rows += 1
                    checks.row(rows, record, header, typed)
                checks.finish()
        except csv.Error as exc:
            sink.add(VALUE_INVALID, f"malformed CSV from here on: {exc}", file=file, row=rows + 1)
            rows = None
        finally:
            csv.field_size_limit(previous)
        hashing.drain()
    return RecordsRead(sha256=hashing.digest.hexdigest(), size=hashing.size, rows=rows, records=checks.records)


def _check_header(header: list[str], file: str, kind: str, sink: _Issues) -> bool:
    """Whether the header is exactly the kind's columns in order (else say how it differs)."""
    for index, name in enumerate(header):
        if match := _NOT_UTF8.search(name):
            sink.add(ENCODING_INVALID, f"header field {index + 1} holds byte 0x{ord(match.group()) - 0xDC00:02X}, "
                                       "which is not UTF-8", file=file, field="header")
    actual = [_NOT_UTF8.sub("\ufffd", name) for name in header]
    expected = list(COLUMNS[kind])
    if actual == expected:
        return True
    absent = [name for name in expected if name not in actual]
    extra = [name for name in actual if name not in expected]
    if absent or extra or len(actual) != len(expected):
        detail = "; ".join(part for part in (f"missing {', '.join(absent)}" if absent else "",
                                              f"unexpected {', '.join(map(repr, extra))}" if extra else "") if part)
        message = f"header has {len(actual)} columns{f' ({detail})' if detail else ''}"
    else:
        index = next(i for i, (a, e) in enumerate(zip(actual, expected)) if a != e)
        message = f"header column {index + 1} is {actual[index]!r} where {expected[index]!r} belongs"
    sink.add(HEADER_MISMATCH, f"{message}; a {kind} packet's {file} has exactly these columns in this order: "
                              f"{', '.join(expected)}", file=file, field="header")
    return False


class _RowChecks:
    """One row at a time: shape, encoding, values; then period, client, key and guarantee_basis."""

    def __init__(self, file: str, kind: str, sink: _Issues, period: tuple[dt.date, dt.date] | None,
                 clients: tuple[str, ...] | None):
        self.file, self.kind, self.sink, self.period = file, kind, sink, period
        self.clients = set(clients) if clients is not None else None
        self.columns = COLUMNS[kind]
        self.parsers = PARSERS[kind]
        self.record_type = RECORD_TYPES[kind]
        self.keys: dict[tuple, int] = {}
        self.bases: dict[str, tuple[str, int]] = {}  # contract_id -> (guarantee_basis, its first row)
        self.prices: dict[tuple[str, str], list[tuple[dt.date, dt.date | None, int]]] = {}  # (list, ndc) -> rows
        self.records: list[Record] = []

    def add(self, code: str, message: str, row: int, column: str | None = None) -> None:
        self.sink.add(code, message, file=self.file, row=row, column=column)

    def row(self, number: int, record: list[str], header: list[str], typed: bool) -> None:
        if len(record) != len(header):
            what = "is a blank line" if not record else f"has {len(record)} fields"
            self.add(VALUE_INVALID, f"row {what}; the header has {len(header)}", number)
            return
        clean = True
        for name, value in zip(header, record):
            if match := _NOT_UTF8.search(value):
                byte = ord(match.group()) - 0xDC00
                self.add(ENCODING_INVALID, f"byte 0x{byte:02X} is not UTF-8 (saved as Windows-1252 or Latin-1?); "
                                           "save the file as UTF-8", number, _NOT_UTF8.sub("\ufffd", name))
                clean = False
        if not typed or not clean:
            return
        values = {}
        for name, value in zip(self.columns, record):
            try:
                values[name] = self.parsers[name](value)
            except ValueError as exc:
                self.add(VALUE_INVALID, str(exc), number, name)
        if len(values) != len(self.columns):
            return
        typed_record = self.record_type(**values)
        self.check_period(number, typed_record)
        self.check_client(number, typed_record)
        self.check_key(number, typed_record)
        if self.kind == CONTRACT:
            self.check_basis(number, typed_record)
        elif self.kind == PRICING:
            self.prices.setdefault((typed_record.price_list, typed_record.ndc), []).append(
                (typed_record.effective_date, typed_record.end_date, number))
        self.records.append(typed_record)

    def check_period(self, number: int, record: Record) -> None:
        period = self.period
        if self.kind == CONTRACT:
            if record.period_start > record.period_end:
                self.add(OUT_OF_PERIOD, f"period_start {record.period_start} is after period_end "
                                        f"{record.period_end}", number, "period_end")
            elif period and record.period_start < period[0]:
                self.add(OUT_OF_PERIOD, f"period_start {record.period_start} is before the packet's period starts "
                                        f"({period[0]})", number, "period_start")
            elif period and record.period_end > period[1]:
                self.add(OUT_OF_PERIOD, f"period_end {record.period_end} is after the packet's period ends "
                                        f"({period[1]})", number, "period_end")
        elif self.kind == PRICING:
            # A price may be in force since before the period: only a row wholly outside it is out of period.
            if record.end_date is not None and record.effective_date > record.end_date:
                self.add(OUT_OF_PERIOD, f"effective_date {record.effective_date} is after end_date "
                                        f"{record.end_date}", number, "end_date")
            elif period and record.effective_date > period[1]:
                self.add(OUT_OF_PERIOD, f"effective_date {record.effective_date} is after the packet's period ends "
                                        f"({period[1]})", number, "effective_date")
            elif period and record.end_date is not None and record.end_date < period[0]:
                self.add(OUT_OF_PERIOD, f"end_date {record.end_date} is before the packet's period starts "
                                        f"({period[0]})", number, "end_date")
        elif self.kind == REBATE:
            # The quarter must lie inside the period; the invoice comes after its quarter, often after the period.
            first, last = quarter_bounds(record.quarter)
            if period and (first < period[0] or last > period[1]):
                self.add(OUT_OF_PERIOD, f"quarter {record.quarter} ({first} to {last}) is not inside the packet's "
                                        f"period ({period[0]} to {period[1]})", number, "quarter")
            elif record.invoice_date < first:
                self.add(OUT_OF_PERIOD, f"invoice_date {record.invoice_date} is before its quarter "
                                        f"{record.quarter} begins ({first})", number, "invoice_date")

    def check_client(self, number: int, record: Record) -> None:
        column = _CLIENT_COLUMN.get(self.kind)
        if column is None or self.clients is None:
            return
        client = getattr(record, column)
        if client not in self.clients:
            listed = ", ".join(sorted(self.clients)) or "none"
            self.add(CLIENT_UNLISTED, f"{client} is not in packet.json's client_account_ids ({listed})", number,
                     column)

    def check_key(self, number: int, record: Record) -> None:
        key = tuple(getattr(record, name) for name in KEYS[self.kind])
        first = self.keys.setdefault(key, number)
        if first != number:
            shown = ", ".join(f"{name}={value}" for name, value in zip(KEYS[self.kind], key))
            self.add(DUPLICATE_KEY, f"rows {first} and {number} share the key {shown}; one row per key", number)

    def check_basis(self, number: int, record: Record) -> None:
        basis, first = self.bases.setdefault(record.contract_id, (record.guarantee_basis, number))
        if basis != record.guarantee_basis:
            self.add(VALUE_INVALID, f"guarantee_basis is {record.guarantee_basis!r} here but {basis!r} on row {first} "
                                    f"of contract {record.contract_id}; it is the same on every row of a contract",
                     number, "guarantee_basis")


    def finish(self) -> None:
        """Two prices of one NDC on one list in force on the same day: which one a claim is priced at is
        ambiguous, so the (list, NDC, day) they share is a duplicate key too (equal effective dates are
        reported already)."""
        for (price_list, ndc), spans in self.prices.items():
            spans.sort(key=lambda span: (span[0], span[2]))
            for (start, end, first), (later_start, _, number) in zip(spans, spans[1:]):
                if later_start != start and (end is None or later_start <= end):
                    first, number = sorted((first, number))
                    self.add(DUPLICATE_KEY, f"rows {first} and {number} are both in force on {later_start} for "
                                            f"price_list={price_list}, ndc={ndc}; a price ends the day before the "
                                            "next takes effect", number)


