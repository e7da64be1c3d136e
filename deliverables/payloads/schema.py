"""The JSON Schema (draft 2020-12) of the dashboard payload, version 1: `dashboard-payload-v1`.

One payload is one client's figures of one succeeded calculation run (deliverables.payloads.builder). It is
published at /api/schemas/dashboard-payload-v1.json, and every payload is validated against it before it leaves
the builder. What it holds to:

- money is a decimal string with exactly two places ("1234.50", "-3.10"), never a JSON number (a float would
  round);
- every figure, finding total and savings bucket carries its decision (authorized, indicative, not_concluded)
  and its provenance_url (the absolute address of the number's provenance page);
- only an authorized figure has an `amount`; only an indicative figure has an `indicative_amount`; a figure not
  concluded has neither and names its missing evidence (`missing`, at least one item);
- nothing else: every object is closed (additionalProperties false), so a field a consumer relies on is one
  this schema names.

A change that breaks a consumer is a new version (dashboard-payload-v2), never an edit of this one.
"""
from __future__ import annotations

import copy

NAME = "dashboard-payload-v1"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

DECISIONS = ("authorized", "indicative", "not_concluded")
FIGURE_KINDS = ("awp_guarantee", "fee_guarantee", "rebate_guarantee", "finding")
FINDING_KINDS = ("mac", "brand_awp", "dispensing_fee", "duplicate")
SAVINGS_PARTS = ("guarantee_shortfalls", "rebate_shortfalls", "overpayments", "overpayments_not_added")

_MONEY = {"type": "string", "pattern": r"^-?(0|[1-9][0-9]*)\.[0-9]{2}$",
          "description": "an exact amount in US dollars: a decimal string with two places, never a JSON number"}
_SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_DATE = {"type": "string", "format": "date", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
_URL = {"type": "string", "format": "uri", "pattern": "^https?://", "description": "an absolute address"}
_TEXT = {"type": "string", "minLength": 1}
_COUNT = {"type": "integer", "minimum": 0}


def _closed(properties: dict, required: list[str], **more) -> dict:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False,
            **more}


def _decided(amount: str, indicative: str, *, missing_required: bool = True) -> list[dict]:
    """The rules of a decision over an object's amount fields: authorized has `amount` and no `indicative`;
    indicative has `indicative` and no `amount`; not concluded has neither and (when `missing_required`) at
    least one missing-evidence item."""
    not_concluded = {"not": {"anyOf": [{"required": [amount]}, {"required": [indicative]}]}}
    if missing_required:
        not_concluded = {"allOf": [not_concluded, {"required": ["missing"],
                                                   "properties": {"missing": {"minItems": 1}}}]}
    return [
        {"if": {"properties": {"decision": {"const": "authorized"}}, "required": ["decision"]},
         "then": {"required": [amount], "not": {"required": [indicative]}}},
        {"if": {"properties": {"decision": {"const": "indicative"}}, "required": ["decision"]},
         "then": {"required": [indicative], "not": {"required": [amount]}}},
        {"if": {"properties": {"decision": {"const": "not_concluded"}}, "required": ["decision"]},
         "then": not_concluded},
    ]


_PERIOD = _closed({"start": _DATE, "end": _DATE}, ["start", "end"])

_MISSING = _closed({
    "kind": {**_TEXT, "description": "the kind of evidence missing: contract, pricing or rebate"},
    "reason": {**_TEXT, "description": "what is missing, in words"},
    "flag_key": {"type": "string", "description": "the missing-evidence flag raised for it ('' when none)"},
}, ["kind", "reason", "flag_key"])

_FIGURE = _closed({
    "key": {**_TEXT, "description": "the number's key, stable across runs of the same scope"},
    "kind": {"enum": list(FIGURE_KINDS)},
    "label": _TEXT,
    "decision": {"enum": list(DECISIONS)},
    "amount": {**_MONEY, "description": "the concluded amount: only when authorized"},
    "indicative_amount": {**_MONEY, "description": "on candidate evidence, not a conclusion: only when indicative"},
    "unit": {"const": "USD"},
    "period": {"oneOf": [_PERIOD, {"type": "null"}]},
    "missing": {"type": "array", "items": _MISSING,
                "description": "the governed evidence the figure lacks: why it is not concluded, or only "
                               "indicative (empty when authorized)"},
    "provenance_url": _URL,
}, ["key", "kind", "label", "decision", "unit", "period", "missing", "provenance_url"],
    allOf=[*_decided("amount", "indicative_amount"),
           {"if": {"properties": {"decision": {"const": "authorized"}}, "required": ["decision"]},
            "then": {"properties": {"missing": {"maxItems": 0}}}}])

_FINDING = _closed({
    "key": _TEXT,
    "kind": {"enum": list(FINDING_KINDS)},
    "decision": {"enum": list(DECISIONS)},
    "count": {**_COUNT, "description": "claims found"},
    "paid": {**_MONEY, "description": "what was paid on those claims"},
    "overpayment": {**_MONEY, "description": "only when authorized"},
    "indicative_overpayment": {**_MONEY, "description": "only when indicative"},
    "missing": {"type": "array", "items": _MISSING},
    "provenance_url": _URL,
}, ["key", "kind", "decision", "count", "paid", "missing", "provenance_url"],
    allOf=_decided("overpayment", "indicative_overpayment"))

_SAVINGS_PARTS = _closed({name: _MONEY for name in SAVINGS_PARTS}, list(SAVINGS_PARTS),
                         description="guarantee and rebate shortfalls and the MAC and duplicate overpayments add "
                                     "up to the total; overpayments_not_added (brand AWP, dispensing fee) are the "
                                     "claim-level view of what the guarantee shortfalls recover, shown only")
_SAVINGS_COMMON = {"key": _TEXT, "numbers": {**_COUNT, "description": "the figures this bucket adds up"},
                   "missing": {"type": "array", "items": _MISSING}, "provenance_url": _URL}


def _savings_bucket(decision: str) -> dict:
    properties = {**_SAVINGS_COMMON, "decision": {"const": decision}}
    required = ["key", "decision", "numbers", "missing", "provenance_url"]
    if decision == "authorized":
        properties.update(amount=_MONEY, parts=_SAVINGS_PARTS)
        required += ["amount", "parts"]
    elif decision == "indicative":
        properties.update(indicative_amount=_MONEY, parts=_SAVINGS_PARTS)
        required += ["indicative_amount", "parts"]
    bucket = _closed(properties, required)
    if decision == "not_concluded":
        # Adds nothing up: names what holds its figures back (something, as soon as it holds a figure).
        bucket["if"] = {"properties": {"numbers": {"minimum": 1}}}
        bucket["then"] = {"properties": {"missing": {"minItems": 1}}}
    return bucket


_SAVINGS = _closed({d: _savings_bucket(d) for d in DECISIONS}, list(DECISIONS),
                   description="what is recoverable for the client, by decision (sums of the figures)")

_EVIDENCE = _closed({"kind": _TEXT, "packet_id": _TEXT, "revision": {"type": "integer", "minimum": 1},
                     "sha256": _SHA256}, ["kind", "packet_id", "revision", "sha256"])

SCHEMA: dict = {
    "$schema": DIALECT,
    "title": "Dashboard payload, version 1",
    "description": "One client's figures of one succeeded calculation run, each with its decision and its "
                   "provenance page. Money is a decimal string with two places; only an authorized figure has "
                   "an amount; a figure not concluded names its missing evidence instead.",
    **_closed({
        "schema": {"const": NAME},
        "client": _closed({"account_id": {"type": "string", "pattern": "^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$"},
                           "name": {"type": "string",
                                    "description": "from the governed Salesforce revisions the run read ('' when "
                                                   "none names the client)"}},
                          ["account_id", "name"]),
        "period": _PERIOD,
        "run": _closed({"id": {"type": "integer", "minimum": 1},
                        "finished_at": {"type": "string", "format": "date-time"},
                        "calculation_version": _SHA256, "result_sha256": _SHA256, "inputs_sha256": _SHA256,
                        "url": _URL},
                       ["id", "finished_at", "calculation_version", "result_sha256", "inputs_sha256", "url"]),
        "figures": {"type": "array", "items": _FIGURE,
                    "description": "every guarantee line, rebate line and findings total of the client, in the "
                                   "run's order"},
        "findings": {"type": "array", "items": _FINDING,
                     "description": "the pricing audit findings by kind and decision (the findings totals of "
                                    "`figures`, with their counts)"},
        "savings": _SAVINGS,
        "generated_from": _closed({
            "builder": {"const": "deliverables.payloads.builder"},
            "schema_url": _URL,
            "numbers": {**_COUNT, "description": "the run's stored numbers of the client this payload shows"},
            "claims": {"type": "array", "items": _closed(
                {"dataset_key": _TEXT, "dataset_version": {"type": ["integer", "null"]}},
                ["dataset_key", "dataset_version"])},
            "evidence": {"type": "array", "items": _EVIDENCE,
                         "description": "the governed packet revisions the client's figures used"},
        }, ["builder", "schema_url", "numbers", "claims", "evidence"]),
    }, ["schema", "client", "period", "run", "figures", "findings", "savings", "generated_from"]),
}


def schema(schema_id: str = "") -> dict:
    """A copy of the schema, with `$id` set when given (the address it is published at)."""
    out = copy.deepcopy(SCHEMA)
    if schema_id:
        out = {"$schema": out.pop("$schema"), "$id": schema_id, **out}
    return out
