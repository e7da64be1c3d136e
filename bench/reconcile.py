"""Golden reconciliation: our engine (deliverables.reconciliation.engine, DuckDB over the Parquet) against datacompy
with its pandas and its polars back ends, on the same two tables with the same keys and tolerances.

    python -m bench.reconcile [--rows 1000000] [--repeat 1] [--memory-limit SIZE] [--threads 2] [--materialise]
                              [--skip-datacompy] [--keep DIR]

The bench builds, deterministically (seed 13), a key universe of --rows composite keys (client x component x
quarter: 200 keys per client, 25 components, 8 quarters) and two Parquet files:
- backend.parquet, a run's output: client (text), component (text), quarter (DATE), paid and guarantee
  (DECIMAL(38, 2)); every key but those with i % 100 == 1 (1% only in the golden rows);
- golden.parquet, a card's golden rows as the golden CSV loads them, every column text: Client, Component,
  Quarter (MM/DD/YYYY), Paid, Guarantee (plain "1234.50", 2% as "$1,234.50"); every key but those with
  i % 100 == 2 (1% only in the backend); 1% of clients upper-cased and 1% padded with spaces (they match: the
  mapping casefolds and trims the text keys); rows shuffled. Per measure, independently: 2% of the golden values
  off within the tolerance (paid: 1-4 cents against an absolute 0.05; guarantee: up to 0.05% against a relative
  0.1%), 3% off beyond it (paid: 0.10-100.00; guarantee: 0.2%-5%), the rest equal.

Three sides, each in its own subprocess (its peak resident memory, VmHWM, is its own), the clock started after
the imports, each reading the two Parquet files:
- ours: engine.reconcile over two DuckDB views on the Parquet (keys normalised, measures parsed exactly, full
  outer join, the by-key table, the checks, the counts per class and the `reconciliation` view of the rows per
  key x measure, whose classes, differences and fingerprints are computed when read; --materialise: the rows
  computed and stored as a table instead, fingerprints and all). After the clock stops (not in its seconds, nor
  in its peak memory), the rows are read twice and timed apart: those not `match` with their fingerprints (what
  adjudication reads), then every row with its fingerprint;
- datacompy-pandas: pandas reads the Parquet (decimals cast to float64 by Arrow on the way), trims and
  lower-cases the text keys, parses the golden dates and money text (datacompy trims join keys but cannot
  case-fold them, nor parse text), then datacompy.PandasCompare with abs_tol {paid: 0.05} and rel_tol
  {guarantee: 0.001};
- datacompy-polars: the same with polars and datacompy.PolarsCompare.

The generated files are flushed to disk (os.sync) before the first side starts: a side timed while the kernel
still writes them back is slowed by work that is not its own (the first side, ours, was). With --repeat N the
three sides run N rounds, alternating (a busy moment slows every side alike), and each side's median round
counts; the peak memory is each side's highest.

Counts per class must agree, per measure: only_backend = datacompy's rows only in df1, only_domo = rows only in
df2, variance = the column's unequal count, match + within_tolerance = the rows in both less the unequal ones
(datacompy does not tell an exact match from one within tolerance). The last line is one JSON object:
value = our seconds, baseline = datacompy-pandas seconds, ratio = pandas / ours (goal at least 10),
polars_seconds, vs_polars = polars / ours (goal at least 3), peak_mb, pandas_peak_mb (goal: ours at most half),
polars_peak_mb, agree; reads = our two timed reads after the clock (seconds), peak_after_reads_mb.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from bench.support import peak_mb, say

if TYPE_CHECKING:  # numpy and pyarrow are imported where used: the engine's side needs neither (its peak memory
    import numpy as np  # is its own, not theirs; likewise datacompy-polars)
    import pyarrow as pa

SEED = 13
PER_CLIENT, COMPONENTS, QUARTERS = 200, 25, 8
PAID_ABS, GUARANTEE_REL = Decimal("0.05"), Decimal("0.001")
MEASURES = ("paid", "guarantee")
CLASSES = ("match", "within_tolerance", "variance", "only_backend", "only_domo")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.reconcile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="composite keys (default 1000000)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of the three sides, alternating (median; "
                        "default 1)")
    parser.add_argument("--memory-limit", default="", help="DuckDB memory_limit, ours (default: DuckDB's own, "
                        "80%% of RAM; its peak is measured either way)")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads, ours (default 2)")
    parser.add_argument("--materialise", action="store_true", help="ours stores the rows per key x measure as a "
                        "table (fingerprints and all) instead of the view over the by-key table")
    parser.add_argument("--on-disk", action="store_true", help="ours keeps its result in a DuckDB file, not in "
                        "memory")
    parser.add_argument("--skip-datacompy", action="store_true", help="leave the datacompy baselines out")
    parser.add_argument("--keep", help="build into this folder and keep it (default: a temp folder, removed)")
    parser.add_argument("--side", choices=["ours", "pandas", "polars"], help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- the two tables -----------------------------------------------------------------------------------------
def _money_text(cents: np.ndarray) -> pa.Array:
    """Non-negative cents as "1234.50" text, built with Arrow compute (no Python loop)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(cents, pa.int64())
    dollars = pc.cast(pc.divide(arr, 100), pa.string())
    rest = pc.utf8_lpad(pc.cast(pc.subtract(arr, pc.multiply(pc.divide(arr, 100), 100)), pa.string()), 2, "0")
    return pc.binary_join_element_wise(dollars, rest, ".")


def _dressed(cents: np.ndarray, plain: pa.Array, dressed: np.ndarray) -> pa.Array:
    """2% of the money text as "$1,234.50" (a Python format for those few only)."""
    import numpy as np
    import pyarrow as pa

    idx = np.flatnonzero(dressed)
    text = np.array(plain.to_numpy(zero_copy_only=False), dtype=object)
    text[idx] = [f"${c // 100:,}.{c % 100:02d}" for c in cents[idx].tolist()]
    return pa.array(text, pa.string())


def _decimal_array(cents: np.ndarray) -> pa.Array:
    import numpy as np
    import pyarrow as pa

    words = np.zeros((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    return pa.Array.from_buffers(pa.decimal128(38, 2), len(cents), [None, pa.py_buffer(words.tobytes())])


def _off(rng, golden: np.ndarray, within_max: np.ndarray, beyond_min: np.ndarray, beyond_max: np.ndarray):
    """Golden values: 2% off within the tolerance, 3% beyond it (either direction), the rest the backend's."""
    import numpy as np

    n = len(golden)
    draw = rng.random(n)
    sign = np.where(rng.random(n) < 0.5, -1, 1)
    within = rng.integers(1, np.maximum(within_max, 1) + 1)
    beyond = rng.integers(beyond_min, np.maximum(beyond_max, beyond_min + 1))
    delta = np.where(draw < 0.02, within, np.where(draw < 0.05, beyond, 0)) * sign
    out = golden + delta
    return np.where(out < 0, golden - delta, out)  # kept non-negative


def build(folder: Path, rows: int) -> dict:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rng = np.random.default_rng(SEED)
    i = np.arange(rows, dtype=np.int64)
    client = pc.binary_join_element_wise("Client ", pc.utf8_lpad(pc.cast(pa.array(i // PER_CLIENT), pa.string()),
                                                                 6, "0"), "")
    component = pc.binary_join_element_wise("Component ", pc.utf8_lpad(
        pc.cast(pa.array((i // QUARTERS) % COMPONENTS), pa.string()), 2, "0"), "")
    q = i % QUARTERS
    quarter = np.array([np.datetime64(f"{y}-{m:02d}-01") for y, m in ((2024 + k // 4, 1 + 3 * (k % 4))
                                                                      for k in range(QUARTERS))])[q]
    paid = rng.integers(100, 10_000_000, size=rows)  # cents: $1.00 - $100,000.00
    guarantee = rng.integers(100_000, 10_000_000, size=rows)  # $1,000.00 - $100,000.00
    in_backend, in_golden = i % 100 != 1, i % 100 != 2
    backend = pa.table({"client": client, "component": component,
                        "quarter": pa.array(quarter.astype("datetime64[D]"), pa.date32()),
                        "paid": _decimal_array(paid), "guarantee": _decimal_array(guarantee)}).filter(in_backend)
    g_paid = _off(rng, paid, np.full(rows, 4), np.full(rows, 10), np.full(rows, 10_000))
    g_guarantee = _off(rng, guarantee, guarantee // 2000, guarantee // 500 + 1, guarantee // 20)
    case = rng.random(rows)
    g_client = np.array(client.to_numpy(zero_copy_only=False), dtype=object)
    upper, padded = np.flatnonzero(case < 0.01), np.flatnonzero((case >= 0.01) & (case < 0.02))
    g_client[upper] = [c.upper() for c in g_client[upper]]
    g_client[padded] = ["  " + c + " " for c in g_client[padded]]
    quarter_text = np.array([f"{m:02d}/01/{y}" for y, m in ((2024 + k // 4, 1 + 3 * (k % 4))
                                                            for k in range(QUARTERS))], dtype=object)[q]
    golden = pa.table({
        "Client": pa.array(g_client, pa.string()), "Component": component,
        "Quarter": pa.array(quarter_text, pa.string()),
        "Paid": _dressed(g_paid, _money_text(g_paid), rng.random(rows) < 0.02),
        "Guarantee": _dressed(g_guarantee, _money_text(g_guarantee), rng.random(rows) < 0.02)}).filter(in_golden)
    golden = golden.take(pa.array(rng.permutation(golden.num_rows)))
    pq.write_table(backend, folder / "backend.parquet", row_group_size=128 * 1024)
    pq.write_table(golden, folder / "golden.parquet", row_group_size=128 * 1024)
    return {"backend_rows": backend.num_rows, "golden_rows": golden.num_rows}


def mapping():
    from deliverables.reconciliation.engine import KeySpec, Mapping, MeasureSpec

    return Mapping("bench", keys=(KeySpec("client", "client", "Client", "text", casefold=True),
                                  KeySpec("component", "component", "Component", "text", casefold=True),
                                  KeySpec("quarter", "quarter", "Quarter", "date")),
                   measures=(MeasureSpec("paid", "paid", "Paid", 2, abs_tolerance=PAID_ABS),
                             MeasureSpec("guarantee", "guarantee", "Guarantee", 2, rel_tolerance=GUARANTEE_REL)))


# --- the sides ----------------------------------------------------------------------------------------------
def run_ours(folder: Path, args) -> dict:
    import duckdb

    from deliverables.reconciliation.engine import reconcile

    the_mapping = mapping()
    started = time.perf_counter()
    database = folder / "ours.duckdb" if args.on_disk else None  # --on-disk: the result kept in a file
    if database is not None:
        database.unlink(missing_ok=True)
    con = duckdb.connect(str(database) if database else ":memory:")
    if args.memory_limit:
        con.execute(f"SET memory_limit = '{args.memory_limit}'")
    con.execute(f"SET threads = {int(args.threads)}")
    con.execute(f"SET temp_directory = '{folder / 'duckdb.tmp'}'")
    for side in ("backend", "golden"):
        con.execute(f"CREATE VIEW {side} AS SELECT * FROM read_parquet('{folder / f'{side}.parquet'}')")
    result = reconcile(con, "backend", "golden", the_mapping, materialise=args.materialise)
    seconds = time.perf_counter() - started
    peak = peak_mb()
    reads = {}
    for name, where in (("not_match", "WHERE class <> 'match'"), ("all", "")):
        begun = time.perf_counter()
        counted = con.execute(f"SELECT COUNT(*), COUNT(fingerprint) FROM {result.table} {where}").fetchall()[0]
        reads[name] = {"seconds": time.perf_counter() - begun, "rows": counted[0]}
        if counted[0] != counted[1]:
            raise SystemExit(f"ours: {counted[0] - counted[1]} row(s) read without a fingerprint ({name})")
    return {"seconds": seconds, "rows": result.rows, "counts": result.summary["measures"], "phases": result.seconds,
            "peak_mb": peak, "reads": reads, "peak_after_reads_mb": peak_mb()}


def _compare_counts(compare, measures=MEASURES) -> dict:
    only_backend, only_domo = len(compare.df1_unq_rows), len(compare.df2_unq_rows)
    both = len(compare.intersect_rows)
    unequal = {s["column"]: int(s["unequal_cnt"]) for s in compare.column_stats}
    return {m: {"agreeing": both - unequal[m], "variance": unequal[m], "only_backend": only_backend,
                "only_domo": only_domo} for m in measures}


def run_pandas(folder: Path, args) -> dict:
    import datacompy
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    started = time.perf_counter()

    def frame(name: str):
        table = pq.read_table(folder / f"{name}.parquet")
        if name == "backend":  # Arrow casts the decimals to float64 on the way (cheaper than Decimal objects)
            table = table.set_column(3, "paid", pc.cast(table["paid"], pa.float64())).set_column(
                4, "guarantee", pc.cast(table["guarantee"], pa.float64()))
        return table.to_pandas()

    backend, golden = frame("backend"), frame("golden")
    golden.columns = [c.lower() for c in golden.columns]
    for df in (backend, golden):
        for key in ("client", "component"):
            df[key] = df[key].str.strip().str.lower()
    backend["quarter"] = pd.to_datetime(backend["quarter"])
    golden["quarter"] = pd.to_datetime(golden["quarter"], format="%m/%d/%Y")
    for measure in MEASURES:
        text = golden[measure].str.replace(r"[$,\s]", "", regex=True)
        negative = text.str.startswith("(")
        value = pd.to_numeric(text.str.strip("()"))
        golden[measure] = value.where(~negative, -value)
    compare = datacompy.PandasCompare(backend, golden, join_columns=["client", "component", "quarter"],
                                      abs_tol={"paid": float(PAID_ABS)}, rel_tol={"guarantee": float(GUARANTEE_REL)},
                                      df1_name="backend", df2_name="golden")
    counts = _compare_counts(compare)
    return {"seconds": time.perf_counter() - started, "counts": counts}


def run_polars(folder: Path, args) -> dict:
    import datacompy
    import polars as pl

    started = time.perf_counter()
    backend = pl.read_parquet(folder / "backend.parquet").with_columns(
        pl.col("paid").cast(pl.Float64), pl.col("guarantee").cast(pl.Float64))
    golden = pl.read_parquet(folder / "golden.parquet")
    golden = golden.rename({c: c.lower() for c in golden.columns})
    keys = [pl.col(k).str.strip_chars().str.to_lowercase() for k in ("client", "component")]
    backend = backend.with_columns(keys)

    def money(name: str):
        text = pl.col(name).str.replace_all(r"[$,\s]", "")
        value = text.str.strip_chars("()").cast(pl.Float64)
        return pl.when(text.str.starts_with("(")).then(-value).otherwise(value).alias(name)

    golden = golden.with_columns(*keys, pl.col("quarter").str.strptime(pl.Date, "%m/%d/%Y"),
                                 *(money(m) for m in MEASURES))
    compare = datacompy.PolarsCompare(backend, golden, join_columns=["client", "component", "quarter"],
                                      abs_tol={"paid": float(PAID_ABS)}, rel_tol={"guarantee": float(GUARANTEE_REL)},
                                      df1_name="backend", df2_name="golden")
    counts = _compare_counts(compare)
    return {"seconds": time.perf_counter() - started, "counts": counts}


# --- the run ------------------------------------------------------------------------------------------------
def spawn(side: str, folder: Path, args) -> dict:
    command = [sys.executable, "-m", "bench.reconcile", "--side", side, "--dir", str(folder), "--rows",
               str(args.rows), "--memory-limit", args.memory_limit, "--threads", str(args.threads)]
    command += ["--on-disk"] * args.on_disk + ["--materialise"] * args.materialise
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {side} side failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return json.loads((folder / f"{side}.json").read_text())


def median_round(rounds: list[dict]) -> dict:
    """The median round by seconds (the lower middle one of an even count)."""
    return dict(sorted(rounds, key=lambda r: r["seconds"])[(len(rounds) - 1) // 2])


def folded(counts: dict) -> dict:
    """Our per-measure classes as datacompy can tell them: match and within_tolerance together."""
    return {m: {"agreeing": c["match"] + c["within_tolerance"], "variance": c["variance"],
                "only_backend": c["only_backend"], "only_domo": c["only_domo"]} for m, c in counts.items()}


def main(argv: list[str] | None = None) -> dict | None:
    args = parse_args(argv)
    if args.side:  # a child: one side, its result written beside the data
        side = {"ours": run_ours, "pandas": run_pandas, "polars": run_polars}[args.side]
        result = side(Path(args.dir), args)
        result.setdefault("peak_mb", peak_mb())
        (Path(args.dir) / f"{args.side}.json").write_text(json.dumps(result, default=str))
        return None
    with_datacompy = not args.skip_datacompy
    if with_datacompy and not all(importlib.util.find_spec(m) for m in ("datacompy", "polars", "pandas")):
        raise SystemExit("datacompy, polars and pandas are needed for the baselines (pip install -e '.[bench,test]'),"
                         " or pass --skip-datacompy")
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-reconcile-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        marker = folder / "tables.json"
        if marker.exists() and json.loads(marker.read_text()).get("rows") == args.rows:  # --keep: built once
            shape = json.loads(marker.read_text())
        else:
            shape = {"rows": args.rows, **build(folder, args.rows)}
            marker.write_text(json.dumps(shape))
        size = sum((folder / f"{s}.parquet").stat().st_size for s in ("backend", "golden")) / 2**20
        say(f"generate: {args.rows:,} keys, {shape['backend_rows']:,} backend and {shape['golden_rows']:,} golden "
            f"rows ({size:.0f} MiB Parquet) in {time.perf_counter() - started:.2f} s")
        os.sync()  # the files written back before any side is timed
        sides = ["ours"] + (["pandas", "polars"] if with_datacompy else [])
        rounds: dict[str, list[dict]] = {side: [] for side in sides}
        for number in range(max(1, args.repeat)):
            for side in sides:
                rounds[side].append(spawn(side, folder, args))
            if args.repeat > 1:
                say(f"round {number + 1}: " + ", ".join(f"{side} {rounds[side][-1]['seconds']:.3f} s" for side in sides))
        medians = {side: median_round(rounds[side]) for side in sides}
        ours = medians["ours"]
        ours["peak_mb"] = max(r["peak_mb"] for r in rounds["ours"])
        ours["peak_after_reads_mb"] = max(r["peak_after_reads_mb"] for r in rounds["ours"])
        phases = ", ".join(f"{k} {v:.2f} s" for k, v in ours["phases"].items())
        say(f"ours (DuckDB engine): {ours['seconds']:.2f} s ({phases}), {ours['rows']:,} key x measure rows; "
            f"peak {ours['peak_mb']:.0f} MiB; {ours['counts']}")
        reads = ours["reads"]
        say(f"ours, read after the clock: the {reads['not_match']['rows']:,} rows not `match` with fingerprints in "
            f"{reads['not_match']['seconds']:.2f} s, all {reads['all']['rows']:,} in {reads['all']['seconds']:.2f} s; "
            f"peak then {ours['peak_after_reads_mb']:.0f} MiB")
        mine = folded(ours["counts"])
        baselines, agree = {}, all(r["counts"] == ours["counts"] for r in rounds["ours"])
        for side in sides[1:]:
            other = medians[side]
            other["peak_mb"] = max(r["peak_mb"] for r in rounds[side])
            same = all(r["counts"] == mine for r in rounds[side])
            agree = agree and same
            say(f"datacompy-{side}: {other['seconds']:.2f} s; peak {other['peak_mb']:.0f} MiB; "
                f"{'the same counts per class' if same else 'DIFFERENT counts: ' + json.dumps(other['counts'])}")
            baselines[side] = other
        pandas, polars = baselines.get("pandas"), baselines.get("polars")
        value = ours["seconds"]
        result = {"bench": "reconcile", "value": round(value, 3), "unit": "s",
                  "baseline": None if pandas is None else round(pandas["seconds"], 3),
                  "ratio": None if pandas is None else round(pandas["seconds"] / value, 3),
                  "polars_seconds": None if polars is None else round(polars["seconds"], 3),
                  "vs_polars": None if polars is None else round(polars["seconds"] / value, 3),
                  "peak_mb": round(ours["peak_mb"], 1),
                  "pandas_peak_mb": None if pandas is None else round(pandas["peak_mb"], 1),
                  "polars_peak_mb": None if polars is None else round(polars["peak_mb"], 1),
                  "phases": {k: round(v, 3) for k, v in ours["phases"].items()},
                  "reads": {k: round(v["seconds"], 3) for k, v in ours["reads"].items()},
                  "peak_after_reads_mb": round(ours["peak_after_reads_mb"], 1),
                  "rows": args.rows, "rounds": max(1, args.repeat), "result_rows": ours["rows"], "counts": ours["counts"],
                  "agree": agree if with_datacompy else None}
        print(json.dumps(result), flush=True)
        if not agree:
            raise SystemExit("ours and datacompy DISAGREE on the counts per class")
        return result
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
