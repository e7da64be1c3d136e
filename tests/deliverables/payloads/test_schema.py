"""The published JSON Schema of the dashboard payload (dashboard-payload-v1): itself a valid draft 2020-12 schema,
and strict: money only as decimal strings with two places, an amount only when authorized, a not-concluded figure
naming its missing evidence, no field it does not name. No database: a payload written here by hand."""
from __future__ import annotations

import copy
import json

import pytest
from jsonschema import Draft202012Validator

from deliverables.payloads import builder
from deliverables.payloads.schema import NAME, SCHEMA, schema

BASE = "https://console.example"
SHA = "a" * 64
CLIENT = "001TEST00000000AAA"


def url(key: str) -> str:
    return f"{BASE}/runs/7/numbers/{key}/"


MISSING = {"kind": "pricing", "reason": "no governed MAC list covers fills of NDC 00093505601 in March 2025",
           "flag_key": "f" * 64}


def example() -> dict:
    """A small valid payload: one figure of each decision, a finding total, the three savings buckets."""
    awp, fee, mac = f"awp:{CLIENT}:retail-brand", f"fee:{CLIENT}:retail-brand", f"findings:{CLIENT}:mac:not_concluded"
    parts = {"guarantee_shortfalls": "15753.09", "rebate_shortfalls": "0.00", "overpayments": "0.00",
             "overpayments_not_added": "0.00"}
    return {
        "schema": NAME,
        "client": {"account_id": CLIENT, "name": "Acme Health Plan"},
        "period": {"start": "2025-01-01", "end": "2025-12-31"},
        "run": {"id": 7, "finished_at": "2025-06-01T12:00:00+00:00", "calculation_version": SHA,
                "result_sha256": SHA, "inputs_sha256": SHA, "url": f"{BASE}/runs/7/"},
        "figures": [
            {"key": awp, "kind": "awp_guarantee", "label": "AWP discount guarantee", "decision": "authorized",
             "amount": "15753.09", "unit": "USD", "period": {"start": "2025-01-01", "end": "2025-12-31"},
             "missing": [], "provenance_url": url(awp)},
            {"key": fee, "kind": "fee_guarantee", "label": "Dispensing-fee guarantee", "decision": "indicative",
             "indicative_amount": "120.00", "unit": "USD", "period": None, "missing": [], "provenance_url": url(fee)},
            {"key": mac, "kind": "finding", "label": "Pricing audit findings, mac (not concluded)",
             "decision": "not_concluded", "unit": "USD", "period": None, "missing": [MISSING],
             "provenance_url": url(mac)},
        ],
        "findings": [{"key": mac, "kind": "mac", "decision": "not_concluded", "count": 3, "paid": "360.00",
                      "missing": [MISSING], "provenance_url": url(mac)}],
        "savings": {
            "authorized": {"key": "s:a", "decision": "authorized", "amount": "15753.09", "parts": parts,
                           "numbers": 1, "missing": [], "provenance_url": url("s:a")},
            "indicative": {"key": "s:i", "decision": "indicative", "indicative_amount": "120.00",
                           "parts": {**parts, "guarantee_shortfalls": "120.00"}, "numbers": 1, "missing": [],
                           "provenance_url": url("s:i")},
            "not_concluded": {"key": "s:n", "decision": "not_concluded", "numbers": 1, "missing": [MISSING],
                              "provenance_url": url("s:n")},
        },
        "generated_from": {"builder": builder.BUILDER, "schema_url": f"{BASE}/api/schemas/dashboard-payload-v1.json",
                           "numbers": 6, "claims": [{"dataset_key": "claims", "dataset_version": 3}],
                           "evidence": [{"kind": "contract", "packet_id": "PKT-C1", "revision": 2, "sha256": SHA}]},
    }


def test_the_schema_is_a_valid_draft_2020_12_schema():
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    published = schema("https://console.example/api/schemas/dashboard-payload-v1.json")
    Draft202012Validator.check_schema(published)
    assert published["$id"].endswith("/dashboard-payload-v1.json") and "$id" not in SCHEMA


def test_the_example_validates():
    assert builder.errors(example()) == []
    builder.validate(example())


def tampered(change) -> list[str]:
    payload = copy.deepcopy(example())
    change(payload)
    return builder.errors(payload)


@pytest.mark.parametrize(("name", "change", "path"), [
    ("a float amount", lambda p: p["figures"][0].update(amount=15753.09), "figures/0/amount"),
    ("an integer amount", lambda p: p["figures"][0].update(amount=15753), "figures/0/amount"),
    ("three decimal places", lambda p: p["figures"][0].update(amount="15753.090"), "figures/0/amount"),
    ("one decimal place", lambda p: p["figures"][1].update(indicative_amount="120.0"), "figures/1/indicative_amount"),
    ("a thousands separator", lambda p: p["savings"]["authorized"].update(amount="15,753.09"),
     "savings/authorized/amount"),
    ("an authorized figure without amount", lambda p: p["figures"][0].pop("amount"), "figures/0"),
    ("an authorized figure with an indicative amount", lambda p: p["figures"][0].update(indicative_amount="1.00"),
     "figures/0"),
    ("an authorized figure naming missing evidence", lambda p: p["figures"][0].update(missing=[MISSING]),
     "figures/0/missing"),
    ("an indicative figure with an amount", lambda p: p["figures"][1].update(amount="120.00"), "figures/1"),
    ("a not-concluded figure with an amount", lambda p: p["figures"][2].update(amount="0.00"), "figures/2"),
    ("a not-concluded figure with an indicative amount",
     lambda p: p["figures"][2].update(indicative_amount="5.00"), "figures/2"),
    ("a not-concluded figure naming no missing evidence", lambda p: p["figures"][2].update(missing=[]),
     "figures/2/missing"),
    ("a missing item without its reason", lambda p: p["figures"][2]["missing"][0].pop("reason"),
     "figures/2/missing/0"),
    ("a figure without a decision", lambda p: p["figures"][0].pop("decision"), "figures/0"),
    ("a figure without its provenance link", lambda p: p["figures"][0].pop("provenance_url"), "figures/0"),
    ("a relative provenance link", lambda p: p["figures"][0].update(provenance_url="/runs/7/numbers/x/"),
     "figures/0/provenance_url"),
    ("an unknown decision", lambda p: p["figures"][0].update(decision="approved"), "figures/0/decision"),
    ("a field the schema does not name", lambda p: p["figures"][0].update(note="x"), "figures/0"),
    ("a float overpayment", lambda p: p["findings"][0].update(decision="authorized", overpayment=1.5, missing=[]),
     "findings/0/overpayment"),
    ("a not-concluded finding with an overpayment", lambda p: p["findings"][0].update(overpayment="1.50"),
     "findings/0"),
    ("savings not concluded with an amount", lambda p: p["savings"]["not_concluded"].update(amount="1.00"),
     "savings/not_concluded"),
    ("savings not concluded naming nothing", lambda p: p["savings"]["not_concluded"].update(missing=[]),
     "savings/not_concluded/missing"),
    ("another schema version", lambda p: p.update(schema="dashboard-payload-v2"), "schema"),
])
def test_tampered_payloads_fail_validation_naming_the_field(name, change, path):
    problems = tampered(change)
    assert problems, name
    assert any(p.split(": ", 1)[0] == path for p in problems), (name, problems)


def test_validate_raises_with_the_path_of_the_failing_field():
    payload = example()
    payload["figures"][0]["amount"] = 15753.09
    with pytest.raises(builder.PayloadInvalid, match=r"figures/0/amount: 15753\.09 is not of type 'string'"):
        builder.validate(payload)


def test_money_is_exact_text_with_two_places():
    from decimal import Decimal

    assert builder.money(Decimal("15753.09"), where="x") == "15753.09"
    assert builder.money("12", where="x") == "12.00"
    assert builder.money(Decimal("-0.00"), where="x") == "0.00"
    assert builder.money(Decimal("-3.1"), where="x") == "-3.10"
    with pytest.raises(builder.PayloadInvalid, match="x: 1.005 has more than two decimal places"):
        builder.money("1.005", where="x")


def test_the_same_payload_gives_the_same_bytes():
    one, two = example(), json.loads(json.dumps(example()))
    two["figures"][0] = dict(reversed(list(two["figures"][0].items())))
    assert builder.payload_bytes(one) == builder.payload_bytes(two)
    assert b" " not in builder.payload_bytes({"a": 1, "b": [1, 2]})
