"""Validation of Leaf IQ exports: complete, partial or invalid, with every problem named.

Plain module, no Django. validate_export() takes an export folder or a .zip of it and returns a
ValidationReport; it never raises on a broken export, whatever arrives. The rules are those of
../shared/leafiq-export-v1.md: an issue code belongs to the invalid class (something present is
corrupt or unsafe) or the partial class (something is missing); ISSUE_CODES says which, with the one
line the console shows. LOAD_ID_CONFLICT needs the database, so the intake service raises it.

Files are never read whole: hashes and CSVs stream, so memory stays flat as files grow. A CSV is
read with Arrow's streaming reader (every column as text, types checked with vectorised kernels);
a file the fast reader cannot take as it stands (a ragged row, a byte that is not UTF-8, a blank
line) is read again, record by record, to say exactly where.

Rows: row N of a CSV is its Nth record after the header, counting records, not lines (a quoted
value may span lines); a blank line is a record with one empty field.
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from evidence import leafiq

# --- issue codes ---------------------------------------------------------------------------------
ERROR, WARNING, INFO = "error", "warning", "info"
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
FILE_MISSING = "FILE_MISSING"
DANGLING_REFERENCE = "DANGLING_REFERENCE"
DECLARED_PARTIAL = "DECLARED_PARTIAL"
UNLISTED_FILE = "UNLISTED_FILE"
CSV_BOM = "CSV_BOM"


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
        # File by file; within a file, file-level issues first, then by row and column.
        return (self.file or "", self.row is not None, self.row or 0, self.column or "", self.code,
                self.object or "", self.field or "", self.message)


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


# --- archives ------------------------------------------------------------------------------------
MIB, GIB = 1024 ** 2, 1024 ** 3


@dataclass(frozen=True)
class ArchiveLimits:
    max_members: int = 10_000
    max_total_bytes: int = 20 * GIB  # expanded, all members together
    max_ratio: float = 200.0  # expanded / compressed, per member
    max_member_bytes: int = 10 * GIB  # expanded, one member
    # Members that expand to less than this are not ratio-checked: a small file of repeated text
    # compresses far past 200:1 and costs nothing to extract.
    ratio_floor_bytes: int = 1 * MIB


DEFAULT_LIMITS = ArchiveLimits()
_ZIP_FILE_TYPES = (0, stat.S_IFREG, stat.S_IFDIR)  # 0: the archiver did not record a Unix mode


def path_problem(path: str) -> str | None:
    """Why a relative export path is unsafe, or None: absolute, '\\', '..', empty or '.' segments."""
    if not path:
        return "is empty"
    if "\x00" in path:
        return "contains a NUL character"
    if "\\" in path:
        return "uses a backslash"
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        return "is absolute"
    segments = path.split("/")
    if ".." in segments:
        return "leaves the export root ('..')"
    if any(segment in ("", ".") for segment in segments):
        return "has an empty or '.' segment"
    return None


def _archive_problems(members: list[zipfile.ZipInfo], limits: ArchiveLimits) -> list[Issue]:
    """Every reason to refuse the archive, read from its central directory alone."""
    if len(members) > limits.max_members:
        return [issue(ARCHIVE_UNSAFE, f"{len(members)} members, over the limit of {limits.max_members}")]
    problems = []
    total = 0
    files: set[str] = set()
    parents: set[str] = set()
    for info in members:
        name = info.filename
        bare = name[:-1] if name.endswith("/") else name
        reasons = []
        if problem := path_problem(bare):
            reasons.append(f"name {problem}")
        mode = info.external_attr >> 16
        if stat.S_IFMT(mode) not in _ZIP_FILE_TYPES:
            reasons.append("is a symbolic link" if stat.S_ISLNK(mode) else "is a special file")
        if info.flag_bits & 0x1:
            reasons.append("is encrypted")
        if info.file_size > limits.max_member_bytes:
            reasons.append(f"expands to {info.file_size} bytes, over the limit of {limits.max_member_bytes}")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size >= limits.ratio_floor_bytes and ratio > limits.max_ratio:
            reasons.append(f"compression ratio {ratio:.0f}:1, over the limit of {limits.max_ratio:.0f}:1")
        if not info.is_dir() and bare in files:
            reasons.append("is in the archive twice")
        for reason in reasons:
            problems.append(issue(ARCHIVE_UNSAFE, f"member {reason}", file=name))
        total += info.file_size
        if not info.is_dir():
            files.add(bare)
        segments = bare.split("/")
        parents.update("/".join(segments[:i]) for i in range(1, len(segments)))
    if files & parents:
        for name in sorted(files & parents):
            problems.append(issue(ARCHIVE_UNSAFE, "member is both a file and a folder", file=name))
    if total > limits.max_total_bytes:
        problems.append(issue(ARCHIVE_UNSAFE, f"expands to {total} bytes, over the limit of {limits.max_total_bytes}"))
    return problems


def safe_extract(zip_path: Path, staging_dir: Path, limits: ArchiveLimits = DEFAULT_LIMITS) -> list[Issue]:
    """Extract zip_path into staging_dir, or refuse it whole; returns the ARCHIVE_UNSAFE issues (none: done).

    Every member is checked from the central directory before anything is written, and only under
    staging_dir, which must be absent or empty. Extraction still counts what each member really
    expands to, since a central directory can lie, and a failure part-way removes what was written.
    """
    if staging_dir.exists() and any(staging_dir.iterdir()):
        raise ValueError(f"staging directory {staging_dir} is not empty")
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = archive.infolist()
            problems = _archive_problems(members, limits)
            if problems:
                return problems
            staging_dir.mkdir(parents=True, exist_ok=True)
            written = 0
            for info in members:
                bare = info.filename.rstrip("/")
                target = staging_dir.joinpath(*bare.split("/"))
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                member_bytes = 0
                with archive.open(info) as source, target.open("xb") as sink:
                    while chunk := source.read(MIB):
                        member_bytes += len(chunk)
                        written += len(chunk)
                        if member_bytes > info.file_size or written > limits.max_total_bytes:
                            raise _ArchiveLied(f"member {bare} expands past its declared size")
                        sink.write(chunk)
    except (_ArchiveLied, zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError,
            EOFError, OSError, zlib.error, ValueError) as exc:
        _empty(staging_dir)
        return [issue(ARCHIVE_UNSAFE, f"cannot be extracted: {exc}", file=zip_path.name)]
    return []


class _ArchiveLied(Exception):
    pass


def _empty(directory: Path) -> None:
    if directory.is_dir():
        for child in directory.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


def _export_root(staging_dir: Path) -> Path:
    """manifest.json's folder: the archive's root, or its only folder when the zip wraps one."""
    if (staging_dir / "manifest.json").exists():
        return staging_dir
    children = list(staging_dir.iterdir())
    if len(children) == 1 and children[0].is_dir() and (children[0] / "manifest.json").exists():
        return children[0]
    return staging_dir


# --- entry point ---------------------------------------------------------------------------------
def validate_export(source: Path, *, limits: ArchiveLimits = DEFAULT_LIMITS,
                    staging_dir: Path | None = None) -> ValidationReport:
    """Validate an export folder, or a .zip of one (extracted under staging_dir, kept; or a temporary folder)."""
    source = Path(source)
    if source.is_dir():
        return _validate_folder(source, root_kept=True)
    if not source.is_file():
        return _report([issue(MANIFEST_UNREADABLE, f"no export folder or archive at {source}")])
    if not zipfile.is_zipfile(source):
        return _report([issue(ARCHIVE_UNSAFE, "not a folder and not a zip archive", file=source.name)])
    if staging_dir is not None:
        problems = safe_extract(source, staging_dir, limits)
        if problems:
            return _report(problems)
        return _validate_folder(_export_root(staging_dir), root_kept=True)
    with tempfile.TemporaryDirectory(prefix="leafiq-") as temporary:
        staging = Path(temporary) / "export"
        problems = safe_extract(source, staging, limits)
        if problems:
            return _report(problems)
        return _validate_folder(_export_root(staging), root_kept=False)


def _report(issues: list[Issue], *, manifest_sha256: str | None = None, claimed: str | None = None,
            load_id: str | None = None, manifest: leafiq.Manifest | None = None,
            root: Path | None = None) -> ValidationReport:
    ordered = tuple(dict.fromkeys(sorted(issues, key=Issue.sort_key)))
    return ValidationReport(
        status=export_status(ordered), claimed_status=claimed, load_id=load_id,
        manifest_sha256=manifest_sha256, manifest=manifest, issues=ordered, root=root,
    )


def _validate_folder(root: Path, *, root_kept: bool) -> ValidationReport:
    check = _ExportCheck(root)
    check.run()
    content = check.content
    return _report(
        check.issues, manifest_sha256=check.manifest_sha256, claimed=content.claimed_status,
        load_id=content.load_id, manifest=content.manifest, root=root if root_kept else None,
    )


# --- the manifest --------------------------------------------------------------------------------
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 64 * MIB
# Matched with fullmatch: ASCII digits only, and no trailing newline slips through as "$" would let it.
LOAD_ID = re.compile(r"LIQ-([0-9]{4})([0-9]{2})([0-9]{2})-[0-9]{4}")
DATASET_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
SHA256 = re.compile(r"[0-9a-f]{64}")


def load_id_problem(load_id: str) -> str | None:
    match = LOAD_ID.fullmatch(load_id)
    if not match:
        return f"{load_id!r} does not match LIQ-YYYYMMDD-NNNN"
    try:
        date(*(int(part) for part in match.groups()))
    except ValueError:
        return f"{load_id!r} does not hold a real date"
    return None


@dataclass
class _ManifestCheck:
    """Reads a manifest's JSON value, noting each problem with the field it concerns."""

    issues: list[Issue]
    unsafe_paths: set[str]

    def add(self, code: str, field: str | None, message: str, *, file: str = MANIFEST, object: str | None = None):
        self.issues.append(issue(code, message, file=file, object=object, field=field))

    def get(self, data: dict, key: str, where: str, kinds: tuple[type, ...], *, required: bool = True) -> Any:
        value = data.get(key)
        if value is None:
            if required:
                self.add(MANIFEST_SCHEMA, where, "required" if key not in data else "must not be null")
            return None
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            expected = " or ".join(_TYPE_NAMES[kind] for kind in kinds)
            self.add(MANIFEST_SCHEMA, where, f"expected {expected}, got {leafiq.json_kind(value)}")
            return None
        return value

    def path(self, data: dict, key: str, where: str, *, required: bool = True, object: str | None = None) -> str | None:
        value = self.get(data, key, where, (str,), required=required)
        if value is None:
            return None
        if problem := path_problem(value):
            self.add(UNSAFE_PATH, where, f"path {problem}", file=value, object=object)
            self.unsafe_paths.add(value)
            return None
        return value

    def timestamp(self, data: dict, key: str, where: str, *, required: bool = True) -> datetime | None:
        value = self.get(data, key, where, (str,), required=required)
        if value is None:
            return None
        try:
            return leafiq.parse_timestamp(value)
        except ValueError:
            self.add(MANIFEST_SCHEMA, where, f"{value!r} is not an ISO 8601 timestamp")
            return None

    def entries(self, data: dict, key: str) -> list[tuple[str, dict]]:
        items = self.get(data, key, key, (list,)) or []
        result = []
        for index, item in enumerate(items):
            where = f"{key}[{index}]"
            if isinstance(item, dict):
                result.append((where, item))
            else:
                self.add(MANIFEST_SCHEMA, where, f"expected an object, got {leafiq.json_kind(item)}")
        return result


_TYPE_NAMES = {str: "a string", int: "an integer", list: "a list", dict: "an object", bool: "a boolean"}


@dataclass
class _ManifestContent:
    """What the checks could read of a manifest, broken or not; entries with a bad id are left out."""

    claimed_status: str | None = None
    load_id: str | None = None
    files: dict[str, leafiq.ManifestFile] = field(default_factory=dict)
    datasets: list[leafiq.DatasetEntry] = field(default_factory=list)
    cards: list[leafiq.CardEntry] = field(default_factory=list)
    dataflows: list[leafiq.DataflowEntry] = field(default_factory=list)
    missing: list[leafiq.MissingObject] = field(default_factory=list)
    users: str | None = None
    groups: str | None = None
    referenced: list[tuple[str, str, str]] = field(default_factory=list)  # (path, field, object) of object files
    dataset_ids: set[str] = field(default_factory=set)
    unsafe_paths: set[str] = field(default_factory=set)  # named by the manifest, never to be opened
    manifest: leafiq.Manifest | None = None  # only when the manifest passed all its checks


def _check_manifest(data: Any) -> tuple[_ManifestContent, list[Issue]]:
    """What can be read of the manifest, and its issues."""
    issues: list[Issue] = []
    content = _ManifestContent()
    check = _ManifestCheck(issues, content.unsafe_paths)
    if not isinstance(data, dict):
        check.add(MANIFEST_SCHEMA, None, f"expected a JSON object, got {leafiq.json_kind(data)}")
        return content, issues
    format_ = check.get(data, "format", "format", (str,))
    if format_ is not None and format_ != leafiq.FORMAT:
        check.add(UNKNOWN_FORMAT, "format", f"format {format_!r} is not {leafiq.FORMAT!r}")
        return content, issues

    load_id = check.get(data, "load_id", "load_id", (str,))
    if load_id is not None:
        content.load_id = load_id
        if problem := load_id_problem(load_id):
            check.add(BAD_LOAD_ID, "load_id", problem)
    exported_at = check.timestamp(data, "exported_at", "exported_at")
    domo_instance = check.get(data, "domo_instance", "domo_instance", (str,))
    exporter = check.get(data, "exporter", "exporter", (dict,)) or {}
    exporter_name = check.get(exporter, "name", "exporter.name", (str,)) if exporter else None
    exporter_version = check.get(exporter, "version", "exporter.version", (str,)) if exporter else None
    status = check.get(data, "status", "status", (str,))
    if status is not None and status not in ("complete", "partial"):
        check.add(MANIFEST_SCHEMA, "status", f"{status!r} is not 'complete' or 'partial'")
        status = None
    content.claimed_status = status

    missing_raw = check.get(data, "missing", "missing", (list,), required=status == "partial") or []
    for index, item in enumerate(missing_raw):
        where = f"missing[{index}]"
        if not isinstance(item, dict):
            check.add(MANIFEST_SCHEMA, where, f"expected an object, got {leafiq.json_kind(item)}")
            continue
        kind = check.get(item, "kind", f"{where}.kind", (str,))
        if kind is not None and kind not in leafiq.MISSING_KINDS:
            check.add(MANIFEST_SCHEMA, f"{where}.kind", f"{kind!r} is not one of {', '.join(leafiq.MISSING_KINDS)}")
            kind = None
        object_id = check.get(item, "id", f"{where}.id", (str, int))
        reason = check.get(item, "reason", f"{where}.reason", (str,))
        if kind and object_id is not None and reason is not None:
            content.missing.append(leafiq.MissingObject(kind=kind, id=object_id, reason=reason))
    if status == "complete" and missing_raw:
        check.add(MANIFEST_SCHEMA, "missing", f"status is 'complete' but missing lists {len(missing_raw)} object(s)")
    if status == "partial" and not missing_raw:
        check.add(MANIFEST_SCHEMA, "missing", "status is 'partial' but missing lists nothing")

    for where, item in check.entries(data, "files"):
        path = check.path(item, "path", f"{where}.path")
        digest = check.get(item, "sha256", f"{where}.sha256", (str,))
        if digest is not None and not SHA256.fullmatch(digest):
            check.add(MANIFEST_SCHEMA, f"{where}.sha256", "expected 64 lowercase hexadecimal digits")
            digest = None
        size = check.get(item, "bytes", f"{where}.bytes", (int,))
        if size is not None and size < 0:
            check.add(MANIFEST_SCHEMA, f"{where}.bytes", "must not be negative")
            size = None
        if path == MANIFEST:
            check.add(MANIFEST_SCHEMA, f"{where}.path", "files must not list manifest.json itself")
        elif path is not None and path in content.files:
            check.add(DUPLICATE_ID, f"{where}.path", f"{path} is listed twice", file=path)
        elif path is not None and digest is not None and size is not None:
            content.files[path] = leafiq.ManifestFile(path=path, sha256=digest, bytes=size)

    def reference(item: dict, key: str, where: str, object: str, *, required: bool = True) -> str | None:
        path = check.path(item, key, f"{where}.{key}", required=required, object=object)
        if path is not None:
            content.referenced.append((path, f"{where}.{key}", object))
            if path not in content.files:
                check.add(MANIFEST_SCHEMA, f"{where}.{key}", f"{path} is not listed in files", object=object)
        return path

    for where, item in check.entries(data, "datasets"):
        dataset_id = check.get(item, "id", f"{where}.id", (str,))
        if dataset_id is not None and not DATASET_ID.fullmatch(dataset_id):
            check.add(MANIFEST_SCHEMA, f"{where}.id", f"{dataset_id!r} is not a DataSet UUID")
            dataset_id = None
        if dataset_id is not None and dataset_id in content.dataset_ids:
            check.add(DUPLICATE_ID, f"{where}.id", f"dataset {dataset_id} is listed twice", object=f"dataset {dataset_id}")
            continue
        object = f"dataset {dataset_id}" if dataset_id else where
        metadata = reference(item, "metadata", where, object)
        data_csv = reference(item, "data", where, object)
        policies = reference(item, "policies", where, object, required=False)
        if dataset_id is not None:
            content.dataset_ids.add(dataset_id)
            if metadata and data_csv:
                content.datasets.append(leafiq.DatasetEntry(dataset_id, metadata, data_csv, policies))

    card_ids: set[int] = set()
    for where, item in check.entries(data, "cards"):
        card_id = check.get(item, "id", f"{where}.id", (int,))
        if card_id is not None and card_id in card_ids:
            check.add(DUPLICATE_ID, f"{where}.id", f"card {card_id} is listed twice", object=f"card {card_id}")
            continue
        object = f"card {card_id}" if card_id is not None else where
        definition = reference(item, "definition", where, object)
        golden = reference(item, "golden", where, object, required=False)
        captured = check.timestamp(item, "golden_captured_at", f"{where}.golden_captured_at", required=golden is not None)
        if card_id is not None:
            card_ids.add(card_id)
            if definition:
                content.cards.append(leafiq.CardEntry(card_id, definition, golden, captured))

    dataflow_ids: set[int] = set()
    for where, item in check.entries(data, "dataflows"):
        dataflow_id = check.get(item, "id", f"{where}.id", (int,))
        if dataflow_id is not None and dataflow_id in dataflow_ids:
            check.add(DUPLICATE_ID, f"{where}.id", f"dataflow {dataflow_id} is listed twice",
                      object=f"dataflow {dataflow_id}")
            continue
        object = f"dataflow {dataflow_id}" if dataflow_id is not None else where
        definition = reference(item, "definition", where, object)
        if dataflow_id is not None:
            dataflow_ids.add(dataflow_id)
            if definition:
                content.dataflows.append(leafiq.DataflowEntry(dataflow_id, definition))

    directory = check.get(data, "directory", "directory", (dict,), required=False) or {}
    content.users = reference(directory, "users", "directory", "directory", required=False)
    content.groups = reference(directory, "groups", "directory", "directory", required=False)

    if not any(ISSUE_CODES[i.code].status_class == INVALID for i in issues):
        content.manifest = leafiq.Manifest(
            format=format_, load_id=load_id, exported_at=exported_at, domo_instance=domo_instance,
            exporter_name=exporter_name, exporter_version=exporter_version, status=status,
            missing=tuple(content.missing), files=tuple(content.files.values()),
            datasets=tuple(content.datasets), cards=tuple(content.cards), dataflows=tuple(content.dataflows),
            users=content.users, groups=content.groups,
        )
    return content, issues


# --- the export ----------------------------------------------------------------------------------
_UNREADABLE = object()  # read_manifest's answer when there is no JSON value to check (null is one)


class _ExportCheck:
    """One validation of one export folder; collects issues, never raises on what the folder holds."""

    def __init__(self, root: Path):
        self.root = root
        self.issues: list[Issue] = []
        self.manifest_sha256: str | None = None
        self.content = _ManifestContent()
        self.linked: set[str] = set()  # paths reported as links or special files by the walk
        self.present: set[str] = set()  # listed files found as regular files

    def add(self, code: str, message: str, **where) -> None:
        self.issues.append(issue(code, message, **where))

    def run(self) -> None:
        data = self.read_manifest()
        if data is _UNREADABLE:
            return
        self.content, issues = _check_manifest(data)
        self.issues.extend(issues)
        if any(i.code == UNKNOWN_FORMAT for i in issues):
            return
        self.walk()
        self.check_files()
        objects = _Objects()
        self.check_directory(objects)
        self.check_datasets(objects)
        self.check_cards(objects)
        self.check_dataflows(objects)
        self.check_policy_references(objects)
        self.declared_partial()

    # manifest.json
    def read_manifest(self) -> Any:
        path = self.root / MANIFEST
        try:
            info = path.lstat()
        except FileNotFoundError:
            self.add(MANIFEST_UNREADABLE, "the export has no manifest.json at its root", file=MANIFEST)
            return _UNREADABLE
        except OSError as exc:
            self.add(MANIFEST_UNREADABLE, f"cannot be read: {exc.strerror}", file=MANIFEST)
            return _UNREADABLE
        if not stat.S_ISREG(info.st_mode):
            self.add(MANIFEST_UNREADABLE, "is not a regular file (a link, a folder or a device)", file=MANIFEST)
            return _UNREADABLE
        if info.st_size > MAX_MANIFEST_BYTES:
            self.add(MANIFEST_UNREADABLE, f"{info.st_size} bytes, over the limit of {MAX_MANIFEST_BYTES}", file=MANIFEST)
            return _UNREADABLE
        try:
            raw = path.read_bytes()
        except OSError as exc:
            self.add(MANIFEST_UNREADABLE, f"cannot be read: {exc.strerror}", file=MANIFEST)
            return _UNREADABLE
        self.manifest_sha256 = hashlib.sha256(raw).hexdigest()
        try:
            return leafiq.parse_json(raw, file=MANIFEST)
        except leafiq.LeafIQFormatError as exc:
            self.add(MANIFEST_UNREADABLE, exc.message, file=MANIFEST)
            return _UNREADABLE

    # files
    def walk(self) -> None:
        """Links and special files anywhere under the root; regular files the manifest does not list."""
        listed = set(self.content.files) | {path for path, _, _ in self.content.referenced}
        for directory, dirnames, filenames in os.walk(self.root, followlinks=False):
            here = Path(directory)
            for name in dirnames + filenames:
                full = here / name
                relative = full.relative_to(self.root).as_posix()
                try:
                    mode = full.lstat().st_mode
                except OSError:
                    continue
                if stat.S_ISLNK(mode):
                    self.linked.add(relative)
                    self.add(UNSAFE_PATH, "is a symbolic link", file=relative)
                elif not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
                    self.linked.add(relative)
                    self.add(UNSAFE_PATH, "is not a regular file (a device, socket or pipe)", file=relative)
                elif stat.S_ISREG(mode) and relative != MANIFEST and relative not in listed:
                    self.add(UNLISTED_FILE, "is not listed in the manifest", file=relative)

    def usable(self, path: str) -> bool:
        """Whether path may be opened: safe, reached through no link, and present as a regular file."""
        if path in self.content.unsafe_paths:
            return False
        segments = path.split("/")
        if any("/".join(segments[:i]) in self.linked for i in range(1, len(segments) + 1)):
            return False
        try:
            return stat.S_ISREG((self.root / path).lstat().st_mode)
        except OSError:
            return False

    def check_files(self) -> None:
        owners = {path: object for path, _, object in reversed(self.content.referenced)}
        for entry in self.content.files.values():
            full = self.root / entry.path
            object = owners.get(entry.path)
            if not self.usable(entry.path):
                if full.is_dir() and not full.is_symlink():
                    self.add(FILE_MISSING, "is a folder, not a file", file=entry.path, object=object)
                elif not os.path.lexists(full):
                    self.add(FILE_MISSING, "is listed in the manifest but absent", file=entry.path, object=object)
                continue
            try:
                digest, size = _hash(full)
            except OSError as exc:
                self.add(FILE_MISSING, f"cannot be read: {exc.strerror}", file=entry.path, object=object)
                continue
            self.present.add(entry.path)
            if size != entry.bytes:
                self.add(SIZE_MISMATCH, f"has {size} bytes, the manifest says {entry.bytes}", file=entry.path,
                         object=object)
            if digest != entry.sha256:
                self.add(HASH_MISMATCH, f"SHA-256 is {digest}, the manifest says {entry.sha256}", file=entry.path,
                         object=object)

    def readable(self, path: str | None) -> bool:
        """An object file to read: a present regular file (listed or not; listing problems are reported)."""
        return path is not None and (path in self.present or (path not in self.content.files and self.usable(path)))

    def read(self, path: str, reader, object: str):
        try:
            return reader(self.root / path, file=path)
        except leafiq.LeafIQFormatError as exc:
            self.add(OBJECT_INVALID, exc.message, file=path, object=exc.object or object, field=exc.field)
        except RecursionError:
            self.add(OBJECT_INVALID, "nested too deeply to read", file=path, object=object)
        return None

    # objects
    def check_directory(self, objects: _Objects) -> None:
        for path, reader, ids, noun in ((self.content.users, leafiq.read_users, objects.user_ids, "user"),
                                        (self.content.groups, leafiq.read_groups, objects.group_ids, "group")):
            if path is None:
                continue
            objects.directory.add(noun)
            if not self.readable(path):
                continue
            entries = self.read(path, reader, "directory") or ()
            for index, entry in enumerate(entries):
                if entry.id in ids:
                    self.add(DUPLICATE_ID, f"{noun} {entry.id} appears twice", file=path,
                             object=f"{noun} {entry.id}", field=f"[{index}]")
                ids.add(entry.id)

    def check_datasets(self, objects: _Objects) -> None:
        for entry in self.content.datasets:
            object = f"dataset {entry.id}"
            metadata = self.read(entry.metadata, leafiq.read_dataset_metadata, object) \
                if self.readable(entry.metadata) else None
            if metadata is not None and metadata.id != entry.id:
                self.add(OBJECT_INVALID, f"metadata is of dataset {metadata.id}, the manifest says {entry.id}",
                         file=entry.metadata, object=object, field="id")
                metadata = None
            if metadata is not None:
                objects.beast_modes[entry.id] = {mode.id: mode for mode in metadata.beast_modes}
            if self.readable(entry.data):
                self.issues.extend(check_csv(
                    self.root / entry.data, file=entry.data, object=object,
                    columns=metadata.columns if metadata else None,
                    expected_rows=metadata.row_count if metadata else None,
                ))
            if entry.policies and self.readable(entry.policies):
                policies = self.read(entry.policies, leafiq.read_policies, object) or ()
                seen: set[int] = set()
                for index, policy in enumerate(policies):
                    if policy.id in seen:
                        self.add(DUPLICATE_ID, f"policy {policy.id} appears twice", file=entry.policies,
                                 object=f"policy {policy.id}", field=f"[{index}]")
                    seen.add(policy.id)
                    objects.policies.append((entry.policies, policy))

    def check_cards(self, objects: _Objects) -> None:
        datasets = self.content.dataset_ids
        for entry in self.content.cards:
            object = f"card {entry.id}"
            if not self.readable(entry.definition):
                continue
            card = self.read(entry.definition, leafiq.read_card_definition, object)
            if card is None:
                continue
            if card.id != entry.id:
                self.add(OBJECT_INVALID, f"definition is of card {card.id}, the manifest says {entry.id}",
                         file=entry.definition, object=object, field="id")
                continue
            for index, source in enumerate(card.datasources):
                if source.id not in datasets:
                    self.add(DANGLING_REFERENCE, f"reads dataset {source.id}, which the export does not hold",
                             file=entry.definition, object=object, field=f"datasources[{index}].dataSourceId")
            held = {mode.id: mode for mode in card.beast_modes if mode.origin != "dataset_deleted"}
            for source in card.datasources:
                held.update(objects.beast_modes.get(source.id, {}))
            deleted = {mode.id for mode in card.beast_modes if mode.origin == "dataset_deleted"}
            for formula_id, field in card.formula_references():
                if formula_id in held:
                    continue
                why = "that was deleted from its dataset" if formula_id in deleted else "that the export does not hold"
                self.add(DANGLING_REFERENCE, f"uses beast mode {formula_id} {why}",
                         file=entry.definition, object=object, field=field)
            if entry.golden and self.readable(entry.golden):
                self.issues.extend(check_csv(
                    self.root / entry.golden, file=entry.golden, object=object,
                    header=_golden_header(card, held),
                ))

    def check_dataflows(self, objects: _Objects) -> None:
        for entry in self.content.dataflows:
            object = f"dataflow {entry.id}"
            if not self.readable(entry.definition):
                continue
            dataflow = self.read(entry.definition, leafiq.read_dataflow, object)
            if dataflow is None:
                continue
            if dataflow.id != entry.id:
                self.add(OBJECT_INVALID, f"definition is of dataflow {dataflow.id}, the manifest says {entry.id}",
                         file=entry.definition, object=object, field="id")
                continue
            for key, endpoints in (("inputs", dataflow.inputs), ("outputs", dataflow.outputs)):
                for index, endpoint in enumerate(endpoints):
                    if endpoint.dataset_id not in self.content.dataset_ids:
                        self.add(DANGLING_REFERENCE,
                                 f"{key[:-1]} dataset {endpoint.dataset_id} is not in the export",
                                 file=entry.definition, object=object, field=f"{key}[{index}].dataSourceId")

    def check_policy_references(self, objects: _Objects) -> None:
        for path, policy in objects.policies:
            for noun, key, ids, known in (("user", "users", policy.user_ids, objects.user_ids),
                                          ("group", "groups", policy.group_ids, objects.group_ids)):
                unknown = sorted(set(ids) - known)
                if not unknown:
                    continue
                shown = ", ".join(str(i) for i in unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
                held = "the export's directory does not hold" if noun in objects.directory else \
                    "the export has no directory of"
                self.add(DANGLING_REFERENCE, f"names {noun} id(s) {shown}, which {held} {noun}s",
                         file=path, object=f"policy {policy.id}", field=key)

    def declared_partial(self) -> None:
        if self.content.claimed_status != "partial":
            return
        for index, missing in enumerate(self.content.missing):
            self.add(DECLARED_PARTIAL, f"the exporter could not capture {missing.kind} {missing.id}: {missing.reason}",
                     file=MANIFEST, object=f"{missing.kind} {missing.id}", field=f"missing[{index}]")
        if not self.content.missing:
            self.add(DECLARED_PARTIAL, "the exporter declared the export partial", file=MANIFEST, field="status")


class _Objects:
    """What the export holds, gathered while reading it, for the reference checks."""

    def __init__(self) -> None:
        self.user_ids: set[int] = set()
        self.group_ids: set[int] = set()
        self.directory: set[str] = set()  # "user", "group": the directory files the manifest names
        self.beast_modes: dict[str, dict[str, leafiq.BeastMode]] = {}  # dataset id -> its saved beast modes
        self.policies: list[tuple[str, leafiq.Policy]] = []


def _golden_header(card: leafiq.CardDefinition, beast_modes: dict[str, leafiq.BeastMode]) -> list[str] | None:
    """golden.csv's header: each main column's alias, or its column (or beast mode) name; None if unknown."""
    main = card.main
    if main is None or not main.columns:
        return None
    header = []
    for column in main.columns:
        label = column.label or (beast_modes[column.formula_id].name if column.formula_id in beast_modes else None)
        if label is None:
            return None
        header.append(label)
    return header


def _hash(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(MIB):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


# --- CSV -----------------------------------------------------------------------------------------
# Bytes of CSV per Arrow record batch: at 1 MiB the streaming reader's memory stays flat (see silver).
BLOCK_SIZE = MIB
# Records per type-checked batch when a file is read record by record.
SLOW_BATCH_ROWS = 4096
# The record-by-record reader's limit on one field: an unclosed quote otherwise reads the rest of
# the file into a single field.
MAX_FIELD_CHARS = 64 * MIB
# Issues listed per file and kind (per column for values); the rest are counted in one more issue.
MAX_LISTED = 20

_VALUE_PATTERNS = {
    "LONG": r"^-?[0-9]+$",
    "DOUBLE": r"^[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|(?i:nan|inf|infinity))$",
    "DECIMAL": r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)$",
    "DATE": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    "DATETIME": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$",
}
_TIME_FORMATS = {"DATE": "%Y-%m-%d", "DATETIME": "%Y-%m-%dT%H:%M:%S"}
_TYPE_HINTS = {"LONG": "a 64-bit integer", "DOUBLE": "a number", "DECIMAL": "a decimal number",
               "DATE": "a date YYYY-MM-DD", "DATETIME": "a date and time YYYY-MM-DDTHH:MM:SS"}
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


def bad_values(values: pa.Array, column_type: str) -> pa.Array:
    """True where a text value does not parse as column_type; empty is NULL, valid for every type."""
    if column_type == "STRING":
        return pa.repeat(pa.scalar(False), len(values))
    ok = pc.match_substring_regex(values, _VALUE_PATTERNS[column_type])
    if column_type in _TIME_FORMATS:
        # strptime rolls 2026-02-30 over to March; a value is a real date only if it prints back as itself.
        fmt = _TIME_FORMATS[column_type]
        parsed = pc.strptime(pc.if_else(ok, values, pa.scalar(None, pa.string())), format=fmt, unit="s",
                             error_is_null=True)
        ok = pc.equal(pc.strftime(parsed, format=fmt), values)
    elif column_type == "LONG":
        digits = pc.replace_substring_regex(values, "^-", "")
        limit = pc.if_else(pc.starts_with(values, "-"), pa.scalar("9223372036854775808"),
                           pa.scalar("9223372036854775807"))
        overflow = pc.and_(pc.greater_equal(pc.utf8_length(digits), 19),
                           pc.or_(pc.greater(pc.utf8_length(digits), 19), pc.greater(digits, limit)))
        ok = pc.and_(ok, pc.invert(overflow))
    return pc.and_(pc.not_equal(values, ""), pc.invert(pc.fill_null(ok, False)))


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
              expected_rows: int | None = None) -> list[Issue]:
    """A CSV's issues: encoding, header (the columns' names, or header), ragged rows, values, row count."""
    sink = _CsvIssues(file, object)
    expected_header = [c.name for c in columns] if columns is not None else (list(header) if header else None)
    try:
        with path.open("rb") as handle:
            bom = handle.read(3) == b"\xef\xbb\xbf"
        actual = _read_header(path)
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
    rows = None
    if utf8:
        fast = sink.copy()
        try:
            rows = _scan_fast(path, names, types, fast)
            sink = fast
        except (_Fallback, pa.ArrowInvalid):
            rows = None
    if rows is None:
        rows = _scan_slow(path, len(names), names, types, sink)
    if expected_rows is not None and rows is not None and rows != expected_rows:
        sink.add(CSV_ROW_COUNT_MISMATCH, f"holds {rows} data rows, the metadata says {expected_rows}")
    return sink.finish()


def _text(handle) -> io.TextIOWrapper:
    # Undecodable bytes become lone surrogates (U+DC80..U+DCFF), so a record can still be split and the
    # bad field named; valid UTF-8 never decodes to one.
    return io.TextIOWrapper(handle, encoding="utf-8-sig", errors="surrogateescape", newline="")


def _read_header(path: Path) -> list[str] | None:
    with path.open("rb") as handle, _text(handle) as text:
        previous = csv.field_size_limit(MAX_FIELD_CHARS)
        try:
            return next(csv.reader(text), None)
        finally:
            csv.field_size_limit(previous)


def _check_header(sink: _CsvIssues, actual: list[str], expected: list[str] | None) -> bool:
    if expected is None or actual == expected:
        return True
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


def _scan_fast(path: Path, header: list[str], types: list[str] | None, sink: _CsvIssues) -> int:
    """Arrow's streaming reader, every column as text; raises _Fallback or ArrowInvalid where it cannot tell."""
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=BLOCK_SIZE),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=False, quoted_strings_can_be_null=False, null_values=[], check_utf8=True,
        ),
    )
    if reader.schema.names != header:
        raise _Fallback()
    rows = 0
    for batch in reader:
        if batch.num_columns > 1:
            # Arrow reads a blank line as a row of empty fields; only the slow reader tells the two apart.
            lengths = [pc.utf8_length(column) for column in batch.columns]
            if pc.any(pc.equal(_sum(lengths), 0)).as_py():
                raise _Fallback()
        if types:
            _check_values(sink, batch.columns, header, types, lambda index, base=rows: base + index + 1)
        rows += batch.num_rows
    return rows


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


def _scan_slow(path: Path, width: int, header: list[str], types: list[str] | None, sink: _CsvIssues) -> int | None:
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

    previous = csv.field_size_limit(MAX_FIELD_CHARS)
    try:
        with path.open("rb") as handle, _text(handle) as text:
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
                if types:
                    batch_rows.append(rows)
                    batch.append(record)
                    if len(batch) >= SLOW_BATCH_ROWS:
                        flush()
            flush()
    except csv.Error as exc:
        sink.add(CSV_RAGGED_ROW, f"malformed CSV from here on: {exc}", row=rows + 1)
        return None
    finally:
        csv.field_size_limit(previous)
    return rows
