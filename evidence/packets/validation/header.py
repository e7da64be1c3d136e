"""packet.json: read (read_packet_json) and checked field by field (check_header) into a PacketHeader.

What the file checks need survives a failed header in _HeaderContent (the kind, the listed paths, the
period, the clients), so that one refusal names every problem, not only the first."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.lake.base import SIDECAR_SUFFIX
from evidence.intake.validation.archive import MIB, path_problem
from evidence.packets.model import FORMAT, KINDS, PACKET_FILE, PRICING, RECORDS_FILE, FileEntry, PacketHeader
from evidence.packets.validation.issues import (
    FIELD_INVALID,
    FORMAT_UNKNOWN,
    PACKET_UNREADABLE,
    UNSAFE_PATH,
    _Issues,
)

MAX_PACKET_JSON_BYTES = 16 * MIB
# A packet_id names a folder in the lake (bronze/evidence/<kind>/<packet_id>/), so it is path-safe text.
PACKET_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
SHA256 = re.compile(r"[0-9a-f]{64}")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
SALESFORCE_ID = re.compile(r"[A-Za-z0-9]{15}[A-Z0-5]{3}")
DOCUMENTS = "documents/"
FIELDS = ("format", "packet_id", "kind", "source", "client_account_ids", "period", "records", "documents",
          "keyed_by", "supersedes")
_JSON_KINDS = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
               float: "a number", type(None): "null"}
_CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def salesforce_id_problem(value: str) -> str | None:
    """Why value is not an 18-character Salesforce id (15 characters and their case checksum), or None."""
    if not SALESFORCE_ID.fullmatch(value):
        return f"{value!r} is not an 18-character Salesforce id (like 0015e00000Qm7AcAAJ)"
    checksum = "".join(
        _CHECKSUM[sum(1 << i for i, char in enumerate(value[start:start + 5]) if "A" <= char <= "Z")]
        for start in (0, 5, 10))
    if value[15:] != checksum:
        return f"{value!r} does not end in its checksum {checksum} (a character mistyped or its case changed?)"
    return None


def parse_date(value: str) -> dt.date:
    """A YYYY-MM-DD date that exists; ValueError otherwise."""
    if not DATE.fullmatch(value):
        raise ValueError(f"{value!r} is not a date YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a real date") from None


_UNREADABLE = object()


def read_packet_json(root: Path, sink: _Issues) -> tuple[Any, str | None]:
    """packet.json's JSON value (or _UNREADABLE) and the SHA-256 of its bytes (None if none were read)."""
    path = root / PACKET_FILE
    try:
        info = path.lstat()
    except FileNotFoundError:
        sink.add(PACKET_UNREADABLE, "the packet has no packet.json at its root", file=PACKET_FILE)
        return _UNREADABLE, None
    except OSError as exc:
        sink.add(PACKET_UNREADABLE, f"cannot be read: {exc.strerror}", file=PACKET_FILE)
        return _UNREADABLE, None
    if not stat.S_ISREG(info.st_mode):
        sink.add(PACKET_UNREADABLE, "is not a regular file (a link, a folder or a device)", file=PACKET_FILE)
        return _UNREADABLE, None
    if info.st_size > MAX_PACKET_JSON_BYTES:
        sink.add(PACKET_UNREADABLE, f"{info.st_size} bytes, over the limit of {MAX_PACKET_JSON_BYTES}",
                 file=PACKET_FILE)
        return _UNREADABLE, None
    try:
        raw = path.read_bytes()
    except OSError as exc:
        sink.add(PACKET_UNREADABLE, f"cannot be read: {exc.strerror}", file=PACKET_FILE)
        return _UNREADABLE, None
    digest = hashlib.sha256(raw).hexdigest()
    try:
        data = json.loads(raw.decode("utf-8-sig"), parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except UnicodeDecodeError as exc:
        sink.add(PACKET_UNREADABLE, f"is not UTF-8 (byte {exc.start})", file=PACKET_FILE)
        return _UNREADABLE, digest
    except RecursionError:
        sink.add(PACKET_UNREADABLE, "is nested too deeply to read", file=PACKET_FILE)
        return _UNREADABLE, digest
    except ValueError as exc:
        sink.add(PACKET_UNREADABLE, f"is not valid JSON: {exc}", file=PACKET_FILE)
        return _UNREADABLE, digest
    if not isinstance(data, dict):
        sink.add(PACKET_UNREADABLE, f"must hold a JSON object, holds {_kind(data)}", file=PACKET_FILE)
        return _UNREADABLE, digest
    return data, digest


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # The last of two equal keys would win silently: refuse the ambiguity instead.
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"key {key!r} appears twice in one object")
        data[key] = value
    return data


def _kind(value: Any) -> str:
    return _JSON_KINDS.get(type(value), type(value).__name__)


@dataclass
class _HeaderContent:
    """What packet.json says, as far as it could be read; header only when every field passed."""

    header: PacketHeader | None = None
    packet_id: str | None = None
    kind: str | None = None
    records_path: str | None = None
    records_rows: int | None = None
    records_sha256: str | None = None
    documents: list[FileEntry] = field(default_factory=list)
    unsafe_paths: set[str] = field(default_factory=set)
    client_account_ids: tuple[str, ...] | None = None
    period: tuple[dt.date, dt.date] | None = None

    @property
    def listed(self) -> set[str]:
        paths = {entry.path for entry in self.documents}
        return paths | {self.records_path} if self.records_path else paths


_MISSING = object()  # get's answer for a field absent or of the wrong type (already reported)


class _HeaderCheck:
    """Reads packet.json's fields, noting each problem with the field it concerns."""

    def __init__(self, sink: _Issues):
        self.sink = sink
        self.failed = False

    def bad(self, where: str, message: str, code: str = FIELD_INVALID, *, file: str = PACKET_FILE) -> None:
        self.failed = True
        self.sink.add(code, message, file=file, field=where)

    def get(self, data: dict, key: str, where: str, kinds: tuple[type, ...], *, required: bool = True,
            nullable: bool = False) -> Any:
        if key not in data:
            if required:
                self.bad(where, f"is required ({_expected(kinds)})")
            return _MISSING
        value = data[key]
        if value is None and nullable:
            return None
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            self.bad(where, f"must be {_expected(kinds)}{' or null' if nullable else ''}, is {_kind(value)}")
            return _MISSING
        return value

    def text(self, data: dict, key: str, where: str) -> str | None:
        """A required, non-blank string."""
        value = self.get(data, key, where, (str,))
        if value is _MISSING:
            return None
        if not value.strip():
            self.bad(where, "must not be blank")
            return None
        return value

    def date(self, data: dict, key: str, where: str) -> dt.date | None:
        value = self.text(data, key, where)
        if value is None:
            return None
        try:
            return parse_date(value)
        except ValueError as exc:
            self.bad(where, str(exc))
            return None

    def sha256(self, data: dict, where: str) -> str | None:
        value = self.text(data, "sha256", where)
        if value is not None and not SHA256.fullmatch(value):
            self.bad(where, f"{value[:80]!r} is not a SHA-256: 64 lowercase hexadecimal digits")
            return None
        return value

    def count(self, data: dict, key: str, where: str) -> int | None:
        value = self.get(data, key, where, (int,))
        if value is _MISSING:
            return None
        if value < 0:
            self.bad(where, f"must be a whole number of 0 or more, is {value}")
            return None
        return value

    def path(self, data: dict, where: str) -> str | None:
        value = self.text(data, "path", where)
        if value is None:
            return None
        if problem := path_problem(value):
            self.bad(where, f"path {value[:200]!r} {problem}", UNSAFE_PATH, file=value)
            return None
        return value


def _expected(kinds: tuple[type, ...]) -> str:
    return " or ".join(_JSON_KINDS[kind] for kind in kinds)


def check_header(data: dict[str, Any], sink: _Issues) -> _HeaderContent | None:
    """packet.json's fields; None when its format is not leaf-evidence/1 (FORMAT_UNKNOWN: nothing else is checked)."""
    fmt = data.get("format")
    if fmt != FORMAT:
        shown = "is missing" if "format" not in data else f"is {json.dumps(fmt)[:80]}"
        sink.add(FORMAT_UNKNOWN, f"format {shown}; this console reads {FORMAT!r} only", file=PACKET_FILE,
                 field="format")
        return None
    check = _HeaderCheck(sink)
    content = _HeaderContent()
    for key in data:
        if key not in FIELDS:
            check.bad(key, f"is not a field of {FORMAT} (its fields: {', '.join(FIELDS)})")

    packet_id = check.text(data, "packet_id", "packet_id")
    if packet_id is not None and not PACKET_ID.fullmatch(packet_id):
        check.bad("packet_id", f"{packet_id[:80]!r} is not a packet id: letters, digits, '.', '_' and '-', "
                               "starting with a letter or digit, at most 128 characters")
        packet_id = None
    elif packet_id is not None and packet_id.lower().endswith(SIDECAR_SUFFIX):
        check.bad("packet_id", f"{packet_id[:80]!r} ends in {SIDECAR_SUFFIX!r}, which the lake keeps for its own "
                               "hash files: choose another packet id")
        packet_id = None
    content.packet_id = packet_id

    kind = check.text(data, "kind", "kind")
    if kind is not None and kind not in KINDS:
        check.bad("kind", f"{kind[:80]!r} is not a kind; expected one of {', '.join(KINDS)}")
        kind = None
    content.kind = kind

    system = reference = received_at = None
    source = check.get(data, "source", "source", (dict,))
    if source is not _MISSING:
        for key in source:
            if key not in ("system", "reference", "received_at"):
                check.bad(f"source.{key}", "is not a field of source (system, reference, received_at)")
        system = check.text(source, "system", "source.system")
        reference = check.text(source, "reference", "source.reference")
        received_at = _timestamp(check, source, "received_at", "source.received_at")

    clients = _clients(check, data, kind)
    content.client_account_ids = clients

    start = end = None
    period = check.get(data, "period", "period", (dict,))
    if period is not _MISSING:
        start = check.date(period, "start", "period.start")
        end = check.date(period, "end", "period.end")
        if start and end and start > end:
            check.bad("period", f"starts {start} after it ends {end}")
        elif start and end:
            content.period = (start, end)

    records = _records(check, data, kind, content)
    documents = _documents(check, data, content)
    keyed_by = check.text(data, "keyed_by", "keyed_by")
    supersedes = check.get(data, "supersedes", "supersedes", (str,), nullable=True)
    if supersedes is _MISSING:
        supersedes = None
    elif supersedes is not None and not PACKET_ID.fullmatch(supersedes):
        check.bad("supersedes", f"{supersedes[:80]!r} is not a packet id")
    elif supersedes is not None and supersedes == packet_id:
        check.bad("supersedes", "names the packet's own packet_id; a revision of the same packet needs no supersedes")

    if not check.failed:
        content.header = PacketHeader(
            packet_id=packet_id, kind=kind, source_system=system, source_reference=reference,
            received_at=received_at, client_account_ids=clients, period_start=start, period_end=end,
            records=records, documents=tuple(documents), keyed_by=keyed_by, supersedes=supersedes,
        )
    return content


def _timestamp(check: _HeaderCheck, data: dict, key: str, where: str) -> dt.datetime | None:
    value = check.text(data, key, where)
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        check.bad(where, f"{value[:80]!r} is not an ISO 8601 date and time (like 2026-11-18T14:02:00Z)")
        return None
    if parsed.tzinfo is None:
        check.bad(where, f"{value[:80]!r} has no time zone; write it in UTC (like 2026-11-18T14:02:00Z)")
        return None
    return parsed.astimezone(dt.timezone.utc)


def _clients(check: _HeaderCheck, data: dict, kind: str | None) -> tuple[str, ...] | None:
    values = check.get(data, "client_account_ids", "client_account_ids", (list,))
    if values is _MISSING:
        return None
    valid = True
    seen: set[str] = set()
    for index, value in enumerate(values):
        where = f"client_account_ids[{index}]"
        if not isinstance(value, str):
            check.bad(where, f"must be a string, is {_kind(value)}")
            valid = False
        elif problem := salesforce_id_problem(value):
            check.bad(where, problem)
            valid = False
        elif value in seen:
            check.bad(where, f"{value} is listed twice")
        else:
            seen.add(value)
    if not values and kind is not None and kind != PRICING:
        check.bad("client_account_ids", f"a {kind} packet must name the clients it speaks for (only a pricing "
                                        "packet may leave the list empty)")
    return tuple(values) if valid else None


def _records(check: _HeaderCheck, data: dict, kind: str | None, content: _HeaderContent) -> FileEntry | None:
    records = check.get(data, "records", "records", (dict,))
    if records is _MISSING:
        if kind is not None:
            content.records_path = RECORDS_FILE[kind]  # still read, so its problems are reported too
        return None
    for key in records:
        if key not in ("path", "sha256", "rows"):
            check.bad(f"records.{key}", "is not a field of records (path, sha256, rows)")
    path = check.path(records, "records.path")
    if path is None:
        content.unsafe_paths.update(v for v in (records.get("path"),) if isinstance(v, str))
    if path is not None and kind is not None and path != RECORDS_FILE[kind]:
        check.bad("records.path", f"is {path!r}; a {kind} packet's records are {RECORDS_FILE[kind]!r} at its root")
    content.records_path = path if path is not None else (RECORDS_FILE[kind] if kind else None)
    content.records_sha256 = check.sha256(records, "records.sha256")
    content.records_rows = check.count(records, "rows", "records.rows")
    if path is None or content.records_sha256 is None or content.records_rows is None:
        return None
    return FileEntry(path=path, sha256=content.records_sha256, rows=content.records_rows)


def _documents(check: _HeaderCheck, data: dict, content: _HeaderContent) -> list[FileEntry]:
    entries = check.get(data, "documents", "documents", (list,), required=False)
    if entries is _MISSING:
        return []
    documents = []
    for index, entry in enumerate(entries):
        where = f"documents[{index}]"
        if not isinstance(entry, dict):
            check.bad(where, f"must be an object, is {_kind(entry)}")
            continue
        for key in entry:
            if key not in ("path", "sha256", "bytes", "media_type", "title"):
                check.bad(f"{where}.{key}", "is not a field of a document (path, sha256, bytes, media_type, title)")
        path = check.path(entry, f"{where}.path")
        if path is None:
            content.unsafe_paths.update(v for v in (entry.get("path"),) if isinstance(v, str))
        elif not path.startswith(DOCUMENTS):
            check.bad(f"{where}.path", f"is {path!r}; documents live under {DOCUMENTS}")
            path = None
        elif path in {d.path for d in documents}:
            check.bad(f"{where}.path", f"{path!r} is listed twice")
            path = None
        sha256 = check.sha256(entry, f"{where}.sha256")
        size = check.count(entry, "bytes", f"{where}.bytes")
        media_type = check.get(entry, "media_type", f"{where}.media_type", (str,), required=False)
        title = check.get(entry, "title", f"{where}.title", (str,), required=False)
        if path is not None and sha256 is not None and size is not None:
            documents.append(FileEntry(path=path, sha256=sha256, bytes=size,
                                       media_type=media_type if isinstance(media_type, str) else "",
                                       title=title if isinstance(title, str) else ""))
        elif path is not None:
            # Listed, so not UNLISTED_FILE, but nothing to compare its bytes against.
            documents.append(FileEntry(path=path, sha256="", bytes=None))
    content.documents = documents
    return [d for d in documents if d.sha256]
