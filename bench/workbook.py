"""The client workbook: ours (deliverables.workbooks.builder: styles, links on every number, text never a formula,
fixed bytes) against openpyxl's write-only mode writing the same cells with no styles or links.

    python -m bench.workbook [--findings 1000000] [--keep DIR]

The bench generates, deterministically (seed 14), no database needed, a run of one client: a findings Parquet
artifact of --findings rows with the run artifact's columns and types (decimals, dates; 80% authorized, 15%
indicative, 5% not concluded), sorted like the run's, and a handful of numbers (guarantee and rebate lines,
findings totals and savings, one of each decision). Two sides, each in its own subprocess (its peak resident
memory, VmHWM, is its own), the clock started after the imports:
- ours: write_workbook of the generated WorkbookData (the seven sheets, the findings streamed a batch at a time);
- baseline: a write-only openpyxl workbook with one sheet per ours, the findings read from the same Parquet in the
  same batches and appended as the same values (the money as Decimal, the date as a date), no style, no link,
  no text check; the small sheets as the same values.
Ours is built twice and both hashes must agree (byte-identical rebuilds). The last line is one JSON object:
value = our seconds, baseline = the baseline's seconds, ratio = baseline / ours (goal at least 0.5),
peak_mb (goal under 1024), baseline_peak_mb, bytes, baseline_bytes, identical.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench.support import peak_mb, say

SEED = 14
CLIENT = "001BENCH0000000AAA"
PERIOD = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
KINDS = ("brand_awp", "dispensing_fee", "duplicate", "mac")
ROW_GROUP = 128 * 1024


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.workbook", description=__doc__.split("\n\n")[0])
    parser.add_argument("--findings", type=int, default=1_000_000, help="findings rows (default 1000000)")
    parser.add_argument("--keep", help="build into this folder and keep it (default: a temp folder, removed)")
    parser.add_argument("--side", choices=["ours", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--name", default="ours.xlsx", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- the generated run ---------------------------------------------------------------------------------------
def _decimals(cents: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    words = np.zeros((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = np.where(cents < 0, -1, 0)
    buffers = [None, pa.py_buffer(words.tobytes())]
    if valid is not None:
        buffers[0] = pa.array(valid, pa.bool_()).buffers()[1]
    return pa.Array.from_buffers(pa.decimal128(38, 2), len(cents), buffers,
                                 null_count=-1 if valid is not None else 0)


def generate_findings(path: Path, rows: int) -> None:
    """A findings artifact of `rows` findings of CLIENT, sorted by (kind, client, claim id) like a run's."""
    rng = np.random.default_rng(SEED)
    per_kind = np.array_split(np.arange(rows), len(KINDS))
    with pq.ParquetWriter(str(path), _schema(), compression="zstd") as writer:
        for kind, index in zip(KINDS, per_kind, strict=True):
            for start in range(0, len(index), ROW_GROUP):
                part = index[start:start + ROW_GROUP]
                writer.write_table(_rows(rng, kind, part), row_group_size=ROW_GROUP)


def _schema() -> pa.Schema:
    money = pa.decimal128(38, 2)
    return pa.schema([("kind", pa.string()), ("client_account_id", pa.string()), ("claim_id", pa.string()),
                      ("fill_date", pa.date32()), ("ndc", pa.string()), ("pharmacy_npi", pa.string()),
                      ("channel", pa.string()), ("drug_class", pa.string()), ("paid", money), ("allowed", money),
                      ("reference", pa.string()), ("claim_row", pa.int64()), ("term_source", pa.string()),
                      ("price_source", pa.string()), ("decision", pa.string()), ("overpayment", money),
                      ("indicative_overpayment", money), ("flag_key", pa.string()), ("conflict", pa.bool_())])


def _rows(rng, kind: str, index: np.ndarray) -> pa.Table:
    n = len(index)
    claim = np.char.add("CLM", np.char.zfill(index.astype(str), 9))  # sorted: zero-padded
    draw = rng.random(n)
    decision = np.where(draw < 0.80, "authorized", np.where(draw < 0.95, "indicative", "not_concluded"))
    if kind == "duplicate":
        decision = np.full(n, "authorized")
    paid = rng.integers(500, 500_000, size=n)
    over = rng.integers(1, 20_000, size=n)
    allowed = np.maximum(paid - over, 0)
    fill = np.datetime64("2025-01-01") + rng.integers(0, 365, size=n).astype("timedelta64[D]")
    flag = np.where(decision == "authorized", "", np.char.add("flag-", np.char.zfill(
        (index % 997).astype(str), 4)))
    return pa.table({
        "kind": pa.array(np.full(n, kind)), "client_account_id": pa.array(np.full(n, CLIENT)),
        "claim_id": pa.array(claim), "fill_date": pa.array(fill.astype("datetime64[D]"), pa.date32()),
        "ndc": pa.array(np.char.zfill((rng.integers(0, 10**9, size=n) * 37 % 10**11).astype(str), 11)),
        "pharmacy_npi": pa.array(np.char.add("1", np.char.zfill(rng.integers(0, 10**9, size=n).astype(str), 9))),
        "channel": pa.array(np.where(rng.random(n) < 0.8, "retail", "mail")),
        "drug_class": pa.array(np.full(n, "generic" if kind == "mac" else "brand")),
        "paid": _decimals(paid), "allowed": _decimals(allowed),
        "reference": pa.array(np.full(n, "MAC-2025 2025-01-01" if kind == "mac" else "contract terms")),
        "claim_row": pa.array(index.astype(np.int64)),
        "term_source": pa.array(np.full(n, "PKT-CONTRACT#1")), "price_source": pa.array(np.full(n, "")),
        "decision": pa.array(decision),
        "overpayment": _decimals(over, decision == "authorized"),
        "indicative_overpayment": _decimals(over, decision == "indicative"),
        "flag_key": pa.array(flag), "conflict": pa.array(decision == "not_concluded")}, schema=_schema())


def bench_data(folder: Path, rows: int):
    """The generated run as a WorkbookData (findings artifact written once into `folder`)."""
    from deliverables.workbooks.model import NumberLine, RunFacts, WorkbookData

    path = folder / "findings.parquet"
    if not path.exists():
        generate_findings(path, rows)
    used = [{"kind": "contract", "packet_id": "PKT-CONTRACT", "revision": 1, "sha256": "a" * 64}]
    missing = [{"kind": "pricing", "client": CLIENT, "reason": "no governed MAC list covers these fill dates",
                "candidate_exists": True, "flag_key": "flag-0001", "ndc": "00093505601"}]
    numbers = [
        NumberLine(key=f"awp:{CLIENT}:retail-brand:2025-01-01", kind="awp_guarantee",
                   label="AWP discount guarantee, retail brand, 2025-01-01 to 2025-12-31", decision="authorized",
                   figures={"guarantee_basis": "per_component", "claims": "1200", "awp": "812345.67",
                            "ingredient_cost_paid": "690000.00", "guaranteed_discount": "138098.76",
                            "actual_discount": "122345.67", "effective_rate": "0.150607",
                            "shortfall": "15753.09", "shortfall_owed": "15753.09"},
                   evidence={"used": used, "seen": [], "missing": []}, amount=Decimal("15753.09"),
                   period_start=PERIOD[0], period_end=PERIOD[1], row_count=1200),
        NumberLine(key=f"fee:{CLIENT}:retail-brand:2025-01-01", kind="fee_guarantee",
                   label="Dispensing-fee guarantee, retail brand, 2025-01-01 to 2025-12-31", decision="indicative",
                   figures={"scripts": "1200", "contracted_fee": "1.25", "fees_paid": "1620.00",
                            "guaranteed_fees": "1500.00", "shortfall": "120.00"},
                   evidence={"used": [], "seen": [], "missing": missing}, indicative_amount=Decimal("120.00"),
                   period_start=PERIOD[0], period_end=PERIOD[1], row_count=1200),
        NumberLine(key=f"rebate:{CLIENT}:2025Q1", kind="rebate_guarantee", label="Rebate guarantee, 2025Q1",
                   decision="not_concluded",
                   figures={"quarter": "2025Q1", "brand_claims": "300", "ndcs": "12", "ndcs_without_invoice": "3",
                            "guaranteed_rebates": "60000.00", "rebates_received": "51000.00", "shortfall": None,
                            "unmatched_invoices": "0.00"},
                   evidence={"used": [], "seen": [], "missing": missing}, period_start=dt.date(2025, 1, 1),
                   period_end=dt.date(2025, 3, 31), row_count=300),
        NumberLine(key=f"savings:{CLIENT}:authorized", kind="savings", label="Savings, authorized",
                   decision="authorized", figures={"guarantee_shortfalls": "15753.09", "rebate_shortfalls": "0.00",
                                                   "overpayments": "1000.00", "overpayments_not_added": "0.00",
                                                   "numbers": "2", "total": "16753.09"},
                   evidence={"used": [], "seen": [], "missing": []}, amount=Decimal("16753.09")),
    ]
    finished = dt.datetime(2026, 1, 15, 9, 30, tzinfo=dt.UTC)
    run = RunFacts(run_id=4242, state="succeeded", finished_at=finished, client_scope=CLIENT, engine="duckdb",
                   calculation_version="c" * 64, inputs={"claims": {"dataset_key": "claims", "version": 3},
                                                         "parameters": {"client": CLIENT}},
                   result_sha256="r" * 64, findings_path="runs/findings/x.parquet", findings_sha256="f" * 64,
                   findings_count=rows, queue="runs", worker_host="bench", worker_pid=1, task_id="bench",
                   trace_id="0" * 32)
    return WorkbookData(run=run, client_account_id=CLIENT, period_start=PERIOD[0], period_end=PERIOD[1],
                        numbers=numbers, findings_file=path, client_name="Bench Health Plan")


# --- the sides -----------------------------------------------------------------------------------------------
def run_ours(folder: Path, name: str) -> dict:
    from deliverables.workbooks.builder import write_workbook

    data = bench_data(folder, 0)
    started = time.perf_counter()
    result = write_workbook(data, out=folder / name, base_url="https://console.example")
    return {"seconds": time.perf_counter() - started, "sha256": result.sha256, "bytes": result.bytes,
            "rows": result.rows}


def _number_or_text(value):
    try:
        return Decimal(value)
    except (TypeError, ArithmeticError):
        return value


def run_baseline(folder: Path) -> dict:
    """openpyxl write-only, the same values, no style, no link."""
    from openpyxl import Workbook

    data = bench_data(folder, 0)
    started = time.perf_counter()
    book = Workbook(write_only=True)
    small = book.create_sheet("Summary")
    for number in data.numbers:
        small.append([number.label, number.decision, number.amount, number.indicative_amount,
                      *(_number_or_text(v) for v in number.figures.values())])
    for title in ("Guarantees", "Rebates"):
        book.create_sheet(title).append(["none"])
    sheet = book.create_sheet("Findings")
    columns = ["kind", "claim_id", "fill_date", "ndc", "pharmacy_npi", "channel", "drug_class", "reference",
               "decision", "paid", "allowed", "overpayment", "indicative_overpayment", "flag_key"]
    sheet.append(columns)
    rows = 0
    for batch in pq.ParquetFile(data.findings_file).iter_batches(batch_size=8192, columns=columns):
        values = [batch.column(c).to_pylist() for c in columns]
        for row in zip(*values, strict=True):
            sheet.append(row)
            rows += 1
    for title in ("Evidence", "Not concluded", "Provenance"):
        book.create_sheet(title).append(["none"])
    out = folder / "baseline.xlsx"
    book.save(out)
    return {"seconds": time.perf_counter() - started, "rows": rows, "bytes": out.stat().st_size}


def _side(side: str, folder: Path, name: str = "ours.xlsx") -> dict:
    command = [sys.executable, "-m", "bench.workbook", "--side", side, "--dir", str(folder), "--name", name]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{side} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.side:
        folder = Path(args.dir)
        result = run_ours(folder, args.name) if args.side == "ours" else run_baseline(folder)
        result["peak_mb"] = round(peak_mb(), 1)
        print(json.dumps(result), flush=True)
        return 0
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-workbook-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        (folder / "findings.parquet").unlink(missing_ok=True)
        started = time.perf_counter()
        generate_findings(folder / "findings.parquet", args.findings)
        say(f"generated {args.findings} findings in {time.perf_counter() - started:.1f}s")
        baseline = _side("baseline", folder)
        say(f"baseline (openpyxl write-only, no styles, no links): {baseline['seconds']:.1f}s, "
            f"peak {baseline['peak_mb']:.0f} MB, {baseline['bytes']} bytes")
        ours = _side("ours", folder)
        say(f"ours: {ours['seconds']:.1f}s, peak {ours['peak_mb']:.0f} MB, {ours['bytes']} bytes, "
            f"sha256 {ours['sha256']}")
        again = _side("ours", folder, "again.xlsx")
        identical = again["sha256"] == ours["sha256"]
        say(f"rebuilt: {again['seconds']:.1f}s, sha256 {again['sha256']} ({'identical' if identical else 'DIFFERENT'})")
        print(json.dumps({"bench": "workbook", "value": round(ours["seconds"], 2), "unit": "s",
                          "baseline": round(baseline["seconds"], 2),
                          "ratio": round(baseline["seconds"] / ours["seconds"], 3),
                          "peak_mb": ours["peak_mb"], "baseline_peak_mb": baseline["peak_mb"],
                          "findings": args.findings, "bytes": ours["bytes"], "baseline_bytes": baseline["bytes"],
                          "identical": identical}), flush=True)
        return 0 if identical else 1
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
