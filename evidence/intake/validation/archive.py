"""Zip archives: every member checked from the central directory before anything is extracted, then
extracted under a staging folder, or refused whole (safe_extract); and path_problem, the rule for a
safe relative path that the manifest's paths follow too."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from evidence.intake.validation.issues import ARCHIVE_UNSAFE, Issue, issue

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
        return "leaves its root ('..')"
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


def screen(zip_path: Path, limits: ArchiveLimits = DEFAULT_LIMITS) -> list[Issue]:
    """The ARCHIVE_UNSAFE issues of an archive's central directory, nothing inflated (what an upload is refused
    for at the door). A file that is not a readable zip has none here: the intake records it as it is."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            return _archive_problems(archive.infolist(), limits)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        return []


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


LINK, SPECIAL, FILE, FOLDER = "link", "special", "file", "folder"


def tree_entries(root: Path) -> Iterator[tuple[str, str]]:
    """Every entry under root, links never followed, in name order: (relative POSIX path, LINK, SPECIAL
    (a device, socket or pipe), FILE or FOLDER). The walk an export's and a packet's checks share."""
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        here = Path(directory)
        for name in sorted(dirnames + filenames):
            full = here / name
            try:
                mode = full.lstat().st_mode
            except OSError:
                continue
            kind = (LINK if stat.S_ISLNK(mode) else FILE if stat.S_ISREG(mode)
                    else FOLDER if stat.S_ISDIR(mode) else SPECIAL)
            yield full.relative_to(root).as_posix(), kind


def regular_files(root: Path) -> list[str]:
    """The regular files under root (links never followed), as sorted relative POSIX paths."""
    return sorted(relative for relative, kind in tree_entries(root) if kind == FILE)


def file_sha256(path: Path) -> tuple[str, int]:
    """A file's SHA-256 and size, read in 1 MiB chunks (OSError if it cannot be read)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(MIB):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def tree_sha256(root: Path) -> str:
    """One SHA-256 for a folder as it arrived: each regular file's path and hash, in path order (a file that
    cannot be read counts as "unreadable"). What an export or packet without a usable identity is filed under."""
    digest = hashlib.sha256()
    for relative in regular_files(root):
        try:
            content = file_sha256(root / relative)[0]
        except OSError:
            content = "unreadable"
        digest.update(relative.encode("utf-8", "surrogateescape") + b"\0" + content.encode() + b"\n")
    return digest.hexdigest()


def archive_root(staging_dir: Path, marker: str) -> Path:
    """The folder holding marker (manifest.json, packet.json): the archive's root, or its only folder when
    the zip wraps one."""
    if (staging_dir / marker).exists():
        return staging_dir
    children = list(staging_dir.iterdir())
    if len(children) == 1 and children[0].is_dir() and (children[0] / marker).exists():
        return children[0]
    return staging_dir


def _export_root(staging_dir: Path) -> Path:
    """manifest.json's folder: the archive's root, or its only folder when the zip wraps one."""
    return archive_root(staging_dir, "manifest.json")
