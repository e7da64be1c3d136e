"""The packet issue codes (ISSUE_CODES: each one's line for the console), PacketIssue, the PacketReport
that validate_packet returns, EarlierRevision, and _Issues, which lists the first MAX_LISTED issues of a
kind and counts the rest."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evidence.packets.model import PacketHeader, Record

ERROR = "error"  # every packet issue is an error: any one refuses the packet whole
ACCEPTED, REFUSED = "accepted", "refused"
# Issues listed per code and column; the rest are counted in one more issue (as the intake's csvcheck).
MAX_LISTED = 20

PACKET_UNREADABLE = "PACKET_UNREADABLE"
FORMAT_UNKNOWN = "FORMAT_UNKNOWN"
FIELD_INVALID = "FIELD_INVALID"
UNSAFE_PATH = "UNSAFE_PATH"
FILE_MISSING = "FILE_MISSING"
UNLISTED_FILE = "UNLISTED_FILE"
HASH_MISMATCH = "HASH_MISMATCH"
ENCODING_INVALID = "ENCODING_INVALID"
HEADER_MISMATCH = "HEADER_MISMATCH"
ROW_COUNT_MISMATCH = "ROW_COUNT_MISMATCH"
VALUE_INVALID = "VALUE_INVALID"
OUT_OF_PERIOD = "OUT_OF_PERIOD"
CLIENT_UNLISTED = "CLIENT_UNLISTED"
DUPLICATE_KEY = "DUPLICATE_KEY"
REVISION_CONFLICT = "REVISION_CONFLICT"

ISSUE_CODES: dict[str, str] = {
    PACKET_UNREADABLE: "No packet.json at the packet's root, or it is not a JSON object; or the upload is neither "
                       "a folder nor a zip.",
    FORMAT_UNKNOWN: "packet.json's format is not leaf-evidence/1; nothing else is checked.",
    FIELD_INVALID: "A field of packet.json is missing, of the wrong type, not one of its allowed values, "
                   "or not a field of the format.",
    UNSAFE_PATH: "A path is absolute, leaves the packet root or is a link; or the archive is unsafe to extract "
                 "(nothing was extracted).",
    FILE_MISSING: "A file packet.json lists is not in the packet.",
    UNLISTED_FILE: "A file in the packet is not listed in packet.json.",
    HASH_MISMATCH: "A file's SHA-256 or size differs from what packet.json says.",
    ENCODING_INVALID: "The records file is not UTF-8 (a BOM is allowed).",
    HEADER_MISMATCH: "The records file's header is not exactly the kind's columns in order.",
    ROW_COUNT_MISMATCH: "The records file holds another number of rows than records.rows.",
    VALUE_INVALID: "A value does not parse as its column's type or is not one of its allowed values; a row with "
                   "the wrong number of fields; a contract whose rows disagree on guarantee_basis.",
    OUT_OF_PERIOD: "A row's dates fall outside the packet's period, or a start is after its end.",
    CLIENT_UNLISTED: "A row names a client account id that client_account_ids does not hold.",
    DUPLICATE_KEY: "Two rows share the kind's key.",
    REVISION_CONFLICT: "The packet changes the kind or the client_account_ids of an earlier revision with the "
                       "same packet_id.",
}


@dataclass(frozen=True)
class PacketIssue:
    """One problem, located: the file, and in it the packet.json field or the records row and column."""

    code: str
    severity: str
    file: str | None
    field: str | None
    row: int | None  # the Nth record after the header, counting records, not lines
    column: str | None
    message: str

    def sort_key(self) -> tuple:
        # File by file; within a file, file-level issues first, then by row and column (as the intake's Issue).
        return (self.file or "", self.row is not None, self.row or 0, self.column or "", self.code,
                _natural(self.field or ""), self.message)


def _natural(text: str) -> tuple:
    """documents[2] before documents[10]."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"([0-9]+)", text))


def issue(code: str, message: str, *, file: str | None = None, field: str | None = None, row: int | None = None,
          column: str | None = None) -> PacketIssue:
    if code not in ISSUE_CODES:
        raise ValueError(f"unknown packet issue code {code!r}")
    return PacketIssue(code=code, severity=ERROR, file=file, field=field, row=row, column=column, message=message)


@dataclass(frozen=True)
class EarlierRevision:
    """What the console holds of the latest earlier revision of a packet_id, for REVISION_CONFLICT."""

    packet_id: str
    kind: str
    client_account_ids: tuple[str, ...]


@dataclass(frozen=True)
class PacketReport:
    status: str  # ACCEPTED or REFUSED (any issue refuses)
    issues: tuple[PacketIssue, ...]  # sorted, each once
    sha256: str | None  # of packet.json's bytes as received; None when there were none to read
    packet_id: str | None  # packet.json's packet_id when it is a valid one, even if the packet is refused
    kind: str | None  # likewise
    header: PacketHeader | None  # only when packet.json passed every field check
    records: tuple[Record, ...] | None  # the typed records, only when the packet is accepted
    root: Path | None  # the folder validated; None when it was a temporary extraction

    @property
    def accepted(self) -> bool:
        return self.status == ACCEPTED

    def codes(self) -> set[str]:
        return {i.code for i in self.issues}

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "packet_id": self.packet_id, "kind": self.kind, "sha256": self.sha256,
                "issues": [asdict(i) for i in self.issues]}


def report(issues: Iterable[PacketIssue], *, sha256: str | None = None, packet_id: str | None = None,
           kind: str | None = None, header: PacketHeader | None = None, records: Iterable[Record] | None = None,
           root: Path | None = None) -> PacketReport:
    ordered = tuple(dict.fromkeys(sorted(issues, key=PacketIssue.sort_key)))
    status = REFUSED if ordered else ACCEPTED
    return PacketReport(status=status, issues=ordered, sha256=sha256, packet_id=packet_id, kind=kind,
                        header=header, records=tuple(records) if status == ACCEPTED and records is not None else None,
                        root=root)


class _Issues:
    """A packet's issues, the first MAX_LISTED of each code and column listed and the rest counted."""

    def __init__(self) -> None:
        self.issues: list[PacketIssue] = []
        self.listed: dict[tuple, int] = {}
        self.unlisted: dict[tuple, list] = {}  # (code, file, column) -> [count, first row, first field]

    def add(self, code: str, message: str, *, file: str | None = None, field: str | None = None,
            row: int | None = None, column: str | None = None) -> None:
        kind = (code, file, column)
        if self.listed.get(kind, 0) < MAX_LISTED:
            self.listed[kind] = self.listed.get(kind, 0) + 1
            self.issues.append(issue(code, message, file=file, field=field, row=row, column=column))
        else:
            entry = self.unlisted.setdefault(kind, [0, row, field])
            entry[0] += 1

    def has(self, *codes: str) -> bool:
        return any(i.code in codes for i in self.issues)

    def finish(self) -> list[PacketIssue]:
        for (code, file, column), (count, row, field) in self.unlisted.items():
            where = f" in column {column}" if column else ""
            first = f"row {row}" if row is not None else f"field {field}" if field else "one"
            self.issues.append(issue(
                code, f"{count} more {code} issues{where}, the first at {first}; only the first {MAX_LISTED} "
                      "are listed", file=file, field=field, row=row, column=column))
        return self.issues
