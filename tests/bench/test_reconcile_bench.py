"""The reconciliation bench runs end to end at a tiny size: our engine's counts per class agree with datacompy's
(pandas and polars back ends) on the same two tables,
in every round."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_reconcile_bench_runs_and_agrees_with_datacompy():
    command = [sys.executable, "-m", "bench.reconcile", "--rows", "20000", "--repeat", "2"]
    with_datacompy = all(importlib.util.find_spec(m) for m in ("datacompy", "polars", "pandas"))
    if not with_datacompy:
        command.append("--skip-datacompy")  # the baselines are the bench extra, not project dependencies
    result = subprocess.run(command, check=False, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    summary = json.loads(lines[-1])
    assert summary["bench"] == "reconcile" and summary["unit"] == "s"
    assert summary["value"] > 0 and summary["peak_mb"] > 0
    assert summary["result_rows"] == 2 * 20000  # every key x measure, both measures
    for measure in ("paid", "guarantee"):
        counts = summary["counts"][measure]
        assert counts["only_backend"] == counts["only_domo"] == 200  # 1% of the keys on one side each
        assert counts["within_tolerance"] > 0 and counts["variance"] > 0 and counts["match"] > 0
    said = "\n".join(lines[:-1])
    assert "generate:" in said and "ours (DuckDB engine):" in said
    assert summary["rounds"] == 2 and "round 1: ours" in said and "round 2: ours" in said  # the median of two
    if with_datacompy:
        assert summary["agree"] is True
        assert summary["baseline"] > 0 and summary["ratio"] > 0 and summary["vs_polars"] > 0
        assert summary["pandas_peak_mb"] > 0 and summary["polars_peak_mb"] > 0
        assert said.count("the same counts per class") == 2
