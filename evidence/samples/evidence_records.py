"""The records of the sample evidence packets, derived from the sample export's own parts for one seed
(the world, and the rows of its Domo datasets), with the gaps a real takeover has planted in them.

Plain module, no Django; evidence.py lays the packets out. Which client carries which gap is a role of
the client book (CLIENTS), so the same client carries it for every seed; the values come from the seed.
"""
from __future__ import annotations

import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from evidence.packets.model import CONTRACT, FORMAT, PRICING, REBATE, SALESFORCE
from evidence.samples.claims import _write_claims
from evidence.samples.datasets import _contract_rows, _invoice_rows, _mac_rows, _rebate_invoices, _salesforce_rows
from evidence.samples.helpers import _Files, _iso
from evidence.samples.world import _USERS, CLIENTS, PLAN_YEAR, PROSPECT, _build_world

# The gaps' roles in the client book.
AMENDED, MISSING_REBATE_QUARTER, UNVERIFIED, NO_CONTRACT = CLIENTS
AMENDMENT_START = date(PLAN_YEAR, 7, 1)
AMENDED_COMPONENT = ("retail", "generic")  # the amendment raises this component's AWP discount guarantee
AMENDMENT_RAISE = "0.0100"
_EMAILS = {key: email for key, _name, email, *_ in _USERS}
KEYED_BY = _EMAILS["priya"]  # Analytics Lead: keys the contracts and exports the systems of record


@dataclass
class SamplePacket:
    """One packet to write: packet.json's fields (records and documents filled in by the writer), the
    records' rows, and the text of its one document."""

    packet_id: str
    kind: str
    fields: dict[str, Any]
    rows: list[list[str]]
    document_path: str
    document_title: str
    document_lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PricingGap:
    price_list: str
    ndc: str
    drug_name: str
    first_day: date  # the first day no price row is in force
    last_day: date  # the last


@dataclass
class SampleBook:
    """Every packet of one seed, and the gaps planted in them."""

    packets: list[SamplePacket]
    client_without_contract: str  # account id: only Domo's candidate terms exist for it
    unverified_packet_id: str  # present and accepted, but the demo leaves it unverified
    contract_packet_id: str  # the amended client's original contract
    amendment_packet_id: str  # supersedes contract_packet_id from AMENDMENT_START
    pricing_gap: PricingGap
    missing_rebate: tuple[str, str]  # (account id, quarter) the export has invoices for and no packet does


def _fields(kind: str, packet_id: str, clients: list[str], system: str, reference: str, received_at: datetime,
            start: date, end: date, supersedes: str | None = None) -> dict[str, Any]:
    return {
        "format": FORMAT, "packet_id": packet_id, "kind": kind,
        "source": {"system": system, "reference": reference, "received_at": _iso(received_at)},
        "client_account_ids": clients, "period": {"start": start.isoformat(), "end": end.isoformat()},
        "keyed_by": KEYED_BY, "supersedes": supersedes,
    }


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    return ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()
            for row in [header, ["-" * width for width in widths], *rows]]


def _rebate_totals(world, rows: int):
    """The claims totals the export's rebate invoices are built from (the claims file itself is discarded)."""
    with tempfile.TemporaryDirectory(prefix="sample-evidence-") as scratch:
        return _write_claims(_Files(Path(scratch)), world, rows, None)


def build_sample_book(*, seed: int, rows: int, exported_at: datetime) -> SampleBook:
    world = _build_world(seed, exported_at)
    received = exported_at - timedelta(days=2)
    contracts = _contract_packets(_contract_rows(world), _mac_rows(world)[0][0], received)
    pricing, gap = _pricing_packet(_mac_rows(world), received)
    invoices = _invoice_rows(world, _rebate_invoices(world, _rebate_totals(world, rows)))
    rebates, missing = _rebate_packets(invoices, received)
    salesforce = _salesforce_packet(_salesforce_rows(world), received)
    by_client = {packet.fields["client_account_ids"][0]: packet
                 for packet in contracts if not packet.fields["supersedes"]}
    amendment = next(packet for packet in contracts if packet.fields["supersedes"])
    return SampleBook(
        packets=[*contracts, pricing, *rebates, salesforce],
        client_without_contract=NO_CONTRACT.account_id,
        unverified_packet_id=by_client[UNVERIFIED.account_id].packet_id,
        contract_packet_id=amendment.fields["supersedes"],
        amendment_packet_id=amendment.packet_id,
        pricing_gap=gap,
        missing_rebate=missing,
    )


# --- contracts -----------------------------------------------------------------------------------
_TERMS_HEADER = ["Component", "AWP discount", "Dispensing fee", "Rebate per brand claim"]


def _contract_packets(domo_rows: list[list[str]], price_list: str, received: datetime) -> list[SamplePacket]:
    """One packet per client from Domo's Contract Terms rows, but none for NO_CONTRACT; AMENDED gets an
    amendment from AMENDMENT_START that raises one component's guarantee."""
    by_client: dict[str, list[list[str]]] = defaultdict(list)
    for (contract_id, account_id, _name, component, channel, drug_class, awp, fee, rebate, basis, excludes_zero,
         start, end) in domo_rows:
        exclusions = "zero_balance" if excludes_zero == "Y" else ""
        by_client[account_id].append([contract_id, account_id, component, channel, drug_class.lower(), awp, fee,
                                      rebate, basis.replace("-", "_"), exclusions, price_list, start, end])
    names = {client.account_id: client.name for client in CLIENTS}
    packets = []
    for account_id, rows in by_client.items():
        if account_id == NO_CONTRACT.account_id:
            continue
        contract_id = rows[0][0]
        packet_id = f"EVP-CONTRACT-{account_id}-{PLAN_YEAR}"
        start, end = date.fromisoformat(rows[0][11]), date.fromisoformat(rows[0][12])
        packets.append(_contract_packet(packet_id, account_id, names[account_id], contract_id, rows, start, end,
                                        received, None, "Pharmacy Benefit Services Agreement, Exhibit C"))
        if account_id == AMENDED.account_id:
            amended_id = f"{contract_id}-A1"
            amended = []
            for row in rows:
                row = [amended_id, *row[1:11], AMENDMENT_START.isoformat(), row[12]]
                if (row[3], row[4]) == AMENDED_COMPONENT:
                    row[5] = str(Decimal(row[5]) + Decimal(AMENDMENT_RAISE))
                amended.append(row)
            packets.append(_contract_packet(f"{packet_id}-A1", account_id, names[account_id], amended_id, amended,
                                            AMENDMENT_START, end, received + timedelta(hours=1), packet_id,
                                            "Amendment No. 1 to Exhibit C"))
    return packets


def _contract_packet(packet_id: str, account_id: str, name: str, contract_id: str, rows: list[list[str]],
                     start: date, end: date, received: datetime, supersedes: str | None,
                     title: str) -> SamplePacket:
    slug = "amendment-1" if supersedes else "exhibit-c"
    lines = [f"{title}", f"Contract {contract_id} between Leaf Health, on behalf of {name} "
             f"(Salesforce account {account_id}), and the PBM.", f"Term: {start} to {end}.",
             f"Guarantee basis: {rows[0][8]}. Generic ingredient cost priced against MAC list {rows[0][10]}.",
             f"Exclusions: {rows[0][9] or 'none'}.", ""]
    if supersedes:
        original = contract_id.removesuffix("-A1")
        lines.insert(3, f"This amendment replaces the rate guarantees of contract {original} from {start}.")
    lines += _table(_TERMS_HEADER, [[row[2], row[5], row[6], row[7] or "-"] for row in rows])
    return SamplePacket(packet_id, CONTRACT,
                        _fields(CONTRACT, packet_id, [account_id], "contract-repository", contract_id, received,
                                start, end, supersedes),
                        rows, f"documents/{contract_id.lower()}-{slug}.txt", title, lines)


# --- pricing -------------------------------------------------------------------------------------
def _pricing_packet(domo_rows: list[list[str]], received: datetime) -> tuple[SamplePacket, PricingGap]:
    """Domo's MAC Pricing rows as the PBM's price file, but one NDC's mid-year price row is not in it:
    from that row's effective date to its end date no price is in force for that NDC."""
    rows = [[price_list, ndc, drug, price, start, end] for price_list, ndc, drug, price, start, end, _loaded
            in domo_rows]
    year_start = date(PLAN_YEAR, 1, 1).isoformat()
    # A row with a later row of the same NDC; one starting after New Year when there is one. The row
    # starting on New Year always has a later one (every NDC's price changes during the year).
    candidates = [index for index, row in enumerate(rows)
                  if row[4] >= year_start and row[5] and index + 1 < len(rows) and rows[index + 1][1] == row[1]]
    dropped = min(candidates, key=lambda index: (rows[index][4] == year_start, index))
    price_list, ndc, drug, _price, start, end = rows.pop(dropped)
    gap = PricingGap(price_list, ndc, drug, date.fromisoformat(start), date.fromisoformat(end))
    period_start = min(date.fromisoformat(row[4]) for row in rows)
    packet_id = f"EVP-PRICING-{price_list}-{PLAN_YEAR}"
    reference = f"{price_list}-{PLAN_YEAR}"
    lines = [f"PBM maximum allowable cost list {price_list}, plan year {PLAN_YEAR}, release {reference}.",
             f"{len(rows)} price rows for {len({row[1] for row in rows})} NDCs; a blank end date is in force.", ""]
    lines += _table(["NDC", "Drug", "MAC unit price", "Effective", "End"], [row[1:] for row in rows])
    packet = SamplePacket(packet_id, PRICING,
                          _fields(PRICING, packet_id, [], "pbm-pricing-portal", reference, received, period_start,
                                  date(PLAN_YEAR, 12, 31)),
                          rows, f"documents/{price_list.lower()}-{PLAN_YEAR}.txt", f"MAC list {price_list}", lines)
    return packet, gap


# --- rebates -------------------------------------------------------------------------------------
def _rebate_packets(domo_rows: list[list[str]], received: datetime) -> tuple[list[SamplePacket], tuple[str, str]]:
    """One packet per client and quarter of Domo's Rebate Invoices rows; MISSING_REBATE_QUARTER's middle
    quarter with invoices has none."""
    groups: dict[tuple[str, str], list[list[str]]] = defaultdict(list)
    for invoice_id, account_id, _name, quarter, ndc, drug, maker, claims, amount, invoice_date in domo_rows:
        groups[(account_id, quarter)].append([invoice_id, account_id, quarter, ndc, drug, maker, claims, amount,
                                              invoice_date])
    quarters = sorted(quarter for account_id, quarter in groups if account_id == MISSING_REBATE_QUARTER.account_id)
    if len(quarters) < 2:
        raise ValueError(f"too few claims: {MISSING_REBATE_QUARTER.name} has rebate invoices in {len(quarters)} "
                         "quarter(s); give more rows")
    missing = (MISSING_REBATE_QUARTER.account_id, quarters[len(quarters) // 2])
    names = {client.account_id: client.name for client in CLIENTS}
    packets = []
    for (account_id, quarter), rows in groups.items():
        if (account_id, quarter) == missing:
            continue
        year, number = int(quarter[:4]), int(quarter[-1])
        start = date(year, 3 * number - 2, 1)
        end = date(year + (number == 4), 3 * number % 12 + 1, 1) - timedelta(days=1)
        packet_id = f"EVP-REBATE-{account_id}-{quarter}"
        reference = f"RBS-{quarter}-{account_id[-6:]}"
        lines = [f"Manufacturer rebate statement {reference}, {names[account_id]} ({account_id}), {quarter}.",
                 f"{len(rows)} invoice lines, total {sum(Decimal(row[7]) for row in rows)}.", ""]
        lines += _table(["Invoice", "NDC", "Drug", "Manufacturer", "Brand claims", "Rebate", "Invoiced"],
                        [[row[0], *row[3:]] for row in rows])
        packets.append(SamplePacket(packet_id, REBATE,
                                    _fields(REBATE, packet_id, [account_id], "rebate-aggregator", reference,
                                            received, start, end),
                                    rows, f"documents/rebate-statement-{quarter.lower()}.txt",
                                    f"Rebate statement {quarter}", lines))
    return packets, missing


# --- salesforce ----------------------------------------------------------------------------------
def _salesforce_packet(domo_rows: list[list[str]], received: datetime) -> SamplePacket:
    """Salesforce's own report of the accounts Domo copied. Domo's copy leaves the prospect's plan year
    blank; Salesforce holds its planned start, the plan year after."""
    rows = []
    for account_id, name, kind, _industry, _state, _lives, group, plan_year_start, modified in domo_rows:
        if not plan_year_start and account_id == PROSPECT[0]:
            plan_year_start = f"{PLAN_YEAR + 1}-01-01"
        rows.append([account_id, name, kind, group, plan_year_start, modified[:10]])
    packet_id = f"EVP-SALESFORCE-{PLAN_YEAR}"
    lines = ["Salesforce report 'Leaf Health client accounts' (Accounts with their Domo access group).",
             f"Run {received:%Y-%m-%d} by {KEYED_BY}.", ""]
    lines += _table(["Account ID", "Account", "Type", "Domo group", "Plan year", "Modified"], rows)
    return SamplePacket(packet_id, SALESFORCE,
                        _fields(SALESFORCE, packet_id, [row[0] for row in rows], "salesforce",
                                "report Leaf Health client accounts", received, date(PLAN_YEAR, 1, 1),
                                date(PLAN_YEAR, 12, 31)),
                        rows, "documents/salesforce-accounts-report.txt", "Salesforce accounts report", lines)
