"""Golden outputs: what each card shows in Domo, flaws included, computed from the claims totals
(see "Golden outputs" in evidence/samples/export.py)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from evidence.samples.catalogue import CardSpec
from evidence.samples.claims import (
    _T_SIZE,
    T_AWP_EXT,
    T_DISTINCT,
    T_FEE,
    T_ICP,
    T_MAX_DAY,
    T_QTY,
    T_RATIO_N,
    T_RATIO_SUM,
    T_ROWS,
    _Totals,
)
from evidence.samples.datasets import _Invoice
from evidence.samples.helpers import _dec, _double, _money
from evidence.samples.world import BRAND, CHANNELS, CLIENTS, GENERIC, PLAN_YEAR, _World


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
