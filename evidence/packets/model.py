"""The evidence packet format, version 1, as typed values: the packet header (`packet.json`) and the
records of each kind. Plain module, no Django; readers and checks are in validation.py.

Money and rates are Decimal (never float), dates are datetime.date, NDCs are 11-digit text. A blank
guarantee is None: the contract guarantees nothing there.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

FORMAT = "leaf-evidence/1"
PACKET_FILE = "packet.json"

CONTRACT, PRICING, REBATE, SALESFORCE = "contract", "pricing", "rebate", "salesforce"
KINDS = (CONTRACT, PRICING, REBATE, SALESFORCE)
RECORDS_FILE = {CONTRACT: "terms.csv", PRICING: "prices.csv", REBATE: "invoices.csv", SALESFORCE: "accounts.csv"}
COLUMNS = {
    CONTRACT: ("contract_id", "client_account_id", "component", "channel", "drug_class", "awp_discount_guarantee",
               "dispensing_fee_guarantee", "rebate_per_brand_claim", "guarantee_basis", "exclusions", "price_list",
               "period_start", "period_end"),
    PRICING: ("price_list", "ndc", "drug_name", "mac_unit_price", "effective_date", "end_date"),
    REBATE: ("invoice_id", "client_account_id", "quarter", "ndc", "drug_name", "manufacturer", "brand_claims",
             "rebate_amount", "invoice_date"),
    SALESFORCE: ("account_id", "account_name", "type", "domo_group", "plan_year_start", "last_modified"),
}
# The columns whose values together identify a row (two rows sharing them: DUPLICATE_KEY).
KEYS = {
    CONTRACT: ("client_account_id", "channel", "drug_class"),
    PRICING: ("price_list", "ndc", "effective_date"),
    REBATE: ("invoice_id", "ndc"),
    SALESFORCE: ("account_id",),
}
CHANNELS = ("retail", "mail", "specialty")
DRUG_CLASSES = ("brand", "generic")
GUARANTEE_BASES = ("combined", "per_component")
EXCLUSIONS = ("zero_balance", "usual_and_customary", "compound", "no_awp", "out_of_network", "specialty_carve_out")


@dataclass(frozen=True)
class FileEntry:
    """A file packet.json lists: its path inside the packet and what it must hold."""

    path: str
    sha256: str
    rows: int | None = None  # the records file
    bytes: int | None = None  # a document
    media_type: str = ""
    title: str = ""


@dataclass(frozen=True)
class PacketHeader:
    """packet.json, read and typed."""

    packet_id: str
    kind: str
    source_system: str
    source_reference: str
    received_at: dt.datetime  # when the system of record says it received or exported it (UTC)
    client_account_ids: tuple[str, ...]
    period_start: dt.date
    period_end: dt.date
    records: FileEntry
    documents: tuple[FileEntry, ...]
    keyed_by: str
    supersedes: str | None

    def covers(self, start: dt.date, end: dt.date) -> bool:
        """Whether the packet's period holds the whole of [start, end]."""
        return self.period_start <= start and end <= self.period_end


@dataclass(frozen=True)
class ContractTerm:
    contract_id: str
    client_account_id: str
    component: str
    channel: str  # one of CHANNELS
    drug_class: str  # one of DRUG_CLASSES
    awp_discount_guarantee: Decimal | None  # a fraction: 0.1750 is AWP less 17.5%
    dispensing_fee_guarantee: Decimal | None  # dollars per script
    rebate_per_brand_claim: Decimal | None  # dollars per brand script
    guarantee_basis: str  # one of GUARANTEE_BASES, the same on every row of a contract
    exclusions: tuple[str, ...]  # from EXCLUSIONS
    price_list: str
    period_start: dt.date
    period_end: dt.date


@dataclass(frozen=True)
class PriceRow:
    price_list: str
    ndc: str  # 11 digits, as text
    drug_name: str
    mac_unit_price: Decimal
    effective_date: dt.date
    end_date: dt.date | None  # None: still in force

    def in_force(self, day: dt.date) -> bool:
        return self.effective_date <= day and (self.end_date is None or day <= self.end_date)


@dataclass(frozen=True)
class RebateInvoice:
    invoice_id: str
    client_account_id: str
    quarter: str  # YYYYQn
    ndc: str
    drug_name: str
    manufacturer: str
    brand_claims: int
    rebate_amount: Decimal
    invoice_date: dt.date


@dataclass(frozen=True)
class Account:
    account_id: str  # Salesforce 18-character id
    account_name: str
    type: str
    domo_group: str
    plan_year_start: dt.date
    last_modified: dt.date


Record = ContractTerm | PriceRow | RebateInvoice | Account
RECORD_TYPES = {CONTRACT: ContractTerm, PRICING: PriceRow, REBATE: RebateInvoice, SALESFORCE: Account}


def quarter_of(day: dt.date) -> str:
    """The YYYYQn quarter a date falls in."""
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def quarter_bounds(quarter: str) -> tuple[dt.date, dt.date]:
    """The first and last day of a YYYYQn quarter."""
    year, number = int(quarter[:4]), int(quarter[5])
    first = dt.date(year, 3 * number - 2, 1)
    last = dt.date(year + 1, 1, 1) if number == 4 else dt.date(year, 3 * number + 1, 1)
    return first, last - dt.timedelta(days=1)
