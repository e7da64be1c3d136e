"""The lake's interface and what both backends share: errors, paths, hashes, streams."""
from __future__ import annotations

import hashlib
import io
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
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


def iter_chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk
