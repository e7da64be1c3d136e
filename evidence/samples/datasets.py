"""The rows of the small datasets: contract terms, MAC pricing, rebate invoices, Salesforce accounts,
and the outputs of the two DataFlows (guarantee reconciliation, brand scripts by quarter)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from evidence.samples.claims import T_AWP_EXT, T_FEE_AWP, T_ICP, T_ICP_AWP, T_NET, T_NET_AWP, _Totals
from evidence.samples.helpers import CENT, _dec, _money, _rng
from evidence.samples.world import BRAND, CHANNELS, CLIENTS, DRUGS, GENERIC, PLAN_YEAR, PROSPECT, _World


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
