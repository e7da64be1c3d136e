"""Calculation runs: a whole run (calculations, decisions, provenance, storage) against a hand-written DuckDB
script of the same arithmetic without provenance or storage, and against pandas doing the same arithmetic.

    python -m bench.calculations [--claims 5000000] [--clients 20] [--generics 300] [--brands 100]
                                 [--memory-limit 1GB] [--threads 2] [--repeat 1] [--skip-pandas] [--keep DIR]

The bench builds, deterministically (seed 12), with numpy/pyarrow in batches of one million lines:
- one claims Parquet of --claims lines with the PBM claims columns (tests/deliverables/calculations/builders.py
  CLAIMS_SCHEMA): clients weighted (a few large, many small), channels 70/20/10 retail/mail/specialty, ~20% brand,
  NDCs skewed (a square law over each list), fill dates over 2025; 2% of claims reversed and rebilled at other
  amounts (three lines), 1% reversed for good (two lines, the claim counts nowhere), 0.5% duplicates (the same
  member, NDC, fill date and pharmacy under another claim id), a few lines with no AWP or a zero plan paid
  (the terms exclude them); ~10% of generics paid over MAC, brands paid around the AWP guarantee, ~10% of
  dispensing fees over the contracted fee;
- the evidence as the authority module takes it (evidence.packets.authority Revisions, all VERIFIED, so every
  number is decided for real and authorized): per client a contract (6 components, rates, fees, rebates per brand
  claim, exclusions zero_balance and no_awp, a few with specialty_carve_out, combined or per-component basis,
  price list MAC-A or MAC-B), one client amended from 2025-07-01 (a superseding packet with other rates); one
  price file for both lists (every generic NDC; 10% change price on 2025-07-01); per client a rebate packet with
  invoices for ~95% of the (brand NDC, quarter) pairs its claims have.

Three sides, each in its own subprocess (its peak resident memory, VmHWM, is its own):
- ours: the run as deliverables.runs.services._compute_and_store makes it, minus the claims registry and the
  task: evidence (engines.clients_in_scope_duckdb, inputs.evidence_tables from the Revisions), calculate
  (engines.on_duckdb: engine.run_duckdb with the findings kept in DuckDB), decide (compute.calculate: every
  number's decision, provenance and the result hash, the findings artifact written into a LocalLake from the
  pass that hashes them), store (the evidence tables' artifacts, `evidence_artifacts`, then services._store: the
  numbers bulk-inserted, the run succeeded and audited, in one transaction, into a throwaway SQLite database
  migrated before the clock starts);
- hand: one hand-written DuckDB script of the same arithmetic (current claims, terms join, exclusions, AWP,
  dispensing-fee and rebate guarantees, findings) over the same Parquet and the same evidence tables, exact
  decimals, no decisions, no provenance, no storage; lines fetched, findings fetched as an Arrow table;
- pandas: the same arithmetic in pandas over the same Parquet (floats, not Decimal: acceptable for a baseline
  only; its totals are compared to the cent-ish, not exactly). Needs pandas (not a project dependency:
  `pip install pandas`); --skip-pandas leaves it out.

Ours and hand run --repeat rounds, alternating; the median round counts. Ours and hand must agree exactly (the AWP, dispensing-fee and rebate shortfall totals, the findings count and
overpayment by kind), or the bench fails. The last line is one JSON object: value = our seconds, baseline = the
hand script's seconds, ratio = baseline / value (goal at least 0.5), pandas_seconds, vs_pandas = pandas / ours
(goal at least 5), peak_mb = our side's peak resident memory (goal under 2048).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench.support import peak_mb, say

SEED = 12
YEAR_START = dt.date(2025, 1, 1)
YEAR_END = dt.date(2025, 12, 31)
MID_YEAR = dt.date(2025, 7, 1)
DAYS = 365
BATCH = 1_000_000
CHANNELS = ("retail", "mail", "specialty")
FEES = {"retail": Decimal("1.50"), "mail": Decimal("0.75"), "specialty": Decimal("2.50")}  # contracted, per script
REBATES = {"retail": Decimal("120.0000"), "mail": Decimal("120.0000"), "specialty": Decimal("300.0000")}
AMENDED = 1  # the client whose contract is amended mid-year
PERIOD = (YEAR_START, YEAR_END)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.calculations", description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=5_000_000, help="claims lines (default 5000000)")
    parser.add_argument("--clients", type=int, default=20, help="clients (default 20)")
    parser.add_argument("--generics", type=int, default=300, help="generic NDCs (default 300)")
    parser.add_argument("--brands", type=int, default=100, help="brand NDCs (default 100)")
    parser.add_argument("--memory-limit", default="1GB", help="DuckDB memory_limit, ours and hand (default 1GB, "
                        "the service's RUN_DUCKDB_MEMORY)")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads, ours and hand (default 2)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of ours and hand, alternating (median)")
    parser.add_argument("--skip-pandas", action="store_true", help="leave the pandas baseline out")
    parser.add_argument("--keep", help="build into this folder and keep it (default: a temp folder, removed)")
    parser.add_argument("--side", choices=["ours", "hand", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- the world ----------------------------------------------------------------------------------------------
def account_id(index: int) -> str:
    return f"0015e0000{index:06d}AAK"


def ndc(index: int, brand: bool) -> str:
    return f"{(60000 if brand else 10000) + index:05d}{index % 9999:04d}{index % 97:02d}"


def _decimal_array(units: np.ndarray, scale: int, valid: np.ndarray | None = None) -> pa.Array:
    """Non-negative integers of 10^-scale as decimal128(38, scale), built from the buffers (exact, no floats)."""
    units = np.ascontiguousarray(units, dtype=np.int64)
    if (units < 0).any():
        raise ValueError("negative amounts are not generated")
    words = np.zeros((len(units), 2), dtype=np.int64)
    words[:, 0] = units
    bitmap = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    nulls = 0 if valid is None else int((~valid).sum())
    return pa.Array.from_buffers(pa.decimal128(38, scale), len(units), [bitmap, pa.py_buffer(words.tobytes())],
                                 null_count=nulls)


class World:
    """The fixed parts: clients, NDCs, their prices, each client's terms (what the claims are generated from)."""

    def __init__(self, args):
        rng = np.random.default_rng(SEED)
        self.clients = [account_id(i) for i in range(args.clients)]
        weights = 1.0 / np.arange(1, args.clients + 1) ** 0.8
        self.client_weights = weights / weights.sum()
        self.generics = np.array([ndc(i, False) for i in range(args.generics)])
        self.brands = np.array([ndc(i, True) for i in range(args.brands)])
        # AWP per unit in micro-dollars: generics $0.10-$20, brands $20-$800.
        self.generic_awp = rng.integers(100_000, 20_000_000, size=args.generics)
        self.brand_awp = rng.integers(20_000_000, 800_000_000, size=args.brands)
        # MAC per unit (micro-dollars) per list (0 = MAC-A, 1 = MAC-B) and half-year (10% change on July 1).
        base = (self.generic_awp * rng.uniform(0.15, 0.25, size=args.generics)).astype(np.int64)
        changes = rng.random(args.generics) < 0.10
        self.mac = np.zeros((2, 2, args.generics), dtype=np.int64)
        self.mac[0, 0] = base
        self.mac[1, 0] = base * 105 // 100
        self.mac[:, 1] = np.where(changes, self.mac[:, 0] * 95 // 100, self.mac[:, 0])
        self.price_changes = changes

    def price_list(self, client_index: int) -> str:
        return "MAC-A" if client_index % 2 == 0 else "MAC-B"

    def terms(self, client_index: int, amended: bool = False) -> list[dict]:
        rates = {"brand": Decimal("0.1800") + Decimal("0.0020") * (client_index % 3),
                 "generic": Decimal("0.8000") - Decimal("0.0100") * (client_index % 4)}
        if amended:
            rates = {k: v + Decimal("0.0100") for k, v in rates.items()}
        exclusions = ("zero_balance", "no_awp") + (("specialty_carve_out",) if client_index % 5 == 4 else ())
        out = []
        for channel in CHANNELS:
            for drug_class in ("brand", "generic"):
                out.append({
                    "channel": channel, "drug_class": drug_class, "component": f"{channel} {drug_class}",
                    "awp_discount_guarantee": rates[drug_class] - (Decimal("0.0300") if channel == "specialty"
                                                                  and drug_class == "brand" else 0),
                    "dispensing_fee_guarantee": FEES[channel] - (Decimal("0.10") if amended else 0),
                    "rebate_per_brand_claim": REBATES[channel] if drug_class == "brand" else None,
                    "guarantee_basis": "combined" if client_index % 3 == 0 else "per_component",
                    "exclusions": exclusions, "price_list": self.price_list(client_index)})
        return out


def _claims_batch(world: World, rng, first_id: int, lines: int) -> pa.Table:
    rebills, reversals = lines // 50, lines // 100
    m = lines - 2 * rebills - reversals  # claims; each rebilled one has 3 lines, each reversed one 2
    duplicates = m // 200
    src = np.arange(m)
    picked = rng.choice(m, size=duplicates * 2, replace=False)
    src[picked[:duplicates]] = picked[duplicates:]  # a duplicate copies another claim's line, not its id
    client = rng.choice(len(world.clients), size=m, p=world.client_weights)[src]
    channel = rng.choice(3, size=m, p=[0.7, 0.2, 0.1])[src]
    brand = (rng.random(m) < 0.20)[src]
    g = (rng.random(m) ** 2 * len(world.generics)).astype(np.int64)[src]
    b = (rng.random(m) ** 2 * len(world.brands)).astype(np.int64)[src]
    day = rng.integers(0, DAYS, size=m)[src]
    member = rng.integers(0, 200_000, size=m)[src]
    pharmacy = np.where(channel == 0, rng.integers(0, 3000, size=m), np.where(channel == 1, rng.integers(
        5000, 5005, size=m), rng.integers(6000, 6020, size=m)))[src]
    quantity = np.where(brand, rng.integers(1, 61, size=m), rng.integers(1, 91, size=m))[src]
    seconds = (9 * 3600 + rng.integers(0, 8 * 3600, size=m))
    seconds[picked[:duplicates]] = seconds[picked[duplicates:]] + 3600
    awp_unit = np.where(brand, world.brand_awp[b], world.generic_awp[g])
    awp_valid = rng.random(m) >= 0.005
    client_list = np.array([0 if i % 2 == 0 else 1 for i in range(len(world.clients))])[client]
    half = (day >= (MID_YEAR - YEAR_START).days).astype(np.int64)
    mac = world.mac[client_list, half, g]
    # Generics paid at MAC x quantity rounded to the cent, ~10% over it; brands around AWP less 18%.
    over = np.where(rng.random(m) < 0.10, rng.uniform(0.01, 0.30, size=m), 0.0)
    generic_icp = np.round(mac * quantity * (1 + over) / 10_000).astype(np.int64)
    discount = rng.normal(0.183, 0.01, size=m)
    brand_icp = np.round(awp_unit * quantity * (1 - discount) / 10_000).astype(np.int64)
    icp = np.where(brand, brand_icp, generic_icp)
    contracted = np.array([150, 75, 250])[channel]
    fee = np.where(rng.random(m) < 0.10, contracted + rng.integers(25, 101, size=m), contracted)
    member_paid = rng.integers(0, 4001, size=m)
    plan_paid = np.where(rng.random(m) < 0.003, 0, icp + fee)
    status = np.zeros(m, dtype=np.int8)  # 0 PAID, 1 REVERSED
    # Reversals and rebills: the original line (PAID), its reversal a day later, the rebill (PAID, 3% less) two.
    changed = rng.choice(m, size=rebills + reversals, replace=False)
    index = np.concatenate([np.arange(m), changed, changed[:rebills]])
    kind = np.concatenate([np.zeros(m, np.int8), np.ones(rebills + reversals, np.int8),
                           np.full(rebills, 2, np.int8)])
    icp_all = icp[index]
    icp_all[kind == 2] = icp_all[kind == 2] * 97 // 100
    plan_all = plan_paid[index]
    plan_all[kind == 2] = np.where(plan_all[kind == 2] == 0, 0, icp_all[kind == 2] + fee[index][kind == 2])
    status_all = np.where(kind == 1, 1, status[index])
    days = day[index]
    adjudicated = np.datetime64(YEAR_START.isoformat(), "s") + (
        days.astype(np.int64) * 86_400 + seconds[index] + 86_400 * kind.astype(np.int64)).astype("timedelta64[s]")
    ids = pc.utf8_lpad(pa.array(first_id + index, pa.int64()).cast(pa.string()), 12, "0")
    clients = np.array(world.clients)
    return pa.table({
        "Claim ID": pc.binary_join_element_wise("RX", ids, ""),
        "Claim Status": pa.array(np.array(["PAID", "REVERSED"])[status_all]),
        "Client Account ID": pa.array(clients[client[index]]),
        "Client Account": pa.array(np.array([f"Client {i:03d}" for i in range(len(clients))])[client[index]]),
        "Member ID": pc.binary_join_element_wise("M", pc.utf8_lpad(pa.array(member[index]).cast(pa.string()), 7,
                                                                   "0"), ""),
        "Pharmacy NPI": pa.array((1_000_000_000 + pharmacy[index]).astype(str)),
        "Channel": pa.array(np.array(CHANNELS)[channel[index]]),
        "NDC": pa.array(np.where(brand, world.brands[b], world.generics[g])[index]),
        "Drug Name": pa.array(np.where(brand, "Brand drug", "Generic drug")[index]),
        "Brand/Generic": pa.array(np.where(brand, "Brand", "Generic")[index]),
        "Fill Date": pa.array(np.datetime64(YEAR_START.isoformat()) + days.astype("timedelta64[D]"),
                              type=pa.date32()),
        "Adjudicated At": pa.array(adjudicated.astype("datetime64[us]"), type=pa.timestamp("us")),
        "Days Supply": pa.array(np.full(len(index), 30, dtype=np.int64)),
        "Quantity": pa.array(quantity[index].astype(np.float64)),
        "AWP Unit Price": _decimal_array(awp_unit[index], 6, awp_valid[index]),
        "Ingredient Cost Paid": _decimal_array(icp_all, 2),
        "Dispensing Fee Paid": _decimal_array(fee[index], 2),
        "Member Paid": _decimal_array(member_paid[index], 2),
        "Plan Paid": _decimal_array(plan_all, 2),
    })


def write_claims(path: Path, world: World, args) -> None:
    rng = np.random.default_rng(SEED + 1)
    writer = None
    done = 0
    while done < args.claims:
        n = min(BATCH, args.claims - done)
        table = _claims_batch(world, rng, 10**9 + done, n)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=128 * 1024)
        done += n
    writer.close()


def build_world(folder: Path, args) -> None:
    """The claims Parquet, the Evidence per client (pickled), and the evidence tables the hand side reads."""
    import duckdb

    from evidence.packets.authority import VERIFIED, Evidence, Revision
    from evidence.packets.model import ContractTerm, PriceRow, RebateInvoice

    world = World(args)
    claims = folder / "claims.parquet"
    write_claims(claims, world, args)
    rng = np.random.default_rng(SEED + 2)

    def contract(index: int, packet_id: str, start: dt.date, amended: bool, supersedes=None) -> Revision:
        client = world.clients[index]
        records = tuple(ContractTerm(
            contract_id=packet_id, client_account_id=client, awp_discount_guarantee=t["awp_discount_guarantee"],
            dispensing_fee_guarantee=t["dispensing_fee_guarantee"], rebate_per_brand_claim=t["rebate_per_brand_claim"],
            component=t["component"], channel=t["channel"], drug_class=t["drug_class"],
            guarantee_basis=t["guarantee_basis"], exclusions=t["exclusions"], price_list=t["price_list"],
            period_start=start, period_end=YEAR_END) for t in world.terms(index, amended))
        return Revision(packet_id=packet_id, revision=1, sha256=f"{packet_id:0>64}"[:64], kind="contract",
                        client_account_ids=(client,), period_start=start, period_end=YEAR_END,
                        supersedes=supersedes, status=VERIFIED, records=records)

    prices = []
    for list_index, price_list in enumerate(("MAC-A", "MAC-B")):
        for i, code in enumerate(world.generics):
            first, second = world.mac[list_index, 0, i], world.mac[list_index, 1, i]
            if world.price_changes[i]:
                prices += [PriceRow(price_list, str(code), "Generic drug", Decimal(int(first)).scaleb(-6), YEAR_START,
                                    MID_YEAR - dt.timedelta(days=1)),
                           PriceRow(price_list, str(code), "Generic drug", Decimal(int(second)).scaleb(-6), MID_YEAR,
                                    None)]
            else:
                prices.append(PriceRow(price_list, str(code), "Generic drug", Decimal(int(first)).scaleb(-6),
                                       YEAR_START, None))
    price_file = Revision(packet_id="MAC-2025", revision=1, sha256="m" * 64, kind="pricing", client_account_ids=(),
                          period_start=YEAR_START, period_end=YEAR_END, supersedes=None, status=VERIFIED,
                          records=tuple(prices))

    con = duckdb.connect()
    pairs = con.execute(
        "SELECT \"Client Account ID\", year(\"Fill Date\") || 'Q' || quarter(\"Fill Date\"), \"NDC\", \"Channel\", "
        f"COUNT(*) FROM read_parquet('{claims}') WHERE \"Brand/Generic\" = 'Brand' AND \"Claim Status\" = 'PAID' "
        "GROUP BY ALL ORDER BY ALL").fetchall()
    con.close()
    invoices: dict[str, list] = {c: [] for c in world.clients}
    totals: dict[tuple, list] = {}
    for client, quarter, code, channel, count in pairs:
        entry = totals.setdefault((client, quarter, code), [0, Decimal(0)])
        entry[0] += count
        entry[1] += REBATES[channel] * count
    for number, ((client, quarter, code), (count, guaranteed)) in enumerate(sorted(totals.items())):
        if rng.random() < 0.05:
            continue
        amount = (guaranteed * Decimal(str(round(rng.uniform(0.90, 1.02), 4)))).quantize(Decimal("0.01"))
        invoices[client].append(RebateInvoice(f"INV-{number:07d}", client, quarter, code, "Brand drug", "Maker",
                                              count, amount, dt.date(2026, 1, 15)))
    evidence = {}
    for index, client in enumerate(world.clients):
        revisions = [contract(index, f"C-{index:03d}", YEAR_START, False)]
        if index == AMENDED:
            revisions.append(contract(index, f"C-{index:03d}-AMEND", MID_YEAR, True, supersedes=f"C-{index:03d}"))
        rebate = Revision(packet_id=f"R-{index:03d}", revision=1, sha256=f"r{index:0>63}", kind="rebate",
                          client_account_ids=(client,), period_start=YEAR_START, period_end=dt.date(2026, 3, 31),
                          supersedes=None, status=VERIFIED, records=tuple(invoices[client]))
        evidence[client] = Evidence(revisions=(*revisions, price_file, rebate))
    with (folder / "evidence.pickle").open("wb") as out:
        pickle.dump(evidence, out, protocol=pickle.HIGHEST_PROTOCOL)


# --- ours ---------------------------------------------------------------------------------------------------
def _setup_django(folder: Path):
    """A throwaway SQLite database and lake under `folder`, migrated; a run row held by this process."""
    var = folder / "var"
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir()
    os.environ["CONSOLE_VAR_DIR"] = str(var)
    os.environ["DATABASE_URL"] = f"sqlite:///{var / 'console.sqlite3'}"
    os.environ.pop("CURATED_DATABASE_URL", None)
    os.environ["LAKE_URL"] = str(var / "lake")
    os.environ["DJANGO_SETTINGS_MODULE"] = "console.settings"
    os.environ["DJANGO_DEBUG"] = "0"
    import logging

    import django

    logging.disable(logging.INFO)
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from console import clock
    from deliverables.choices import RunState
    from deliverables.models import CalculationRun

    call_command("migrate", verbosity=0, interactive=False)
    user = get_user_model().objects.create_user(username="bench", password=None)
    return CalculationRun.objects.create(
        client_account_id="", period_start=PERIOD[0], period_end=PERIOD[1], dataset_key="bench", requested_by=user,
        state=RunState.RUNNING, started_at=clock.now(), heartbeat_at=clock.now(), attempts=1,
        traceparent="00-" + "0" * 31 + "1-" + "0" * 15 + "1-01", trace_id="0" * 31 + "1",
        progress={"step": "store", "steps": [{"name": "store", "state": "running", "at": None, "detail": ""}]})


def run_ours(folder: Path, args) -> dict:
    run = _setup_django(folder)
    from django.conf import settings

    from deliverables.calculations import engine
    from deliverables.models import RunNumber
    from deliverables.runs import compute, engines, services
    from deliverables.runs.inputs import evidence_tables

    with (folder / "evidence.pickle").open("rb") as handle:
        evidence = pickle.load(handle)
    parquet = folder / "claims.parquet"
    columns = {name: name for name in pq.read_schema(parquet).names}
    scope = engine.Scope(client=None, period=PERIOD)
    runs = Path(settings.VAR_DIR) / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    started = mark = time.perf_counter()
    con = engine.connect(memory_limit=args.memory_limit, threads=args.threads, temp_directory=str(runs))
    clients = engines.clients_in_scope_duckdb(con, parquet, columns, scope)
    tables = evidence_tables(clients, PERIOD, evidence=evidence)
    timings["evidence"] = time.perf_counter() - mark
    mark = time.perf_counter()
    calculated = engines.on_duckdb(con, parquet, tables, scope)
    timings["calculate"] = time.perf_counter() - mark
    mark = time.perf_counter()
    computed = compute.calculate(con, calculated, evidence=tables.evidence, period=PERIOD,
                                 dataset_label="bench claims v1", write_findings=services.findings_writer(runs))
    timings["decide"] = time.perf_counter() - mark  # the findings artifact is written as they are hashed
    mark = time.perf_counter()
    path, sha = computed.written
    stored = {}
    for relation in ("terms", "prices", "invoices"):
        table_path, table_sha = services.write_artifact(getattr(tables, relation), runs, services.EVIDENCE_PREFIX)
        stored[relation] = {"path": table_path, "sha256": table_sha, "rows": getattr(tables, relation).num_rows}
    timings["evidence_artifacts"] = time.perf_counter() - mark
    findings = _findings_summary(con, "run_findings", "overpayment_exact")
    con.close()
    store_mark = time.perf_counter()
    versions = compute.calculation_versions()
    inputs = {"claims": {"dataset_key": "bench", "name": "bench claims", "version": 1, "rows": args.claims},
              "evidence": tables.revisions(), "domo": tables.domo_rows(),
              "evidence_tables": {**stored, "conflicts": tables.conflicts}, "calculations": versions,
              "parameters": {"client": "", "period": [str(p) for p in PERIOD], "dataset": "bench",
                             "engine": "duckdb"}}
    services._store(run, computed, inputs, versions, "duckdb", path, sha, timings, store_mark)
    timings["numbers"] = time.perf_counter() - store_mark
    timings["store"] = timings["evidence_artifacts"] + timings["numbers"]
    seconds = time.perf_counter() - started
    for relation in ("terms", "prices", "invoices"):  # the hand and pandas sides calculate with the same tables
        pq.write_table(getattr(tables, relation), folder / f"{relation}.parquet")
    run.refresh_from_db()
    if run.state != "succeeded" or RunNumber.objects.filter(run=run).count() != len(computed.numbers):
        raise SystemExit(f"the run did not store its numbers: state {run.state}")
    results = calculated.results
    totals = _guarantee_totals(
        [dict(zip(engine_columns("awp_discount_guarantee"), r, strict=True)) for r in results["awp_discount_guarantee"]],
        [dict(zip(engine_columns("dispensing_fee_guarantee"), r, strict=True))
         for r in results["dispensing_fee_guarantee"]],
        [dict(zip(engine_columns("rebate_guarantee"), r, strict=True)) for r in results["rebate_guarantee"]])
    decisions = {f"{kind}:{decision}": count for kind, by in computed.counts.items() for decision, count in by.items()}
    return {"seconds": seconds, "phases": timings, "totals": totals, "findings": findings,
            "numbers": len(computed.numbers), "decisions": decisions, "findings_count": computed.findings}


def engine_columns(name: str) -> tuple[str, ...]:
    from deliverables.calculations.definitions import COLUMNS

    return COLUMNS[name]


def _guarantee_totals(awp: list[dict], fee: list[dict], rebate: list[dict]) -> dict:
    return {"awp_lines": len(awp), "awp_shortfall_owed": str(sum((r["shortfall_owed"] for r in awp), Decimal(0))),
            "fee_lines": len(fee), "fee_shortfall": str(sum((r["shortfall"] for r in fee), Decimal(0))),
            "rebate_lines": len(rebate), "rebate_shortfall": str(sum((r["shortfall"] for r in rebate), Decimal(0)))}


def _findings_summary(con, table: str, exact: str) -> dict:
    """Per kind: the findings and their overpayment, the exact overpayments added and rounded once."""
    return {kind: [count, str(total)] for kind, count, total in con.execute(
        f"SELECT kind, COUNT(*), ROUND(SUM({exact}), 2) FROM {table} GROUP BY kind ORDER BY kind").fetchall()}


# --- hand ---------------------------------------------------------------------------------------------------
# What an analyst would write: the current line of each claim, its terms row, the exclusions the bench's terms
# name (zero_balance, no_awp, specialty_carve_out), the three guarantees and the findings. Exact decimals.
HAND_SCRIPT = """
CREATE TEMP TABLE cur AS
SELECT file_row_number AS claim_row, "Claim ID" AS claim_id, "Client Account ID" AS client_account_id,
       "Member ID" AS member_id, "Pharmacy NPI" AS pharmacy_npi, lower(trim("Channel")) AS channel,
       lower(trim("Brand/Generic")) AS drug_class, "NDC" AS ndc, "Fill Date" AS fill_date,
       "Adjudicated At" AS adjudicated_at, CAST("Quantity" AS DECIMAL(38, 3)) AS quantity,
       "AWP Unit Price" AS awp_unit_price, "Ingredient Cost Paid" AS icp, "Dispensing Fee Paid" AS fee_paid,
       "Plan Paid" AS plan_paid
FROM read_parquet('{claims}', file_row_number = true)
WHERE "Fill Date" BETWEEN DATE '2025-01-01' AND DATE '2025-12-31'
  AND file_row_number IN (  -- each claim's latest line, found over narrow columns; kept when it is PAID
    SELECT file_row_number FROM read_parquet('{claims}', file_row_number = true)
    WHERE "Fill Date" BETWEEN DATE '2025-01-01' AND DATE '2025-12-31'
    QUALIFY row_number() OVER (PARTITION BY "Claim ID"
                               ORDER BY "Adjudicated At" DESC, upper(trim("Claim Status")) DESC) = 1
        AND upper(trim("Claim Status")) = 'PAID');

CREATE TEMP TABLE ct AS
SELECT c.*, t.component, t.guarantee_basis, t.price_list, t.period_start, t.period_end,
       t.awp_discount_guarantee AS rate, t.dispensing_fee_guarantee AS fee, t.rebate_per_brand_claim AS rebate,
       COALESCE(c.awp_unit_price * c.quantity, 0) AS awp,
       (t.zero_balance AND c.plan_paid = 0) OR (t.no_awp AND c.awp_unit_price IS NULL)
       OR (t.specialty_carve_out AND c.channel = 'specialty') AS excluded
FROM cur c JOIN (  -- which exclusions each terms row names, read once per row of the terms
  SELECT *, contains(';' || exclusions || ';', ';zero_balance;') AS zero_balance,
         contains(';' || exclusions || ';', ';no_awp;') AS no_awp,
         contains(';' || exclusions || ';', ';specialty_carve_out;') AS specialty_carve_out
  FROM terms) t
  ON t.client_account_id = c.client_account_id AND t.channel = c.channel AND t.drug_class = c.drug_class
 AND c.fill_date BETWEEN t.period_start AND t.period_end;
"""

HAND_AWP = """
WITH component AS (
  SELECT client_account_id, period_start, period_end, component, guarantee_basis, COUNT(*) AS claims,
         SUM(awp) AS awp, SUM(icp) AS icp, SUM(awp * rate) AS guaranteed
  FROM ct WHERE NOT excluded AND rate IS NOT NULL GROUP BY ALL
), combined AS (
  SELECT client_account_id, COUNT(*) AS claims, SUM(awp) AS awp, SUM(icp) AS icp, SUM(awp * rate) AS guaranteed
  FROM ct WHERE NOT excluded AND rate IS NOT NULL AND guarantee_basis = 'combined' GROUP BY ALL
)
SELECT client_account_id, component, claims, round(awp, 2), round(icp, 2), round(guaranteed, 2),
       CASE WHEN guarantee_basis = 'per_component' THEN round(greatest(guaranteed - (awp - icp), 0), 2) ELSE 0 END
FROM component
UNION ALL
SELECT client_account_id, 'combined', claims, round(awp, 2), round(icp, 2), round(guaranteed, 2),
       round(greatest(guaranteed - (awp - icp), 0), 2)
FROM combined
"""

HAND_FEE = """
SELECT client_account_id, period_start, component, fee, COUNT(*) AS scripts, round(SUM(fee_paid), 2),
       round(greatest(SUM(fee_paid) - SUM(fee), 0), 2) AS shortfall
FROM ct WHERE NOT excluded AND fee IS NOT NULL GROUP BY ALL
"""

HAND_REBATE = """
WITH brand AS (
  SELECT client_account_id, year(fill_date) || 'Q' || quarter(fill_date) AS quarter, ndc, COUNT(*) AS claims,
         SUM(rebate) AS guaranteed
  FROM ct WHERE NOT excluded AND drug_class = 'brand' AND rebate IS NOT NULL GROUP BY ALL
), received AS (
  SELECT client_account_id, quarter, ndc, SUM(rebate_amount) AS amount FROM invoices GROUP BY ALL
)
SELECT b.client_account_id, b.quarter, SUM(b.claims), round(SUM(b.guaranteed), 2),
       round(SUM(COALESCE(r.amount, 0)), 2),
       round(greatest(SUM(b.guaranteed) - SUM(COALESCE(r.amount, 0)), 0), 2) AS shortfall
FROM brand b LEFT JOIN received r USING (client_account_id, quarter, ndc)
GROUP BY ALL
"""

HAND_FINDINGS = """
WITH found AS (  -- each allowed amount exact (a UNION of DECIMALs of several scales would round it to cents)
  SELECT 'mac' AS kind, ct.client_account_id, ct.claim_id, ct.fill_date, ct.ndc, ct.pharmacy_npi, ct.claim_row,
         ct.icp AS paid, CAST(p.mac_unit_price * ct.quantity AS DECIMAL(38, 15)) AS allowed
  FROM ct JOIN prices p  -- the price rows are cut per client: the client is a join key
    ON p.price_list = ct.price_list AND p.ndc = ct.ndc AND p.client_account_id = ct.client_account_id
   AND ct.fill_date >= p.effective_date AND (p.end_date IS NULL OR ct.fill_date <= p.end_date)
  WHERE ct.drug_class = 'generic'
  UNION ALL
  SELECT 'brand_awp', client_account_id, claim_id, fill_date, ndc, pharmacy_npi, claim_row, icp,
         CAST(awp_unit_price * quantity * (1 - rate) AS DECIMAL(38, 15))
  FROM ct WHERE drug_class = 'brand' AND awp_unit_price IS NOT NULL AND rate IS NOT NULL
  UNION ALL
  SELECT 'dispensing_fee', client_account_id, claim_id, fill_date, ndc, pharmacy_npi, claim_row, fee_paid, CAST(fee AS DECIMAL(38, 15))
  FROM ct WHERE fee IS NOT NULL
  UNION ALL
  SELECT 'duplicate', client_account_id, claim_id, fill_date, ndc, pharmacy_npi, claim_row, icp + fee_paid, CAST(0 AS DECIMAL(38, 15))
  FROM cur
  WHERE (member_id, ndc, fill_date, pharmacy_npi) IN (  -- numbered only in the groups with more than one claim
    SELECT (member_id, ndc, fill_date, pharmacy_npi) FROM cur GROUP BY ALL HAVING COUNT(*) > 1)
  QUALIFY row_number() OVER (PARTITION BY member_id, ndc, fill_date, pharmacy_npi
                             ORDER BY adjudicated_at, claim_id) > 1
)
SELECT kind, client_account_id, claim_id, fill_date, ndc, pharmacy_npi, claim_row, paid, round(allowed, 2) AS allowed,
       round(paid - allowed, 2) AS overpayment, paid - allowed AS overpayment_exact
FROM found WHERE round(paid - allowed, 2) > 0
"""


def run_hand(folder: Path, args) -> dict:
    from evidence.flags import needs

    con = needs.connect(memory_limit=args.memory_limit, threads=args.threads,
                        temp_directory=str(folder / "spill-hand"))
    for name in ("terms", "prices", "invoices"):
        con.register(name, pq.read_table(folder / f"{name}.parquet"))
    phases = {}
    started = mark = time.perf_counter()
    con.execute(HAND_SCRIPT.format(claims=folder / "claims.parquet"))
    phases["current_and_terms"] = time.perf_counter() - mark
    mark = time.perf_counter()
    awp = con.execute(HAND_AWP).fetchall()
    fee = con.execute(HAND_FEE).fetchall()
    rebate = con.execute(HAND_REBATE).fetchall()
    phases["guarantees"] = time.perf_counter() - mark
    mark = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        findings = con.execute(HAND_FINDINGS).to_arrow_table()
    phases["findings"] = time.perf_counter() - mark
    seconds = time.perf_counter() - started
    con.register("hand_findings", findings)
    summary = _findings_summary(con, "hand_findings", "overpayment_exact")
    con.close()
    totals = _guarantee_totals([{"shortfall_owed": r[6]} for r in awp], [{"shortfall": r[6]} for r in fee],
                               [{"shortfall": r[5]} for r in rebate])
    return {"seconds": seconds, "phases": phases, "totals": totals, "findings": summary,
            "findings_count": findings.num_rows}


# --- pandas -------------------------------------------------------------------------------------------------
def run_pandas(folder: Path, args) -> dict:
    """The same arithmetic in pandas, in float64 (a baseline only: money is never float in the product)."""
    try:
        import pandas as pd
    except ImportError:
        raise SystemExit("pandas is not installed (a bench-only dependency): pip install pandas, or --skip-pandas"
                         ) from None

    def frame(name: str, columns=None):
        # pd.read_parquet reads through pyarrow too; the decimals are made float64 on the way (not Decimal objects).
        table = pq.read_table(folder / name, columns=columns)
        table = table.cast(pa.schema([pa.field(f.name, pa.float64()) if pa.types.is_decimal(f.type) else f
                                      for f in table.schema]))
        return table.to_pandas(date_as_object=False)

    phases = {}
    started = mark = time.perf_counter()
    df = frame("claims.parquet", ["Claim ID", "Claim Status", "Client Account ID", "Member ID", "Pharmacy NPI",
                                  "Channel", "NDC", "Brand/Generic", "Fill Date", "Adjudicated At", "Quantity",
                                  "AWP Unit Price", "Ingredient Cost Paid", "Dispensing Fee Paid", "Plan Paid"])
    df.columns = ["claim_id", "status", "client_account_id", "member_id", "pharmacy_npi", "channel", "ndc",
                  "drug_class", "fill_date", "adjudicated_at", "quantity", "awp_unit_price", "icp", "fee_paid",
                  "plan_paid"]
    terms, prices, invoices = frame("terms.parquet"), frame("prices.parquet"), frame("invoices.parquet")
    phases["read"] = time.perf_counter() - mark
    mark = time.perf_counter()
    df["status"] = df["status"].str.strip().str.upper()
    df["channel"] = df["channel"].str.strip().str.lower()
    df["drug_class"] = df["drug_class"].str.strip().str.lower()
    df["fill_date"] = pd.to_datetime(df["fill_date"])
    df = df[(df["fill_date"] >= "2025-01-01") & (df["fill_date"] <= "2025-12-31")]
    df = df.sort_values(["claim_id", "adjudicated_at", "status"], ascending=[True, False, False])
    cur = df.drop_duplicates("claim_id", keep="first")
    cur = cur[cur["status"] == "PAID"].reset_index(drop=True)
    del df
    for column in ("period_start", "period_end"):
        terms[column] = pd.to_datetime(terms[column])
    ct = cur.merge(terms[["client_account_id", "channel", "drug_class", "component", "guarantee_basis",
                          "price_list", "period_start", "period_end", "awp_discount_guarantee",
                          "dispensing_fee_guarantee", "rebate_per_brand_claim", "exclusions"]],
                   on=["client_account_id", "channel", "drug_class"])
    ct = ct[(ct["fill_date"] >= ct["period_start"]) & (ct["fill_date"] <= ct["period_end"])]
    ct = ct.rename(columns={"awp_discount_guarantee": "rate", "dispensing_fee_guarantee": "fee",
                            "rebate_per_brand_claim": "rebate"})
    ex = ";" + ct["exclusions"].fillna("") + ";"
    ct["excluded"] = ((ex.str.contains(";zero_balance;", regex=False) & (ct["plan_paid"] == 0))
                      | (ex.str.contains(";no_awp;", regex=False) & ct["awp_unit_price"].isna())
                      | (ex.str.contains(";specialty_carve_out;", regex=False) & (ct["channel"] == "specialty")))
    ct["awp"] = (ct["awp_unit_price"] * ct["quantity"]).fillna(0.0)
    ct["guaranteed"] = ct["awp"] * ct["rate"]
    phases["current_and_terms"] = time.perf_counter() - mark
    mark = time.perf_counter()
    kept = ct[~ct["excluded"] & ct["rate"].notna()]
    component = kept.groupby(["client_account_id", "period_start", "period_end", "component", "guarantee_basis"],
                             as_index=False)[["awp", "icp", "guaranteed"]].sum()
    component_short = (component["guaranteed"] - (component["awp"] - component["icp"])).clip(lower=0).round(2)
    awp_owed = component_short[component["guarantee_basis"] == "per_component"].sum()
    combined = kept[kept["guarantee_basis"] == "combined"].groupby("client_account_id")[
        ["awp", "icp", "guaranteed"]].sum()
    awp_owed += (combined["guaranteed"] - (combined["awp"] - combined["icp"])).clip(lower=0).round(2).sum()
    fees = ct[~ct["excluded"] & ct["fee"].notna()].groupby(
        ["client_account_id", "period_start", "component", "fee"], as_index=False).agg(
        paid=("fee_paid", "sum"), guaranteed=("fee", "sum"))
    fee_short = (fees["paid"] - fees["guaranteed"]).clip(lower=0).round(2)
    brand = ct[~ct["excluded"] & (ct["drug_class"] == "brand") & ct["rebate"].notna()].copy()
    brand["quarter"] = brand["fill_date"].dt.year.astype(str) + "Q" + brand["fill_date"].dt.quarter.astype(str)
    brand = brand.groupby(["client_account_id", "quarter", "ndc"], as_index=False).agg(guaranteed=("rebate", "sum"))
    received = invoices.groupby(["client_account_id", "quarter", "ndc"], as_index=False).agg(
        amount=("rebate_amount", "sum"))
    brand = brand.merge(received, how="left", on=["client_account_id", "quarter", "ndc"]).fillna({"amount": 0.0})
    quarters = brand.groupby(["client_account_id", "quarter"])[["guaranteed", "amount"]].sum()
    rebate_short = (quarters["guaranteed"] - quarters["amount"]).clip(lower=0).round(2)
    phases["guarantees"] = time.perf_counter() - mark
    mark = time.perf_counter()
    prices["effective_date"] = pd.to_datetime(prices["effective_date"])
    prices["end_date"] = pd.to_datetime(prices["end_date"])
    generic = ct[ct["drug_class"] == "generic"][["client_account_id", "claim_id", "price_list", "ndc", "fill_date",
                                                  "quantity", "icp"]]
    mac = generic.merge(prices[["price_list", "ndc", "client_account_id", "mac_unit_price", "effective_date",
                                "end_date"]], on=["price_list", "ndc", "client_account_id"])
    mac = mac[(mac["fill_date"] >= mac["effective_date"])
              & (mac["end_date"].isna() | (mac["fill_date"] <= mac["end_date"]))]
    brands = ct[(ct["drug_class"] == "brand") & ct["awp_unit_price"].notna() & ct["rate"].notna()]
    with_fee = ct[ct["fee"].notna()]
    found = {  # each overpayment exact (as float allows): a finding when it is a cent in cents
        "mac": mac["icp"] - mac["mac_unit_price"] * mac["quantity"],
        "brand_awp": brands["icp"] - brands["awp_unit_price"] * brands["quantity"] * (1 - brands["rate"]),
        "dispensing_fee": with_fee["fee_paid"] - with_fee["fee"],
    }
    cur = cur.sort_values(["adjudicated_at", "claim_id"])
    copy = cur.groupby(["member_id", "ndc", "fill_date", "pharmacy_npi"]).cumcount()
    found["duplicate"] = (cur["icp"] + cur["fee_paid"])[copy > 0]
    findings = {kind: [int((over.round(2) > 0.004).sum()), f"{over[over.round(2) > 0.004].sum():.2f}"]
                for kind, over in found.items()}  # the exact overpayments added, rounded once
    phases["findings"] = time.perf_counter() - mark
    seconds = time.perf_counter() - started
    totals = {"awp_shortfall_owed": f"{awp_owed:.2f}", "fee_shortfall": f"{fee_short.sum():.2f}",
              "rebate_shortfall": f"{rebate_short.sum():.2f}"}
    return {"seconds": seconds, "phases": phases, "totals": totals, "findings": findings,
            "findings_count": sum(v[0] for v in findings.values())}


# --- the run ------------------------------------------------------------------------------------------------
def spawn(side: str, folder: Path, args) -> dict:
    command = [sys.executable, "-m", "bench.calculations", "--side", side, "--dir", str(folder),
               "--memory-limit", args.memory_limit, "--threads", str(args.threads), "--claims", str(args.claims)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {side} side failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return json.loads((folder / f"{side}.json").read_text())


def _phases(result: dict) -> str:
    return ", ".join(f"{name} {seconds:.2f} s" for name, seconds in result["phases"].items())


def _close(a: str, b: str, tolerance: float) -> bool:
    return abs(float(a) - float(b)) <= tolerance * max(1.0, abs(float(b)))


def main(argv: list[str] | None = None) -> dict | None:
    args = parse_args(argv)
    if args.side:  # a child: one side, its result written beside the data
        side = {"ours": run_ours, "hand": run_hand, "pandas": run_pandas}[args.side]
        result = side(Path(args.dir), args)
        result["peak_mb"] = peak_mb()
        (Path(args.dir) / f"{args.side}.json").write_text(json.dumps(result, default=str))
        return None
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-calculations-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        shape = {"claims": args.claims, "clients": args.clients, "generics": args.generics, "brands": args.brands}
        marker = folder / "world.json"
        if not (marker.exists() and json.loads(marker.read_text()) == shape):  # --keep: built once per shape
            build_world(folder, args)
            marker.write_text(json.dumps(shape))
        size = (folder / "claims.parquet").stat().st_size / 2**20
        say(f"generate: {args.claims:,} claims lines ({size:.0f} MiB Parquet), {args.clients} clients, "
            f"{args.generics} generic and {args.brands} brand NDCs, evidence as Revisions in "
            f"{time.perf_counter() - started:.2f} s")
        rounds: dict[str, list[dict]] = {"ours": [], "hand": []}
        for _ in range(max(1, args.repeat)):  # alternating: a busy machine slows both sides alike
            ours = spawn("ours", folder, args)
            say(f"ours: {ours['seconds']:.2f} s ({_phases(ours)}); {ours['numbers']} numbers, "
                f"{ours['findings_count']:,} findings stored; peak {ours['peak_mb']:.0f} MiB")
            hand = spawn("hand", folder, args)
            say(f"hand-written DuckDB: {hand['seconds']:.2f} s ({_phases(hand)}); {hand['findings_count']:,} "
                f"findings fetched; peak {hand['peak_mb']:.0f} MiB")
            rounds["ours"].append(ours)
            rounds["hand"].append(hand)
        ours, hand = (sorted(rounds[side], key=lambda r: r["seconds"])[(len(rounds[side]) - 1) // 2]
                      for side in ("ours", "hand"))  # the median round (the lower middle one of an even count)
        ours_peak = max(r["peak_mb"] for r in rounds["ours"])
        pandas = None
        if not args.skip_pandas:
            pandas = spawn("pandas", folder, args)
            say(f"pandas: {pandas['seconds']:.2f} s ({_phases(pandas)}); {pandas['findings_count']:,} findings; "
                f"peak {pandas['peak_mb']:.0f} MiB")
        same = ours["totals"] == hand["totals"] and ours["findings"] == hand["findings"]
        say(f"ours: {ours['totals']}, findings {ours['findings']}")
        if not same:
            say(f"hand: {hand['totals']}, findings {hand['findings']}")
            raise SystemExit("ours and the hand-written DuckDB script DISAGREE")
        say("ours and the hand-written DuckDB script agree: the same shortfall totals, findings and overpayments")
        pandas_close = None
        if pandas is not None:
            pandas_close = all(_close(pandas["totals"][k], ours["totals"][k], 1e-6) for k in pandas["totals"]) and all(
                abs(pandas["findings"][k][0] - ours["findings"].get(k, [0])[0]) <= max(2, ours["findings"][k][0] // 10_000)
                for k in pandas["findings"])
            say(f"pandas (float64): {pandas['totals']}, findings {pandas['findings']}: "
                f"{'agrees within float rounding' if pandas_close else 'DIFFERS beyond float rounding'}")
        value, baseline = ours["seconds"], hand["seconds"]
        result = {"bench": "calculations", "value": round(value, 3), "unit": "s", "baseline": round(baseline, 3),
                  "ratio": round(baseline / value, 3),
                  "pandas_seconds": None if pandas is None else round(pandas["seconds"], 3),
                  "vs_pandas": None if pandas is None else round(pandas["seconds"] / value, 3),
                  "peak_mb": round(ours_peak, 1), "hand_peak_mb": round(max(r["peak_mb"] for r in rounds["hand"]), 1),
                  "pandas_peak_mb": None if pandas is None else round(pandas["peak_mb"], 1),
                  "claims": args.claims, "rounds": len(rounds["ours"]), "numbers": ours["numbers"], "findings": ours["findings_count"],
                  "phases": {k: round(v, 3) for k, v in ours["phases"].items()}, "agree": same}
        print(json.dumps(result), flush=True)
        if pandas_close is False:
            raise SystemExit("pandas and ours differ beyond float rounding")
        return result
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
