"""The local caches under VAR_DIR: copies and derivations of what the lake and the database hold, each made again
when next needed, so safe to delete (README: "Local caches").

- `runs/findings-cache/<sha256>.parquet`: a run's findings artifact copied from the lake (runs.selectors);
- `provenance/<inputs sha256>/<number>.parquet`: the contributing rows of a number, prepared once for paging
  (provenance.rows).

Each file is marked used (its modification time set to now) whenever it is read from the cache; `prune()` deletes
the files not used for LOCAL_CACHE_DAYS, and the leftovers of writes that never finished (`*.part`,
`*.parquet.tmp`) as old, then the folders left empty. The beat runs it daily (deliverables.tasks.caches_prune);
`python manage.py prune_caches [--days N]` runs it now. Only these file names in these folders are touched:
DuckDB's own spill files beside them are DuckDB's. Plain module, no Django models.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from console import clock

log = logging.getLogger(__name__)

FOLDERS = ("runs/findings-cache", "provenance")  # under VAR_DIR
PATTERNS = ("*.parquet", "*.part", "*.parquet.tmp")
DAY = 86_400


@dataclass(frozen=True)
class Pruned:
    days: int
    files: int  # deleted
    bytes: int  # freed
    kept: int  # cache files used within the window

    def as_text(self) -> str:
        return (f"{self.files} cache file(s) unused for {self.days} day(s) or more deleted ({self.bytes:,} bytes), "
                f"{self.kept} kept")


def used(path: Path) -> Path:
    """Mark the cache file `path` used now (prune keeps what was used recently); returns it."""
    try:
        stamp = clock.now().timestamp()
        os.utime(path, (stamp, stamp))
    except FileNotFoundError:  # pruned meanwhile: whoever reads it makes it again
        pass
    return path


def _files(root: Path):
    for pattern in PATTERNS:
        yield from root.rglob(pattern)


def prune(*, days: int | None = None) -> Pruned:
    """Delete the cache files not used for `days` (default LOCAL_CACHE_DAYS) days, by the one clock."""
    days = settings.LOCAL_CACHE_DAYS if days is None else days
    if days < 0:
        raise ValueError(f"days: {days} (a number of days, 0 or more)")
    cutoff = clock.now().timestamp() - days * DAY
    deleted = freed = kept = 0
    for folder in FOLDERS:
        root = Path(settings.VAR_DIR) / folder
        if not root.is_dir():
            continue
        for path in sorted(set(_files(root))):
            try:
                stat = path.stat()
                if stat.st_mtime >= cutoff:
                    kept += 1
                    continue
                path.unlink()
            except FileNotFoundError:  # gone meanwhile (another prune, or a rename)
                continue
            deleted += 1
            freed += stat.st_size
        for sub in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            try:
                sub.rmdir()  # only an empty one
            except OSError:
                continue
    pruned = Pruned(days=days, files=deleted, bytes=freed, kept=kept)
    log.info("local caches pruned: %s", pruned.as_text())
    return pruned
