"""ADLS Gen2 backend of the lake, on azure-storage-file-datalake.

ADLS overwrites by default, so the only write that lands on a lake path is conditional on the path
being absent (`If-None-Match: *`). The bytes are first streamed to a private `.incoming-<uuid>` file
beside the target (append + flush, one chunk in memory at a time), their SHA-256 is recorded as
that file's metadata, and only then is the file renamed onto the lake path, create-only. A rename
is atomic on a hierarchical namespace and carries the metadata with it, so a lake path never shows a
half-written file or a file without its hash, and a writer that dies mid-upload leaves only an
`.incoming-` file, which `list` ignores and nothing else can address.

Service and transport failures surface as the SDK's `azure.core.exceptions` (transient, worth a
retry); the lake's own errors (`LakeConflict`, `LakeNotFound`, ...) are permanent.
"""
from __future__ import annotations

import hashlib
import tempfile
import uuid
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from azure.core import MatchConditions
from azure.core.credentials import AzureNamedKeyCredential, AzureSasCredential
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.filedatalake import DataLakeFileClient, DataLakeServiceClient, FileProperties

from console.env import redact_url
from console.lake.base import (
    INCOMING_PREFIX,
    Lake,
    LakeConflict,
    LakeError,
    LakeNotFound,
    LakePathError,
    PutResult,
    _as_stream,
    clean_path,
    clean_prefix,
)
from console.lake.integrity import integrity_failed

SHA256_KEY = "sha256"  # metadata key holding the hex SHA-256 of the content
FOLDER_KEY = "hdi_isfolder"  # metadata ADLS sets on directories when they are read as blobs
DEFAULT_CHUNK = 4 * 1024 * 1024
SPOOL_IN_MEMORY = 8 * 1024 * 1024  # verified reads larger than this are spooled to a temporary file


class AdlsLake(Lake):
    """Files under one prefix of an ADLS Gen2 filesystem."""

    def __init__(
        self,
        *,
        url: str,
        service: DataLakeServiceClient,
        filesystem: str,
        root: str = "",
        chunk_size: int = DEFAULT_CHUNK,
    ) -> None:
        self.url = url
        self.filesystem = filesystem
        self.root = clean_path(root) if root else ""
        self.chunk_size = chunk_size
        self._service = service
        self._fs = service.get_file_system_client(filesystem)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        account_key: str = "",
        sas_token: str = "",
        endpoint: str = "",
        chunk_size: int = DEFAULT_CHUNK,
    ) -> AdlsLake:
        """Build from `abfss://filesystem@account.dfs.core.windows.net/prefix`.

        Credentials: the account key, else the SAS token, else DefaultAzureCredential (managed
        identity, environment, Azure CLI). `endpoint` replaces `https://account.dfs.core.windows.net`
        (sovereign clouds, private endpoints, the tests' local server).
        """
        parts = urlsplit(url)
        if parts.scheme != "abfss" or not parts.username or not parts.hostname:
            raise LakeError(
                f"invalid ADLS lake URL {redact_url(url)!r}: "
                "expected abfss://filesystem@account.dfs.core.windows.net/prefix"
            )
        filesystem = unquote(parts.username)
        account = parts.hostname.split(".", 1)[0]
        root = unquote(parts.path).strip("/")
        if account_key:
            credential = AzureNamedKeyCredential(account, account_key)
        elif sas_token:
            credential = AzureSasCredential(sas_token.lstrip("?"))
        else:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        service = DataLakeServiceClient(
            endpoint.rstrip("/") if endpoint else f"https://{parts.hostname}",
            credential=credential,
            # Downloads come in chunks of this size, each checked against the first response's ETag.
            max_single_get_size=chunk_size,
            max_chunk_get_size=chunk_size,
        )
        return cls(url=url, service=service, filesystem=filesystem, root=root, chunk_size=chunk_size)

    # --- paths -------------------------------------------------------------------------------
    def _full(self, path: str) -> str:
        return f"{self.root}/{path}" if self.root else path

    def _client(self, path: str) -> DataLakeFileClient:
        return self._fs.get_file_client(self._full(clean_path(path)))

    def _properties(self, path: str) -> FileProperties:
        """Properties of the file at path; LakeNotFound if there is none (or a folder is there)."""
        try:
            props = self._client(path).get_file_properties()
        except ResourceNotFoundError:
            raise LakeNotFound(f"no file at lake path {path!r}") from None
        if _is_folder(props.metadata):
            raise LakeNotFound(f"no file at lake path {path!r}: it is a folder")
        return props

    # --- interface ---------------------------------------------------------------------------
    def put(self, path: str, content: bytes | BinaryIO) -> PutResult:
        full = self._full(clean_path(path))
        parent, _, _name = full.rpartition("/")
        incoming_name = f"{INCOMING_PREFIX}{uuid.uuid4().hex}"
        incoming = self._fs.get_file_client(f"{parent}/{incoming_name}" if parent else incoming_name)
        renamed = False
        try:
            try:
                # Creating a file creates its missing parent folders: the rename target's parent
                # must exist, and it is the same folder.
                incoming.create_file(match_condition=MatchConditions.IfMissing)
            except ResourceExistsError:
                raise LakePathError(f"lake path {path!r}: a parent folder is a file") from None
            digest = hashlib.sha256()
            size = 0
            stream = _as_stream(content)
            while chunk := stream.read(self.chunk_size):
                digest.update(chunk)
                incoming.append_data(chunk, offset=size, length=len(chunk))
                size += len(chunk)
            incoming.flush_data(size, close=True)
            sha = digest.hexdigest()
            # Flush cannot carry metadata; the file is still private, so nobody sees it without.
            incoming.set_metadata({SHA256_KEY: sha})
            try:
                incoming.rename_file(f"{self.filesystem}/{full}", match_condition=MatchConditions.IfMissing)
                renamed = True
            except (ResourceExistsError, ResourceModifiedError):
                # ADLS answers 409 PathAlreadyExists to a create-only write on an existing path;
                # accept 412 too, which is what a plain conditional request would get.
                existing = self._stored_sha_for_put(path)
                if existing != sha:
                    raise LakeConflict(path, existing, sha) from None
                return PutResult(path=path, sha256=sha, size=size, created=False)
            return PutResult(path=path, sha256=sha, size=size, created=True)
        finally:
            if not renamed:
                _discard(incoming)

    def _stored_sha_for_put(self, path: str) -> str:
        try:
            props = self._client(path).get_file_properties()
        except ResourceNotFoundError:
            # The path existed a moment ago; only an out-of-band delete gets here.
            raise LakeError(f"lake path {path!r} vanished while writing; retry the write") from None
        if _is_folder(props.metadata):
            raise LakePathError(f"lake path {path!r} is a folder")
        return _recorded_sha(path, props.metadata, self.url)

    def open(self, path: str) -> BinaryIO:
        try:
            download = self._client(path).download_file()
        except ResourceNotFoundError:
            raise LakeNotFound(f"no file at lake path {path!r}") from None
        # The metadata comes with the first chunk, and every later chunk is requested If-Match that
        # chunk's ETag, so the hash and the bytes describe one version of the file.
        metadata = download.properties.metadata
        if _is_folder(metadata):
            raise LakeNotFound(f"no file at lake path {path!r}: it is a folder")
        expected = _recorded_sha(path, metadata, self.url)
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
        try:
            digest = hashlib.sha256()
            for chunk in download.chunks():
                digest.update(chunk)
                spool.write(chunk)
            actual = digest.hexdigest()
            if actual != expected:
                raise integrity_failed(self.url, path, f"stored sha256 {expected}, content now hashes to {actual}",
                                       recorded_sha256=expected, found_sha256=actual)
            spool.seek(0)
        except BaseException:
            spool.close()
            raise
        return spool

    def exists(self, path: str) -> bool:
        try:
            self._properties(path)
        except LakeNotFound:
            return False
        return True

    def sha256(self, path: str) -> str:
        return _recorded_sha(path, self._properties(path).metadata, self.url)

    def list(self, prefix: str = "") -> list[str]:
        folder = self._full(clean_prefix(prefix)) if prefix else self.root
        try:
            paths = list(self._fs.get_paths(path=folder or None, recursive=True))
        except ResourceNotFoundError:
            return []
        strip = len(self.root) + 1 if self.root else 0
        inside = f"{folder}/" if folder else ""
        return sorted(
            item.name[strip:]
            for item in paths
            if not item.is_directory
            and item.name.startswith(inside)
            and not item.name.rpartition("/")[2].startswith(INCOMING_PREFIX)
        )


def _is_folder(metadata: dict[str, str] | None) -> bool:
    return (metadata or {}).get(FOLDER_KEY, "").lower() == "true"


def _recorded_sha(path: str, metadata: dict[str, str] | None, lake_url: str = "") -> str:
    sha = (metadata or {}).get(SHA256_KEY)
    if not sha:
        raise integrity_failed(lake_url, path, "no sha256 recorded for this file")
    return sha


def _discard(incoming: DataLakeFileClient) -> None:
    """Best-effort removal of an unfinished upload; an orphan is harmless (list ignores it)."""
    try:
        incoming.delete_file()
    except Exception:  # noqa: BLE001 - never mask the error that got us here
        pass
