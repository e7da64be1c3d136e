"""validate_packet, the entry point: a folder, or a zip extracted safely (the intake's safe_extract),
checked packet.json first, then every file of the folder against what it lists."""
from __future__ import annotations

import stat
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from evidence.intake.validation.archive import (
    DEFAULT_LIMITS,
    FILE,
    LINK,
    SPECIAL,
    ArchiveLimits,
    archive_root,
    file_sha256,
    safe_extract,
    tree_entries,
)
from evidence.packets.model import PACKET_FILE
from evidence.packets.validation.header import _UNREADABLE, _HeaderContent, check_header, read_packet_json
from evidence.packets.validation.issues import (
    FILE_MISSING,
    HASH_MISMATCH,
    PACKET_UNREADABLE,
    REVISION_CONFLICT,
    ROW_COUNT_MISMATCH,
    UNLISTED_FILE,
    UNSAFE_PATH,
    EarlierRevision,
    PacketReport,
    _Issues,
    report,
)
from evidence.packets.validation.records import RecordsRead, read_records

# The earlier revision itself, or a lookup by packet_id (the service knows the id only once packet.json is read).
Earlier = EarlierRevision | Callable[[str], EarlierRevision | None]


def validate_packet(source: Path, *, limits: ArchiveLimits = DEFAULT_LIMITS, staging_dir: Path | None = None,
                    earlier: Earlier | None = None) -> PacketReport:
    """Validate a packet folder, or a .zip of one (extracted under staging_dir, kept; or a temporary folder).

    Never raises on what the packet holds; a staging_dir that is not empty is the caller's mistake
    (ValueError). earlier: the earlier revision of the same packet_id, for REVISION_CONFLICT."""
    source = Path(source)
    if source.is_dir():
        return _validate_folder(source, root_kept=True, earlier=earlier)
    if not source.is_file():
        return report([_unreadable(f"no packet folder or archive at {source}")])
    if not zipfile.is_zipfile(source):
        return report([_unreadable("is neither a folder nor a zip archive", file=source.name)])
    if staging_dir is not None:
        problems = safe_extract(source, staging_dir, limits)
        if problems:
            return report(_archive_issues(problems))
        return _validate_folder(archive_root(staging_dir, PACKET_FILE), root_kept=True, earlier=earlier)
    with tempfile.TemporaryDirectory(prefix="packet-") as temporary:
        staging = Path(temporary) / "packet"
        problems = safe_extract(source, staging, limits)
        if problems:
            return report(_archive_issues(problems))
        return _validate_folder(archive_root(staging, PACKET_FILE), root_kept=False, earlier=earlier)


def _unreadable(message: str, *, file: str | None = None):
    sink = _Issues()
    sink.add(PACKET_UNREADABLE, message, file=file)
    return sink.issues[0]


def _archive_issues(problems) -> list:
    """The intake's ARCHIVE_UNSAFE issues as the packet format's UNSAFE_PATH, each where it was."""
    sink = _Issues()
    for problem in problems:
        sink.add(UNSAFE_PATH, f"archive {problem.message}; nothing was extracted", file=problem.file)
    return sink.finish()


def _validate_folder(root: Path, *, root_kept: bool, earlier: Earlier | None) -> PacketReport:
    sink = _Issues()
    data, sha256 = read_packet_json(root, sink)
    if data is _UNREADABLE:
        return report(sink.finish(), sha256=sha256, root=root if root_kept else None)
    content = check_header(data, sink)
    if content is None:  # FORMAT_UNKNOWN: another format's rules are not ours to check
        return report(sink.finish(), sha256=sha256, root=root if root_kept else None)
    check = _FolderCheck(root, content, sink)
    check.run()
    _check_revision(content, earlier, sink)
    return report(sink.finish(), sha256=sha256, packet_id=content.packet_id, kind=content.kind,
                  header=content.header, records=check.read.records if check.read else None,
                  root=root if root_kept else None)


def _check_revision(content: _HeaderContent, earlier: Earlier | None, sink: _Issues) -> None:
    if earlier is None or content.packet_id is None:
        return
    if not isinstance(earlier, EarlierRevision):
        earlier = earlier(content.packet_id)
    if earlier is None or earlier.packet_id != content.packet_id:
        return
    if content.kind is not None and content.kind != earlier.kind:
        sink.add(REVISION_CONFLICT, f"kind is {content.kind!r}, but the earlier revision of {earlier.packet_id} is "
                                    f"{earlier.kind!r}; a packet keeps its kind (send another packet_id)",
                 file=PACKET_FILE, field="kind")
    clients = content.client_account_ids
    if clients is not None and set(clients) != set(earlier.client_account_ids):
        added = sorted(set(clients) - set(earlier.client_account_ids))
        dropped = sorted(set(earlier.client_account_ids) - set(clients))
        change = "; ".join(part for part in (f"adds {', '.join(added)}" if added else "",
                                             f"drops {', '.join(dropped)}" if dropped else "") if part)
        sink.add(REVISION_CONFLICT, f"client_account_ids {change} against the earlier revision of "
                                    f"{earlier.packet_id}; a packet keeps its clients (send another packet_id)",
                 file=PACKET_FILE, field="client_account_ids")


class _FolderCheck:
    """The files of one packet folder against packet.json: links, unlisted, missing, hashes, records."""

    def __init__(self, root: Path, content: _HeaderContent, sink: _Issues):
        self.root, self.content, self.sink = root, content, sink
        self.linked: set[str] = set()
        self.read: RecordsRead | None = None

    def run(self) -> None:
        self.walk()
        self.check_records()
        for entry in self.content.documents:
            if self.usable(entry.path) and entry.sha256:
                self.check_document(entry)

    def walk(self) -> None:
        """Links and special files anywhere under the root; regular files packet.json does not list."""
        listed = self.content.listed | self.content.unsafe_paths
        for relative, kind in tree_entries(self.root):
            if kind == LINK:
                self.linked.add(relative)
                self.sink.add(UNSAFE_PATH, "is a symbolic link; a packet holds only its own files", file=relative)
            elif kind == SPECIAL:
                self.linked.add(relative)
                self.sink.add(UNSAFE_PATH, "is not a regular file (a device, socket or pipe)", file=relative)
            elif kind == FILE and relative != PACKET_FILE and relative not in listed:
                self.sink.add(UNLISTED_FILE, "is in the packet but not listed in packet.json; nothing else may be "
                                             "in a packet", file=relative)

    def usable(self, path: str) -> bool:
        """Whether path may be opened: reached through no link and present as a regular file (else say why)."""
        segments = path.split("/")
        if any("/".join(segments[:i]) in self.linked for i in range(1, len(segments) + 1)):
            return False
        full = self.root / path
        try:
            if stat.S_ISREG(full.lstat().st_mode):
                return True
        except OSError:
            pass
        what = "is a folder, not a file" if full.is_dir() else "is listed in packet.json but not in the packet"
        self.sink.add(FILE_MISSING, what, file=path)
        return False

    def check_records(self) -> None:
        content = self.content
        path = content.records_path
        if path is None or path in content.unsafe_paths or not self.usable(path):
            return
        if content.kind is None:  # no columns to read it against: its hash is still checked
            self.check_hash(path, content.records_sha256, None, field="records.sha256")
            return
        try:
            self.read = read_records(self.root / path, file=path, kind=content.kind, sink=self.sink,
                                     period=content.period, clients=content.client_account_ids)
        except OSError as exc:
            self.sink.add(FILE_MISSING, f"cannot be read: {exc.strerror or exc}", file=path)
            return
        if content.records_sha256 is not None and self.read.sha256 != content.records_sha256:
            self.sink.add(HASH_MISMATCH, f"SHA-256 is {self.read.sha256}, packet.json says {content.records_sha256}",
                          file=path, field="records.sha256")
        if content.records_rows is not None and self.read.rows is not None and self.read.rows != content.records_rows:
            self.sink.add(ROW_COUNT_MISMATCH, f"holds {self.read.rows} rows after the header, packet.json says "
                                              f"{content.records_rows}", file=path, field="records.rows")

    def check_document(self, entry) -> None:
        self.check_hash(entry.path, entry.sha256, entry.bytes)

    def check_hash(self, path: str, sha256: str | None, size: int | None, *, field: str | None = None) -> None:
        try:
            digest, actual = file_sha256(self.root / path)
        except OSError as exc:
            self.sink.add(FILE_MISSING, f"cannot be read: {exc.strerror or exc}", file=path)
            return
        if size is not None and actual != size:
            self.sink.add(HASH_MISMATCH, f"has {actual} bytes, packet.json says {size}", file=path)
        if sha256 and digest != sha256:
            self.sink.add(HASH_MISMATCH, f"SHA-256 is {digest}, packet.json says {sha256}", file=path, field=field)
