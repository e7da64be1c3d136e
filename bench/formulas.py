"""Formula analysis rate, and golden reproduction of a card against a hand-written DuckDB query.

    python -m bench.formulas [--formulas 10000] [--rows 1000000] [--repeat 3] [--seed 11]

1. Formulas: --formulas Beast Mode formulas generated from a seed out of Domo's function catalogue
   (evidence.formulas.catalogue; every function used is asserted to be in it) over the claims
   schema of the sample export, in a realistic mix: aggregate ratios and sums, row-level
   arithmetic, CASE tiers, string and date functions, window totals, FIXED, the flaws the analyzer
   looks for (string literals as columns, unguarded divisions, CURDATE, COUNT of an id, hard-coded
   rates) and a few that do not parse. Ours: evidence.formulas.analyze(formula, schema=...) of
   each (parse, level, columns, FIXED clauses, every flaw rule). Baseline: sqlglot's bare parse of
   the same text (sqlglot.parse_one, MySQL dialect, the closest stock dialect; a formula it
   refuses, FIXED among them, counts as parsed). Interleaved rounds, median.
2. Golden: the sample export's claims dataset at --rows rows (the project's generator), converted
   to silver Parquet (evidence.intake.silver); the card "Client Spend Share, Retail and Mail" (a filter, a
   window total and a FIXED total) reproduced by evidence.golden.reproduce_card (its beast modes
   analyzed and translated, the query run in DuckDB, every golden row compared; it must come out
   "reproduced") against a hand-written DuckDB query of the same card over the same Parquet whose
   rows must equal ours. Both open a fresh DuckDB connection per run. Goal: ours within 1.5 times
   the hand-written query (golden_ratio >= 0.667, as a speed).

The last line is one JSON object: value = formulas analyzed per second, baseline = sqlglot bare
parses per second; golden_seconds, golden_handwritten_seconds and golden_ratio as extra keys.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.support import say

FORMULA_GOAL = 1000  # formulas per second
GOLDEN_GOAL = 1.5  # ours at most this many times the hand-written query's time
CARD_KEY = "client_spend_share"

# The claims dataset's columns (evidence/samples), by Domo type.
SCHEMA = {
    "Claim ID": "STRING", "Claim Status": "STRING", "Client Account ID": "STRING", "Client Account": "STRING",
    "Member ID": "STRING", "Pharmacy NPI": "STRING", "Channel": "STRING", "NDC": "STRING", "Drug Name": "STRING",
    "Brand/Generic": "STRING", "Fill Date": "DATE", "Adjudicated At": "DATETIME", "Days Supply": "LONG",
    "Quantity": "DOUBLE", "AWP Unit Price": "DECIMAL", "Ingredient Cost Paid": "DECIMAL",
    "Dispensing Fee Paid": "DECIMAL", "Member Paid": "DECIMAL", "Plan Paid": "DECIMAL",
}
NUMBERS = [name for name, kind in SCHEMA.items() if kind in {"LONG", "DOUBLE", "DECIMAL"}]
TEXTS = [name for name, kind in SCHEMA.items() if kind == "STRING"]
DATES = [name for name, kind in SCHEMA.items() if kind in {"DATE", "DATETIME"}]
DIMENSIONS = ["Client Account", "Channel", "Brand/Generic", "Drug Name", "Claim Status"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.formulas", description=__doc__.split("\n\n")[0])
    parser.add_argument("--formulas", type=int, default=10_000, help="generated formulas (default 10000)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="claims rows for the golden card (default 1000000)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds of each side (median)")
    parser.add_argument("--seed", type=int, default=11, help="seed of the formula generator")
    return parser.parse_args(argv)


# --- formulas -------------------------------------------------------------------------------------------
class FormulaMaker:
    """Deterministic Beast Mode formulas from the catalogue's functions (each asserted to be in it)."""

    def __init__(self, seed: int):
        from evidence.formulas.catalogue import CATALOGUE

        self.catalogue = CATALOGUE
        self.rng = random.Random(seed)

    def fn(self, name: str, *args: str) -> str:
        assert name in self.catalogue, name
        return f"{name}({', '.join(args)})"

    def col(self, names: list[str]) -> str:
        return f"`{self.rng.choice(names)}`"

    def number(self, depth: int = 0) -> str:
        """A row-level numeric expression."""
        r = self.rng.random()
        if depth > 2 or r < 0.35:
            return self.col(NUMBERS)
        if r < 0.55:
            op = self.rng.choice(["+", "-", "*", "/"])
            right = self.number(depth + 1)
            if op == "/" and self.rng.random() < 0.7:
                right = self.fn("NULLIF", right, "0")
            return f"({self.number(depth + 1)} {op} {right})"
        if r < 0.75:
            name = self.rng.choice(["ABS", "ROUND", "FLOOR", "CEILING", "POWER", "MOD", "TRUNC", "LN"])
            args = {"ROUND": [self.number(depth + 1), str(self.rng.randrange(0, 4))],
                    "POWER": [self.number(depth + 1), "2"], "MOD": [self.number(depth + 1), "7"]}.get(
                name, [self.number(depth + 1)])
            return self.fn(name, *args)
        if r < 0.88:
            return self.fn(self.rng.choice(["IFNULL", "COALESCE"]), self.col(NUMBERS), "0")
        return self.fn(self.rng.choice(["DATEDIFF"]), self.col(DATES), self.col(DATES))

    def text(self) -> str:
        r = self.rng.random()
        if r < 0.4:
            return self.col(TEXTS)
        if r < 0.6:
            return self.fn(self.rng.choice(["UPPER", "LOWER", "TRIM"]), self.col(TEXTS))
        if r < 0.8:
            return self.fn("CONCAT", self.col(TEXTS), "' - '", self.col(TEXTS))
        return self.fn(self.rng.choice(["LEFT", "RIGHT"]), self.col(TEXTS), str(self.rng.randrange(1, 6)))

    def date(self) -> str:
        name = self.rng.choice(["YEAR", "MONTH", "QUARTER", "DAYOFWEEK", "WEEK", "DAY", "LAST_DAY"])
        return self.fn(name, self.col(DATES))

    def aggregate(self) -> str:
        name = self.rng.choice(["SUM", "SUM", "SUM", "AVG", "MIN", "MAX", "COUNT"])
        inner = self.number(1)
        if name == "COUNT" and self.rng.random() < 0.5:
            return f"COUNT(DISTINCT {self.col(TEXTS)})"
        return self.fn(name, inner)

    def condition(self, aggregate: bool) -> str:
        r = self.rng.random()
        if r < 0.4:
            return f"{self.col(TEXTS)} = '{self.rng.choice(['retail', 'mail', 'specialty', 'Brand', 'PAID'])}'"
        if r < 0.7 or not aggregate:
            return f"{self.number(1)} {self.rng.choice(['>', '>=', '<', '<=', '<>'])} {self.rng.randrange(0, 500)}"
        return f"{self.aggregate()} > {self.rng.randrange(1000, 500000)}"

    def case(self, aggregate: bool) -> str:
        whens = " ".join(
            f"WHEN {self.condition(aggregate)} THEN '{label}'"
            for label in self.rng.sample(["High", "Medium", "Low", "Specialty", "Extended"], self.rng.randrange(1, 4))
        )
        return f"CASE {whens} ELSE 'Other' END"

    def formula(self) -> str:
        r = self.rng.random()
        if r < 0.22:  # aggregate ratio, guarded or not
            denominator = self.aggregate()
            if self.rng.random() < 0.75:
                denominator = self.fn("NULLIF", denominator, "0")
            return f"{self.aggregate()} / {denominator}"
        if r < 0.34:
            return self.aggregate()
        if r < 0.46:
            return self.number()
        if r < 0.58:
            return self.case(aggregate=self.rng.random() < 0.3)
        if r < 0.66:
            return self.text()
        if r < 0.74:
            return self.date() if self.rng.random() < 0.6 else self.fn("DATEDIFF", "CURDATE()", self.fn("MAX", self.col(DATES)))
        if r < 0.81:  # window total
            return (f"{self.aggregate()} / NULLIF(SUM({self.aggregate()}) OVER (PARTITION BY {self.col(DIMENSIONS)}), 0)")
        if r < 0.87:  # FIXED
            return (f"SUM({self.col(NUMBERS)}) / NULLIF(MAX(SUM({self.col(NUMBERS)}) FIXED (BY "
                    f"{self.col(DIMENSIONS)})), 0)")
        if r < 0.92:  # the flaws the analyzer looks for
            return self.rng.choice([
                f"{self.fn('YEAR', repr(self.rng.choice(DATES)))}",
                "COUNT(`Claim ID`)",
                f"SUM({self.col(NUMBERS)}) * 0.{self.rng.randrange(10, 99)}",
                f"AVG(1 - {self.col(NUMBERS)} / {self.col(NUMBERS)})",
                "MAX(`Fill Date`) - MIN(`Fill Date`) + 1",
            ])
        if r < 0.97:
            return f"{self.aggregate()} {self.rng.choice(['+', '-', '*'])} {self.aggregate()}"
        return self.rng.choice([  # what an operator pastes that does not parse
            f"SUM({self.col(NUMBERS)}", f"CASE WHEN {self.col(TEXTS)} = 'x' THEN 1", "SUM(`Quantity`) +",
            "SUM(\u2018Quantity\u2019)",
        ])


def generate_formulas(count: int, seed: int) -> list[str]:
    from evidence.samples.catalogue import BEAST_MODES

    maker = FormulaMaker(seed)
    formulas = [bm.formula for bm in BEAST_MODES]
    while len(formulas) < count:
        formulas.append(maker.formula())
    return formulas[:count]


def time_ours(formulas: list[str]) -> tuple[float, dict]:
    from evidence.formulas import analyze

    levels: dict[str, int] = {}
    started = time.perf_counter()
    for formula in formulas:
        analysis = analyze(formula, schema=SCHEMA, used_as="card_value")
        levels[analysis.level or "unparsed"] = levels.get(analysis.level or "unparsed", 0) + 1
    return time.perf_counter() - started, levels


def time_sqlglot(formulas: list[str]) -> tuple[float, int]:
    import sqlglot
    from sqlglot.errors import SqlglotError

    refused = 0
    started = time.perf_counter()
    for formula in formulas:
        try:
            sqlglot.parse_one(formula, read="mysql")
        except SqlglotError:
            refused += 1
    return time.perf_counter() - started, refused


# --- golden ----------------------------------------------------------------------------------------------
HANDWRITTEN = """
SELECT "Client Account",
       "Channel",
       SUM("Ingredient Cost Paid") AS "Ingredient Cost Paid",
       SUM("Ingredient Cost Paid") / NULLIF(SUM(SUM("Ingredient Cost Paid")) OVER (PARTITION BY "Client Account"), 0)
         AS "Share of Client Spend",
       SUM("Ingredient Cost Paid") / NULLIF(ANY_VALUE(client_total), 0) AS "Client Spend Share (FIXED)"
FROM read_parquet('{path}') AS claims
JOIN (SELECT "Client Account", SUM("Ingredient Cost Paid") AS client_total
      FROM read_parquet('{path}')
      WHERE "Channel" IN ('retail', 'mail')
      GROUP BY "Client Account") AS fixed USING ("Client Account")
WHERE "Channel" IN ('retail', 'mail')
GROUP BY "Client Account", "Channel"
ORDER BY 1, 2
"""


def golden_inputs(workdir: Path, rows: int):
    from evidence.intake import leafiq, silver
    from evidence.samples.export import write_sample_export

    started = time.perf_counter()
    summary = write_sample_export(workdir / "export", rows=rows, seed=7, variant="complete")
    assert summary.status == "complete"
    export = summary.path
    raw = json.loads((export / "manifest.json").read_bytes())
    claims_id = summary.datasets["claims"]
    entry = next(e for e in raw["datasets"] if e["id"] == claims_id)
    metadata = leafiq.read_dataset_metadata(export / entry["metadata"], file=entry["metadata"])
    parquet = workdir / "claims.parquet"
    silver.csv_to_parquet(export / entry["data"], [silver.Column(c.name, c.type) for c in metadata.columns], parquet)
    card_id = summary.cards[CARD_KEY]
    card_entry = next(e for e in raw["cards"] if e["id"] == card_id)
    card = leafiq.read_card_definition(export / card_entry["definition"], file=card_entry["definition"])
    from datetime import datetime

    captured_at = datetime.fromisoformat(card_entry["golden_captured_at"])
    beast_modes = {**{b.id: b for b in card.beast_modes}, **{b.id: b for b in metadata.beast_modes}}
    say(f"golden: {rows:,} claims to silver Parquet ({parquet.stat().st_size / 2**20:,.0f} MiB) and card "
        f"{card.title!r} in {time.perf_counter() - started:.0f} s")
    return card, beast_modes, {claims_id: parquet}, export / card_entry["golden"], captured_at, parquet


def time_golden(card, beast_modes, parquet_paths, golden_csv, captured_at):
    from evidence import golden

    started = time.perf_counter()
    comparison = golden.reproduce_card(card, beast_modes=beast_modes, parquet_paths=parquet_paths,
                                       golden_csv=golden_csv, captured_at=captured_at)
    seconds = time.perf_counter() - started
    assert comparison.status == "reproduced", comparison
    return seconds, comparison


def time_handwritten(parquet: Path) -> tuple[float, list[tuple]]:
    import duckdb

    sql = HANDWRITTEN.format(path=str(parquet).replace("'", "''"))
    started = time.perf_counter()
    with duckdb.connect() as connection:
        rows = connection.execute(sql).fetchall()
    return time.perf_counter() - started, rows


def ours_rows(card, beast_modes, parquet_paths, captured_at) -> list[tuple]:
    from evidence.golden import CardQuery

    return CardQuery(card, beast_modes, parquet_paths, captured_at).run()


def same_rows(ours: list[tuple], theirs: list[tuple]) -> bool:
    def norm(row):
        return tuple(round(float(v), 9) if isinstance(v, (int, float)) or hasattr(v, "as_tuple") else v for v in row)
    return sorted(map(norm, ours)) == sorted(map(norm, theirs))


# --- main -----------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    formulas = generate_formulas(args.formulas, args.seed)
    say(f"{len(formulas):,} formulas generated from the catalogue ({sum(map(len, formulas)) / len(formulas):.0f} "
        "characters on average)")
    time_ours(formulas[:200])  # warm-up: imports and sqlglot's lazy tables, on both sides
    time_sqlglot(formulas[:200])
    ours_s, theirs_s = [], []
    levels: dict = {}
    refused = 0
    for round_ in range(args.repeat):
        sides = [("ours", time_ours), ("sqlglot", time_sqlglot)]
        for name, side in sides if round_ % 2 == 0 else reversed(sides):
            seconds, extra = side(formulas)
            if name == "ours":
                ours_s.append(seconds)
                levels = extra
            else:
                theirs_s.append(seconds)
                refused = extra
        say(f"round {round_ + 1}: analyze {len(formulas) / ours_s[-1]:,.0f} formulas/s, "
            f"sqlglot bare parse {len(formulas) / theirs_s[-1]:,.0f}/s")
    rate = len(formulas) / statistics.median(ours_s)
    base = len(formulas) / statistics.median(theirs_s)
    say(f"levels found: {levels}; sqlglot's MySQL dialect refused {refused:,} of them")
    say(f"median: {rate:,.0f} formulas/s analyzed ({'meets' if rate >= FORMULA_GOAL else 'MISSES'} the goal "
        f"{FORMULA_GOAL:,}/s), {base:,.0f} bare parses/s (ratio {rate / base:.2f})")

    workdir = Path(tempfile.mkdtemp(prefix="bench-formulas-"))
    try:
        card, beast_modes, parquet_paths, golden_csv, captured_at, parquet = golden_inputs(workdir, args.rows)
        time_golden(card, beast_modes, parquet_paths, golden_csv, captured_at)  # warm-up (page cache, DuckDB)
        time_handwritten(parquet)
        ours_g, hand_g = [], []
        for round_ in range(args.repeat):
            sides = ["ours", "hand"] if round_ % 2 == 0 else ["hand", "ours"]
            for side in sides:
                if side == "ours":
                    seconds, comparison = time_golden(card, beast_modes, parquet_paths, golden_csv, captured_at)
                    ours_g.append(seconds)
                else:
                    seconds, hand_rows = time_handwritten(parquet)
                    hand_g.append(seconds)
            if round_ == 0:  # the hand-written query gives the rows ours gives
                assert same_rows(ours_rows(card, beast_modes, parquet_paths, captured_at), hand_rows)
            say(f"round {round_ + 1}: golden reproduction {ours_g[-1] * 1000:,.0f} ms "
                f"({comparison.matched}/{comparison.golden_rows} golden rows matched), hand-written DuckDB "
                f"{hand_g[-1] * 1000:,.0f} ms")
        golden_s, hand_s = statistics.median(ours_g), statistics.median(hand_g)
        golden_ratio = hand_s / golden_s
        say(f"median: golden reproduction {golden_s * 1000:,.0f} ms, hand-written {hand_s * 1000:,.0f} ms: "
            f"{golden_s / hand_s:.2f} times ({'within' if golden_s <= GOLDEN_GOAL * hand_s else 'NOT within'} "
            f"{GOLDEN_GOAL} times)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result = {
        "bench": "formulas",
        "value": round(rate),
        "unit": "formulas/s",
        "baseline": round(base),
        "ratio": round(rate / base, 3),
        "formulas": len(formulas),
        "baseline_what": "sqlglot.parse_one(read='mysql'), bare parse",
        "golden_card": card.title,
        "golden_rows": args.rows,
        "golden_seconds": round(golden_s, 3),
        "golden_handwritten_seconds": round(hand_s, 3),
        "golden_ratio": round(golden_ratio, 3),
    }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
