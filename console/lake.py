"""Lake storage: write-once, content-hashed files under one root.

One small interface with two backends: a local folder (the default, `var/lake`) and ADLS Gen2.
`put` never overwrites: identical bytes at an existing path are a no-op returning the same hash,
different bytes are refused. `read`/`open` verify the stored SHA-256 before handing bytes back.
"""
from __future__ import annotations

import hashlib
import io
import os
import posixpath
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024


class LakeError(Exception):
    """Base class of lake storage errors."""


class LakePathError(LakeError, ValueError):
    """A lake path is not a clean relative path."""


class LakeConflict(LakeError):
    """Different content was written to a path that already holds a file."""

    def __init__(self, path: str, existing_sha256: str, new_sha256: str) -> None:
        super().__init__(
            f"lake path {path!r} already holds different content "
            f"(stored sha256 {existing_sha256}, new {new_sha256}); lake files are write-once"
        )
        self.path = path
        self.existing_sha256 = existing_sha256
        self.new_sha256 = new_sha256


class LakeNotFound(LakeError, FileNotFoundError):
    """No file at this lake path."""


class LakeIntegrityError(LakeError):
    """The bytes at a path no longer match the SHA-256 recorded when they were written."""


@dataclass(frozen=True)
class PutResult:
    path: str
    sha256: str
    size: int
    created: bool  # False: identical content was already there


def clean_path(path: str) -> str:
    """Validate a lake path: relative, '/'-separated, no '.', '..' or empty segments."""
    if not isinstance(path, str) or not path or path.startswith("/") or "\\" in path or "\x00" in path:
        raise LakePathError(f"invalid lake path {path!r}: must be a relative '/'-separated path")
    parts = path.split("/")
    if any(part in {"", ".", ".."} for part in parts):
        raise LakePathError(f"invalid lake path {path!r}: empty, '.' or '..' segment")
    return path


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _as_stream(content: bytes | BinaryIO) -> BinaryIO:
    return io.BytesIO(content) if isinstance(content, (bytes, bytearray, memoryview)) else content


class Lake(ABC):
    """The storage interface every backend implements."""

    url: str

    @abstractmethod
    def put(self, path: str, content: bytes | BinaryIO) -> PutResult:
        """Write once. Same bytes again: no-op with the same hash. Other bytes: LakeConflict."""

    @abstractmethod
    def open(self, path: str) -> BinaryIO:
        """A readable stream of verified content (verification happens before the stream is returned)."""

    def read(self, path: str) -> bytes:
        with self.open(path) as handle:
            return handle.read()

    @abstractmethod
    def exists(self, path: str) -> bool: ...

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Every file path under prefix (a folder path, '' for all), sorted."""

    @abstractmethod
    def sha256(self, path: str) -> str:
        """The SHA-256 recorded for the file when it was written."""


class LocalLake(Lake):
    """A folder on local disk. Each file has a sidecar `<name>.sha256` written with it."""

    SIDE = ".sha256"

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root).resolve()
        self.url = str(self.root)

    def _file(self, path: str) -> Path:
        clean_path(path)
        if path.endswith(self.SIDE):
            raise LakePathError(f"invalid lake path {path!r}: the {self.SIDE} suffix is reserved")
        return self.root / path

    def put(self, path: str, content: bytes | BinaryIO) -> PutResult:
        target = self._file(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        # Stream into a temporary file beside the target, then link it into place: link() fails
        # if the target exists, so two writers can never both "create" the same path.
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
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
            try:
                os.link(tmp_name, target)
            except FileExistsError:
                existing = self._stored_sha(target) or self._hash_file(target)
                if existing != sha:
                    raise LakeConflict(path, existing, sha) from None
                return PutResult(path=path, sha256=sha, size=size, created=False)
            Path(str(target) + self.SIDE).write_text(sha + "\n")
            return PutResult(path=path, sha256=sha, size=size, created=True)
        finally:
            os.unlink(tmp_name)

    def _stored_sha(self, target: Path) -> str | None:
        side = Path(str(target) + self.SIDE)
        return side.read_text().strip() if side.exists() else None

    @staticmethod
    def _hash_file(target: Path) -> str:
        digest = hashlib.sha256()
        with target.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def open(self, path: str) -> BinaryIO:
        target = self._file(path)
        if not target.is_file():
            raise LakeNotFound(f"no file at lake path {path!r}")
        expected = self._stored_sha(target)
        actual = self._hash_file(target)
        if expected is not None and expected != actual:
            raise LakeIntegrityError(f"lake path {path!r}: stored sha256 {expected}, content now hashes to {actual}")
        return target.open("rb")

    def exists(self, path: str) -> bool:
        return self._file(path).is_file()

    def sha256(self, path: str) -> str:
        target = self._file(path)
        if not target.is_file():
            raise LakeNotFound(f"no file at lake path {path!r}")
        return self._stored_sha(target) or self._hash_file(target)

    def list(self, prefix: str = "") -> list[str]:
        base = self.root / clean_path(prefix) if prefix else self.root
        if not base.is_dir():
            return []
        found = []
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                if name.endswith(self.SIDE) or name.startswith(".incoming-"):
                    continue
                found.append(posixpath.relpath(os.path.join(dirpath, name), self.root).replace(os.sep, "/"))
        return sorted(found)


def lake_from_url(url: str, **options) -> Lake:
    if url.startswith("abfss://"):
        from console.lake_adls import AdlsLake

        return AdlsLake.from_url(url, **options)
    if url.startswith("file://"):
        url = url[len("file://"):]
    return LocalLake(url)


_default: Lake | None = None


def get_lake() -> Lake:
    """The configured lake (settings.LAKE_URL), built once per process."""
    global _default
    from django.conf import settings

    if _default is None or _default.url != _configured_url(settings):
        _default = lake_from_url(
            settings.LAKE_URL,
            account_key=settings.LAKE_ACCOUNT_KEY,
            sas_token=settings.LAKE_SAS_TOKEN,
            endpoint=settings.LAKE_ENDPOINT,
        )
    return _default


def _configured_url(settings) -> str:
    url = settings.LAKE_URL
    if url.startswith("abfss://"):
        return url
    return str(Path(url[len("file://"):] if url.startswith("file://") else url).resolve())


def iter_chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk
