"""The records' values: one parser per column of each kind (PARSERS), turning a CSV field into its typed
value or raising ValueError with what was expected.

Money and rates are exact decimals written with a '.', never exponents, thousands separators or
currency signs. A blank guarantee is None; every other column but the few noted is required."""
from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from evidence.packets.model import (
    CHANNELS,
    CONTRACT,
    DRUG_CLASSES,
    EXCLUSIONS,
    GUARANTEE_BASES,
    PRICING,
    REBATE,
    SALESFORCE,
)
from evidence.packets.validation.header import parse_date, salesforce_id_problem

DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
SIGNED_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
INTEGER = re.compile(r"[0-9]+")
NDC = re.compile(r"[0-9]{11}")
QUARTER = re.compile(r"[0-9]{4}Q[1-4]")

Parser = Callable[[str], Any]


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "…")


def text(value: str) -> str:
    if not value.strip():
        raise ValueError("is blank; a value is required")
    return value


def optional_text(value: str) -> str:
    return value


def account_id(value: str) -> str:
    if problem := salesforce_id_problem(text(value)):
        raise ValueError(problem)
    return value


def _decimal(value: str, pattern: re.Pattern, what: str) -> Decimal:
    text(value)
    if not pattern.fullmatch(value):
        hint = ""
        if "," in value:
            hint = " (no thousands separators; the decimal mark is '.')"
        elif re.search(r"[$€£]", value):
            hint = " (no currency signs)"
        elif re.search(r"[eE]", value):
            hint = " (write it out, without an exponent)"
        raise ValueError(f"{_shown(value)} is not {what}, like 12.50{hint}")
    return Decimal(value)


def money(value: str) -> Decimal:
    return _decimal(value, DECIMAL, "an amount of 0 or more written with digits and a '.'")


def signed_money(value: str) -> Decimal:
    return _decimal(value, SIGNED_DECIMAL, "an amount written with digits and a '.' (a leading '-' for a credit)")


def optional_money(value: str) -> Decimal | None:
    return None if value == "" else money(value)


def optional_fraction(value: str) -> Decimal | None:
    if value == "":
        return None
    fraction = _decimal(value, DECIMAL, "a fraction written with digits and a '.'")
    if fraction > 1:
        raise ValueError(f"{_shown(value)} is over 1; the guarantee is a fraction (0.1750 is AWP less 17.5%)")
    return fraction


def count(value: str) -> int:
    text(value)
    if not INTEGER.fullmatch(value):
        raise ValueError(f"{_shown(value)} is not a whole number of 0 or more")
    return int(value)


def date(value: str):
    text(value)
    return parse_date(value)


def optional_date(value: str):
    return None if value == "" else parse_date(value)


def ndc(value: str) -> str:
    text(value)
    if not NDC.fullmatch(value):
        raise ValueError(f"{_shown(value)} is not an NDC: exactly 11 digits, leading zeros kept, no dashes")
    return value


def quarter(value: str) -> str:
    text(value)
    if not QUARTER.fullmatch(value) or value.startswith("0000"):
        raise ValueError(f"{_shown(value)} is not a quarter YYYYQn (like 2025Q1)")
    return value


def one_of(allowed: tuple[str, ...]) -> Parser:
    def parse(value: str) -> str:
        text(value)
        if value not in allowed:
            raise ValueError(f"{_shown(value)} is not one of {', '.join(allowed)}")
        return value
    return parse


def exclusions(value: str) -> tuple[str, ...]:
    if value == "":
        return ()
    items = value.split(";")
    for item in items:
        if item not in EXCLUSIONS:
            what = "an empty item" if item == "" else _shown(item)
            raise ValueError(f"{what} is not an exclusion; expected ';'-separated values from {', '.join(EXCLUSIONS)}")
    repeated = sorted({item for item in items if items.count(item) > 1})
    if repeated:
        raise ValueError(f"{', '.join(repeated)} is listed twice")
    return tuple(items)


PARSERS: dict[str, dict[str, Parser]] = {
    CONTRACT: {
        "contract_id": text, "client_account_id": account_id, "component": text,
        "channel": one_of(CHANNELS), "drug_class": one_of(DRUG_CLASSES),
        "awp_discount_guarantee": optional_fraction, "dispensing_fee_guarantee": optional_money,
        "rebate_per_brand_claim": optional_money, "guarantee_basis": one_of(GUARANTEE_BASES),
        "exclusions": exclusions, "price_list": text, "period_start": date, "period_end": date,
    },
    PRICING: {
        "price_list": text, "ndc": ndc, "drug_name": text, "mac_unit_price": money, "effective_date": date,
        "end_date": optional_date,
    },
    REBATE: {
        "invoice_id": text, "client_account_id": account_id, "quarter": quarter, "ndc": ndc, "drug_name": text,
        "manufacturer": text, "brand_claims": count, "rebate_amount": signed_money, "invoice_date": date,
    },
    SALESFORCE: {
        "account_id": account_id, "account_name": text, "type": text, "domo_group": optional_text,
        "plan_year_start": date, "last_modified": date,
    },
}
