"""Sample Leaf IQ exports (format leafiq-export/1) for a pharmacy-benefit client.

`write_sample_export(out, rows=..., seed=..., variant=...)` writes a folder export that follows
/work/shared/leafiq-export-v1.md exactly. Everything comes from `random.Random` instances seeded
from `seed` (one stream per concern, so ids and contract terms do not move when `rows` changes)
and from `exported_at`; the wall clock is never read, so one seed gives byte-identical files,
manifest included. `write_export_zip` packs a folder into a deterministic zip.

What is inside
--------------
Seven datasets (both metadata shapes: internal for claims, MAC pricing and the Magic ETL output;
public for the others):

- PBM Claims 2025: `rows` claims of four client accounts in plan year 2025, streamed to data.csv
  row by row. Channels retail/mail/specialty, about 20% brand, NDCs as 11-digit text, AWP unit
  price, ingredient cost = AWP x quantity x (1 - discount) with noise or, for generics, the MAC
  price (2% of generic claims paid above MAC), dispensing fees (4% above contract), member and
  plan paid. About 1.5% of claims have no AWP on file (empty field = NULL), generics cheaper than
  the copay are zero-balance (plan paid 0.00), 1.5% of claims are reversed and rebilled (three
  rows, one Claim ID: PAID, REVERSED with negated quantity and amounts, PAID), 0.3% are billed
  twice under a new Claim ID (a duplicate-claim audit finding).
- Contract Terms 2025 (per client x channel x brand/generic: AWP discount guarantee, dispensing
  fee guarantee, rebate per brand claim, period), MAC Pricing (per generic NDC, with effective and
  end dates), Rebate Invoices 2025 (per client, quarter and brand NDC, built from the claims),
  Salesforce Accounts (account id, name, Domo group).
- Guarantee Reconciliation 2025 (output of the MySQL DataFlow) and Brand Scripts by Quarter
  (output of the Magic ETL DataFlow), computed here exactly as their SQL and actions state.

PDP policies on four datasets (claims and reconciliation in the public shape, contract terms and
rebate invoices in the internal shape), each with an "All Rows" open policy and user/group
policies keyed on the client account (one with `not`, one with two values). directory/users.json
and groups.json hold every user and group the policies name.

Ten cards (`CARDS`) using the beast modes of `BEAST_MODES`: ten flawed formulas covering the
eight flaw codes (`PLANTED_FLAWS`) and ten clean ones (`CLEAN_FORMULAS`), among them a window
function and a FIXED function. Nine cards carry golden.csv; "Guarantee Shortfall by Component"
never has one.

Golden outputs: what Domo shows
-------------------------------
Computed from running per-group totals (flat memory), with Domo's semantics, flaws included, as
the export account (a Domo admin, so PDP hides no row) saw them:
- a beast mode without aggregate is row-level and the card SUMs it per group ("Claim Discount
  Rate" is a sum of per-claim ratios); aggregates skip NULLs; SUM over no value is NULL (empty);
- `CASE WHEN SUM(..) > 250000` compares each group's sum;
- `CURDATE()` is the UTC date of the card's `golden_captured_at`;
- `YEAR('Fill Date')` is YEAR of a string literal: NULL, shown as an empty cell;
- `MAX(`Period End`) - MIN(`Period Start`) + 1` follows MySQL: dates subtract as YYYYMMDD numbers
  (20251231 - 20250101 + 1 = 1131, not 365);
- window and FIXED totals are taken over the rows the card's filters keep;
- month grain shows the first day of the month (`YYYY-MM-01`).
Values are formatted deterministically: money (DECIMAL sums) with two decimals, exact; counts as
integers; DOUBLE results rounded to six decimals; NULL as an empty field. Rows follow the card's
orderBy.

Variants
--------
- `complete`: status complete, nothing missing, every file listed with its hash and size.
- `partial`: status partial; `missing` names the golden of "Brand Rebate Estimate" (card render
  timed out) and the policies of Rebate Invoices 2025 (403 on the PDP endpoint). Those two files
  are absent and unlisted, the manifest entries have no `golden`/`policies` key; everything
  present is correct.
- `invalid`: the exporter still says complete, but (1) the golden.csv of "Effective Discount by
  Client" was altered after hashing (one digit changed, same size: HASH_MISMATCH only) and (2) the
  claims data.csv has `Fill Date` = `2025-02-30` on data row min(42, rows) (the listed hash
  matches the file: CSV_BAD_VALUE only).

Money is exact: the claims loop works in scaled integers (cents, AWP in 1e-5 dollars, quantity in
thousandths) because it runs millions of times; every other amount is a Decimal.
"""
from __future__ import annotations

import bisect
import csv
import hashlib
import io
import json
import random
import shutil
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from pathlib import Path

FORMAT = "leafiq-export/1"
DOMO_INSTANCE = "leafhealth.domo.com"
EXPORTER = {"name": "leaf-iq", "version": "4.2.0"}
DEFAULT_EXPORTED_AT = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)
VARIANTS = ("complete", "partial", "invalid")
PLAN_YEAR = 2025
INVALID_BAD_ROW = 42
INVALID_BAD_DATE = "2025-02-30"

CENT = Decimal("0.01")
SIX_PLACES = Decimal("0.000001")
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://leafhealth.example/leafiq-sample")

# --- flaw codes ----------------------------------------------------------------------------------
AGGREGATE_IN_CASE_CONDITION = "AGGREGATE_IN_CASE_CONDITION"
AGGREGATE_OF_ROW_RATIO = "AGGREGATE_OF_ROW_RATIO"
UNGUARDED_DIVISION = "UNGUARDED_DIVISION"
NON_DETERMINISTIC = "NON_DETERMINISTIC"
HARDCODED_ASSUMPTION = "HARDCODED_ASSUMPTION"
COUNT_NOT_DISTINCT_ON_ID = "COUNT_NOT_DISTINCT_ON_ID"
STRING_LITERAL_AS_COLUMN = "STRING_LITERAL_AS_COLUMN"
DATE_ARITHMETIC = "DATE_ARITHMETIC"
FLAW_CODES = (
    AGGREGATE_IN_CASE_CONDITION, AGGREGATE_OF_ROW_RATIO, UNGUARDED_DIVISION, NON_DETERMINISTIC,
    HARDCODED_ASSUMPTION, COUNT_NOT_DISTINCT_ON_ID, STRING_LITERAL_AS_COLUMN, DATE_ARITHMETIC,
)

# Dataset roles.
CLAIMS = "claims"
CONTRACT_TERMS = "contract_terms"
MAC_PRICING = "mac_pricing"
REBATE_INVOICES = "rebate_invoices"
SALESFORCE_ACCOUNTS = "salesforce_accounts"
RECONCILIATION = "reconciliation"
BRAND_SCRIPTS = "brand_scripts"


# --- beast modes ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class BeastMode:
    """One Domo beast mode; `flaw` is the code an analyzer must report, None for a clean formula."""

    key: str
    name: str
    formula: str
    data_type: str
    dataset: str
    persisted: bool  # saved on the dataset (shared) rather than on one card
    contains_aggregation: bool
    flaw: str | None = None
    needs_card_context: bool = False  # the flaw appears only once a card aggregates the expression
    why: str = ""

    @property
    def id(self) -> str:
        return f"calculation_{uuid.uuid5(_ID_NAMESPACE, 'beast-mode/' + self.key)}"


BEAST_MODES: tuple[BeastMode, ...] = (
    # Flawed.
    BeastMode("spend_tier", "Spend Tier",
              "CASE WHEN SUM(`Ingredient Cost Paid`) > 250000 THEN 'High' ELSE 'Low' END",
              "STRING", CLAIMS, False, True, AGGREGATE_IN_CASE_CONDITION,
              why="tiers each group's sum: totals and subtotals disagree with their rows"),
    BeastMode("avg_effective_discount", "Avg Effective Discount",
              "AVG(1 - `Ingredient Cost Paid` / NULLIF(`AWP Unit Price` * `Quantity`, 0))",
              "DOUBLE", CLAIMS, True, True, AGGREGATE_OF_ROW_RATIO,
              why="a straight average of per-claim discounts; the guarantee is 1 - SUM(cost)/SUM(AWP)"),
    BeastMode("claim_discount_rate", "Claim Discount Rate",
              "1 - `Ingredient Cost Paid` / NULLIF(`AWP Unit Price` * `Quantity`, 0)",
              "DOUBLE", CLAIMS, True, False, AGGREGATE_OF_ROW_RATIO, needs_card_context=True,
              why="row-level ratio: the card's default SUM adds up per-claim ratios"),
    BeastMode("rebate_per_brand_claim", "Rebate per Brand Claim",
              "SUM(`Rebate Amount`) / SUM(`Brand Claims`)",
              "DOUBLE", REBATE_INVOICES, False, True, UNGUARDED_DIVISION,
              why="errors (Domo) or NULL (MySQL) when a group has no brand claims"),
    BeastMode("days_since_last_fill", "Days Since Last Fill",
              "DATEDIFF(CURDATE(), MAX(`Fill Date`))",
              "LONG", CLAIMS, False, True, NON_DETERMINISTIC,
              why="depends on the day the card is viewed"),
    BeastMode("est_brand_rebates", "Est. Brand Rebates",
              "SUM(CASE WHEN `Brand/Generic` = 'Brand' THEN 1 ELSE 0 END) * 200",
              "LONG", CLAIMS, False, True, HARDCODED_ASSUMPTION,
              why="$200 per brand claim is a contract term per client and channel, not a constant"),
    BeastMode("guaranteed_discount_17", "Guaranteed Discount (17%)",
              "SUM(`AWP Unit Price` * `Quantity`) * 0.17",
              "DOUBLE", CLAIMS, False, True, HARDCODED_ASSUMPTION,
              why="the guaranteed rate differs by client, channel and brand/generic"),
    BeastMode("claim_count", "Claim Count",
              "COUNT(`Claim ID`)",
              "LONG", CLAIMS, True, True, COUNT_NOT_DISTINCT_ON_ID,
              why="reversal and rebill rows repeat a Claim ID"),
    BeastMode("fill_year", "Fill Year",
              "YEAR('Fill Date')",
              "LONG", CLAIMS, False, False, STRING_LITERAL_AS_COLUMN,
              why="'Fill Date' is a string literal: YEAR of it is NULL"),
    BeastMode("contract_period_days", "Contract Period (days)",
              "MAX(`Period End`) - MIN(`Period Start`) + 1",
              "LONG", CONTRACT_TERMS, False, True, DATE_ARITHMETIC,
              why="dates subtract as YYYYMMDD numbers (1131 for a calendar year); use DATEDIFF"),
    # Clean: none of these may be flagged.
    BeastMode("effective_discount_rate", "Effective Discount Rate",
              "1 - SUM(`Ingredient Cost Paid`) / NULLIF(SUM(`AWP Unit Price` * `Quantity`), 0)",
              "DOUBLE", CLAIMS, True, True),
    BeastMode("distinct_claims", "Distinct Claims",
              "COUNT(DISTINCT `Claim ID`)",
              "LONG", CLAIMS, True, True),
    BeastMode("channel_group", "Channel Group",
              "CASE WHEN `Channel` = 'specialty' THEN 'Specialty' "
              "WHEN `Days Supply` >= 84 THEN 'Extended Supply' ELSE 'Standard' END",
              "STRING", CLAIMS, True, False),
    BeastMode("unit_cost_paid", "Unit Cost Paid",
              "CASE WHEN `Quantity` = 0 THEN NULL ELSE `Ingredient Cost Paid` / `Quantity` END",
              "DOUBLE", CLAIMS, True, False),
    BeastMode("cost_per_unit", "Cost per Unit",
              "SUM(`Ingredient Cost Paid`) / NULLIF(SUM(`Quantity`), 0)",
              "DOUBLE", CLAIMS, True, True),
    BeastMode("share_of_client_spend", "Share of Client Spend",
              "SUM(`Ingredient Cost Paid`) / "
              "NULLIF(SUM(SUM(`Ingredient Cost Paid`)) OVER (PARTITION BY `Client Account`), 0)",
              "DOUBLE", CLAIMS, False, True),
    BeastMode("client_spend_share_fixed", "Client Spend Share (FIXED)",
              "SUM(`Ingredient Cost Paid`) / "
              "NULLIF(MAX(SUM(`Ingredient Cost Paid`) FIXED (BY `Client Account`)), 0)",
              "DOUBLE", CLAIMS, False, True),
    BeastMode("shortfall_share", "Shortfall % of Guarantee",
              "SUM(`Shortfall`) / NULLIF(SUM(`Guaranteed Discount`), 0)",
              "DOUBLE", RECONCILIATION, False, True),
    BeastMode("zero_balance_flag", "Zero Balance",
              "CASE WHEN `Plan Paid` = 0 AND `Member Paid` > 0 THEN 'Zero balance' ELSE 'Plan paid' END",
              "STRING", CLAIMS, True, False),
    BeastMode("brand_share_of_scripts", "Brand Share of Scripts",
              "COUNT(DISTINCT CASE WHEN `Brand/Generic` = 'Brand' THEN `Claim ID` END) / "
              "NULLIF(COUNT(DISTINCT `Claim ID`), 0)",
              "DOUBLE", CLAIMS, True, True),
)
BEAST_MODES_BY_KEY = {bm.key: bm for bm in BEAST_MODES}


@dataclass(frozen=True)
class PlantedFlaw:
    """A beast mode with a known calculation flaw, for checking a formula analyzer."""

    beast_mode_id: str
    name: str
    formula: str
    code: str
    needs_card_context: bool
    why: str


PLANTED_FLAWS: tuple[PlantedFlaw, ...] = tuple(
    PlantedFlaw(bm.id, bm.name, bm.formula, bm.flaw, bm.needs_card_context, bm.why)
    for bm in BEAST_MODES if bm.flaw
)
CLEAN_FORMULAS: tuple[tuple[str, str, str], ...] = tuple(
    (bm.id, bm.name, bm.formula) for bm in BEAST_MODES if not bm.flaw
)


# --- cards ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Col:
    """A card column: a dataset column (`name`) or a beast mode (`formula` key)."""

    name: str | None = None
    formula: str | None = None
    aggregation: str | None = None
    alias: str | None = None
    mapping: str = "VALUE"

    @property
    def header(self) -> str:
        if self.alias:
            return self.alias
        return self.name or BEAST_MODES_BY_KEY[self.formula].name


@dataclass(frozen=True)
class CardSpec:
    key: str
    title: str
    dataset: str
    chart: str
    columns: tuple[Col, ...]
    group_by: tuple[Col, ...]
    order_by: tuple[tuple[Col, str], ...]
    filters: tuple[dict, ...] = ()
    date_grain: str | None = None
    golden: bool = True
    big_number: Col | None = None


def _bm(key: str, mapping: str = "VALUE") -> Col:
    return Col(formula=key, alias=BEAST_MODES_BY_KEY[key].name, mapping=mapping)


_CLIENT_ITEM = Col(name="Client Account", mapping="ITEM")
_CHANNEL_SERIES = Col(name="Channel", mapping="SERIES")

CARDS: tuple[CardSpec, ...] = (
    CardSpec("effective_discount", "Effective Discount by Client", CLAIMS, "badge_vert_bar",
             (_CLIENT_ITEM, _bm("avg_effective_discount"), _bm("effective_discount_rate")),
             (_CLIENT_ITEM,), ((_CLIENT_ITEM, "ASCENDING"),),
             big_number=_bm("effective_discount_rate")),
    CardSpec("monthly_discount", "Monthly Discount Rate by Channel", CLAIMS, "badge_line",
             (Col(name="Fill Date", mapping="ITEM"), _CHANNEL_SERIES, _bm("claim_discount_rate")),
             (Col(name="Fill Date"), Col(name="Channel")),
             ((Col(name="Fill Date"), "ASCENDING"), (Col(name="Channel"), "ASCENDING")),
             date_grain="MONTH"),
    CardSpec("spend_tier", "Spend Tier by Client and Channel", CLAIMS, "badge_table",
             (_CLIENT_ITEM, Col(name="Channel", mapping="ITEM"),
              Col(name="Ingredient Cost Paid", aggregation="SUM"), _bm("spend_tier"), _bm("cost_per_unit")),
             (Col(name="Client Account"), Col(name="Channel")),
             ((Col(name="Client Account"), "ASCENDING"), (Col(name="Channel"), "ASCENDING"))),
    CardSpec("brand_rebate_estimate", "Brand Rebate Estimate", CLAIMS, "badge_table",
             (_CLIENT_ITEM, _bm("claim_count"), _bm("distinct_claims"), _bm("est_brand_rebates"),
              _bm("guaranteed_discount_17")),
             (_CLIENT_ITEM,), ((_CLIENT_ITEM, "ASCENDING"),)),
    CardSpec("rebate_per_claim", "Rebate per Brand Claim by Quarter", REBATE_INVOICES, "badge_vert_groupedbar",
             (_CLIENT_ITEM, Col(name="Quarter", mapping="SERIES"),
              Col(name="Rebate Amount", aggregation="SUM"), Col(name="Brand Claims", aggregation="SUM"),
              _bm("rebate_per_brand_claim")),
             (Col(name="Client Account"), Col(name="Quarter")),
             ((Col(name="Client Account"), "ASCENDING"), (Col(name="Quarter"), "ASCENDING"))),
    CardSpec("recent_activity", "Recent Activity by Channel Group", CLAIMS, "badge_table",
             (_bm("channel_group", "ITEM"), _bm("fill_year", "SERIES"), _bm("days_since_last_fill"),
              _bm("distinct_claims")),
             (Col(formula="channel_group"), Col(formula="fill_year")),
             ((Col(formula="channel_group"), "ASCENDING"),)),
    CardSpec("paid_by_channel", "Paid Amounts by Channel", CLAIMS, "badge_vert_stackedbar",
             (Col(name="Channel", mapping="ITEM"), Col(name="Brand/Generic", mapping="SERIES"),
              Col(name="Ingredient Cost Paid", aggregation="SUM", alias="Ingredient Cost"),
              Col(name="Dispensing Fee Paid", aggregation="SUM")),
             (Col(name="Channel"), Col(name="Brand/Generic")),
             ((Col(name="Channel"), "ASCENDING"), (Col(name="Brand/Generic"), "ASCENDING"))),
    CardSpec("client_spend_share", "Client Spend Share, Retail and Mail", CLAIMS, "badge_table",
             (_CLIENT_ITEM, Col(name="Channel", mapping="ITEM"),
              Col(name="Ingredient Cost Paid", aggregation="SUM"),
              _bm("share_of_client_spend"), _bm("client_spend_share_fixed")),
             (Col(name="Client Account"), Col(name="Channel")),
             ((Col(name="Client Account"), "ASCENDING"), (Col(name="Channel"), "ASCENDING")),
             filters=({"column": "Channel", "operator": "IN", "values": ["retail", "mail"], "not": False,
                       "dataType": "STRING"},)),
    CardSpec("contract_period", "Contract Period by Client", CONTRACT_TERMS, "badge_table",
             (_CLIENT_ITEM, _bm("contract_period_days"),
              Col(name="Dispensing Fee Guarantee", aggregation="MAX")),
             (_CLIENT_ITEM,), ((_CLIENT_ITEM, "ASCENDING"),)),
    CardSpec("shortfall_by_component", "Guarantee Shortfall by Component", RECONCILIATION, "badge_hor_bar",
             (_CLIENT_ITEM, Col(name="Component", mapping="SERIES"),
              Col(name="Guaranteed Discount", aggregation="SUM"), Col(name="Shortfall", aggregation="SUM"),
              _bm("shortfall_share")),
             (Col(name="Client Account"), Col(name="Component")),
             ((Col(name="Shortfall"), "DESCENDING"),), golden=False),
)
CARDS_BY_KEY = {card.key: card for card in CARDS}
PARTIAL_MISSING_GOLDEN = "brand_rebate_estimate"
PARTIAL_MISSING_POLICIES = REBATE_INVOICES
INVALID_TAMPERED_GOLDEN = "effective_discount"


# --- the client book -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Client:
    account_id: str  # Salesforce 18-character account id
    name: str
    short: str
    member_prefix: str
    weight: float
    industry: str
    state: str
    covered_lives: int
    guarantee_basis: str
    excludes_zero_balance: bool

    @property
    def domo_group(self) -> str:
        return f"{self.name} - Benefits"


CLIENTS: tuple[Client, ...] = (
    Client("0015e00000Qm7AcAAJ", "ACME Manufacturing", "ACME", "ACM", 0.42, "Manufacturing", "OH", 18400,
           "combined", True),
    Client("0015e00000Qm7BwAAJ", "Bluewater County Schools", "BWCS", "BWC", 0.27, "Education", "MI", 11250,
           "per-component", False),
    Client("0015e00000Qm7CaAAJ", "Cascade Health Partners", "CHP", "CHP", 0.19, "Healthcare", "WA", 7900,
           "combined", True),
    Client("0015e00000Qm7SlAAJ", "Summit Logistics Group", "SLG", "SLG", 0.12, "Transportation", "CO", 4600,
           "per-component", False),
)
PROSPECT = ("0015e00000Qn2RvAAJ", "Riverbend Credit Union", "Financial Services", "MN", 2100)
CHANNELS = ("retail", "mail", "specialty")
BRAND, GENERIC = "Brand", "Generic"

# Contract terms by (channel, is_brand): AWP discount guarantee (basis points), dispensing fee
# guarantee (cents), rebate guarantee per brand claim (cents), member copay (cents; 30-day, 90-day).
_BASE_TERMS = {
    ("retail", True): (1750, 125, 20000, 4000, 8000),
    ("retail", False): (8200, 150, None, 500, 1000),
    ("mail", True): (2300, 0, 32500, 8000, 8000),
    ("mail", False): (8600, 0, None, 1000, 1000),
    ("specialty", True): (1700, 125, 185000, 10000, 10000),
    ("specialty", False): (5000, 125, None, 5000, 5000),
}


@dataclass(frozen=True)
class Drug:
    name: str
    brand: bool
    specialty: bool
    awp: str  # catalogue AWP per unit
    qty: str  # quantity per base fill
    base_days: int
    manufacturer: str
    rebate: str | None = None  # manufacturer rebate per brand claim


_GENERIC_MAKERS = ("Meridian Generics", "Crestline Pharmaceuticals", "Harbor Labs")
DRUGS: tuple[Drug, ...] = (
    Drug("Atorvastatin Calcium 20 MG Tablet", False, False, "2.10", "30", 30, ""),
    Drug("Lisinopril 10 MG Tablet", False, False, "0.95", "30", 30, ""),
    Drug("Metformin HCl 500 MG Tablet", False, False, "0.48", "60", 30, ""),
    Drug("Amlodipine Besylate 5 MG Tablet", False, False, "1.05", "30", 30, ""),
    Drug("Omeprazole 20 MG Capsule DR", False, False, "2.65", "30", 30, ""),
    Drug("Levothyroxine Sodium 50 MCG Tablet", False, False, "1.20", "30", 30, ""),
    Drug("Sertraline HCl 50 MG Tablet", False, False, "1.95", "30", 30, ""),
    Drug("Losartan Potassium 50 MG Tablet", False, False, "1.60", "30", 30, ""),
    Drug("Gabapentin 300 MG Capsule", False, False, "0.88", "90", 30, ""),
    Drug("Rosuvastatin Calcium 10 MG Tablet", False, False, "3.40", "30", 30, ""),
    Drug("Montelukast Sodium 10 MG Tablet", False, False, "2.90", "30", 30, ""),
    Drug("Albuterol Sulfate HFA 90 MCG/ACT Inhaler", False, False, "6.15", "8.5", 30, ""),
    Drug("Fluticasone Propionate 50 MCG/ACT Nasal Spray", False, False, "1.45", "16", 30, ""),
    Drug("Apixaban 5 MG Tablet", True, False, "9.85", "60", 30, "Northfield Pharma", "160"),
    Drug("Sitagliptin 100 MG Tablet", True, False, "19.40", "30", 30, "Northfield Pharma", "140"),
    Drug("Empagliflozin 10 MG Tablet", True, False, "22.10", "30", 30, "Lakeshore Therapeutics", "150"),
    Drug("Rivaroxaban 20 MG Tablet", True, False, "19.75", "30", 30, "Lakeshore Therapeutics", "130"),
    Drug("Dulaglutide 1.5 MG/0.5 ML Pen", True, False, "550.00", "2", 28, "Alder Biosciences", "480"),
    Drug("Insulin Glargine 100 UNIT/ML Pen", True, False, "29.40", "15", 30, "Alder Biosciences", "220"),
    Drug("Fluticasone-Salmeterol 250-50 MCG Inhaler", True, False, "6.95", "60", 30, "Kestrel Respiratory", "95"),
    Drug("Adalimumab 40 MG/0.4 ML Pen", True, True, "17850.00", "0.8", 28, "Keystone Biologics", "4200"),
    Drug("Etanercept 50 MG/ML Syringe", True, True, "1780.00", "4", 28, "Keystone Biologics", "2100"),
    Drug("Ustekinumab 90 MG/ML Syringe", True, True, "27200.00", "1", 84, "Sable Immunology", "6100"),
    Drug("Dupilumab 300 MG/2 ML Pen", True, True, "945.00", "4", 28, "Sable Immunology", "900"),
    Drug("Apremilast 30 MG Tablet", True, True, "82.50", "60", 30, "Kestrel Respiratory", "1100"),
    Drug("Imatinib Mesylate 400 MG Tablet", False, True, "98.00", "30", 30, ""),
    Drug("Teriflunomide 14 MG Tablet", False, True, "71.00", "30", 30, ""),
    Drug("Glatiramer Acetate 40 MG/ML Syringe", False, True, "640.00", "12", 28, ""),
)


# --- small helpers -------------------------------------------------------------------------------
def _rng(seed: int, stream: str) -> random.Random:
    # str seeds hash with SHA-512 (version 2): stable across runs and Python builds.
    return random.Random(f"leafiq-sample:{seed}:{stream}")


def _uuid4(rnd: random.Random) -> str:
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch_ms(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(milliseconds=1)


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _thousandths(value: int) -> str:
    sign = "-" if value < 0 else ""
    value = abs(value)
    whole, frac = divmod(value, 1000)
    return f"{sign}{whole}" if not frac else f"{sign}{whole}.{frac:03d}".rstrip("0")


def _dec(value: Decimal | None, places: Decimal = CENT) -> str:
    return "" if value is None else str(value.quantize(places, rounding=ROUND_HALF_UP))


def _double(value: Decimal | float | None) -> str:
    if value is None:
        return ""
    text = str(Decimal(value).quantize(SIX_PLACES, rounding=ROUND_HALF_EVEN))
    return "0.000000" if text == "-0.000000" else text


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _luhn_npi(body9: str) -> str:
    digits = [int(d) for d in "80840" + body9]
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2 == 0:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return body9 + str((10 - total % 10) % 10)


def _json_bytes(obj) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


class _HashingSink(io.RawIOBase):
    """A binary file that hashes and counts what goes through it."""

    def __init__(self, raw):
        self._raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self._raw.write(data)


class _Files:
    """Writes the export's files and remembers each one's path, SHA-256 and size."""

    def __init__(self, root: Path):
        self.root = root
        self.listed: dict[str, tuple[str, int]] = {}

    def write(self, relpath: str, data: bytes) -> None:
        target = self.root / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        self.listed[relpath] = (hashlib.sha256(data).hexdigest(), len(data))

    @contextmanager
    def csv_stream(self, relpath: str) -> Iterator[csv.writer]:
        target = self.root / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as raw:
            sink = _HashingSink(raw)
            text = io.TextIOWrapper(io.BufferedWriter(sink, buffer_size=1 << 20), encoding="utf-8", newline="")
            yield csv.writer(text, lineterminator="\r\n")
            text.flush()
            text.detach().flush()
        self.listed[relpath] = (sink.sha256.hexdigest(), sink.size)


# --- the world: ids, people, catalogue, terms ----------------------------------------------------
@dataclass
class _Dataset:
    role: str
    id: str
    name: str
    description: str
    columns: list[tuple[str, str]]
    shape: str  # "public" | "internal"
    policy_shape: str | None  # "public" | "internal" | None
    provider: str
    rows: int = 0

    @property
    def folder(self) -> str:
        return f"datasets/{self.id}"


_SCHEMAS = {
    CLAIMS: [
        ("Claim ID", "STRING"), ("Claim Status", "STRING"), ("Client Account ID", "STRING"),
        ("Client Account", "STRING"), ("Member ID", "STRING"), ("Pharmacy NPI", "STRING"), ("Channel", "STRING"),
        ("NDC", "STRING"), ("Drug Name", "STRING"), ("Brand/Generic", "STRING"), ("Fill Date", "DATE"),
        ("Adjudicated At", "DATETIME"), ("Days Supply", "LONG"), ("Quantity", "DOUBLE"),
        ("AWP Unit Price", "DECIMAL"), ("Ingredient Cost Paid", "DECIMAL"), ("Dispensing Fee Paid", "DECIMAL"),
        ("Member Paid", "DECIMAL"), ("Plan Paid", "DECIMAL"),
    ],
    CONTRACT_TERMS: [
        ("Contract ID", "STRING"), ("Client Account ID", "STRING"), ("Client Account", "STRING"),
        ("Component", "STRING"), ("Channel", "STRING"), ("Brand/Generic", "STRING"),
        ("AWP Discount Guarantee", "DECIMAL"), ("Dispensing Fee Guarantee", "DECIMAL"),
        ("Rebate per Brand Claim", "DECIMAL"), ("Guarantee Basis", "STRING"), ("Excludes Zero Balance", "STRING"),
        ("Period Start", "DATE"), ("Period End", "DATE"),
    ],
    MAC_PRICING: [
        ("MAC List", "STRING"), ("NDC", "STRING"), ("Drug Name", "STRING"), ("MAC Unit Price", "DECIMAL"),
        ("Effective Date", "DATE"), ("End Date", "DATE"), ("Loaded At", "DATETIME"),
    ],
    REBATE_INVOICES: [
        ("Invoice ID", "STRING"), ("Client Account ID", "STRING"), ("Client Account", "STRING"),
        ("Quarter", "STRING"), ("NDC", "STRING"), ("Drug Name", "STRING"), ("Manufacturer", "STRING"),
        ("Brand Claims", "LONG"), ("Rebate Amount", "DECIMAL"), ("Invoice Date", "DATE"),
    ],
    SALESFORCE_ACCOUNTS: [
        ("Account ID", "STRING"), ("Account Name", "STRING"), ("Type", "STRING"), ("Industry", "STRING"),
        ("Billing State", "STRING"), ("Covered Lives", "LONG"), ("Domo Group", "STRING"),
        ("Plan Year Start", "DATE"), ("Last Modified", "DATETIME"),
    ],
    RECONCILIATION: [
        ("Client Account", "STRING"), ("Component", "STRING"), ("Channel", "STRING"), ("Brand/Generic", "STRING"),
        ("Claims", "LONG"), ("AWP Amount", "DECIMAL"), ("Ingredient Cost Paid", "DECIMAL"),
        ("Guaranteed Rate", "DECIMAL"), ("Guaranteed Discount", "DECIMAL"), ("Actual Discount", "DECIMAL"),
        ("Shortfall", "DECIMAL"), ("Dispensing Fees Paid", "DECIMAL"), ("Guaranteed Fees", "DECIMAL"),
        ("Period Start", "DATE"), ("Period End", "DATE"),
    ],
    BRAND_SCRIPTS: [
        ("Client Account", "STRING"), ("Quarter", "STRING"), ("Brand Scripts", "LONG"),
        ("Brand Ingredient Cost", "DECIMAL"),
    ],
}
_DATASET_INFO = {
    # role: (name, description, metadata shape, policy shape, provider)
    CLAIMS: ("PBM Claims 2025", "Adjudicated pharmacy claims from the PBM's monthly claims feed, plan year 2025.",
             "internal", "public", "sftp"),
    CONTRACT_TERMS: ("Contract Terms 2025", "Pharmacy rate guarantees per client and component, keyed from the "
                     "executed PBM contracts.", "public", "internal", "webform"),
    MAC_PRICING: ("MAC Pricing", "PBM maximum allowable cost list LEAF-MAC, every price change with its "
                  "effective dates.", "internal", None, "sftp"),
    REBATE_INVOICES: ("Rebate Invoices 2025", "Manufacturer rebate invoices passed through by the PBM, per "
                      "client, quarter and NDC.", "public", "internal", "sftp"),
    SALESFORCE_ACCOUNTS: ("Salesforce Accounts", "Client accounts from Salesforce with their Domo access group.",
                          "public", None, "salesforce"),
    RECONCILIATION: ("Guarantee Reconciliation 2025", "AWP discount and dispensing fee guarantees against "
                     "claims, per client and component (MySQL DataFlow).", "public", "public", "dataflow"),
    BRAND_SCRIPTS: ("Brand Scripts by Quarter", "Net brand scripts and ingredient cost per client and quarter "
                    "(Magic ETL).", "internal", None, "dataflow"),
}

_USERS = (
    # key, name, email, role, title
    ("sam", "Sam Okafor", "sam.okafor@leafhealth.com", "Admin", "Data Engineer"),
    ("priya", "Priya Raman", "priya.raman@leafhealth.com", "Admin", "Analytics Lead"),
    ("marcus", "Marcus Bell", "marcus.bell@leafhealth.com", "Privileged", "Regional Account Manager, West"),
    ("grace", "Grace Liu", "grace.liu@harborbenefits.com", "Participant", "Benefits Consultant"),
    ("dana", "Dana Whitfield", "dwhitfield@acme-mfg.com", "Participant", "Benefits Director"),
    ("luis", "Luis Ortega", "lortega@bluewaterschools.org", "Participant", "HR Benefits Manager"),
    ("hannah", "Hannah Cho", "hcho@cascadehp.org", "Participant", "Pharmacy Director"),
    ("tom", "Tom Becker", "tom.becker@summitlogistics.com", "Participant", "Total Rewards Manager"),
)
_CLIENT_USERS = {"ACME": ("dana",), "BWCS": ("luis",), "CHP": ("hannah",), "SLG": ("tom",)}
_ANALYTICS_GROUP = "Leaf Health Analytics"


@dataclass
class _World:
    seed: int
    exported_at: datetime
    datasets: dict[str, _Dataset]
    card_ids: dict[str, int]
    dataflow_ids: dict[str, int]
    user_ids: dict[str, int]
    group_ids: dict[str, int]  # group name -> id
    group_members: dict[str, list[int]]
    ndcs: list[str]  # parallel to DRUGS, first NDC
    generic_ndcs: dict[int, list[str]]  # drug index -> NDCs (generics have two labelers)
    awp_e5: list[int]  # per NDC slot, see _ndc_slots
    ndc_slots: list[tuple[int, str]]  # (drug index, NDC)
    terms: dict[tuple[int, str, bool], tuple[int, int, int | None]]  # (client, channel, brand) -> terms
    mac_rows: list[tuple[int, str, int, date, date | None]]  # slot, ndc, mac_e5, start, end


def _distinct(rnd: random.Random, taken: set[int], low: int, high: int) -> int:
    while (value := rnd.randrange(low, high)) in taken:
        pass
    taken.add(value)
    return value


def _build_world(seed: int, exported_at: datetime) -> _World:
    ids = _rng(seed, "ids")
    datasets = {}
    for role, columns in _SCHEMAS.items():
        name, description, shape, policy_shape, provider = _DATASET_INFO[role]
        datasets[role] = _Dataset(role, _uuid4(ids), name, description, list(columns), shape, policy_shape, provider)
    taken: set[int] = set()
    card_ids = {card.key: _distinct(ids, taken, 1_000_000_000, 2_000_000_000) for card in CARDS}
    first_flow = ids.randrange(100, 900)
    dataflow_ids = {"reconciliation": first_flow, "brand_scripts": first_flow + ids.randrange(1, 40)}
    user_ids = {key: _distinct(ids, taken, 1_000_000_000, 2_000_000_000) for key, *_ in _USERS}
    group_names = [_ANALYTICS_GROUP] + [client.domo_group for client in CLIENTS]
    group_ids = {name: _distinct(ids, taken, 1_000_000, 2_000_000_000) for name in group_names}
    group_members = {_ANALYTICS_GROUP: [user_ids["sam"], user_ids["priya"]]}
    for client in CLIENTS:
        group_members[client.domo_group] = [user_ids[key] for key in _CLIENT_USERS[client.short]]

    catalog = _rng(seed, "catalog")
    makers = sorted({drug.manufacturer for drug in DRUGS if drug.manufacturer} | set(_GENERIC_MAKERS))
    labelers = {}
    for maker in makers:
        # Old generic labelers have low codes (00093, 00378...): NDCs with leading zeros.
        high = 1000 if maker in _GENERIC_MAKERS else 99999
        while (code := f"{catalog.randrange(1, high):05d}") in labelers.values():
            pass
        labelers[maker] = code
    ndc_slots: list[tuple[int, str]] = []
    awp_e5: list[int] = []
    used: set[str] = set()
    for index, drug in enumerate(DRUGS):
        makers_of = [drug.manufacturer] if drug.brand else catalog.sample(_GENERIC_MAKERS, 2)
        for maker in makers_of:
            while True:
                package = catalog.choice((1, 2, 5, 10, 30, 90))
                ndc = f"{labelers[maker]}{catalog.randrange(1, 10000):04d}{package:02d}"  # 5-4-2
                if ndc not in used:
                    break
            used.add(ndc)
            ndc_slots.append((index, ndc))
            base = int(Decimal(drug.awp) * 100000)
            awp_e5.append(base * catalog.randrange(9400, 10600) // 10000)
    ndcs = [next(ndc for i, ndc in ndc_slots if i == index) for index in range(len(DRUGS))]
    generic_ndcs = {index: [ndc for i, ndc in ndc_slots if i == index] for index in range(len(DRUGS))}

    terms_rng = _rng(seed, "terms")
    terms = {}
    for ci, client in enumerate(CLIENTS):
        shift = terms_rng.choice((-50, 0, 0, 25, 50))
        for (channel, is_brand), (rate_bp, fee, rebate, *_copays) in _BASE_TERMS.items():
            rebate_c = None if rebate is None else rebate + terms_rng.choice((-2500, 0, 0, 2500)) * (
                10 if channel == "specialty" else 1)
            fee_c = fee + (terms_rng.choice((0, 0, -25, 25)) if fee else 0)
            terms[(ci, channel, is_brand)] = (rate_bp + shift, fee_c, rebate_c)

    mac = _rng(seed, "mac")
    mac_rows = []
    for slot, (index, ndc) in enumerate(ndc_slots):
        if DRUGS[index].brand:
            continue
        starts = [date(2024, 10, 1), date(2025, 1, 1)]
        for _ in range(mac.randrange(1, 4)):
            starts.append(date(2025, 1, 1) + timedelta(days=mac.randrange(30, 330)))
        starts = sorted(set(starts))
        factor = mac.randrange(900, 2000)  # MAC as a share of AWP, in tenths of a percent... of 10000
        for position, start in enumerate(starts):
            end = starts[position + 1] - timedelta(days=1) if position + 1 < len(starts) else None
            factor = max(600, factor + mac.randrange(-250, 200))
            mac_rows.append((slot, ndc, awp_e5[slot] * factor // 10000, start, end))
    return _World(seed, exported_at, datasets, card_ids, dataflow_ids, user_ids, group_ids, group_members,
                  ndcs, generic_ndcs, awp_e5, ndc_slots, terms, mac_rows)


# --- claims: streamed, with running per-group totals ---------------------------------------------
# One totals list per (client, channel, is_brand, month, extended_supply) group.
(T_ROWS, T_DISTINCT, T_NET, T_ICP, T_FEE, T_QTY, T_AWP_EXT, T_ICP_AWP, T_FEE_AWP, T_NET_AWP, T_RATIO_SUM,
 T_RATIO_N, T_MAX_DAY) = range(13)
_T_SIZE = 13


@dataclass
class _Totals:
    groups: dict[tuple[int, int, int, int, int], list] = field(default_factory=dict)
    # (client, quarter, ndc slot) -> net brand scripts
    brand_scripts: dict[tuple[int, int, int], int] = field(default_factory=dict)

    def select(self, **fixed) -> Iterator[tuple[tuple, list]]:
        names = ("client", "channel", "brand", "month", "extended")
        for key, totals in self.groups.items():
            if all(key[names.index(name)] == value for name, value in fixed.items()):
                yield key, totals


def _write_claims(files: _Files, world: _World, rows: int, bad_row: int | None) -> _Totals:
    rnd = _rng(world.seed, "claims")
    totals = _Totals()
    groups = totals.groups
    brand_scripts = totals.brand_scripts

    day0 = date(PLAN_YEAR, 1, 1).toordinal()
    day_text = [date.fromordinal(day0 + i).isoformat() for i in range(400)]
    day_month = [date.fromordinal(day0 + i).month for i in range(400)]

    client_cum = []
    running = 0.0
    for client in CLIENTS:
        running += client.weight
        client_cum.append(running)
    member_pool = [max(25, int(rows * client.weight / 6)) for client in CLIENTS]

    npi_rnd = _rng(world.seed, "pharmacies")
    pharmacies = {
        "retail": [_luhn_npi(f"1{npi_rnd.randrange(0, 100_000_000):08d}") for _ in range(120)],
        "mail": [_luhn_npi(f"1{npi_rnd.randrange(0, 100_000_000):08d}") for _ in range(2)],
        "specialty": [_luhn_npi(f"1{npi_rnd.randrange(0, 100_000_000):08d}") for _ in range(3)],
    }

    # Per NDC slot and fill kind (0 = base fill, 1 = extended 84/90-day): days, quantity text,
    # negated quantity text, quantity in thousandths, quantity as the double Domo reads.
    slots = []
    for slot, (index, ndc) in enumerate(world.ndc_slots):
        drug = DRUGS[index]
        qty_e3 = int(Decimal(drug.qty) * 1000)
        kinds = []
        for multiplier in (1, 3):
            q = qty_e3 * multiplier
            days = drug.base_days * multiplier
            kinds.append((str(days), _thousandths(q), _thousandths(-q), q, q / 1000, days >= 84))
        awp = world.awp_e5[slot]
        slots.append((index, ndc, drug.name, BRAND if drug.brand else GENERIC, drug.brand, awp,
                      f"{awp // 100000}.{awp % 100000:05d}", awp / 100000, kinds))
    by_kind = {"retail_generic": [], "retail_brand": [], "specialty_brand": [], "specialty_generic": []}
    for slot, entry in enumerate(slots):
        drug = DRUGS[entry[0]]
        if drug.specialty:
            by_kind["specialty_brand" if drug.brand else "specialty_generic"].append(slot)
        else:
            by_kind["retail_brand" if drug.brand else "retail_generic"].append(slot)

    # MAC in force per generic slot and plan day (mac_e5), from the MAC list.
    mac_by_day: dict[int, list[int]] = {}
    for slot, _ndc, mac_e5, start, end in world.mac_rows:
        prices = mac_by_day.setdefault(slot, [0] * 400)
        first = max(0, start.toordinal() - day0)
        last = 399 if end is None else min(399, end.toordinal() - day0)
        for day in range(first, last + 1):
            prices[day] = mac_e5

    terms = world.terms
    copay = {(channel, is_brand, extended): values[4 if extended else 3]
             for (channel, is_brand), values in _BASE_TERMS.items() for extended in (False, True)}
    clients = [(client.account_id, client.name, client.member_prefix) for client in CLIENTS]

    relpath = f"{world.datasets[CLAIMS].folder}/data.csv"
    with files.csv_stream(relpath) as writer:
        writer.writerow([name for name, _type in _SCHEMAS[CLAIMS]])
        random_ = rnd.random
        claim_seq = rnd.randrange(100_000_000, 400_000_000)
        written = 0

        def account(key, sign, first, icp, fee, qty_e3, awp_ext, ratio, day):
            s = groups.get(key)
            if s is None:
                s = groups[key] = [0] * _T_SIZE
                s[T_RATIO_SUM] = 0.0
                s[T_MAX_DAY] = -1
            s[T_ROWS] += 1
            s[T_DISTINCT] += first
            s[T_NET] += sign
            s[T_ICP] += icp
            s[T_FEE] += fee
            s[T_QTY] += qty_e3
            if awp_ext is not None:
                s[T_AWP_EXT] += awp_ext
                s[T_ICP_AWP] += icp
                s[T_FEE_AWP] += fee
                s[T_NET_AWP] += sign
                s[T_RATIO_SUM] += ratio
                s[T_RATIO_N] += 1
            if day > s[T_MAX_DAY]:
                s[T_MAX_DAY] = day

        def price(slot_entry, ci, channel, extended, day, mac_row):
            """Ingredient cost, fee, member paid and plan paid (cents) of one fill."""
            index, _ndc, _name, _bg, is_brand, awp, _awp_text, _awp_f, kinds = slot_entry
            qty_e3 = kinds[extended][3]
            rate_bp, fee_c, _rebate = terms[(ci, channel, is_brand)]
            ext_e8 = awp * qty_e3
            if is_brand:
                discount = rate_bp - 150 + int(random_() * 250)
                icp_e12 = ext_e8 * (10000 - discount)
            else:
                discount = rate_bp + int(random_() * 500)
                icp_e12 = ext_e8 * (10000 - discount)
                if mac_row is not None:
                    mac_e12 = mac_row[day] * qty_e3 * 10000
                    if random_() < 0.02:
                        icp_e12 = mac_e12 * (10500 + int(random_() * 3500)) // 10000  # paid above MAC
                    elif mac_e12 < icp_e12:
                        icp_e12 = mac_e12
            icp = (icp_e12 + 5_000_000_000) // 10_000_000_000
            fee = fee_c + 50 + int(random_() * 175) if random_() < 0.04 else fee_c
            total = icp + fee
            member_share = copay[(channel, is_brand, bool(extended))]
            if total <= member_share:  # zero-balance: the member paid it all
                return icp, fee, total, 0, ext_e8
            return icp, fee, member_share, total - member_share, ext_e8

        while written < rows:
            remaining = rows - written
            r = random_()
            ci = bisect.bisect_right(client_cum, r * client_cum[-1])
            ci = min(ci, len(CLIENTS) - 1)
            account_id, account_name, member_prefix = clients[ci]
            r = random_()
            if r < 0.70:
                channel, chi = "retail", 0
                pool = by_kind["retail_brand"] if random_() < 0.14 else by_kind["retail_generic"]
                extended = 1 if random_() < 0.25 else 0
            elif r < 0.92:
                channel, chi = "mail", 1
                pool = by_kind["retail_brand"] if random_() < 0.20 else by_kind["retail_generic"]
                extended = 1
            else:
                channel, chi = "specialty", 2
                pool = by_kind["specialty_brand"] if random_() < 0.85 else by_kind["specialty_generic"]
                extended = 0
            slot = pool[int(random_() * len(pool))]
            entry = slots[slot]
            index, ndc, drug_name, brand_generic, is_brand, awp, awp_text, awp_f, kinds = entry
            days_text, qty_text, neg_qty_text, qty_e3, qty_f, is_extended = kinds[extended]
            day = int(random_() * 365)
            fill_text = day_text[day]
            month = day_month[day]
            member_id = f"{member_prefix}{int(random_() * member_pool[ci]) + 1:07d}"
            npis = pharmacies[channel]
            npi = npis[int(random_() * len(npis))]
            has_awp = random_() >= 0.015
            awp_field = awp_text if has_awp else ""
            mac_row = mac_by_day.get(slot)
            key = (ci, chi, 1 if is_brand else 0, month, 1 if is_extended else 0)
            seconds = 25200 + int(random_() * 50400)
            adjudicated = f"{fill_text}T{_clock(seconds)}"
            icp, fee, member_paid, plan_paid, ext_e8 = price(entry, ci, channel, extended, day, mac_row)
            claim_seq += 1 + int(random_() * 3)
            claim_id = f"RX{PLAN_YEAR}{claim_seq:010d}"
            ratio = 1.0 - (icp / 100) / (awp_f * qty_f) if has_awp else 0.0
            awp_ext = ext_e8 if has_awp else None
            event = random_()

            fields = [claim_id, "PAID", account_id, account_name, member_id, npi, channel, ndc, drug_name,
                      brand_generic, fill_text, adjudicated, days_text, qty_text, awp_field, _money(icp),
                      _money(fee), _money(member_paid), _money(plan_paid)]
            out = [fields]
            account(key, 1, 1, icp, fee, qty_e3, awp_ext, ratio, day)
            if is_brand:
                bkey = (ci, (month - 1) // 3, slot)
                brand_scripts[bkey] = brand_scripts.get(bkey, 0) + 1
            if event < 0.015 and remaining >= 3:
                # Reversed and rebilled: same Claim ID, a REVERSED row negating the first, then a
                # repriced PAID row.
                later = day_text[day + 1 + int(random_() * 6)]
                reversed_at = f"{later}T{_clock(seconds)}"
                rebilled_at = f"{later}T{_clock(seconds + 240 + int(random_() * 1500))}"
                out.append([claim_id, "REVERSED", account_id, account_name, member_id, npi, channel, ndc,
                            drug_name, brand_generic, fill_text, reversed_at, days_text, neg_qty_text, awp_field,
                            _money(-icp), _money(-fee), _money(-member_paid), _money(-plan_paid)])
                account(key, -1, 0, -icp, -fee, -qty_e3,
                        None if awp_ext is None else -awp_ext, ratio, day)
                icp2, fee2, member2, plan2, _ext = price(entry, ci, channel, extended, day, mac_row)
                ratio2 = 1.0 - (icp2 / 100) / (awp_f * qty_f) if has_awp else 0.0
                out.append([claim_id, "PAID", account_id, account_name, member_id, npi, channel, ndc, drug_name,
                            brand_generic, fill_text, rebilled_at, days_text, qty_text, awp_field, _money(icp2),
                            _money(fee2), _money(member2), _money(plan2)])
                account(key, 1, 0, icp2, fee2, qty_e3, awp_ext, ratio2, day)
            elif event < 0.018 and remaining >= 2:
                # Billed twice: same member, NDC, fill date and pharmacy under a new Claim ID.
                claim_seq += 1
                duplicate = list(fields)
                duplicate[0] = f"RX{PLAN_YEAR}{claim_seq:010d}"
                duplicate[11] = f"{fill_text}T{_clock(seconds + 60 + int(random_() * 3000))}"
                out.append(duplicate)
                account(key, 1, 1, icp, fee, qty_e3, awp_ext, ratio, day)
                if is_brand:
                    brand_scripts[bkey] += 1
            for row in out:
                written += 1
                if written == bad_row:
                    row = list(row)
                    row[10] = INVALID_BAD_DATE
                writer.writerow(row)
    world.datasets[CLAIMS].rows = rows
    return totals


# --- the small datasets --------------------------------------------------------------------------
def _contract_rows(world: _World) -> list[list[str]]:
    rows = []
    for ci, client in enumerate(CLIENTS):
        for channel in CHANNELS:
            for is_brand in (True, False):
                rate_bp, fee_c, rebate_c = world.terms[(ci, channel, is_brand)]
                rows.append([
                    f"PBM-{client.short}-{PLAN_YEAR}", client.account_id, client.name,
                    f"{channel.capitalize()} {BRAND if is_brand else GENERIC}", channel,
                    BRAND if is_brand else GENERIC, str(Decimal(rate_bp).scaleb(-4).quantize(Decimal("0.0001"))),
                    _money(fee_c), "" if rebate_c is None else _money(rebate_c), client.guarantee_basis,
                    "Y" if client.excludes_zero_balance else "N", f"{PLAN_YEAR}-01-01", f"{PLAN_YEAR}-12-31",
                ])
    return rows


def _mac_rows(world: _World) -> list[list[str]]:
    loaded = world.exported_at - timedelta(days=3, hours=4, minutes=12)
    loaded_text = loaded.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    rows = []
    for slot, ndc, mac_e5, start, end in world.mac_rows:
        drug = DRUGS[world.ndc_slots[slot][0]]
        rows.append(["LEAF-MAC", ndc, drug.name, f"{mac_e5 // 100000}.{mac_e5 % 100000:05d}", start.isoformat(),
                     "" if end is None else end.isoformat(), loaded_text])
    return rows


@dataclass(frozen=True)
class _Invoice:
    invoice_id: str
    client: int
    quarter: str
    slot: int
    brand_claims: int
    amount: Decimal


def _rebate_invoices(world: _World, totals: _Totals) -> list[_Invoice]:
    rnd = _rng(world.seed, "rebates")
    invoices = []
    for ci, client in enumerate(CLIENTS):
        for quarter in range(4):
            number = 0
            for slot, (index, _ndc) in enumerate(world.ndc_slots):
                scripts = totals.brand_scripts.get((ci, quarter, slot), 0)
                if scripts <= 0:
                    continue
                number += 1
                earned = Decimal(DRUGS[index].rebate) * scripts
                amount = (earned * Decimal(rnd.randrange(9000, 10300)) / 10000).quantize(CENT, ROUND_HALF_UP)
                invoices.append(_Invoice(f"RBT-{PLAN_YEAR}Q{quarter + 1}-{client.short}-{number:04d}", ci,
                                         f"{PLAN_YEAR}Q{quarter + 1}", slot, scripts, amount))
    return invoices


def _invoice_rows(world: _World, invoices: list[_Invoice]) -> list[list[str]]:
    rows = []
    for invoice in invoices:
        client = CLIENTS[invoice.client]
        index, ndc = world.ndc_slots[invoice.slot]
        quarter = int(invoice.quarter[-1])
        next_quarter = date(PLAN_YEAR + (quarter == 4), quarter * 3 % 12 + 1, 1)
        rows.append([invoice.invoice_id, client.account_id, client.name, invoice.quarter, ndc, DRUGS[index].name,
                     DRUGS[index].manufacturer, str(invoice.brand_claims), str(invoice.amount),
                     (next_quarter + timedelta(days=74)).isoformat()])
    return rows


def _salesforce_rows(world: _World) -> list[list[str]]:
    rnd = _rng(world.seed, "salesforce")
    rows = []
    for client in CLIENTS:
        modified = world.exported_at - timedelta(days=rnd.randrange(3, 200), seconds=rnd.randrange(86400))
        rows.append([client.account_id, client.name, "Customer", client.industry, client.state,
                     str(client.covered_lives), client.domo_group, f"{PLAN_YEAR}-01-01",
                     modified.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")])
    account_id, name, industry, state, lives = PROSPECT
    modified = world.exported_at - timedelta(days=rnd.randrange(3, 60), seconds=rnd.randrange(86400))
    rows.append([account_id, name, "Prospect", industry, state, str(lives), "", "",
                 modified.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")])
    return rows


def _reconciliation_rows(world: _World, totals: _Totals) -> list[list[str]]:
    """The MySQL DataFlow's output: claims with an AWP, per client and component, against terms."""
    rows = []
    for ci, client in enumerate(CLIENTS):
        for chi, channel in enumerate(CHANNELS):
            for is_brand in (True, False):
                net = awp_e8 = icp = fees = 0
                for _key, t in totals.select(client=ci, channel=chi, brand=int(is_brand)):
                    net += t[T_NET_AWP]
                    awp_e8 += t[T_AWP_EXT]
                    icp += t[T_ICP_AWP]
                    fees += t[T_FEE_AWP]
                if not net and not awp_e8:
                    continue  # an inner join on groups that exist
                rate_bp, fee_c, _rebate = world.terms[(ci, channel, is_brand)]
                rate = Decimal(rate_bp).scaleb(-4)
                awp_amount = Decimal(awp_e8).scaleb(-8)
                icp_amount = Decimal(icp).scaleb(-2)
                guaranteed = (awp_amount * rate).quantize(CENT, ROUND_HALF_UP)
                actual = (awp_amount - icp_amount).quantize(CENT, ROUND_HALF_UP)
                shortfall = max(guaranteed - actual, Decimal("0.00"))
                rows.append([client.name, f"{channel.capitalize()} {BRAND if is_brand else GENERIC}", channel,
                             BRAND if is_brand else GENERIC, str(net), _dec(awp_amount), _dec(icp_amount),
                             str(rate.quantize(Decimal("0.0001"))), _dec(guaranteed), _dec(actual), _dec(shortfall),
                             _money(fees), _money(net * fee_c), f"{PLAN_YEAR}-01-01", f"{PLAN_YEAR}-12-31"])
    return rows


def _brand_script_rows(totals: _Totals) -> list[list[str]]:
    """The Magic ETL's output: brand rows only, net scripts and cost per client and quarter."""
    rows = []
    for ci, client in enumerate(CLIENTS):
        for quarter in range(4):
            scripts = icp = 0
            seen = False
            for key, t in totals.select(client=ci, brand=1):
                if (key[3] - 1) // 3 == quarter:
                    seen = True
                    scripts += t[T_NET]
                    icp += t[T_ICP]
            if seen:
                rows.append([client.name, f"{PLAN_YEAR}Q{quarter + 1}", str(scripts), _money(icp)])
    return rows


# --- metadata, policies, directory ---------------------------------------------------------------
def _dataset_metadata(world: _World, ds: _Dataset, formulas: list[BeastMode]) -> dict:
    rnd = _rng(world.seed, f"metadata:{ds.role}")
    created = world.exported_at - timedelta(days=rnd.randrange(400, 900), seconds=rnd.randrange(86400))
    updated = world.exported_at - timedelta(hours=rnd.randrange(3, 20), seconds=rnd.randrange(3600))
    owner_id = world.user_ids["sam"]
    if ds.shape == "public":
        return {
            "id": ds.id,
            "name": ds.name,
            "description": ds.description,
            "rows": ds.rows,
            "columns": len(ds.columns),
            "owner": {"id": owner_id, "name": "Sam Okafor"},
            "createdAt": _iso(created),
            "updatedAt": _iso(updated),
            "dataCurrentAt": _iso(updated),
            "schema": {"columns": [{"type": type_, "name": name} for name, type_ in ds.columns]},
            "pdpEnabled": ds.policy_shape is not None,
        }
    return {
        "id": ds.id,
        "displayType": ds.provider,
        "dataProviderType": ds.provider,
        "type": "DataFlow" if ds.provider == "dataflow" else "Import",
        "name": ds.name,
        "description": ds.description,
        "owner": {"id": str(owner_id), "name": "Sam Okafor", "type": "USER", "group": False},
        "status": "SUCCESS",
        "state": "SUCCESS",
        "created": _epoch_ms(created),
        "lastTouched": _epoch_ms(updated),
        "lastUpdated": _epoch_ms(updated),
        "rowCount": ds.rows,
        "columnCount": len(ds.columns),
        "cardInfo": {"cardCount": sum(card.dataset == ds.role for card in CARDS), "cardViewCount": 0},
        "properties": {
            "formulas": {
                "formulas": {
                    bm.id: _beast_mode_json(bm) for bm in formulas
                }
            }
        },
        "tables": [{"columns": [{"name": name, "type": type_} for name, type_ in ds.columns]}],
        "adc": False,
        "cloudId": "domo",
        "pdpEnabled": ds.policy_shape is not None,
    }


def _beast_mode_json(bm: BeastMode) -> dict:
    return {
        "id": bm.id,
        "name": bm.name,
        "formula": bm.formula,
        "status": "VALID",
        "dataType": bm.data_type,
        "persistedOnDataSource": bm.persisted,
        "isAggregatable": True,
        "bignumber": False,
        "containsAggregation": bm.contains_aggregation,
    }


def _policies(world: _World, ds: _Dataset) -> list[dict]:
    """Policies keyed on the client account: All Rows, one per client group, and a few people."""
    uid, gid = world.user_ids, world.group_ids
    use_account_id = ds.role == CONTRACT_TERMS
    column = "Client Account ID" if use_account_id else "Client Account"

    def value(client: Client) -> str:
        return client.account_id if use_account_id else client.name

    specs = [("All Rows", "open", [], [uid["sam"]], [gid[_ANALYTICS_GROUP]])]
    for client in CLIENTS:
        specs.append((client.name, "user", [(column, [value(client)], "EQUALS", False)],
                      [], [gid[client.domo_group]]))
    west = [client for client in CLIENTS if client.short in ("ACME", "CHP")]
    specs.append(("Regional Account Manager, West", "user", [(column, [value(c) for c in west], "EQUALS", False)],
                  [uid["marcus"]], []))
    if ds.role in (CONTRACT_TERMS, CLAIMS):
        summit = next(client for client in CLIENTS if client.short == "SLG")
        specs.append(("Benefits Consultant (all but Summit)", "user",
                      [(column, [value(summit)], "EQUALS", True)], [uid["grace"]], []))
    first_id = _rng(world.seed, f"policies:{ds.role}").randrange(2, 40)
    policies = []
    for number, (name, type_, filters, users, groups) in enumerate(specs):
        if ds.policy_shape == "public":
            policies.append({
                "id": first_id + number,
                "type": type_,
                "name": name,
                "filters": [{"column": col, "values": vals, "operator": op, "not": neg}
                            for col, vals, op, neg in filters],
                "users": users,
                "virtualUsers": [],
                "groups": groups,
            })
        else:
            policies.append({
                "filterGroupId": first_id + number,
                "name": name,
                "type": type_,
                "dataSourceId": ds.id,
                "parameters": [{"type": "COLUMN", "name": col, "values": vals, "operator": op, "not": neg,
                                "ignoreCase": True} for col, vals, op, neg in filters],
                "userIds": users,
                "groupIds": groups,
                "virtualUserIds": [],
                "dataSourcePermissions": False,
            })
    return policies


def _users(world: _World) -> list[dict]:
    return [{"id": world.user_ids[key], "name": name, "email": email, "role": role, "title": title}
            for key, name, email, role, title in _USERS]


def _groups(world: _World) -> list[dict]:
    return [{"id": world.group_ids[name], "name": name, "type": "closed", "active": True,
             "memberCount": len(members), "userIds": members}
            for name, members in world.group_members.items()]


# --- cards ---------------------------------------------------------------------------------------
def _column_json(col: Col) -> dict:
    if col.formula:
        return {"formulaId": BEAST_MODES_BY_KEY[col.formula].id, "alias": col.header, "mapping": col.mapping}
    entry: dict = {"column": col.name}
    if col.aggregation:
        entry["aggregation"] = col.aggregation
    if col.alias:
        entry["alias"] = col.alias
    entry["mapping"] = col.mapping
    return entry


def _ref_json(col: Col) -> dict:
    return {"formulaId": BEAST_MODES_BY_KEY[col.formula].id} if col.formula else {"column": col.name}


def _subscription(card: CardSpec, columns: tuple[Col, ...]) -> dict:
    return {
        "columns": [_column_json(col) for col in columns],
        "filters": [dict(f) for f in card.filters],
        "groupBy": [_ref_json(col) for col in card.group_by],
        "orderBy": [{**_ref_json(col), "order": order} for col, order in card.order_by],
        "dateGrain": {"column": "Fill Date", "dateTimeElement": card.date_grain} if card.date_grain else None,
    }


def _card_beast_modes(card: CardSpec) -> list[BeastMode]:
    keys = []
    for col in card.columns + ((card.big_number,) if card.big_number else ()):
        if col.formula and col.formula not in keys:
            keys.append(col.formula)
    return [BEAST_MODES_BY_KEY[key] for key in keys]


def _card_definition(world: _World, card: CardSpec) -> dict:
    ds = world.datasets[card.dataset]
    used = _card_beast_modes(card)
    if used:
        formulas: dict | list = {
            "card": [_beast_mode_json(bm) for bm in used if not bm.persisted],
            "dsUpdated": [_beast_mode_json(bm) for bm in used if bm.persisted],
            "dsDeleted": [],
        }
    else:
        formulas = []
    subscriptions = {"main": _subscription(card, card.columns)}
    if card.big_number:
        subscriptions["big_number"] = {
            "columns": [_column_json(card.big_number)], "filters": [dict(f) for f in card.filters],
            "groupBy": [], "orderBy": [], "dateGrain": None,
        }
    return {
        "id": world.card_ids[card.key],
        "title": card.title,
        "type": "kpi",
        "datasources": [{"dataSourceId": ds.id, "dataSourceName": ds.name}],
        "definition": {
            "subscriptions": subscriptions,
            "formulas": formulas,
            "charts": {"main": {"component": "main", "chartType": card.chart, "overrides": {}, "goal": None}},
            "title": card.title,
        },
        "columns": [_column_json(col) for col in card.columns],
    }


# --- golden outputs ------------------------------------------------------------------------------
def _sum_groups(totals: _Totals, **fixed) -> list:
    out = [0] * _T_SIZE
    out[T_RATIO_SUM] = 0.0
    out[T_MAX_DAY] = -1
    for _key, t in totals.select(**fixed):
        for i in range(_T_SIZE):
            if i == T_MAX_DAY:
                out[i] = max(out[i], t[i])
            else:
                out[i] += t[i]
    return out


def _effective_discount_rate(t: list) -> Decimal | None:
    if not t[T_AWP_EXT]:
        return None
    return 1 - Decimal(t[T_ICP]).scaleb(-2) / Decimal(t[T_AWP_EXT]).scaleb(-8)


def _golden(card: CardSpec, world: _World, totals: _Totals, invoices: list[_Invoice],
            captured_at: datetime) -> list[list[str]]:
    key = card.key
    rows: list[list[str]] = []
    present = sorted({k[0] for k in totals.groups}, key=lambda ci: CLIENTS[ci].name)
    if key == "effective_discount":
        for ci in present:
            t = _sum_groups(totals, client=ci)
            average = t[T_RATIO_SUM] / t[T_RATIO_N] if t[T_RATIO_N] else None
            rows.append([CLIENTS[ci].name, _double(average), _double(_effective_discount_rate(t))])
    elif key == "monthly_discount":
        for month in sorted({k[3] for k in totals.groups}):
            for chi in sorted({k[1] for k in totals.groups if k[3] == month}, key=lambda i: CHANNELS[i]):
                t = _sum_groups(totals, month=month, channel=chi)
                rows.append([f"{PLAN_YEAR}-{month:02d}-01", CHANNELS[chi],
                             _double(t[T_RATIO_SUM]) if t[T_RATIO_N] else ""])
    elif key == "spend_tier":
        for ci in present:
            for chi in sorted({k[1] for k in totals.groups if k[0] == ci}, key=lambda i: CHANNELS[i]):
                t = _sum_groups(totals, client=ci, channel=chi)
                spend = Decimal(t[T_ICP]).scaleb(-2)
                per_unit = spend / Decimal(t[T_QTY]).scaleb(-3) if t[T_QTY] else None
                rows.append([CLIENTS[ci].name, CHANNELS[chi], _dec(spend), "High" if spend > 250000 else "Low",
                             _double(per_unit)])
    elif key == "brand_rebate_estimate":
        for ci in present:
            t = _sum_groups(totals, client=ci)
            brand = _sum_groups(totals, client=ci, brand=1)
            guaranteed = Decimal(t[T_AWP_EXT]).scaleb(-8) * Decimal("0.17") if t[T_RATIO_N] else None
            rows.append([CLIENTS[ci].name, str(t[T_ROWS]), str(t[T_DISTINCT]), str(brand[T_ROWS] * 200),
                         _double(guaranteed)])
    elif key == "rebate_per_claim":
        sums: dict[tuple[str, str], list] = {}
        for invoice in invoices:
            entry = sums.setdefault((CLIENTS[invoice.client].name, invoice.quarter), [Decimal("0.00"), 0])
            entry[0] += invoice.amount
            entry[1] += invoice.brand_claims
        for (name, quarter), (amount, claims) in sorted(sums.items()):
            rows.append([name, quarter, _dec(amount), str(claims), _double(amount / claims)])
    elif key == "recent_activity":
        today = captured_at.astimezone(timezone.utc).date()
        labels: dict[str, list] = {}
        for k, t in totals.groups.items():
            label = "Specialty" if CHANNELS[k[1]] == "specialty" else ("Extended Supply" if k[4] else "Standard")
            entry = labels.setdefault(label, [-1, 0])
            entry[0] = max(entry[0], t[T_MAX_DAY])
            entry[1] += t[T_DISTINCT]
        for label in sorted(labels):
            last_fill = date(PLAN_YEAR, 1, 1) + timedelta(days=labels[label][0])
            rows.append([label, "", str((today - last_fill).days), str(labels[label][1])])
    elif key == "paid_by_channel":
        for chi in sorted({k[1] for k in totals.groups}, key=lambda i: CHANNELS[i]):
            for brand in (1, 0):  # "Brand" sorts before "Generic"
                if not any(k[1] == chi and k[2] == brand for k in totals.groups):
                    continue
                t = _sum_groups(totals, channel=chi, brand=brand)
                rows.append([CHANNELS[chi], BRAND if brand else GENERIC, _money(t[T_ICP]), _money(t[T_FEE])])
    elif key == "client_spend_share":
        kept = [chi for chi, name in enumerate(CHANNELS) if name in ("retail", "mail")]
        for ci in present:
            client_total = sum(_sum_groups(totals, client=ci, channel=chi)[T_ICP] for chi in kept)
            for chi in sorted(kept, key=lambda i: CHANNELS[i]):
                if not any(k[0] == ci and k[1] == chi for k in totals.groups):
                    continue
                spend = _sum_groups(totals, client=ci, channel=chi)[T_ICP]
                share = Decimal(spend) / Decimal(client_total) if client_total else None
                rows.append([CLIENTS[ci].name, CHANNELS[chi], _money(spend), _double(share), _double(share)])
    elif key == "contract_period":
        for ci, client in sorted(enumerate(CLIENTS), key=lambda pair: pair[1].name):
            # MySQL: DATE - DATE subtracts the YYYYMMDD numbers.
            period = int(f"{PLAN_YEAR}1231") - int(f"{PLAN_YEAR}0101") + 1
            fee = max(world.terms[(ci, channel, is_brand)][1] for channel in CHANNELS for is_brand in (True, False))
            rows.append([client.name, str(period), _money(fee)])
    else:
        raise ValueError(f"no golden for card {key}")
    return rows


# --- dataflows -----------------------------------------------------------------------------------
_RECONCILIATION_SQL = """SELECT c.`Client Account`, t.`Component`, c.`Channel`, c.`Brand/Generic`, c.`Claims`,
       ROUND(c.`AWP Amount`, 2) AS `AWP Amount`,
       c.`Ingredient Cost Paid`,
       t.`AWP Discount Guarantee` AS `Guaranteed Rate`,
       ROUND(c.`AWP Amount` * t.`AWP Discount Guarantee`, 2) AS `Guaranteed Discount`,
       ROUND(c.`AWP Amount` - c.`Ingredient Cost Paid`, 2) AS `Actual Discount`,
       GREATEST(ROUND(c.`AWP Amount` * t.`AWP Discount Guarantee`, 2)
                - ROUND(c.`AWP Amount` - c.`Ingredient Cost Paid`, 2), 0) AS `Shortfall`,
       c.`Dispensing Fees Paid`,
       c.`Claims` * t.`Dispensing Fee Guarantee` AS `Guaranteed Fees`,
       t.`Period Start`, t.`Period End`
FROM `claims_by_component` c
JOIN `contract_terms_2025` t
  ON t.`Client Account` = c.`Client Account`
 AND t.`Channel` = c.`Channel`
 AND t.`Brand/Generic` = c.`Brand/Generic`
ORDER BY c.`Client Account`, t.`Component`"""

_CLAIMS_BY_COMPONENT_SQL = """SELECT `Client Account`, `Channel`, `Brand/Generic`,
       SUM(CASE WHEN `Claim Status` = 'REVERSED' THEN -1 ELSE 1 END) AS `Claims`,
       SUM(`AWP Unit Price` * `Quantity`) AS `AWP Amount`,
       SUM(`Ingredient Cost Paid`) AS `Ingredient Cost Paid`,
       SUM(`Dispensing Fee Paid`) AS `Dispensing Fees Paid`
FROM `pbm_claims_2025`
WHERE `AWP Unit Price` IS NOT NULL
GROUP BY `Client Account`, `Channel`, `Brand/Generic`"""


def _dataflows(world: _World) -> dict[str, dict]:
    ds = world.datasets
    rnd = _rng(world.seed, "dataflows")
    owner = {"id": world.user_ids["sam"], "name": "Sam Okafor"}

    def execution() -> dict:
        begin = world.exported_at - timedelta(hours=rnd.randrange(5, 30), seconds=rnd.randrange(3600))
        return {"id": rnd.randrange(10_000, 99_999), "state": "SUCCESS", "beginTime": _epoch_ms(begin),
                "endTime": _epoch_ms(begin + timedelta(seconds=rnd.randrange(40, 900)))}

    def action_id() -> str:
        return _uuid4(rnd)

    load_claims, load_terms, index, by_component, reconcile, publish = (action_id() for _ in range(6))
    mysql = {
        "id": world.dataflow_ids["reconciliation"],
        "name": "Guarantee Reconciliation 2025",
        "description": "AWP discount and dispensing fee guarantees per client and component.",
        "databaseType": "MYSQL",
        "owner": owner,
        "inputs": [{"dataSourceId": ds[CLAIMS].id, "dataSourceName": ds[CLAIMS].name},
                   {"dataSourceId": ds[CONTRACT_TERMS].id, "dataSourceName": ds[CONTRACT_TERMS].name}],
        "outputs": [{"dataSourceId": ds[RECONCILIATION].id, "dataSourceName": ds[RECONCILIATION].name}],
        "actions": [
            {"type": "LoadFromVault", "id": load_claims, "name": ds[CLAIMS].name, "tableName": "pbm_claims_2025",
             "dataSource": {"guid": ds[CLAIMS].id, "name": ds[CLAIMS].name}, "dependsOn": []},
            {"type": "LoadFromVault", "id": load_terms, "name": ds[CONTRACT_TERMS].name,
             "tableName": "contract_terms_2025",
             "dataSource": {"guid": ds[CONTRACT_TERMS].id, "name": ds[CONTRACT_TERMS].name}, "dependsOn": []},
            {"type": "SQL", "id": index, "name": "Index claims by component",
             "statements": ["ALTER TABLE `pbm_claims_2025` ADD INDEX `idx_component` "
                            "(`Client Account`(64), `Channel`(16), `Brand/Generic`(8))"],
             "dependsOn": [load_claims]},
            {"type": "GenerateTableAction", "id": by_component, "name": "claims_by_component",
             "tableName": "claims_by_component", "selectStatement": _CLAIMS_BY_COMPONENT_SQL,
             "dependsOn": [index]},
            {"type": "GenerateTableAction", "id": reconcile, "name": "guarantee_reconciliation",
             "tableName": "guarantee_reconciliation", "selectStatement": _RECONCILIATION_SQL,
             "dependsOn": [by_component, load_terms]},
            {"type": "PublishToVault", "id": publish, "name": ds[RECONCILIATION].name,
             "selectStatement": "SELECT * FROM `guarantee_reconciliation`",
             "dataSource": {"guid": ds[RECONCILIATION].id, "name": ds[RECONCILIATION].name},
             "dependsOn": [reconcile]},
        ],
        "lastExecution": execution(),
    }
    load, keep_brand, derive, group, publish = (action_id() for _ in range(5))
    magic = {
        "id": world.dataflow_ids["brand_scripts"],
        "name": "Brand Scripts by Quarter",
        "description": "Net brand scripts and ingredient cost per client and quarter, for rebate checks.",
        "databaseType": "MAGIC",
        "owner": owner,
        "inputs": [{"dataSourceId": ds[CLAIMS].id, "dataSourceName": ds[CLAIMS].name}],
        "outputs": [{"dataSourceId": ds[BRAND_SCRIPTS].id, "dataSourceName": ds[BRAND_SCRIPTS].name}],
        "actions": [
            {"type": "LoadFromVault", "id": load, "name": ds[CLAIMS].name, "dataSourceId": ds[CLAIMS].id,
             "executeFlowWhenUpdated": True, "dependsOn": []},
            {"type": "Filter", "id": keep_brand, "name": "Brand claims", "dependsOn": [load],
             "filterList": [{"filterType": "FORMULA", "expression": "`Brand/Generic` = 'Brand'"}]},
            {"type": "ExpressionEvaluator", "id": derive, "name": "Quarter and script sign", "dependsOn": [keep_brand],
             "expressions": [
                 {"fieldName": "Quarter", "expression": "CONCAT(YEAR(`Fill Date`), 'Q', QUARTER(`Fill Date`))",
                  "settings": {"type": "STRING"}},
                 {"fieldName": "Script Sign",
                  "expression": "CASE WHEN `Claim Status` = 'REVERSED' THEN -1 ELSE 1 END",
                  "settings": {"type": "LONG"}},
             ]},
            {"type": "GroupBy", "id": group, "name": "Scripts by client and quarter", "dependsOn": [derive],
             "groups": [{"name": "Client Account"}, {"name": "Quarter"}],
             "fields": [{"name": "Brand Scripts", "expression": "SUM(`Script Sign`)"},
                        {"name": "Brand Ingredient Cost", "expression": "SUM(`Ingredient Cost Paid`)"}]},
            {"type": "PublishToVault", "id": publish, "name": ds[BRAND_SCRIPTS].name, "dependsOn": [group],
             "dataSource": {"guid": ds[BRAND_SCRIPTS].id, "name": ds[BRAND_SCRIPTS].name}},
        ],
        "lastExecution": execution(),
    }
    return {"reconciliation": mysql, "brand_scripts": magic}


# --- the export ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SampleExportSummary:
    """What `write_sample_export` wrote."""

    load_id: str
    path: Path
    variant: str
    status: str
    rows: int
    datasets: dict[str, str]  # role -> dataset id
    cards: dict[str, int]  # card key -> card id
    dataflows: dict[str, int]
    goldens: tuple[int, ...]  # card ids with a golden.csv in the export
    missing: tuple[dict, ...]
    defects: tuple[str, ...]  # what the invalid variant broke, as format problem codes with their file
    planted_flaws: tuple[PlantedFlaw, ...]
    files: int
    bytes: int


def load_id_for(exported_at: datetime, seed: int) -> str:
    return f"LIQ-{exported_at.astimezone(timezone.utc):%Y%m%d}-{seed % 10000:04d}"


def write_sample_export(out: Path, *, rows: int = 5000, seed: int = 7, variant: str = "complete",
                        exported_at: datetime = DEFAULT_EXPORTED_AT) -> SampleExportSummary:
    """Write a sample export folder at `out` (which must not exist or be empty)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, not {variant!r}")
    if rows < 1:
        raise ValueError("rows must be at least 1")
    if exported_at.tzinfo is None:
        raise ValueError("exported_at must be timezone-aware")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not an empty folder")
    # Write beside the target and rename at the end, so an interrupted run never leaves a
    # half-written export where a reader expects a whole one.
    staging = out.parent / f".{out.name}.writing"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)

    world = _build_world(seed, exported_at)
    files = _Files(staging)
    ds = world.datasets
    bad_row = min(INVALID_BAD_ROW, rows) if variant == "invalid" else None
    totals = _write_claims(files, world, rows, bad_row)

    invoices = _rebate_invoices(world, totals)
    small = {
        CONTRACT_TERMS: _contract_rows(world),
        MAC_PRICING: _mac_rows(world),
        REBATE_INVOICES: _invoice_rows(world, invoices),
        SALESFORCE_ACCOUNTS: _salesforce_rows(world),
        RECONCILIATION: _reconciliation_rows(world, totals),
        BRAND_SCRIPTS: _brand_script_rows(totals),
    }
    for role, data_rows in small.items():
        ds[role].rows = len(data_rows)
        files.write(f"{ds[role].folder}/data.csv", _csv_bytes([name for name, _ in ds[role].columns], data_rows))

    missing: list[dict] = []
    skip_policies = PARTIAL_MISSING_POLICIES if variant == "partial" else None
    skip_golden = PARTIAL_MISSING_GOLDEN if variant == "partial" else None
    manifest_datasets = []
    for role, dataset in ds.items():
        persisted = [bm for bm in BEAST_MODES if bm.dataset == role and bm.persisted]
        files.write(f"{dataset.folder}/metadata.json", _json_bytes(_dataset_metadata(world, dataset, persisted)))
        entry = {"id": dataset.id, "metadata": f"{dataset.folder}/metadata.json", "data": f"{dataset.folder}/data.csv"}
        if dataset.policy_shape:
            if role == skip_policies:
                missing.append({"kind": "policies", "id": dataset.id,
                                "reason": "403 Forbidden from the PDP endpoint: the export account is not a "
                                          "dataset owner"})
            else:
                files.write(f"{dataset.folder}/policies.json", _json_bytes(_policies(world, dataset)))
                entry["policies"] = f"{dataset.folder}/policies.json"
        manifest_datasets.append(entry)

    manifest_cards = []
    goldens = []
    for number, card in enumerate(CARDS):
        card_id = world.card_ids[card.key]
        folder = f"cards/{card_id}"
        files.write(f"{folder}/definition.json", _json_bytes(_card_definition(world, card)))
        entry = {"id": card_id, "definition": f"{folder}/definition.json"}
        if card.golden:
            captured_at = exported_at - timedelta(seconds=109 - 4 * number)
            if card.key == skip_golden:
                missing.append({"kind": "golden", "id": card_id, "reason": "card render timed out after 120 s"})
            else:
                header = [col.header for col in card.columns]
                files.write(f"{folder}/golden.csv",
                            _csv_bytes(header, _golden(card, world, totals, invoices, captured_at)))
                entry["golden"] = f"{folder}/golden.csv"
                entry["golden_captured_at"] = _iso(captured_at)
                goldens.append(card_id)
        manifest_cards.append(entry)

    manifest_flows = []
    for key, flow in _dataflows(world).items():
        files.write(f"dataflows/{flow['id']}.json", _json_bytes(flow))
        manifest_flows.append({"id": flow["id"], "definition": f"dataflows/{flow['id']}.json"})

    files.write("directory/users.json", _json_bytes(_users(world)))
    files.write("directory/groups.json", _json_bytes(_groups(world)))

    load_id = load_id_for(exported_at, seed)
    manifest = {
        "format": FORMAT,
        "load_id": load_id,
        "exported_at": _iso(exported_at),
        "domo_instance": DOMO_INSTANCE,
        "exporter": dict(EXPORTER),
        "status": "partial" if missing else "complete",
        "missing": missing,
        "files": [{"path": path, "sha256": sha, "bytes": size} for path, (sha, size) in sorted(files.listed.items())],
        "datasets": manifest_datasets,
        "cards": manifest_cards,
        "dataflows": manifest_flows,
        "directory": {"users": "directory/users.json", "groups": "directory/groups.json"},
    }
    (staging / "manifest.json").write_bytes(_json_bytes(manifest))

    defects: list[str] = []
    if variant == "invalid":
        golden_path = f"cards/{world.card_ids[INVALID_TAMPERED_GOLDEN]}/golden.csv"
        _tamper_one_digit(staging / golden_path)
        defects.append(f"HASH_MISMATCH {golden_path}")
        defects.append(f"CSV_BAD_VALUE {ds[CLAIMS].folder}/data.csv row {bad_row} column Fill Date")

    if out.exists():
        out.rmdir()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(out)
    return SampleExportSummary(
        load_id=load_id,
        path=out,
        variant=variant,
        status=manifest["status"],
        rows=rows,
        datasets={role: dataset.id for role, dataset in ds.items()},
        cards=dict(world.card_ids),
        dataflows=dict(world.dataflow_ids),
        goldens=tuple(goldens),
        missing=tuple(missing),
        defects=tuple(defects),
        planted_flaws=PLANTED_FLAWS,
        files=len(files.listed),
        bytes=sum(size for _sha, size in files.listed.values()),
    )


def _tamper_one_digit(path: Path) -> None:
    """Change the first digit of the first data row (same size, so only the hash differs)."""
    data = bytearray(path.read_bytes())
    start = data.index(b"\n") + 1
    for position in range(start, len(data)):
        if chr(data[position]).isdigit():
            data[position] = ord(str((int(chr(data[position])) + 1) % 10))
            break
    path.write_bytes(bytes(data))


def write_export_zip(folder: Path, zip_path: Path, *, date_time: datetime = DEFAULT_EXPORTED_AT) -> Path:
    """Pack an export folder into a zip whose bytes depend only on the folder's files."""
    folder, zip_path = Path(folder), Path(zip_path)
    stamp = date_time.astimezone(timezone.utc).timetuple()[:6]
    members = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    members.sort(key=lambda name: (name != "manifest.json", name))
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name in members:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            with (folder / name).open("rb") as source, archive.open(info, "w", force_zip64=True) as target:
                shutil.copyfileobj(source, target, 1 << 20)
    return zip_path
