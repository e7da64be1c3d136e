"""The local caches under VAR_DIR (findings copies, provenance row sets) are pruned once unused for
LOCAL_CACHE_DAYS: by the beat daily and by `manage.py prune_caches`; what is used is kept, what is pruned is made
again when next needed."""
from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from console import clock
from deliverables import caches
from deliverables.runs import selectors
from tests.deliverables.provenance.conftest import CURATED_DB

DAY = 86_400


def aged(path: Path, days: float, size: int = 10) -> Path:
    """A file at `path`, last used `days` ago by the one clock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    stamp = clock.now().timestamp() - days * DAY
    os.utime(path, (stamp, stamp))
    return path


def prune_caches(*args) -> str:
    out = io.StringIO()
    call_command("prune_caches", *args, stdout=out)
    return out.getvalue().strip()


def test_prune_deletes_the_cache_files_unused_for_the_days_and_nothing_else(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.LOCAL_CACHE_DAYS = 7
    findings = tmp_path / "runs" / "findings-cache"
    old_copy, new_copy = aged(findings / "old.parquet", 8, 100), aged(findings / "new.parquet", 1)
    unfinished = aged(findings / "tmpx.part", 9, 5)
    old_rows = aged(tmp_path / "provenance" / "inputs-a" / "n1.parquet", 30, 1000)
    new_rows = aged(tmp_path / "provenance" / "inputs-b" / "n2.parquet", 6.9)
    duckdb_spill = aged(tmp_path / "provenance" / "duckdb_temp_storage-0.tmp", 30)  # DuckDB's, not ours
    elsewhere = aged(tmp_path / "lake" / "old.parquet", 30)  # not a cache folder

    said = prune_caches()

    assert said == "3 cache file(s) unused for 7 day(s) or more deleted (1,105 bytes), 2 kept"
    assert not old_copy.exists() and not unfinished.exists() and not old_rows.exists()
    assert new_copy.exists() and new_rows.exists() and duckdb_spill.exists() and elsewhere.exists()
    assert not (tmp_path / "provenance" / "inputs-a").exists()  # emptied, removed
    assert prune_caches("--days", "0") == "2 cache file(s) unused for 0 day(s) or more deleted (20 bytes), 0 kept"
    with pytest.raises(CommandError, match="--days: days: -1"):
        prune_caches("--days", "-1")
    schedule = settings.CELERY_BEAT_SCHEDULE["local-caches-prune"]
    assert schedule["task"] == "deliverables.tasks.caches_prune" and schedule["options"] == {"queue": "console"}


@CURATED_DB
def test_a_used_findings_copy_is_kept_and_a_pruned_one_is_made_again_for_the_page(sample_run, audrey, client):
    copy = selectors.findings_file(sample_run)
    assert copy.parent == Path(settings.VAR_DIR) / "runs" / "findings-cache"
    aged_at = clock.now().timestamp() - 8 * DAY
    os.utime(copy, (aged_at, aged_at))
    assert selectors.findings_file(sample_run) == copy  # read from the cache: marked used
    assert caches.prune().files == 0 and copy.exists()

    os.utime(copy, (aged_at, aged_at))
    assert caches.prune().files == 1 and not copy.exists()
    client.force_login(audrey)
    page = client.get(f"/runs/{sample_run.pk}/")
    assert page.status_code == 200 and b'<table class="findings' in page.content
    assert copy.exists()  # made again from the lake, its SHA-256 checked
