"""The load bench runs end to end at tiny sizes: gunicorn, a real worker, sessions signed in by the form."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.worker
@pytest.mark.postgres_only
def test_the_console_load_bench_walks_every_page_kind_without_errors():
    database = f"postgres://postgres@127.0.0.1:5432/leaf_console_bench_load_smoke_{os.getpid()}"
    result = subprocess.run(
        [sys.executable, "-m", "bench.console_load", "--sessions", "5", "--seconds", "3", "--think", "0.2",
         "--export-mb", "1", "--baseline-seconds", "1", "--warmup-seconds", "0", "--audit-events", "500",
         "--seed-rows", "100",
         "--database-url", database, "--redis-url", os.environ["TEST_REDIS_URL"]],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    summary = lines[-1]
    assert summary["bench"] == "console_load" and summary["intake_status"] == "succeeded"
    assert summary["errors"] == {"single_user": 0, "idle": 0, "intake": 0}
    idle_kinds = {line["kind"] for line in lines[:-1] if line.get("phase") == "idle"}
    assert idle_kinds == {"list", "detail", "flaw", "audit", "all"}
    for key in ("value", "baseline", "ratio"):
        assert summary[key] > 0
    # Cleaned up after itself: the database is gone.
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres") as conn:
        name = database.rsplit("/", 1)[1]
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None
