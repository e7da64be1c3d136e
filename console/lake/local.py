"""The local-folder lake (the default, `var/lake`)."""
from __future__ import annotations

import hashlib
import os
import posixpath
import tempfile
from pathlib import Path
from typing import BinaryIO

from console.lake.base import (
    CHUNK,
    INCOMING_PREFIX,
    SIDECAR_SUFFIX,
    Lake,
    LakeConflict,
    LakeNotFound,
    LakePathError,
    PutResult,
    _as_stream,
    clean_path,
    clean_prefix,
)
from console.lake.integrity import integrity_failed


class LocalLake(Lake):
    """A folder on local disk. Each file has a sidecar `<name>.sha256` recording its hash.

    Both the sidecar and the file are published by hard-linking a fully written temporary file into
    place; link() fails if the name exists, so two writers can never both create a path. The sidecar
    goes first: the first writer's hash decides who owns the path, and a visible file always has its
    recorded hash. A writer that dies between the two links leaves a sidecar without a file; a later
    put of the same bytes completes the path, other bytes are refused as for any existing file.
    """

    SIDE = SIDECAR_SUFFIX

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root).resolve()
        self.url = str(self.root)

    def _file(self, path: str) -> Path:
        return self.root / clean_path(path)

    def _sidecar(self, target: Path) -> Path:
        return target.with_name(target.name + self.SIDE)

    def put(self, path: str, content: bytes | BinaryIO) -> PutResult:
        target = self._file(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise LakePathError(f"lake path {path!r}: a parent folder is a file") from None
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=INCOMING_PREFIX)
        try:
            with os.fdopen(fd, "wb") as tmp:
                stream = _as_stream(content)
                while chunk := stream.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    tmp.write(chunk)
                tmp.flush()
                os.fsync(tmp.fileno())
            sha = digest.hexdigest()
            if target.is_dir():
                raise LakePathError(f"lake path {path!r} is a folder")
            side = self._sidecar(target)
            claimed = self._publish_sidecar(side, sha)
            if not claimed:
                existing = self._read_sidecar(path, side)
                if existing != sha:
                    raise LakeConflict(path, existing, sha)
            try:
                os.link(tmp_name, target)
            except FileExistsError:
                if claimed:
                    # The file was there without its sidecar (removed behind our back): we just recorded
                    # our hash for it, so take that back unless the bytes really are ours.
                    actual = self._hash_file(target)
                    if actual != sha:
                        side.unlink()
                        raise LakeConflict(path, actual, sha) from None
                return PutResult(path=path, sha256=sha, size=size, created=False)
            return PutResult(path=path, sha256=sha, size=size, created=True)
        finally:
            os.unlink(tmp_name)

    @staticmethod
    def _publish_sidecar(side: Path, sha: str) -> bool:
        """Create the sidecar atomically; False if it already exists."""
        fd, tmp_name = tempfile.mkstemp(dir=side.parent, prefix=INCOMING_PREFIX)
        try:
            with os.fdopen(fd, "w") as tmp:
                tmp.write(sha + "\n")
                tmp.flush()
                os.fsync(tmp.fileno())
            os.link(tmp_name, side)
            return True
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp_name)

    def _read_sidecar(self, path: str, side: Path) -> str:
        try:
            return side.read_text().strip()
        except FileNotFoundError:
            raise integrity_failed(self.url, path, "no sha256 recorded for this file") from None

    @staticmethod
    def _hash_file(target: Path) -> str:
        digest = hashlib.sha256()
        with target.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def _open_file(self, path: str, target: Path) -> BinaryIO:
        try:
            return target.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise LakeNotFound(f"no file at lake path {path!r}") from None

    def open(self, path: str) -> BinaryIO:
        target = self._file(path)
        # Hash through the handle we return, so the verified bytes are the bytes the caller reads
        # even if the name is replaced meanwhile.
        handle = self._open_file(path, target)
        try:
            expected = self._read_sidecar(path, self._sidecar(target))
            digest = hashlib.sha256()
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
            actual = digest.hexdigest()
            if expected != actual:
                raise integrity_failed(self.url, path, f"stored sha256 {expected}, content now hashes to {actual}",
                                       recorded_sha256=expected, found_sha256=actual)
            handle.seek(0)
        except BaseException:
            handle.close()
            raise
        return handle

    def exists(self, path: str) -> bool:
        return self._file(path).is_file()

    def sha256(self, path: str) -> str:
        target = self._file(path)
        if not target.is_file():
            raise LakeNotFound(f"no file at lake path {path!r}")
        return self._read_sidecar(path, self._sidecar(target))

    def list(self, prefix: str = "") -> list[str]:
        prefix = clean_prefix(prefix)
        base = self.root / prefix if prefix else self.root
        if not base.is_dir():
            return []
        found = []
        for dirpath, _dirs, files in os.walk(base):
            # One relpath per folder, not per file: the audit heads alone are thousands of files, listed on
            # every trail page to find the newest anchor.
            folder = posixpath.relpath(dirpath, self.root).replace(os.sep, "/")
            folder = "" if folder == "." else folder + "/"
            found.extend(
                folder + name
                for name in files
                if not (name.endswith(self.SIDE) or name.startswith(INCOMING_PREFIX))
            )
        return sorted(found)
