"""Curated load: promotion.curated.load_dataset against a raw psycopg COPY and Django's bulk_create.

    python -m bench.curated_load [--rows 1000000] [--repeat 3] [--bulk-create-rows N] [--keep]

Runs on PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/leaf_console_bench_curated)
in a database it creates and drops. One silver Parquet of --rows rows with every Domo type (text
with quotes and newlines, bigint, double, numeric(38,2), date, timestamp, NULLs) is loaded, in
interleaved rounds so drift hits every side alike:

1. ours: load_dataset end to end: registry rows, a fresh typed table, binary COPY written from
   each Arrow record batch by promotion.curated.pgcopy (`_row` numbered in the batch), then row
   count and content checksum verified against silver (silver's checksum in a low-priority thread
   beside the COPY; the table's one SQL scan after the commit); the load phase alone (until the
   last row is sent) is printed too, and so is promote_version (the re-verification under lock and
   the pointer move), which is not in the ratio: the issue's goal is about the load;
2. raw psycopg COPY of the same Parquet into a plain table of the same types, no registry and no
   verification, three ways: `write_row` per row in text and in binary (psycopg's own dumpers,
   the straightforward code) and Arrow-written CSV per batch (the fastest raw COPY without our
   encoder). The baseline is the fastest of the three;
3. for the cost of the registry and the verification alone: the same raw COPY through our binary
   encoder (printed beside the ratio, not the baseline: it is half of ours);
4. Django's bulk_create of the same rows (batch_size 5000) into an unmanaged model of the same
   columns, once, on --bulk-create-rows rows (default: all).

The last line is one JSON object: value = ours rows/s, baseline = the fastest raw psycopg COPY rows/s.
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

from bench.support import drop_database, recreate_database, say, setup_django

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/leaf_console_bench_curated"
KEY = "0bec0000-0000-4000-8000-000000000000"
SCHEMA = [
    {"name": "name", "type": "STRING"},
    {"name": "qty", "type": "LONG"},
    {"name": "price", "type": "DOUBLE"},
    {"name": "amount", "type": "DECIMAL"},
    {"name": "day", "type": "DATE"},
    {"name": "at", "type": "DATETIME"},
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.curated_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the silver Parquet (default 1000000)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds of ours and raw COPY (median)")
    parser.add_argument(
        "--bulk-create-rows", type=int, default=None, help="rows for the bulk_create side (default: --rows)"
    )
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args(argv)
    if urlsplit(args.database_url).scheme not in {"postgres", "postgresql"}:
        parser.error("the bench needs a postgres:// DATABASE_URL")
    return args




# --- silver ---------------------------------------------------------------------------------------------
def write_silver(path: Path, rows: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from evidence.intake.silver import ROW_GROUP_SIZE

    day0, at0 = dt.date(2020, 1, 1), dt.datetime(2021, 3, 4, 5, 6, 7)
    writer = None
    for start in range(0, rows, ROW_GROUP_SIZE):
        index = range(start, min(rows, start + ROW_GROUP_SIZE))
        table = pa.table({
            "name": pa.array([f'Store {i % 5000}, "North"' if i % 17 else "" for i in index]),
            "qty": pa.array([i if i % 9 else None for i in index], pa.int64()),
            "price": pa.array([i / 7 for i in index], pa.float64()),
            "amount": pa.array([Decimal(i % 1_000_000) / 100 for i in index], pa.decimal128(38, 2)),
            "day": pa.array([day0 + dt.timedelta(days=i % 2000) for i in index], pa.date32()),
            "at": pa.array([at0 + dt.timedelta(seconds=i, microseconds=i % 1000) for i in index], pa.timestamp("us")),
        })
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema, compression="zstd")
        writer.write_table(table, row_group_size=ROW_GROUP_SIZE)
    writer.close()


# --- the sides ------------------------------------------------------------------------------------------
PLAIN_DDL = "(name text, qty bigint, price double precision, amount numeric(38,2), day date, at timestamp)"


RAW_WAYS = ("write_row_text", "write_row_binary", "arrow_csv", "pgcopy")


def raw_copy(conn, path: Path, table: str, way: str) -> float:
    """Seconds for a raw COPY of the Parquet into a fresh plain table (no registry, no verification)."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from promotion.curated import pgcopy

    conn.execute(f"DROP TABLE IF EXISTS {table}")
    batches = pq.ParquetFile(path).iter_batches(batch_size=64 * 1024)
    started = time.perf_counter()
    with conn.transaction():
        conn.execute(f"CREATE TABLE {table} {PLAIN_DDL}")
        if way == "pgcopy":
            conn.execute(f"ALTER TABLE {table} ADD COLUMN _row bigint")
        with conn.cursor() as cursor:
            if way == "arrow_csv":
                options = pacsv.WriteOptions(include_header=False)
                with cursor.copy(f"COPY {table} FROM STDIN (FORMAT csv)") as copy:
                    for batch in batches:
                        buffer = io.BytesIO()
                        pacsv.write_csv(batch, buffer, options)
                        copy.write(buffer.getbuffer())
            elif way == "pgcopy":  # our encoder, with its `_row` column, minus the registry and checks
                columns = [(c["name"], c["type"]) for c in SCHEMA]
                names = ", ".join(["_row", *(c["name"] for c in SCHEMA)])
                with cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT binary)") as copy:
                    copy.write(pgcopy.HEADER)
                    rows = 0
                    for batch in batches:
                        copy.write(pgcopy.encode_batch(batch, rows, columns))
                        rows += batch.num_rows
                    copy.write(pgcopy.TRAILER)
            else:
                binary = way == "write_row_binary"
                with cursor.copy(f"COPY {table} FROM STDIN{' (FORMAT binary)' if binary else ''}") as copy:
                    if binary:
                        copy.set_types(["text", "int8", "float8", "numeric", "date", "timestamp"])
                    for batch in batches:
                        for row in zip(*(column.to_pylist() for column in batch.columns)):
                            copy.write_row(row)
    seconds = time.perf_counter() - started
    conn.execute(f"DROP TABLE {table}")
    return seconds


def ours(path: Path, round_: int) -> tuple[float, float, object]:
    """Seconds end to end and seconds until the last row was sent (registry, table and COPY)."""
    from django.db import connections

    from promotion import curated

    last = []
    started = time.perf_counter()
    result = curated.load_dataset(
        connection=connections["curated"], dataset_key=KEY, parquet_path=path, schema=SCHEMA,
        load_id=f"bench-{round_}", manifest_sha256="b" * 64, on_progress=lambda rows: last.append(time.perf_counter()),
    )
    return time.perf_counter() - started, last[-1] - started, result


def promote(result) -> float:
    """Seconds for promote_version with its default re-verification (what the promotion service calls)."""
    from django.db import connections

    from promotion import curated

    started = time.perf_counter()
    curated.promote_version(connection=connections["curated"], dataset_key=KEY, version=result.version)
    return time.perf_counter() - started


def bulk_create(path: Path, rows: int) -> float:
    import pyarrow.parquet as pq
    from django.db import connection, models

    meta = type("Meta", (), {"app_label": "promotion", "db_table": "bench_bulk_create", "managed": False})
    fields = {
        "name": models.TextField(),
        "qty": models.BigIntegerField(null=True),
        "price": models.FloatField(),
        "amount": models.DecimalField(max_digits=38, decimal_places=2),
        "day": models.DateField(),
        "at": models.DateTimeField(),
    }
    model = type("BenchRow", (models.Model,), {**fields, "__module__": __name__, "Meta": meta})
    with connection.schema_editor() as editor:
        editor.create_model(model)
    started = time.perf_counter()
    done = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=5000):
        if done >= rows:
            break
        batch = batch.slice(0, rows - done)
        model.objects.bulk_create(
            [model(name=r[0], qty=r[1], price=r[2], amount=r[3], day=r[4], at=r[5])
             for r in zip(*(column.to_pylist() for column in batch.columns))],
            batch_size=5000,
        )
        done += batch.num_rows
    seconds = time.perf_counter() - started
    with connection.schema_editor() as editor:
        editor.delete_model(model)
    return seconds


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    recreate_database(args.database_url)
    workdir = Path(tempfile.mkdtemp(prefix="bench-curated-silver-"))
    try:
        import psycopg

        setup_django(args.database_url, name="curated")
        # Django's USE_TZ would otherwise warn on every naive silver timestamp.
        from django.conf import settings

        settings.USE_TZ = False
        path = workdir / "silver.parquet"
        started = time.perf_counter()
        write_silver(path, args.rows)
        say(f"wrote {args.rows:,} rows of silver Parquet ({path.stat().st_size / 2**20:.1f} MiB) "
            f"in {time.perf_counter() - started:.1f} s")

        timings: dict[str, list[float]] = {"ours": [], "ours_copy": [], "promote": [],
                                           **{way: [] for way in RAW_WAYS}}
        with psycopg.connect(args.database_url.replace("postgres://", "postgresql://", 1), autocommit=True) as raw:
            for round_ in range(args.repeat):
                for way in RAW_WAYS[2:]:
                    timings[way].append(raw_copy(raw, path, "bench_raw_copy", way))
                seconds, copy_seconds, result = ours(path, round_)
                assert not result.reused and result.rows == args.rows, result
                timings["ours"].append(seconds)
                timings["ours_copy"].append(copy_seconds)
                timings["promote"].append(promote(result))
                for way in RAW_WAYS[:2]:
                    timings[way].append(raw_copy(raw, path, "bench_raw_copy", way))
                raw.execute(f'DROP TABLE "{result.table}"')  # keep the disk footprint of one version
                say(
                    f"round {round_ + 1}: ours {args.rows / seconds:,.0f} rows/s verified (rows sent at "
                    f"{args.rows / copy_seconds:,.0f} rows/s, checksum {result.checksum}); raw COPY "
                    + ", ".join(f"{way} {args.rows / timings[way][-1]:,.0f}" for way in RAW_WAYS)
                    + f" rows/s; promote_version "
                    f"{timings['promote'][-1]:.2f} s"
                )
        rate = {name: args.rows / statistics.median(values) for name, values in timings.items()}
        bulk_rows = min(args.rows, args.bulk_create_rows or args.rows)
        bulk_rate = bulk_rows / bulk_create(path, bulk_rows)
        say(f"Django bulk_create: {bulk_rate:,.0f} rows/s over {bulk_rows:,} rows")
        baseline = max(rate[way] for way in RAW_WAYS[:3])
        say(
            f"median over {args.repeat} rounds: ours {rate['ours']:,.0f} rows/s, raw psycopg COPY {baseline:,.0f} "
            f"rows/s (ratio {rate['ours'] / baseline:.2f}, goal 0.8); before verification ours sends "
            f"{rate['ours_copy']:,.0f} rows/s (ratio {rate['ours_copy'] / baseline:.2f}); registry and verification "
            f"cost {1 - rate['ours'] / rate['pgcopy']:.0%} of a raw COPY through the same encoder"
        )
        result = {
            "bench": "curated_load",
            "value": round(rate["ours"]),
            "unit": "rows/s",
            "baseline": round(baseline),
            "ratio": round(rate["ours"] / baseline, 3),
            "rows": args.rows,
            "ours_load_phase_rows_per_s": round(rate["ours_copy"]),
            "load_phase_ratio": round(rate["ours_copy"] / baseline, 3),
            **{f"raw_copy_{way}_rows_per_s": round(rate[way]) for way in RAW_WAYS},
            "ratio_vs_raw_pgcopy": round(rate["ours"] / rate["pgcopy"], 3),
            "bulk_create_rows_per_s": round(bulk_rate),
            "bulk_create_rows": bulk_rows,
            "promote_version_seconds": round(statistics.median(timings["promote"]), 2),
        }
        print(json.dumps(result), flush=True)
        return result
    finally:
        from django.conf import settings

        if settings.configured:
            from django.db import connections

            connections.close_all()
        for leftover in workdir.iterdir():
            leftover.unlink()
        workdir.rmdir()
        if not args.keep:
            drop_database(args.database_url)


if __name__ == "__main__":
    main(sys.argv[1:])
