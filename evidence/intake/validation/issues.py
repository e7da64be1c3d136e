"""The issue codes (ISSUE_CODES: each one's status class, severity and the line the console shows),
Issue, and the ValidationReport that validate_export returns."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evidence.intake import leafiq

ERROR, WARNING, INFO = "error", "warning", "info"
_SEVERITY_RANK = {ERROR: 0, WARNING: 1, INFO: 2}
INVALID, PARTIAL, NO_EFFECT = "invalid", "partial", "none"  # what a code does to the status

MANIFEST_UNREADABLE = "MANIFEST_UNREADABLE"
MANIFEST_SCHEMA = "MANIFEST_SCHEMA"
UNKNOWN_FORMAT = "UNKNOWN_FORMAT"
BAD_LOAD_ID = "BAD_LOAD_ID"
LOAD_ID_CONFLICT = "LOAD_ID_CONFLICT"
UNSAFE_PATH = "UNSAFE_PATH"
ARCHIVE_UNSAFE = "ARCHIVE_UNSAFE"
HASH_MISMATCH = "HASH_MISMATCH"
SIZE_MISMATCH = "SIZE_MISMATCH"
DUPLICATE_ID = "DUPLICATE_ID"
OBJECT_INVALID = "OBJECT_INVALID"
CSV_ENCODING = "CSV_ENCODING"
CSV_HEADER_MISMATCH = "CSV_HEADER_MISMATCH"
CSV_RAGGED_ROW = "CSV_RAGGED_ROW"
CSV_ROW_COUNT_MISMATCH = "CSV_ROW_COUNT_MISMATCH"
CSV_BAD_VALUE = "CSV_BAD_VALUE"
CSV_FIELD_TOO_LARGE = "CSV_FIELD_TOO_LARGE"
FILE_MISSING = "FILE_MISSING"
DANGLING_REFERENCE = "DANGLING_REFERENCE"
DECLARED_PARTIAL = "DECLARED_PARTIAL"
UNLISTED_FILE = "UNLISTED_FILE"
CSV_BOM = "CSV_BOM"
CSV_NUL_BYTE = "CSV_NUL_BYTE"


@dataclass(frozen=True)
class IssueCode:
    code: str
    status_class: str  # INVALID, PARTIAL or NO_EFFECT
    severity: str  # the severity of every issue with this code
    description: str


ISSUE_CODES: dict[str, IssueCode] = {entry.code: entry for entry in (
    IssueCode(MANIFEST_UNREADABLE, INVALID, ERROR, "manifest.json is absent, not UTF-8 or not JSON."),
    IssueCode(MANIFEST_SCHEMA, INVALID, ERROR,
              "manifest.json lacks a required field, has a field of the wrong type or value, or contradicts itself."),
    IssueCode(UNKNOWN_FORMAT, INVALID, ERROR,
              "manifest.json declares a format other than leafiq-export/1; nothing else is checked."),
    IssueCode(BAD_LOAD_ID, INVALID, ERROR, "The load id is not LIQ-YYYYMMDD-NNNN with a real date."),
    IssueCode(LOAD_ID_CONFLICT, INVALID, ERROR, "The load id was received before with other content."),
    IssueCode(UNSAFE_PATH, INVALID, ERROR,
              "A path is absolute, uses '\\', leaves the export root, or is a link or a special file."),
    IssueCode(ARCHIVE_UNSAFE, INVALID, ERROR,
              "The archive is unreadable or unsafe to extract: links, unsafe names, too many members, "
              "expanded size or compression ratio over the limits; nothing was extracted."),
    IssueCode(HASH_MISMATCH, INVALID, ERROR, "A file's SHA-256 differs from the manifest's."),
    IssueCode(SIZE_MISMATCH, INVALID, ERROR, "A file's size differs from the manifest's."),
    IssueCode(DUPLICATE_ID, INVALID, ERROR, "An id or a path appears twice where it must be unique."),
    IssueCode(OBJECT_INVALID, INVALID, ERROR,
              "A Domo object file is not valid JSON, lacks what the format requires, or is of another object "
              "than the manifest says."),
    IssueCode(CSV_ENCODING, INVALID, ERROR, "A CSV is not UTF-8 (a BOM is allowed)."),
    IssueCode(CSV_HEADER_MISMATCH, INVALID, ERROR,
              "A CSV's header row is not the schema's column names in schema order."),
    IssueCode(CSV_RAGGED_ROW, INVALID, ERROR, "A CSV record has more or fewer fields than its header."),
    IssueCode(CSV_ROW_COUNT_MISMATCH, INVALID, ERROR,
              "A dataset's data.csv holds another number of rows than its metadata says."),
    IssueCode(CSV_BAD_VALUE, INVALID, ERROR, "A CSV value does not parse as its column's type."),
    IssueCode(CSV_FIELD_TOO_LARGE, INVALID, ERROR,
              "A CSV field is longer than the console's limit on one field (INTAKE_MAX_FIELD_BYTES)."),
    IssueCode(CSV_NUL_BYTE, INVALID, ERROR,
              "A CSV field holds a NUL byte (0x00), which no database text column can store."),
    IssueCode(FILE_MISSING, PARTIAL, WARNING, "A file the manifest lists is absent."),
    IssueCode(DANGLING_REFERENCE, PARTIAL, WARNING,
              "An object refers to a dataset, beast mode, user or group that the export does not hold."),
    IssueCode(DECLARED_PARTIAL, PARTIAL, WARNING,
              "The exporter declared the export partial: it could not capture this object."),
    IssueCode(UNLISTED_FILE, NO_EFFECT, WARNING,
              "A file of the export is not listed in the manifest; it is kept but not used."),
    IssueCode(CSV_BOM, NO_EFFECT, INFO, "A CSV starts with a UTF-8 byte order mark, which the format allows."),
)}


@dataclass(frozen=True)
class Issue:
    code: str
    severity: str
    file: str | None
    object: str | None
    field: str | None
    row: int | None
    column: str | None
    message: str

    @property
    def status_class(self) -> str:
        return ISSUE_CODES[self.code].status_class

    def sort_key(self) -> tuple:
        # Errors first (the cause before what follows from it: a dataset id the manifest cannot read comes before
        # the cards that then read "a dataset the export does not hold"), then warnings, then notes; within a
        # severity file by file; within a file, file-level issues first, then by row and column.
        return (_SEVERITY_RANK.get(self.severity, 3), self.file or "", self.row is not None, self.row or 0,
                self.column or "", self.code, self.object or "", self.field or "", self.message)


def issue(code: str, message: str, *, file: str | None = None, object: str | None = None,
          field: str | None = None, row: int | None = None, column: str | None = None) -> Issue:
    return Issue(code=code, severity=ISSUE_CODES[code].severity, file=file, object=object, field=field,
                 row=row, column=column, message=message)


def export_status(issues: Iterable[Issue]) -> str:
    classes = {(i.status_class, i.severity) for i in issues}
    if (INVALID, ERROR) in classes:
        return "invalid"
    if any(status_class == PARTIAL for status_class, _ in classes):
        return "partial"
    return "complete"


@dataclass(frozen=True)
class ValidationReport:
    status: str  # "complete", "partial" or "invalid": the console's decision
    claimed_status: str | None  # the exporter's claim, when the manifest made one
    load_id: str | None
    manifest_sha256: str | None  # of manifest.json's bytes, as received
    manifest: leafiq.Manifest | None  # only when the manifest passed every manifest check
    issues: tuple[Issue, ...]
    root: Path | None = None  # the folder validated; None when it was a temporary extraction
    claims: dict | None = None  # the manifest's exported_at, domo_instance and exporter as read, broken or not

    def codes(self) -> set[str]:
        return {i.code for i in self.issues}

    def issues_of(self, object: str) -> tuple[Issue, ...]:
        """The issues about one object, e.g. "dataset 5d2f..." or "card 377100201"."""
        return tuple(i for i in self.issues if i.object == object)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status, "claimed_status": self.claimed_status, "load_id": self.load_id,
            "manifest_sha256": self.manifest_sha256, "issues": [asdict(i) for i in self.issues],
        }
