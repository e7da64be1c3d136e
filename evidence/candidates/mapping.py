"""Mapping a Domo dataset's columns onto an evidence kind's record columns, and reading its values as that
kind's records. Plain module, no Django.

- `propose(kind, domo_columns)`: for each record column (in the kind's order) the Domo column whose name
  matches it once normalised (case, spaces and punctuation ignored: "Period Start" is period_start), else
  one from a small table of Domo's own names for it ("Brand/Generic" is drug_class, "MAC List" is price_list).
- `REQUIRED`: the record columns a registration must map: each kind's key columns (model.KEYS) and what the
  authority rules read of a candidate row (the client, the dates a row is in force, the component), plus the
  amount that makes a price row or an invoice what it is. Everything else may stay unmapped.
- `value_text(value, column)`: a silver (Parquet) value as the text a packet would carry; the packet's own
  parsers (evidence.packets.validation.values.PARSERS) then type it, so a Domo value is parsed exactly like
  a packet value. Two things are Domo's and are read first: enumerations spelled Domo's way ("Brand",
  "Retail", "per-component") are matched case-insensitively, `-` and spaces read as `_` (the format
  compares channel and drug class case-insensitively); and a DATETIME mapped onto a date column gives its
  date (Salesforce's "Last Modified").
"""
from __future__ import annotations

import datetime as dt
import decimal
import re
from dataclasses import dataclass

from evidence.packets.model import (
    CHANNELS,
    COLUMNS,
    CONTRACT,
    DRUG_CLASSES,
    GUARANTEE_BASES,
    KEYS,
    KINDS,
    PRICING,
    REBATE,
    RECORD_TYPES,
    SALESFORCE,
    Record,
)
from evidence.packets.validation.values import PARSERS

REQUIRED: dict[str, tuple[str, ...]] = {
    CONTRACT: ("client_account_id", "channel", "drug_class", "period_start", "period_end"),
    PRICING: ("price_list", "ndc", "mac_unit_price", "effective_date"),
    REBATE: ("invoice_id", "client_account_id", "quarter", "ndc", "rebate_amount"),
    SALESFORCE: ("account_id",),
}
assert all(set(KEYS[kind]) <= set(REQUIRED[kind]) for kind in KINDS)

# Domo's names for record columns, by normalised Domo name (what `_normal` makes of it).
SYNONYMS: dict[str, dict[str, str]] = {
    CONTRACT: {"brandgeneric": "drug_class", "accountid": "client_account_id", "maclist": "price_list",
               "excludedclaims": "exclusions", "startdate": "period_start", "enddate": "period_end"},
    PRICING: {"maclist": "price_list", "maclistname": "price_list", "unitprice": "mac_unit_price",
              "macprice": "mac_unit_price", "drug": "drug_name"},
    REBATE: {"accountid": "client_account_id", "invoicenumber": "invoice_id", "rebate": "rebate_amount",
             "claims": "brand_claims", "drug": "drug_name"},
    SALESFORCE: {"clientaccountid": "account_id", "salesforceid": "account_id", "name": "account_name",
                 "accounttype": "type", "group": "domo_group"},
}
DATE_COLUMNS = frozenset({"period_start", "period_end", "effective_date", "end_date", "invoice_date",
                          "plan_year_start", "last_modified"})
ENUMERATIONS = {"channel": CHANNELS, "drug_class": DRUG_CLASSES, "guarantee_basis": GUARANTEE_BASES}


def _normal(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


@dataclass(frozen=True)
class Proposed:
    """One record column of the kind and the Domo column proposed for it ("" for none)."""

    column: str
    required: bool
    domo_column: str
    matched_by: str  # "name", "synonym" or "" (nothing proposed)


def propose(kind: str, domo_columns: list[str]) -> list[Proposed]:
    """The proposed mapping, one line per record column in the kind's order; a Domo column is proposed once."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    by_name: dict[str, str] = {}
    for name in domo_columns:
        by_name.setdefault(_normal(name), name)
    by_synonym = {column: by_name[normal] for normal, column in SYNONYMS[kind].items() if normal in by_name}
    taken: set[str] = set()
    proposal = []
    for column in COLUMNS[kind]:
        domo, how = by_name.get(_normal(column), ""), "name"
        if not domo or domo in taken:
            domo, how = by_synonym.get(column, ""), "synonym"
        if domo in taken:
            domo = ""
        taken.add(domo)
        proposal.append(Proposed(column, column in REQUIRED[kind], domo, how if domo else ""))
    return proposal


def full_mapping(kind: str, mapping: dict[str, str]) -> dict[str, str]:
    """Every record column of the kind, in order, with its Domo column or "" (unknown keys are the caller's
    to refuse first)."""
    return {column: (mapping.get(column) or "") for column in COLUMNS[kind]}


def value_text(value, column: str) -> str:
    """A silver value as packet text: NULL is blank, decimals exactly (never an exponent), dates ISO."""
    if value is None:
        return ""
    if isinstance(value, str):
        allowed = ENUMERATIONS.get(column)
        if allowed:
            spelled = re.sub(r"[\s-]+", "_", value.strip().lower())
            return spelled if spelled in allowed else value
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if column in DATE_COLUMNS else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        # Domo's DOUBLE was parsed from short decimal text: repr gives that text back (shortest round trip).
        return repr(value)
    return str(value)


def parse(kind: str, column: str, text: str):
    """The packet parser's value for a mapped column's text (ValueError with what was expected)."""
    return PARSERS[kind][column](text)


def unmapped(kind: str, column: str):
    """An unmapped column's value in the record: the packet's blank (None, (), "") where the format has one,
    else None."""
    try:
        return PARSERS[kind][column]("")
    except ValueError:
        return None


def record_from_values(kind: str, values: dict[str, str], mapping: dict[str, str]) -> Record:
    """A stored candidate row (checked at registration) as the kind's record."""
    return RECORD_TYPES[kind](**{
        column: parse(kind, column, values.get(column, "")) if mapping.get(column) else unmapped(kind, column)
        for column in COLUMNS[kind]
    })
