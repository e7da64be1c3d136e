"""The calculations bench runs end to end at a tiny size: a real run stored, the hand script and pandas agree."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_calculations_bench_runs_stores_and_agrees_with_the_hand_script():
    command = [sys.executable, "-m", "bench.calculations", "--claims", "20000", "--clients", "6", "--generics", "40",
               "--brands", "15"]
    with_pandas = importlib.util.find_spec("pandas") is not None
    if not with_pandas:
        command.append("--skip-pandas")  # pandas is a bench-only baseline, not a project dependency
    result = subprocess.run(command, check=False, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    summary = json.loads(lines[-1])
    assert summary["bench"] == "calculations" and summary["unit"] == "s" and summary["agree"] is True
    for key in ("value", "baseline", "ratio", "peak_mb"):
        assert summary[key] > 0
    assert summary["numbers"] > 0 and summary["findings"] > 0
    assert set(summary["phases"]) >= {"evidence", "calculate", "decide", "store"}
    said = "\n".join(lines[:-1])
    assert "generate:" in said and "ours:" in said and "hand-written DuckDB:" in said
    assert "agree: the same shortfall totals" in said
    if with_pandas:
        assert summary["vs_pandas"] > 0 and "agrees within float rounding" in said
