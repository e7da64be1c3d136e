"""Totals of findings round once, at the end (../shared/domain-pbm.md: "cents, half up, at the end, not per
claim"): a hand-computed example where rounding each claim to cents and then adding gives another amount."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from deliverables.calculations import engine
from deliverables.runs import compute
from tests.deliverables.calculations.builders import BRAND_NDC, CLIENT, claim, price, term, write_claims

PERIOD = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))


def _computed(tmp_path):
    claims = [
        # MAC 1.000000 x 9.875 = 9.875 allowed, 9.88 paid: 0.005 over each. Each rounded to cents is 0.01, three
        # of them 0.03; the exact overpayments add to 0.015, rounded once, half up: 0.02.
        *(claim(claim_id=f"RX-M{i}", member=f"M000000{i}", qty="9.875", icp="9.88") for i in range(3)),
        # AWP 9.99375 x 1 x (1 - 0.20) = 7.995 allowed, 8.00 paid: 0.005 over (a brand AWP finding, 0.01 alone);
        # fee 1.25 paid against 1.2450: 0.005 over (a dispensing-fee finding, 0.01 alone).
        claim(claim_id="RX-B", member="M0000009", drug_class="Brand", ndc=BRAND_NDC, qty="1", awp_unit="9.99375",
              icp="8.00", fee="1.25"),
    ]
    terms = [term("Retail Generic", "retail", "generic", rate="0.5000"),
             term("Retail Brand", "retail", "brand", rate="0.2000", fee="1.2450")]
    path = write_claims(tmp_path / "claims.parquet", claims)
    con = engine.connect(memory_limit="256MB", threads=1)
    try:
        calculated = engine.run_duckdb(con, path, terms, [price("00093000110", "1.000000", "2025-01-01")], [],
                                       engine.Scope(period=PERIOD), findings_into="findings_raw")
        computed = compute.calculate(con, calculated, evidence={}, period=PERIOD, dataset_label="claims v1")
        cursor = con.execute("SELECT * FROM run_findings ORDER BY kind, claim_id")
        columns = [d[0] for d in cursor.description]
        findings = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()
    return {n.key: n for n in computed.numbers}, findings


def test_findings_totals_add_the_exact_overpayments_and_round_once(tmp_path):
    numbers, findings = _computed(tmp_path)
    mac = numbers[f"findings:{CLIENT}:mac:indicative"]  # the terms are no governed contract's: indicative
    assert mac.indicative_amount == D("0.02")  # not 0.03, the sum of each claim's cents
    assert (mac.figures["findings"], mac.figures["overpayment"], mac.figures.get("overpayment_exact")) == (
        "3", "0.02", "0.015")
    assert numbers[f"findings:{CLIENT}:brand_awp:indicative"].indicative_amount == D("0.01")
    assert numbers[f"findings:{CLIENT}:dispensing_fee:indicative"].indicative_amount == D("0.01")
    # each finding keeps its own amount rounded once to cents, and its exact overpayment beside it
    assert [(f["claim_id"], f["kind"], f["indicative_overpayment"], f.get("overpayment_exact")) for f in findings] == [
        ("RX-B", "brand_awp", D("0.01"), D("0.005")), ("RX-B", "dispensing_fee", D("0.01"), D("0.005")),
        *((f"RX-M{i}", "mac", D("0.01"), D("0.005")) for i in range(3))]


def test_savings_add_the_exact_overpayments_and_round_once(tmp_path):
    numbers, _ = _computed(tmp_path)
    savings = numbers[f"savings:{CLIENT}:indicative"]
    # MAC 0.015 -> 0.02 added; brand AWP and fee findings 0.005 + 0.005 = 0.010 -> 0.01 shown (not 0.01 + 0.01)
    assert savings.figures["overpayments"] == "0.02"
    assert savings.figures["overpayments_not_added"] == "0.01"
    assert savings.indicative_amount == D("0.02") and savings.figures["total"] == "0.02"
