"""Intake of a large Leaf IQ export, end to end through the intake service, against hashlib and pyarrow.

    python -m bench.intake [--mb 1024] [--repeat 3] [--seed 7] [--keep]

A complete export of about --mb MiB is written with the project's sample generator
(evidence.samples.export; the claims dataset is scaled to the size, the other six datasets, ten
cards with their golden packets, two DataFlows and the directory stay as they are) into a temporary
folder under /tmp that the bench deletes afterwards. Then, in interleaved rounds (median) so that
drift on a shared machine hits every side alike, each side runs in its own fresh process, whose
peak RSS is read from the kernel (os.wait4's ru_maxrss, real RSS):

1. ours: the intake service as the console runs it (intake_create, then intake_execute, as the
   ingest_export command does without its staging copy), with Django on a throwaway SQLite
   database and a local lake in a temporary folder: validation (every CSV parsed once, checked and
   converted to typed Parquet as it is read, while a second thread copies every byte to bronze and
   hashes it for the manifest check), silver (one lake write per dataset), golden reproduction of
   the nine cards in DuckDB, the manifest recorded, calculations analyzed. The verdict must be
   `complete`. Django's set-up and migrations run first and are not timed; they are in the peak RSS;
2. hashlib.sha256 over every file of the export (1 MiB reads), for scale: the floor of reading it
   once;
3. pyarrow CSV to Parquet of the same dataset CSVs with the same column types (DECIMAL at the scale
   silver finds, given to pyarrow for free), zstd, two ways: pyarrow.csv.read_csv of the whole file
   then pyarrow.parquet.write_table (multi-threaded, memory grows with the file), and the streaming
   pyarrow.csv.open_csv into a ParquetWriter (flat memory). The baseline is the faster of the two.

Every figure is MiB of export per second (the dataset CSVs are all but a few KiB of it). The last
line is one JSON object: value = ours MiB/s, baseline = pyarrow MiB/s; goals: ratio >= 0.6 and
ours' peak RSS under 400 MB.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.support import say

MIB = 2**20
# Bytes of claims CSV per generated row (measured ~211.6 on the sample generator); a little under,
# so the export reaches at least --mb.
BYTES_PER_ROW = 208
SIDES = ("sha256", "pyarrow_read_csv", "pyarrow_open_csv", "intake")
RSS_GOAL_MB = 400
RATIO_GOAL = 0.6


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.intake", description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=1024, help="size of the generated export in MiB (default 1024)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds of every side (median)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the sample generator")
    parser.add_argument("--keep", action="store_true", help="keep the generated export and print where it is")
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)  # a child process: one side, once
    parser.add_argument("--export", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- the export ---------------------------------------------------------------------------------------
def generate(out: Path, mb: int, seed: int):
    from evidence.samples.export import write_sample_export

    rows = max(1, mb * MIB // BYTES_PER_ROW)
    started = time.perf_counter()
    summary = write_sample_export(out, rows=rows, seed=seed, variant="complete")
    assert summary.status == "complete" and not summary.missing, summary
    say(f"generated a complete export: {summary.files} files, {summary.bytes / MIB:,.0f} MiB, {rows:,} claims, "
        f"in {time.perf_counter() - started:.0f} s")
    return summary


def datasets(export: Path) -> list[tuple[Path, list]]:
    """(data.csv, its silver columns) for every dataset of the export."""
    from evidence.intake import leafiq, silver

    manifest = json.loads((export / "manifest.json").read_bytes())
    found = []
    for entry in manifest["datasets"]:
        metadata = leafiq.read_dataset_metadata(export / entry["metadata"], file=entry["metadata"])
        found.append((export / entry["data"], [silver.Column(c.name, c.type) for c in metadata.columns]))
    return found


# --- the sides, each in its own process -----------------------------------------------------------------
def side_sha256(export: Path, work: Path) -> dict:
    started = time.perf_counter()
    for path in sorted(p for p in export.rglob("*") if p.is_file()):
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(MIB):
                digest.update(chunk)
    return {"seconds": time.perf_counter() - started}


def _arrow_types(export: Path) -> list[tuple[Path, dict, list[str]]]:
    """Each dataset's CSV with the Arrow type silver gives each column (DECIMAL at the scale silver finds)."""
    from evidence.intake import silver

    typed = []
    for csv_path, columns in datasets(export):
        scales = silver.decimal_scales(csv_path, columns)
        typed.append((csv_path, {c.name: silver.arrow_type(c, scales.get(c.name, 0)) for c in columns},
                      [c.name for c in columns]))
    return typed


def _convert_options(types: dict):
    import pyarrow.csv as pacsv

    return pacsv.ConvertOptions(
        column_types=types, null_values=[""], strings_can_be_null=False, quoted_strings_can_be_null=False,
        timestamp_parsers=["%Y-%m-%dT%H:%M:%S"],
    )


def side_pyarrow(export: Path, work: Path, *, streaming: bool) -> dict:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    typed = _arrow_types(export)  # not timed: the baseline is told the types
    started = time.perf_counter()
    rows = 0
    for index, (csv_path, types, _names) in enumerate(typed):
        out = work / f"{index}.parquet"
        parse = pacsv.ParseOptions(newlines_in_values=True)
        if streaming:
            reader = pacsv.open_csv(csv_path, parse_options=parse, convert_options=_convert_options(types))
            with pq.ParquetWriter(out, reader.schema, compression="zstd") as writer:
                for batch in reader:
                    writer.write_batch(batch)
                    rows += batch.num_rows
        else:
            table = pacsv.read_csv(csv_path, parse_options=parse, convert_options=_convert_options(types))
            pq.write_table(table, out, compression="zstd")
            rows += table.num_rows
            del table
    return {"seconds": time.perf_counter() - started, "rows": rows}


def side_intake(export: Path, work: Path) -> dict:
    """The intake service on a throwaway SQLite database and local lake under `work`."""
    var = work / "var"
    var.mkdir(parents=True)
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "console.settings",
        "DJANGO_DEBUG": "0",  # DEBUG keeps every query in memory
        "CONSOLE_VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'console.sqlite3'}",
        "LAKE_URL": str(work / "lake"),
        "CELERY_BROKER_URL": "memory://",
    })
    os.environ.pop("CURATED_DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from console import context
    from evidence.choices import IntakeSource
    from evidence.intake import services
    from evidence.models import GoldenReproduction

    phases, peaks = _time_phases(services)
    peaks["django"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    with context.for_command("ingest_export"):
        run = services.intake_create(
            actor=None, source=IntakeSource.COMMAND, original_name=export.name, staged_path=export, enqueue=False,
        )
        outcome = services.intake_execute(run_id=run.pk)
    seconds = time.perf_counter() - started
    manifest = outcome.manifest
    assert manifest.status == "complete", (manifest.status, list(manifest.issues.values_list("code", "message")))
    reproductions = sorted(GoldenReproduction.objects.filter(card__manifest=manifest).values_list("status", flat=True))
    # Every card with a golden packet must at least be rebuilt (a DuckDB refusal, e.g. out of memory, is a failure).
    assert reproductions and "not_reproducible" not in reproductions, reproductions
    return {"seconds": seconds, "status": manifest.status, "phases": phases, "peaks_mb": peaks,
            "goldens": {status: reproductions.count(status) for status in sorted(set(reproductions))}}


def _time_phases(services) -> dict[str, float]:
    """Wrap the intake's steps as evidence.intake.services calls them, to print where the time goes."""
    phases: dict[str, float] = {}
    peaks: dict[str, float] = {}  # this process's peak RSS (MB) when each step ended
    phases_peaks = (phases, peaks)

    def timed(name, function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - started
                peaks[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return wrapper

    from evidence.intake import (  # a throwaway process: patching what the service calls is fine
        storage,
        validation,
    )

    validation.validate_export = timed("validate", validation.validate_export)
    # The bronze copy runs beside validation; "bronze" is the wait for its rest once validation is done.
    storage.BronzeCopy.finish = timed("bronze", storage.BronzeCopy.finish)
    for name, label in (("write_silver", "silver"), ("reproduce_goldens", "golden"),
                        ("_record", "record"), ("calculations_analyze_manifest", "calculations")):
        setattr(services, name, timed(label, getattr(services, name)))
    return phases_peaks


def run_child(side: str, export: Path, workdir: Path) -> dict:
    """One side in a fresh process: its result and its peak RSS in MB (os.wait4: this child alone)."""
    work = Path(tempfile.mkdtemp(prefix=f"{side}-", dir=workdir))
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.intake", "--side", side, "--export", str(export), "--work", str(work)],
            stdout=subprocess.PIPE, cwd=Path(__file__).resolve().parent.parent,
        )
        output = process.stdout.read()
        _pid, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode:
            raise SystemExit(f"the {side} side failed (exit {process.returncode})")
        result = json.loads(output.decode().strip().splitlines()[-1])
        result["rss_mb"] = usage.ru_maxrss / 1024  # KiB on Linux
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def child(args: argparse.Namespace) -> None:
    match args.side:
        case "sha256":
            result = side_sha256(args.export, args.work)
        case "pyarrow_read_csv":
            result = side_pyarrow(args.export, args.work, streaming=False)
        case "pyarrow_open_csv":
            result = side_pyarrow(args.export, args.work, streaming=True)
        case "intake":
            result = side_intake(args.export, args.work)
    print(json.dumps(result), flush=True)


# --- main -----------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.side:
        child(args)
        return {}
    workdir = Path(tempfile.mkdtemp(prefix="bench-intake-"))
    try:
        free = shutil.disk_usage(workdir).free
        if free < 4 * args.mb * MIB:
            raise SystemExit(f"{workdir}: {free / MIB:,.0f} MiB free, the bench needs about {4 * args.mb:,} MiB")
        export = workdir / "export"
        summary = generate(export, args.mb, args.seed)
        size = sum(p.stat().st_size for p in export.rglob("*") if p.is_file())
        timings: dict[str, list[dict]] = {side: [] for side in SIDES}
        for round_ in range(args.repeat):
            order = SIDES if round_ % 2 == 0 else tuple(reversed(SIDES))
            for side in order:
                timings[side].append(run_child(side, export, workdir))
            say(f"round {round_ + 1}: " + ", ".join(
                f"{side} {size / MIB / timings[side][-1]['seconds']:,.1f} MiB/s ({timings[side][-1]['rss_mb']:,.0f} MB RSS)"
                for side in SIDES))
            phases = timings["intake"][-1]["phases"]
            say("  intake phases: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in phases.items())
                + f"; goldens {timings['intake'][-1]['goldens']}; peak RSS after "
                + ", ".join(f"{name} {mb:,.0f} MB" for name, mb in timings["intake"][-1]["peaks_mb"].items()))
        rate = {side: size / MIB / statistics.median(r["seconds"] for r in runs) for side, runs in timings.items()}
        rss = {side: max(r["rss_mb"] for r in runs) for side, runs in timings.items()}
        best = max(("pyarrow_read_csv", "pyarrow_open_csv"), key=rate.get)
        ratio = rate["intake"] / rate[best]
        say(
            f"median over {args.repeat} rounds, {size / MIB:,.0f} MiB export: intake {rate['intake']:,.1f} MiB/s, "
            f"pyarrow {rate[best]:,.1f} MiB/s ({best}), ratio {ratio:.2f} "
            f"({'meets' if ratio >= RATIO_GOAL else 'MISSES'} the goal {RATIO_GOAL}); sha256 {rate['sha256']:,.1f} MiB/s; "
            f"intake peak RSS {rss['intake']:,.0f} MB ({'under' if rss['intake'] < RSS_GOAL_MB else 'NOT under'} "
            f"{RSS_GOAL_MB} MB), pyarrow read_csv {rss['pyarrow_read_csv']:,.0f} MB, open_csv {rss['pyarrow_open_csv']:,.0f} MB"
        )
        result = {
            "bench": "intake",
            "value": round(rate["intake"], 1),
            "unit": "MiB/s",
            "baseline": round(rate[best], 1),
            "ratio": round(ratio, 3),
            "export_mib": round(size / MIB, 1),
            "claims_rows": summary.rows,
            "baseline_way": best,
            "sha256_mib_per_s": round(rate["sha256"], 1),
            "pyarrow_read_csv_mib_per_s": round(rate["pyarrow_read_csv"], 1),
            "pyarrow_open_csv_mib_per_s": round(rate["pyarrow_open_csv"], 1),
            "intake_peak_rss_mb": round(rss["intake"]),
            "pyarrow_read_csv_peak_rss_mb": round(rss["pyarrow_read_csv"]),
            "pyarrow_open_csv_peak_rss_mb": round(rss["pyarrow_open_csv"]),
            "intake_phases_s": {name: round(statistics.median(r["phases"].get(name, 0.0) for r in timings["intake"]), 2)
                                for name in timings["intake"][0]["phases"]},
        }
        print(json.dumps(result), flush=True)
        return result
    finally:
        if args.keep and not args.side:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
