"""Missing-evidence flags: our computation (evidence.flags) against a hand-written DuckDB query of the same
coverage, over the same claims Parquet and the same evidence.

    python -m bench.evidence [--claims 5000000] [--clients 50] [--generics 2000] [--brands 300]
                             [--memory-limit 512MB] [--threads 2] [--repeat 1] [--keep DIR]

Choice: the plain compute layer, no database. The bench builds, deterministically (seed 7):
- one claims Parquet of --claims rows with the claims columns (and a few others), written by numpy/pyarrow in
  batches of one million: clients weighted (a few large, many small), channels 70/20/10 retail/mail/specialty,
  ~18% brand, NDCs skewed (a square law over each list), fill dates over 2025 with fewer fills on weekends;
- the evidence as the authority rules take it (evidence.packets.authority Revisions): per client a governed
  contract naming the generics' price list (MAC-A or MAC-B), one client amended mid-year onto the other list
  (supersession), two clients with no contract, one with only a received (unverified) contract; one governed
  price file for both lists with gaps (~4% of NDCs lose their price for 20–60 days, ~1% of MAC-B NDCs have none)
  and a received price file covering some gaps (candidate); per client a governed rebate packet with invoices
  for ~95% of the (brand NDC, quarter) pairs its claims have, one client missing a whole quarter.
The hand query reads the same Parquet and the same evidence written as three flat tables by hand (each client's
price list by date range, the price rows' date ranges, the invoices): the straightforward SQL an analyst would
write, with no governance (the bench's evidence has no conflicts and no candidates that could change coverage).

Each side runs in its own subprocess (its peak resident memory, VmHWM, is its own), --repeat times,
alternating; the median seconds count. Ours = the needs (evidence.flags.needs over the Parquet) + pricing and
rebate coverage + the flags at their grain as Python objects with their reasons (client × generic NDC × month;
client × brand NDC × quarter): what the hand query answers, and more (why, candidates, claims); the full
compute_flags (with the contract and Salesforce decide() calls) is timed once beside it. Both sides'
flags are compared (must be equal). The last line is one JSON object: value = our seconds, baseline = the hand
query's seconds, ratio = baseline / value (goal at least 0.5), peak_mb = the larger peak of the two sides.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pickle
import shutil
import statistics
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

SEED = 7
YEAR_START = dt.date(2025, 1, 1)
DAYS = 365
FAR = dt.date(9999, 12, 31)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.evidence", description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=5_000_000, help="claims rows (default 5000000)")
    parser.add_argument("--clients", type=int, default=50, help="clients (default 50)")
    parser.add_argument("--generics", type=int, default=2000, help="generic NDCs (default 2000)")
    parser.add_argument("--brands", type=int, default=300, help="brand NDCs (default 300)")
    parser.add_argument("--memory-limit", default="512MB", help="DuckDB memory_limit on both sides (default 512MB)")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads on both sides (default 2)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each side, alternating (median)")
    parser.add_argument("--keep", help="build into this folder and keep it (default: a temp folder, removed)")
    parser.add_argument("--side", choices=["ours", "hand", "full"], help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- the world ----------------------------------------------------------------------------------------------
def account_id(index: int) -> str:
    return f"0015e0000{index:05d}AAJ"[:15] + "AAJ"


def ndc(index: int, brand: bool) -> str:
    return f"{(60000 if brand else 10000) + index:05d}{index % 9999:04d}{index % 97:02d}"


def write_claims(path: Path, args) -> None:
    rng = np.random.default_rng(SEED)
    clients = np.array([account_id(i) for i in range(args.clients)])
    names = np.array([f"Client {i:03d}" for i in range(args.clients)])
    weights = 1.0 / np.arange(1, args.clients + 1) ** 0.8
    weights /= weights.sum()
    generics = np.array([ndc(i, False) for i in range(args.generics)])
    brands = np.array([ndc(i, True) for i in range(args.brands)])
    day_weights = np.array([0.6 if (YEAR_START + dt.timedelta(days=d)).weekday() >= 5 else 1.0 for d in range(DAYS)])
    day_weights /= day_weights.sum()
    base = np.datetime64(YEAR_START.isoformat())
    writer = None
    done = 0
    while done < args.claims:
        n = min(1_000_000, args.claims - done)
        client = rng.choice(args.clients, size=n, p=weights)
        channel = rng.choice(np.array(["retail", "mail", "specialty"]), size=n, p=[0.7, 0.2, 0.1])
        brand = rng.random(n) < 0.18
        g = (rng.random(n) ** 2 * args.generics).astype(np.int64)
        b = (rng.random(n) ** 2 * args.brands).astype(np.int64)
        day = rng.choice(DAYS, size=n, p=day_weights)
        table = pa.table({
            "Claim ID": pa.array(np.char.add("RX", (np.arange(done, done + n) + 10**9).astype(str))),
            "Client Account ID": pa.array(clients[client]),
            "Client Account": pa.array(names[client]),
            "Channel": pa.array(channel),
            "NDC": pa.array(np.where(brand, brands[b], generics[g])),
            "Brand/Generic": pa.array(np.where(brand, "Brand", "Generic")),
            "Fill Date": pa.array(base + day.astype("timedelta64[D]"), type=pa.date32()),
            "Quantity": pa.array(rng.integers(1, 90, size=n)),
        })
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=256_000)
        done += n
    writer.close()


def build_world(folder: Path, args) -> None:
    """The claims Parquet, our Evidence (pickled) and the hand query's three tables (Parquet)."""
    import duckdb

    from evidence.packets.authority import RECEIVED, VERIFIED, Evidence, Revision
    from evidence.packets.model import ContractTerm, PriceRow, RebateInvoice

    claims = folder / "claims.parquet"
    write_claims(claims, args)
    rng = np.random.default_rng(SEED + 1)
    clients = [account_id(i) for i in range(args.clients)]
    no_contract = set(clients[-2:])
    candidate_only = clients[-3]
    amended = clients[1]
    amendment_start = dt.date(2025, 7, 1)
    revisions: dict[str, list] = {c: [] for c in clients}
    lists_by_hand = []  # client, start, end, price_list

    def contract(client: str, packet_id: str, price_list: str, start: dt.date, status: str, supersedes=None):
        terms = tuple(ContractTerm(
            contract_id=packet_id, client_account_id=client, component=f"{ch} {dc}", channel=ch, drug_class=dc,
            awp_discount_guarantee=Decimal("0.1750"), dispensing_fee_guarantee=Decimal("1.25"),
            rebate_per_brand_claim=None, guarantee_basis="combined", exclusions=(), price_list=price_list,
            period_start=start, period_end=dt.date(2025, 12, 31))
            for ch in ("retail", "mail", "specialty") for dc in ("brand", "generic"))
        return Revision(packet_id=packet_id, revision=1, sha256=f"{packet_id:0>64}"[:64], kind="contract",
                        client_account_ids=(client,), period_start=start, period_end=dt.date(2025, 12, 31),
                        supersedes=supersedes, status=status, records=terms)

    for index, client in enumerate(clients):
        price_list = "MAC-A" if index % 3 else "MAC-B"
        if client in no_contract:
            continue
        if client == candidate_only:
            revisions[client].append(contract(client, f"C-{index}", price_list, YEAR_START, RECEIVED))
            continue
        revisions[client].append(contract(client, f"C-{index}", price_list, YEAR_START, VERIFIED))
        if client == amended:
            other = "MAC-A" if price_list == "MAC-B" else "MAC-B"
            revisions[client].append(contract(client, f"C-{index}-AMEND", other, amendment_start, VERIFIED,
                                              supersedes=f"C-{index}"))
            lists_by_hand += [(client, YEAR_START, amendment_start - dt.timedelta(days=1), price_list),
                              (client, amendment_start, dt.date(2025, 12, 31), other)]
        else:
            lists_by_hand.append((client, YEAR_START, dt.date(2025, 12, 31), price_list))

    prices, candidate_prices, prices_by_hand = [], [], []
    for price_list in ("MAC-A", "MAC-B"):
        for i in range(args.generics):
            code = ndc(i, False)
            if price_list == "MAC-B" and rng.random() < 0.01:
                continue
            price = Decimal(int(rng.integers(100, 99999))).scaleb(-4)
            if rng.random() < 0.04:
                gap = int(rng.integers(20, 61))
                start = int(rng.integers(30, DAYS - gap))
                end_first = YEAR_START + dt.timedelta(days=start - 1)
                resume = YEAR_START + dt.timedelta(days=start + gap)
                rows = [PriceRow(price_list, code, "X", price, YEAR_START, end_first),
                        PriceRow(price_list, code, "X", price, resume, None)]
                if rng.random() < 0.5:
                    candidate_prices.append(PriceRow(price_list, code, "X", price, end_first + dt.timedelta(days=1),
                                                     resume - dt.timedelta(days=1)))
            else:
                rows = [PriceRow(price_list, code, "X", price, YEAR_START, None)]
            prices += rows
            prices_by_hand += [(r.price_list, r.ndc, r.effective_date, r.end_date or FAR) for r in rows]
    price_file = Revision(packet_id="P-2025", revision=1, sha256="p" * 64, kind="pricing", client_account_ids=(),
                          period_start=YEAR_START, period_end=dt.date(2025, 12, 31), supersedes=None, status=VERIFIED,
                          records=tuple(prices))
    candidate_file = Revision(packet_id="P-2025-FIX", revision=1, sha256="q" * 64, kind="pricing",
                              client_account_ids=(), period_start=YEAR_START, period_end=dt.date(2025, 12, 31),
                              supersedes=None, status=RECEIVED, records=tuple(candidate_prices))

    con = duckdb.connect()
    pairs = con.execute(
        f"SELECT \"Client Account ID\", \"NDC\", year(\"Fill Date\") || 'Q' || quarter(\"Fill Date\") FROM "
        f"read_parquet('{claims}') WHERE \"Brand/Generic\" = 'Brand' GROUP BY ALL ORDER BY ALL").fetchall()
    con.close()
    invoices: dict[str, list] = {c: [] for c in clients}
    invoices_by_hand = []
    skipped_quarter = (clients[2], "2025Q3")
    for number, (client, code, quarter) in enumerate(pairs):
        if (client, quarter) == skipped_quarter or rng.random() < 0.05:
            continue
        invoices[client].append(RebateInvoice(f"INV-{number}", client, quarter, code, "X", "M", 1, Decimal("10.00"),
                                              dt.date(2026, 1, 15)))
        invoices_by_hand.append((client, quarter, code))
    evidence = {}
    for index, client in enumerate(clients):
        rebate = Revision(packet_id=f"R-{index}", revision=1, sha256=f"{index:0>64}", kind="rebate",
                          client_account_ids=(client,), period_start=YEAR_START, period_end=dt.date(2026, 3, 31),
                          supersedes=None, status=VERIFIED, records=tuple(invoices[client]))
        evidence[client] = Evidence(revisions=(*revisions[client], price_file, candidate_file, rebate))
    with (folder / "evidence.pickle").open("wb") as out:
        pickle.dump(evidence, out, protocol=pickle.HIGHEST_PROTOCOL)
    for name, columns, rows in (
        ("hand_lists", ("client", "start", "stop", "price_list"), lists_by_hand),
        ("hand_prices", ("price_list", "ndc", "start", "stop"), prices_by_hand),
        ("hand_invoices", ("client", "quarter", "ndc"), invoices_by_hand),
    ):
        pq.write_table(pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)}), folder / f"{name}.parquet")


# --- the two sides ------------------------------------------------------------------------------------------
HAND_QUERY = """
WITH claims AS (
    SELECT "Client Account ID" AS client, lower("Brand/Generic") AS bg, "NDC" AS ndc, "Fill Date" AS day
    FROM read_parquet('{claims}')
), generic AS (
    SELECT DISTINCT client, ndc, day FROM claims WHERE bg = 'generic'
), pricing AS (
    SELECT DISTINCT 'pricing' AS kind, g.client, g.ndc, strftime(g.day, '%Y-%m') AS period
    FROM generic g
    LEFT JOIN read_parquet('{lists}') l ON l.client = g.client AND g.day BETWEEN l.start AND l.stop
    LEFT JOIN read_parquet('{prices}') p ON p.price_list = l.price_list AND p.ndc = g.ndc
         AND g.day BETWEEN p.start AND p.stop
    WHERE p.ndc IS NULL
), rebate AS (
    SELECT DISTINCT 'rebate' AS kind, client, ndc, year(day) || 'Q' || quarter(day) AS period
    FROM claims WHERE bg = 'brand'
    EXCEPT SELECT 'rebate', client, ndc, quarter FROM read_parquet('{invoices}')
)
SELECT * FROM pricing UNION ALL SELECT * FROM rebate
"""


def run_side(side: str, folder: Path, args) -> dict:
    """One side, timed in this process; returns seconds, peak MB and the flags it found."""
    from evidence.flags import coverage, needs

    con = needs.connect(memory_limit=args.memory_limit, threads=args.threads, temp_directory=str(folder / "spill"))
    found: set[tuple[str, str, str, str]] = set()
    if side == "hand":
        started = time.perf_counter()
        rows = con.execute(HAND_QUERY.format(claims=folder / "claims.parquet", lists=folder / "hand_lists.parquet",
                                             prices=folder / "hand_prices.parquet",
                                             invoices=folder / "hand_invoices.parquet")).fetchall()
        seconds = time.perf_counter() - started
        found = set(rows)
    else:
        with (folder / "evidence.pickle").open("rb") as handle:
            evidence = pickle.load(handle)
        source = needs.ClaimsSource(dataset_key="bench", version=1, path=folder / "claims.parquet",
                                    columns=needs.claims_columns(pq.read_schema(folder / "claims.parquet").names))
        started = time.perf_counter()
        needs.build_needs(con, [source])
        if side == "full":
            flags = coverage.compute_flags(con, needs.client_periods(con, [source]), evidence)
        else:
            from evidence.flags import columnar

            columnar.pricing_coverage(con, evidence)
            columnar.rebate_coverage(con, evidence)
            flags = [*coverage.pricing_flags(con), *coverage.rebate_flags(con)]
        seconds = time.perf_counter() - started
        found = {(f.kind, f.client, f.ndc, f.period_start.strftime("%Y-%m") if f.kind == "pricing" else f.quarter)
                 for f in flags if f.kind in ("pricing", "rebate")}
    con.close()
    return {"seconds": seconds, "peak_mb": peak_mb(), "flags": sorted(found)}


def spawn(side: str, folder: Path, args) -> dict:
    command = [sys.executable, "-m", "bench.evidence", "--side", side, "--dir", str(folder),
               "--memory-limit", args.memory_limit, "--threads", str(args.threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {side} side failed:\n{done.stderr[-4000:]}")
    result = json.loads((folder / f"{side}.json").read_text())
    return result


def main(argv: list[str] | None = None) -> dict | None:
    args = parse_args(argv)
    if args.side:  # a child: one side, its result written beside the data
        result = run_side(args.side, Path(args.dir), args)
        (Path(args.dir) / f"{args.side}.json").write_text(json.dumps(result, default=str))
        return None
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-evidence-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        if not (folder / "claims.parquet").exists() or args.keep is None:
            build_world(folder, args)
        size = (folder / "claims.parquet").stat().st_size / 2**20
        say(f"built {args.claims:,} claims ({size:.0f} MiB Parquet), {args.clients} clients, {args.generics} generic "
            f"and {args.brands} brand NDCs, evidence with gaps in {time.perf_counter() - started:.1f} s")
        ours, hand = [], []
        for _ in range(args.repeat):
            ours.append(spawn("ours", folder, args))
            hand.append(spawn("hand", folder, args))
        full = spawn("full", folder, args)
        same = ours[0]["flags"] == hand[0]["flags"] == full["flags"]
        value = statistics.median(r["seconds"] for r in ours)
        baseline = statistics.median(r["seconds"] for r in hand)
        peak = max(max(r["peak_mb"] for r in ours), max(r["peak_mb"] for r in hand))
        kinds = {k: sum(1 for f in ours[0]["flags"] if f[0] == k) for k in ("pricing", "rebate")}
        say(f"ours (needs + pricing and rebate coverage + flags): {value:.2f} s, peak {max(r['peak_mb'] for r in ours):.0f} MiB")
        say(f"hand-written DuckDB query: {baseline:.2f} s, peak {max(r['peak_mb'] for r in hand):.0f} MiB")
        say(f"full compute_flags (with contract and Salesforce decide() per need): {full['seconds']:.2f} s, "
            f"peak {full['peak_mb']:.0f} MiB")
        say(f"flags: {kinds['pricing']:,} pricing (client × NDC × month), {kinds['rebate']:,} rebate "
            f"(client × NDC × quarter); both sides {'agree' if same else 'DISAGREE'}")
        if not same:
            only_ours = set(map(tuple, ours[0]["flags"])) - set(map(tuple, hand[0]["flags"]))
            only_hand = set(map(tuple, hand[0]["flags"])) - set(map(tuple, ours[0]["flags"]))
            say(f"only ours: {sorted(only_ours)[:5]} ({len(only_ours)}); only hand: {sorted(only_hand)[:5]} "
                f"({len(only_hand)})")
        result = {"bench": "evidence", "value": round(value, 3), "unit": "s", "baseline": round(baseline, 3),
                  "ratio": round(baseline / value, 3), "peak_mb": round(peak, 1), "claims": args.claims,
                  "full_seconds": round(full["seconds"], 3), "agree": same}
        print(json.dumps(result), flush=True)
        if not same:
            raise SystemExit(1)
        return result
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
