"""Issue 12's "done when" arithmetic, computed by hand, on DuckDB over small claims files: what
test_arithmetic.py does not already show. Each example's numbers are worked out in its comments."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from tests.deliverables.calculations.builders import (
    BRAND_NDC,
    BRAND_NDC_2,
    CLIENT,
    GENERIC_NDC,
    claim,
    invoice,
    price,
    term,
)
from tests.deliverables.calculations.test_arithmetic import awp_lines, calculate


# --- combined vs per component: the same claims, two bases, two different amounts owed ----------------------
def _brand_surplus_generic_deficit():
    return [
        # brand: AWP 10 x 10 = 100.00, ICP 75.00: actual discount 25.00 vs guaranteed 100 x 0.20 = 20.00 (+5.00)
        claim(member="M1", drug_class="Brand", ndc=BRAND_NDC, qty="10", awp_unit="10", icp="75"),
        # generic: AWP 100.00, ICP 60.00: actual 40.00 vs guaranteed 100 x 0.50 = 50.00 (-10.00)
        claim(member="M2", qty="10", awp_unit="10", icp="60"),
    ]


def test_the_same_claims_owe_more_per_component_than_combined(tmp_path):
    claims = _brand_surplus_generic_deficit()
    owed = {}
    for basis in ("per_component", "combined"):
        terms = [term("Retail Brand", "retail", "brand", rate="0.2000", basis=basis),
                 term("Retail Generic", "retail", "generic", rate="0.5000", basis=basis)]
        results = calculate(tmp_path, claims, terms)
        lines = awp_lines(results)
        # Each component's own shortfall is the same under both bases: brand 0.00 (a surplus), generic 10.00.
        assert (lines["Retail Brand"]["shortfall"], lines["Retail Generic"]["shortfall"]) == (D("0.00"), D("10.00"))
        combined = awp_lines(results, "combined")
        owed[basis] = sum((line["shortfall_owed"] for line in results["awp_discount_guarantee"]), D("0.00"))
        if basis == "per_component":
            assert combined == {}
            # no offset: the generic deficit is owed in full, the brand surplus is not credited
            assert (lines["Retail Brand"]["shortfall_owed"], lines["Retail Generic"]["shortfall_owed"]) == (
                D("0.00"), D("10.00"))
        else:
            line = combined["combined"]
            # Σ AWP 200.00, Σ ICP 135.00: guaranteed 20.00 + 50.00 = 70.00, actual 65.00: 5.00 owed, on the
            # combined line only (the component lines show their shortfall, owe nothing)
            assert (line["awp"], line["ingredient_cost_paid"]) == (D("200.00"), D("135.00"))
            assert (line["guaranteed_discount"], line["actual_discount"]) == (D("70.00"), D("65.00"))
            assert (line["shortfall"], line["shortfall_owed"]) == (D("5.00"), D("5.00"))
            assert line["effective_rate"] == D("0.325000")  # 1 - 135/200
            assert lines["Retail Generic"]["shortfall_owed"] == D("0.00")
    assert owed == {"per_component": D("10.00"), "combined": D("5.00")}


# --- an exclusion flipping a shortfall: taking out a surplus claim shows a deficit ---------------------------
def test_excluding_a_zero_balance_claim_with_a_surplus_reveals_a_shortfall(tmp_path):
    claims = [
        # AWP 100.00, ICP 60.00: actual 40.00 vs guaranteed 50.00 (-10.00)
        claim(member="M1", qty="10", awp_unit="10", icp="60"),
        # zero balance (the member paid it all, plan paid 0): AWP 100.00, ICP 30.00: actual 70.00 vs 50.00 (+20.00)
        claim(member="M2", qty="10", awp_unit="10", icp="30", member_paid="30", plan_paid="0"),
    ]
    counted = awp_lines(calculate(tmp_path, claims, [term("Retail Generic", "retail", "generic", rate="0.5000")]))
    # both counted: Σ AWP 200.00, Σ ICP 90.00: guaranteed 100.00, actual 110.00: no shortfall
    line = counted["Retail Generic"]
    assert (line["claims"], line["guaranteed_discount"], line["actual_discount"], line["shortfall_owed"]) == (
        2, D("100.00"), D("110.00"), D("0.00"))
    excluded = awp_lines(calculate(tmp_path, claims, [term("Retail Generic", "retail", "generic", rate="0.5000",
                                                           exclusions="zero_balance")]))
    # the zero-balance claim out: AWP 100.00, ICP 60.00: guaranteed 50.00, actual 40.00: 10.00 owed
    line = excluded["Retail Generic"]
    assert (line["claims"], line["guaranteed_discount"], line["actual_discount"], line["shortfall_owed"]) == (
        1, D("50.00"), D("40.00"), D("10.00"))


# --- a mid-year amendment: two term rows, two lines for each guarantee ---------------------------------------
def test_a_mid_year_amendment_splits_both_guarantees_into_two_lines(tmp_path):
    terms = [term("Retail Generic", "retail", "generic", rate="0.5000", fee="1.00", end="2025-06-30"),
             term("Retail Generic", "retail", "generic", rate="0.6000", fee="0.80", start="2025-07-01")]
    claims = [
        claim(member="M1", fill="2025-03-01", qty="10", awp_unit="10", icp="45", fee="1.00"),
        claim(member="M2", fill="2025-06-30", qty="10", awp_unit="10", icp="52", fee="1.50"),
        claim(member="M3", fill="2025-07-01", qty="10", awp_unit="10", icp="45", fee="0.80"),
        claim(member="M4", fill="2025-12-31", qty="5", awp_unit="10", icp="25", fee="1.00"),
    ]
    results = calculate(tmp_path, claims, terms)
    awp = [(line["period_start"], line["period_end"], line["claims"], line["awp"], line["ingredient_cost_paid"],
            line["guaranteed_discount"], line["actual_discount"], line["shortfall_owed"])
           for line in results["awp_discount_guarantee"]]
    assert awp == [
        # H1 at 50%: AWP 100 + 100 = 200.00, ICP 45 + 52 = 97.00: guaranteed 100.00, actual 103.00: none owed
        (dt.date(2025, 1, 1), dt.date(2025, 6, 30), 2, D("200.00"), D("97.00"), D("100.00"), D("103.00"), D("0.00")),
        # H2 at 60%: AWP 100 + 50 = 150.00, ICP 45 + 25 = 70.00: guaranteed 90.00, actual 80.00: 10.00 owed
        # (the whole year at 50% would owe nothing: 175.00 guaranteed against 183.00)
        (dt.date(2025, 7, 1), dt.date(2025, 12, 31), 2, D("150.00"), D("70.00"), D("90.00"), D("80.00"),
         D("10.00")),
    ]
    fees = [(line["period_start"], line["scripts"], line["contracted_fee"], line["guaranteed_fees"],
             line["fees_paid"], line["shortfall"]) for line in results["dispensing_fee_guarantee"]]
    assert fees == [
        # H1: 2 scripts x 1.00 = 2.00 guaranteed, 1.00 + 1.50 = 2.50 paid: 0.50 above
        (dt.date(2025, 1, 1), 2, D("1.00"), D("2.00"), D("2.50"), D("0.50")),
        # H2: 2 scripts x 0.80 = 1.60 guaranteed, 0.80 + 1.00 = 1.80 paid: 0.20 above
        (dt.date(2025, 7, 1), 2, D("0.80"), D("1.60"), D("1.80"), D("0.20")),
    ]
    # the claim-level view: each fee over the contracted fee in force on its fill date
    assert [(f["kind"], f["fill_date"], f["allowed"], f["overpayment"]) for f in results["pricing_findings"]] == [
        ("dispensing_fee", dt.date(2025, 6, 30), D("1.00"), D("0.50")),
        ("dispensing_fee", dt.date(2025, 12, 31), D("0.80"), D("0.20")),
    ]


# --- a MAC price change on the fill date: a price that rises -------------------------------------------------
def test_a_mac_price_rise_applies_from_its_effective_date_not_before(tmp_path):
    terms = [term("Retail Generic", "retail", "generic", rate="0.5000")]
    prices = [price(GENERIC_NDC, "0.800000", "2025-01-01", "2025-03-14"), price(GENERIC_NDC, "1.000000", "2025-03-15")]
    claims = [
        # the day before the rise: MAC 0.80 x 10 = 8.00 allowed, 9.00 paid: 1.00 over
        claim(claim_id="RX-EVE", member="M1", fill="2025-03-14", qty="10", icp="9.00"),
        # the day of the rise: 1.00 x 10 = 10.00 allowed, 9.00 paid: no finding (the old price would say 1.00)
        claim(claim_id="RX-DAY", member="M2", fill="2025-03-15", qty="10", icp="9.00"),
        # the day of the rise, paid 10.50: 0.50 over the new price (2.50 over the old)
        claim(claim_id="RX-OVER", member="M3", fill="2025-03-15", qty="10", icp="10.50"),
    ]
    findings = calculate(tmp_path, claims, terms, prices)["pricing_findings"]
    assert [(f["claim_id"], f["reference"], f["allowed"], f["paid"], f["overpayment"]) for f in findings] == [
        ("RX-EVE", "LEAF-MAC 2025-01-01", D("8.00"), D("9.00"), D("1.00")),
        ("RX-OVER", "LEAF-MAC 2025-03-15", D("10.00"), D("10.50"), D("0.50")),
    ]


# --- a duplicate: billed three times, and on a component without terms ---------------------------------------
def test_a_claim_billed_three_times_is_two_duplicates_of_the_first_even_without_terms(tmp_path):
    nine = dt.datetime(2025, 3, 1, 9, 0)
    claims = [
        claim(claim_id="RX-1", at=nine, icp="10.00", fee="2.00"),
        claim(claim_id="RX-2", at=nine + dt.timedelta(minutes=1), icp="10.00", fee="2.00"),
        claim(claim_id="RX-3", at=nine + dt.timedelta(minutes=2), icp="11.00", fee="2.00"),
        # the same drug for the same member the next day: a refill, not a duplicate
        claim(claim_id="RX-4", fill="2025-03-02", icp="10.00", fee="2.00"),
        # a brand billed twice, a component with no terms row at all: still a duplicate (the claims alone say so)
        claim(claim_id="RX-5", drug_class="Brand", ndc=BRAND_NDC, channel="mail", at=nine, icp="100.00", fee="1.00"),
        claim(claim_id="RX-6", drug_class="Brand", ndc=BRAND_NDC, channel="mail", at=nine, icp="100.00", fee="1.00"),
    ]
    results = calculate(tmp_path, claims, [term("Retail Generic", "retail", "generic", rate="0.5000")])
    # each later copy refers to the first; its overpayment is all it paid (ICP + fee)
    assert [(f["kind"], f["claim_id"], f["reference"], f["paid"], f["overpayment"])
            for f in results["pricing_findings"]] == [
        ("duplicate", "RX-2", "RX-1", D("12.00"), D("12.00")),
        ("duplicate", "RX-3", "RX-1", D("13.00"), D("13.00")),
        ("duplicate", "RX-6", "RX-5", D("101.00"), D("101.00")),  # same time: the claim id decides the first
    ]
    # the guarantee still counts every current generic claim, copies included: 4 x AWP 100.00
    line = awp_lines(results)["Retail Generic"]
    assert (line["claims"], line["awp"], line["ingredient_cost_paid"]) == (4, D("400.00"), D("41.00"))


# --- a rebate quarter with its invoice missing altogether ----------------------------------------------------
def test_a_rebate_quarter_with_no_invoice_at_all_is_short_by_the_whole_guarantee(tmp_path):
    terms = [term("Retail Brand", "retail", "brand", rebate="150.00"),
             term("Retail Generic", "retail", "generic", rate="0.5000", rebate="150.00")]
    claims = [
        claim(member="M1", drug_class="Brand", ndc=BRAND_NDC, fill="2025-04-02", icp="100"),
        claim(member="M2", drug_class="Brand", ndc=BRAND_NDC_2, fill="2025-05-02", icp="100"),
        claim(member="M3", drug_class="Brand", ndc=BRAND_NDC_2, fill="2025-06-30", icp="100"),
        claim(member="M4", fill="2025-05-02", icp="10"),  # a generic: never rebate-guaranteed
        claim(member="M5", drug_class="Brand", ndc=BRAND_NDC, fill="2025-07-01", icp="100"),  # 2025Q3
    ]
    invoices = [invoice("INV-Q3", "2025Q3", BRAND_NDC, "175.00")]  # nothing at all for 2025Q2
    lines = calculate(tmp_path, claims, terms, invoices=invoices)["rebate_guarantee"]
    assert [(r["client_account_id"], r["quarter"], r["brand_claims"], r["ndcs"], r["ndcs_without_invoice"],
             r["guaranteed_rebates"], r["rebates_received"], r["shortfall"]) for r in lines] == [
        # 3 brand claims x 150.00 = 450.00 guaranteed, both NDCs without an invoice: 0.00 received, 450.00 short
        (CLIENT, "2025Q2", 3, 2, 2, D("450.00"), D("0.00"), D("450.00")),
        # 1 x 150.00 against 175.00 received: nothing short (the surplus is not carried to another quarter)
        (CLIENT, "2025Q3", 1, 1, 0, D("150.00"), D("175.00"), D("0.00")),
    ]
