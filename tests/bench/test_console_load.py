"""The load bench: its gates and options in-process, and one tiny run end to end (gunicorn, a real worker,
sessions signed in by the form) holding its output contract and its exit status."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import console_load

ROOT = Path(__file__).resolve().parents[2]


def phase(p95: float, p99: float, requests: int = 2000, errors: int = 0) -> dict:
    return {"all": {"p95_ms": p95, "p99_ms": p99, "requests": requests, "errors": errors}}


@pytest.mark.catalogue(47)
def test_the_load_and_the_duration_set_the_sessions_and_each_phase():
    args = console_load.parse_args(["--load", "2", "--duration", "10m"])
    assert (args.sessions, args.seconds) == (2 * console_load.EXPECTED_SESSIONS, 300)
    assert console_load.parse_args(["--duration", "90s"]).seconds == 45
    assert console_load.parse_args(["--sessions", "7", "--seconds", "5"]).sessions == 7
    with pytest.raises(SystemExit):
        console_load.parse_args(["--duration", "ten minutes"])


@pytest.mark.catalogue(47)
def test_each_gate_fails_on_its_own_figure():
    args = argparse.Namespace(gate_p95_ms=500.0, gate_p99_ms=1000.0, gate_failure_ratio=0.001)
    within = {"idle": phase(480, 990, errors=1), "intake": phase(500, 1000)}  # 1 of 2000: 0.05%
    assert all(gate["passed"] for gate in console_load.gates(within, "succeeded", args).values())

    def failed(idle: dict, intake: dict, status: str = "succeeded") -> list[str]:
        return [name for name, gate in console_load.gates({"idle": idle, "intake": intake}, status, args).items()
                if not gate["passed"]]

    assert failed(phase(501, 900), phase(100, 200)) == ["idle_p95_ms"]
    assert failed(phase(100, 200), phase(400, 1001)) == ["intake_p99_ms"]
    assert failed(phase(100, 200), phase(100, 200, errors=2)) == ["intake_failure_ratio"]  # 0.1%: not below
    assert failed(phase(100, 200), phase(100, 200), "failed") == ["intake_succeeded"]


@pytest.mark.catalogue(47)
@pytest.mark.worker
@pytest.mark.postgres_only
def test_a_tiny_run_prints_its_figures_and_exits_1_when_a_gate_fails():
    database = f"postgres://postgres@127.0.0.1:5432/leaf_console_bench_load_smoke_{os.getpid()}"
    started = time.monotonic()
    # A p95 gate of 1 ms no page meets: the run must say so and exit 1 (the CI job's failure).
    result = subprocess.run(
        [sys.executable, "-m", "bench.console_load", "--sessions", "5", "--seconds", "2", "--think", "0.2",
         "--export-mb", "1", "--baseline-seconds", "1", "--warmup-seconds", "0", "--audit-events", "200",
         "--seed-rows", "100", "--seed-exports", "1", "--large-repeat", "1", "--workers", "1",
         "--threads", "4", "--gate-p95-ms", "1", "--gate-p99-ms", "60000", "--gate-failure-ratio", "0.5",
         "--database-url", database, "--redis-url", os.environ["TEST_REDIS_URL"]],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    output = result.stdout[-3000:] + result.stderr[-3000:]
    assert result.returncode == 1, output
    lines = result.stdout.splitlines()
    summary = json.loads(lines[-1])  # the last line is the one JSON object, gate failed or not
    assert summary["bench"] == "console_load" and summary["intake_status"] == "succeeded", output
    assert summary["errors"] == {"single_user": 0, "idle": 0, "intake": 0}
    assert summary["failed_gates"] == ["idle_p95_ms", "intake_p95_ms"] and summary["gates_passed"] is False
    assert summary["gates"]["idle_p99_ms"] == {"value": summary["idle_p99_ms"], "limit": 60000.0, "passed": True}
    for key in ("value", "baseline", "ratio"):
        assert summary[key] > 0
    figures = [json.loads(line) for line in lines[:-1] if line.startswith("{")]
    idle_kinds = {line["kind"] for line in figures if line.get("phase") == "idle"}
    assert idle_kinds == {"list", "detail", "flaw", "audit", "all"}
    assert "gate idle_p95_ms: " in result.stdout and ": FAIL" in result.stdout
    # Cleaned up after itself: the database is gone.
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres") as conn:
        name = database.rsplit("/", 1)[1]
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None
    print(f"bench smoke run: {time.monotonic() - started:.1f} s")
