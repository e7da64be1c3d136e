"""The client book (clients, channels, drugs, contract terms) and the world one seed builds from it:
dataset, card, dataflow, user and group ids, NDCs, AWP prices, terms and the MAC list (_build_world)."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from evidence.samples.catalogue import (
    BRAND_SCRIPTS,
    CARDS,
    CLAIMS,
    CONTRACT_TERMS,
    MAC_PRICING,
    REBATE_INVOICES,
    RECONCILIATION,
    SALESFORCE_ACCOUNTS,
)
from evidence.samples.helpers import _rng, _uuid4

PLAN_YEAR = 2025


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
