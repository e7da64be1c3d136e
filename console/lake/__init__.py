"""Lake storage: write-once, content-hashed files under one root.

One small interface with two backends: a local folder (the default, `var/lake`) and ADLS Gen2.
`put` never overwrites: identical bytes at an existing path are a no-op returning the same hash,
different bytes are refused. `read`/`open` verify the stored SHA-256 before handing bytes back.
"""
from __future__ import annotations

from pathlib import Path

from console.lake.base import (
    CHUNK,
    INCOMING_PREFIX,
    SIDECAR_SUFFIX,
    Lake,
    LakeConflict,
    LakeError,
    LakeIntegrityError,
    LakeNotFound,
    LakePathError,
    PutResult,
    clean_path,
    clean_prefix,
    iter_chunks,
    sha256_of,
)
from console.lake.local import LocalLake

__all__ = [
    "CHUNK", "INCOMING_PREFIX", "SIDECAR_SUFFIX", "Lake", "LakeConflict", "LakeError", "LakeIntegrityError",
    "LakeNotFound", "LakePathError", "LocalLake", "PutResult", "clean_path", "clean_prefix", "get_lake",
    "iter_chunks", "lake_from_url", "sha256_of",
]


def lake_from_url(url: str, **options) -> Lake:
    if url.startswith("abfss://"):
        from console.lake.adls import AdlsLake

        return AdlsLake.from_url(url, **options)
    url = url.removeprefix("file://")
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
    return str(Path(url.removeprefix("file://")).resolve())
