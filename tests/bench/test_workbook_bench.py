"""The workbook bench runs end to end at a tiny size: ours and the plain write-only baseline both build, ours twice
to the same bytes, and the last line is the bench's JSON."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_workbook_bench_runs_and_rebuilds_the_same_bytes():
    result = subprocess.run([sys.executable, "-m", "bench.workbook", "--findings", "3000"], check=False, cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["bench"] == "workbook" and summary["unit"] == "s" and summary["findings"] == 3000
    assert summary["value"] > 0 and summary["baseline"] > 0 and summary["ratio"] > 0
    assert summary["peak_mb"] > 0 and summary["baseline_peak_mb"] > 0
    assert summary["identical"] is True and summary["bytes"] > summary["baseline_bytes"] > 0
