"""The claims dataset, streamed to data.csv row by row with running per-group totals (_Totals) that
the small datasets and the golden outputs are computed from, so memory stays flat."""
from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from evidence.samples.catalogue import CLAIMS, INVALID_BAD_DATE
from evidence.samples.helpers import _clock, _Files, _luhn_npi, _money, _rng, _thousandths
from evidence.samples.world import _BASE_TERMS, _SCHEMAS, BRAND, CLIENTS, DRUGS, GENERIC, PLAN_YEAR, _World

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
