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


# Names the backends use for their own bookkeeping: in-flight writes (`.incoming-…`) and the local
# backend's hash sidecars (`….sha256`). They are refused on every backend, so a path that works on
# one backend works on all of them.
INCOMING_PREFIX = ".incoming-"
SIDECAR_SUFFIX = ".sha256"


def clean_path(path: str) -> str:
    """Validate a lake path: relative, '/'-separated, no '.', '..' or empty segments, no reserved names."""
    if not isinstance(path, str) or not path or path.startswith("/") or "\\" in path or "\x00" in path:
        raise LakePathError(f"invalid lake path {path!r}: must be a relative '/'-separated path")
    parts = path.split("/")
    if any(part in {"", ".", ".."} for part in parts):
        raise LakePathError(f"invalid lake path {path!r}: empty, '.' or '..' segment")
    if any(part.startswith(INCOMING_PREFIX) or part.endswith(SIDECAR_SUFFIX) for part in parts):
        raise LakePathError(
            f"invalid lake path {path!r}: names starting {INCOMING_PREFIX!r} or ending {SIDECAR_SUFFIX!r} "
            "are reserved"
        )
    return path


def clean_prefix(prefix: str) -> str:
    """A `list` prefix: '' for everything, else a clean folder path (one trailing '/' is tolerated)."""
    return clean_path(prefix.removesuffix("/")) if prefix else ""


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _as_stream(content: bytes | BinaryIO) -> BinaryIO:
    return io.BytesIO(content) if isinstance(content, (bytes, bytearray, memoryview)) else content


class Lake(ABC):
    """The storage interface every backend implements.

    Paths are relative '/'-separated strings checked by `clean_path`. Missing files raise
    LakeNotFound, content that no longer matches its recorded hash raises LakeIntegrityError.
    Folders are implied by the paths of the files in them; they are not files (`exists` is False,
    `open` raises LakeNotFound, `put` raises LakePathError).
    """

    url: str

    @abstractmethod
    def put(self, path: str, content: bytes | BinaryIO) -> PutResult:
        """Write once. Same bytes again: no-op with the same hash. Other bytes: LakeConflict.

        A file object is read in chunks, never whole; it need not be seekable.
        """

    @abstractmethod
    def open(self, path: str) -> BinaryIO:
        """A readable stream of verified content (verification happens before the stream is returned)."""

    def read(self, path: str) -> bytes:
        with self.open(path) as handle:
            return handle.read()

    @abstractmethod
    def exists(self, path: str) -> bool:
        """True if a file (not a folder) is stored at path."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Every file path under prefix (a folder path, '' for all), sorted."""

    @abstractmethod
    def sha256(self, path: str) -> str:
        """The SHA-256 recorded for the file when it was written (the content is not re-read)."""


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

    @staticmethod
    def _read_sidecar(path: str, side: Path) -> str:
        try:
            return side.read_text().strip()
        except FileNotFoundError:
            raise LakeIntegrityError(f"lake path {path!r}: no sha256 recorded for this file") from None

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
                raise LakeIntegrityError(
                    f"lake path {path!r}: stored sha256 {expected}, content now hashes to {actual}"
                )
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
            for name in files:
                if name.endswith(self.SIDE) or name.startswith(INCOMING_PREFIX):
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
_default_key: tuple[str, ...] | None = None


def get_lake() -> Lake:
    """The configured lake (settings.LAKE_*), built once per process and rebuilt when they change."""
    global _default, _default_key
    from django.conf import settings

    key = (
        _configured_url(settings),
        settings.LAKE_ACCOUNT_KEY,
        settings.LAKE_SAS_TOKEN,
        settings.LAKE_ENDPOINT,
    )
    if _default is None or _default_key != key:
        _default = lake_from_url(
            settings.LAKE_URL,
            account_key=settings.LAKE_ACCOUNT_KEY,
            sas_token=settings.LAKE_SAS_TOKEN,
            endpoint=settings.LAKE_ENDPOINT,
        )
        _default_key = key
    return _default


def _configured_url(settings) -> str:
    url = settings.LAKE_URL
    if url.startswith("abfss://"):
        return url
    return str(Path(url[len("file://"):] if url.startswith("file://") else url).resolve())


def iter_chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk
