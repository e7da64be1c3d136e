"""Evidence for the authority tests, built by hand: packet revisions of each kind, Domo rows, and one
complete set of governed evidence (`complete()`) that authorizes every question in QUESTIONS."""
from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

from evidence.packets.authority import (
    CLIENT_SCOPE,
    CONTRACT_GUARANTEE,
    PRICING_FINDING,
    REBATE_CLAIM,
    VERIFIED,
    DomoRow,
    Evidence,
    Revision,
)
from evidence.packets.model import (
    CONTRACT,
    PRICING,
    REBATE,
    SALESFORCE,
    Account,
    ContractTerm,
    PriceRow,
    RebateInvoice,
)

CLIENT = "0015e00000Qm7AcAAJ"
OTHER = "0015e00000Zx4BdAAK"
NDC = "00093015001"  # a generic
BRAND_NDC = "00006027731"
YEAR = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
RETAIL_BRAND, RETAIL_GENERIC, MAIL_GENERIC = ("retail", "brand"), ("retail", "generic"), ("mail", "generic")


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def sha(packet_id: str, revision: int) -> str:
    return hashlib.sha256(f"{packet_id}/{revision}".encode()).hexdigest()


def term(component=RETAIL_BRAND, *, client=CLIENT, start="2025-01-01", end="2025-12-31", price_list="MAC-A",
         awp="0.1750", fee="1.25", rebate="200.00") -> ContractTerm:
    channel, drug_class = component
    return ContractTerm(
        contract_id="CLM-2024-0113", client_account_id=client, component=f"{channel} {drug_class}",
        channel=channel, drug_class=drug_class, awp_discount_guarantee=Decimal(awp) if awp else None,
        dispensing_fee_guarantee=Decimal(fee) if fee else None,
        rebate_per_brand_claim=Decimal(rebate) if rebate else None, guarantee_basis="combined", exclusions=(),
        price_list=price_list, period_start=day(start), period_end=day(end),
    )


def price(*, ndc=NDC, price_list="MAC-A", effective="2025-01-01", end=None, mac="0.1234") -> PriceRow:
    return PriceRow(price_list=price_list, ndc=ndc, drug_name="ATORVASTATIN 10MG TAB", mac_unit_price=Decimal(mac),
                    effective_date=day(effective), end_date=day(end) if end else None)


def invoice(*, client=CLIENT, quarter="2025Q2", ndc=BRAND_NDC, invoice_id="INV-25Q2-001",
            amount="1200.00", invoice_date="2025-08-15") -> RebateInvoice:
    return RebateInvoice(invoice_id=invoice_id, client_account_id=client, quarter=quarter, ndc=ndc,
                         drug_name="JANUVIA 100MG TAB", manufacturer="Merck", brand_claims=6,
                         rebate_amount=Decimal(amount), invoice_date=day(invoice_date))


def account(*, client=CLIENT) -> Account:
    return Account(account_id=client, account_name="Northwind Health Plan", type="Customer",
                   domo_group="Client - Northwind", plan_year_start=day("2025-01-01"), last_modified=day("2026-11-02"))


def revision(kind: str, records, *, packet_id: str | None = None, number=1, status=VERIFIED, clients=(CLIENT,),
             start="2025-01-01", end="2025-12-31", supersedes=None) -> Revision:
    packet_id = packet_id or f"EVP-{kind.upper()}-{start[:4]}"
    return Revision(packet_id=packet_id, revision=number, sha256=sha(packet_id, number), kind=kind,
                    client_account_ids=tuple(clients), period_start=day(start), period_end=day(end),
                    supersedes=supersedes, status=status, records=tuple(records))


def contract(terms=None, **kwargs) -> Revision:
    return revision(CONTRACT, terms if terms is not None else [term(RETAIL_BRAND), term(RETAIL_GENERIC)], **kwargs)


def pricing(rows=None, **kwargs) -> Revision:
    kwargs.setdefault("clients", ())
    return revision(PRICING, rows if rows is not None else [price()], **kwargs)


def rebate(invoices=None, **kwargs) -> Revision:
    kwargs.setdefault("end", "2026-03-31")
    return revision(REBATE, invoices if invoices is not None else [invoice()], **kwargs)


def salesforce(accounts=None, **kwargs) -> Revision:
    kwargs.setdefault("start", "2026-11-01")
    kwargs.setdefault("end", "2026-11-30")
    return revision(SALESFORCE, accounts if accounts is not None else [account()], **kwargs)


def domo(kind: str, record, row: int = 1) -> DomoRow:
    return DomoRow(kind=kind, record=record, load_id="LOAD-7", dataset_id=f"ds-{kind}", row=row)


def evidence(*revisions: Revision, domo_rows=()) -> Evidence:
    return Evidence(revisions=tuple(revisions), domo_rows=tuple(domo_rows))


def complete() -> dict[str, Revision]:
    """One governed packet of each kind: together they authorize every question in QUESTIONS."""
    return {CONTRACT: contract(), PRICING: pricing(), REBATE: rebate(), SALESFORCE: salesforce()}


# The questions of the authority table, and the kinds each one needs.
QUESTIONS = {
    "contract, one component": (dict(output=CONTRACT_GUARANTEE, period=YEAR, component=RETAIL_GENERIC), {CONTRACT}),
    "contract, combined": (dict(output=CONTRACT_GUARANTEE, period=YEAR, components=[RETAIL_BRAND, RETAIL_GENERIC]),
                           {CONTRACT}),
    "pricing finding": (dict(output=PRICING_FINDING, ndc=NDC, fill_date=day("2025-04-15")), {CONTRACT, PRICING}),
    "rebate claim": (dict(output=REBATE_CLAIM, quarter="2025Q2", ndc=BRAND_NDC), {REBATE}),
    "client scope": (dict(output=CLIENT_SCOPE), {SALESFORCE}),
}
