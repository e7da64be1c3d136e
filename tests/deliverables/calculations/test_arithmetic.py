"""Hand-computed examples of each calculation, on DuckDB over small claims Parquet files (no database)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from deliverables.calculations import engine
from tests.deliverables.calculations.builders import (
    BRAND_NDC,
    BRAND_NDC_2,
    CLIENT,
    GENERIC_NDC,
    OTHER,
    as_dicts,
    claim,
    invoice,
    price,
    term,
    write_claims,
)


def calculate(tmp_path, claims, terms, prices=(), invoices=(), extra=None):
    path = write_claims(tmp_path / "claims.parquet", claims, extra)
    con = engine.connect(memory_limit="256MB", threads=1)
    try:
        results = engine.run(con, path, terms, prices, invoices)
    finally:
        con.close()
    for rows in results.values():  # no float anywhere on the money path
        assert not any(isinstance(value, float) for row in rows for value in row)
    return {name: as_dicts(name, rows) for name, rows in results.items()}


def awp_lines(results, level="component"):
    return {line["component"]: line for line in results["awp_discount_guarantee"] if line["level"] == level}


def _offsetting_claims():
    return [
        # brand: AWP 10 x 10 = 100.00, ICP 70.00: actual 30.00 vs guaranteed 100 x 0.20 = 20.00, a 10.00 surplus
        claim(channel="retail", drug_class="Brand", ndc=BRAND_NDC, qty="10", awp_unit="10", icp="70"),
        # generic: AWP 100.00, ICP 56.00: actual 44.00 vs guaranteed 100 x 0.50 = 50.00, a 6.00 deficit
        claim(channel="retail", drug_class="Generic", qty="10", awp_unit="10", icp="56"),
    ]


def test_per_component_guarantee_does_not_offset(tmp_path):
    terms = [term("Retail Brand", "retail", "brand", rate="0.2000"),
             term("Retail Generic", "retail", "generic", rate="0.5000")]
    results = calculate(tmp_path, _offsetting_claims(), terms)
    lines = awp_lines(results)
    assert awp_lines(results, "combined") == {}
    brand, generic = lines["Retail Brand"], lines["Retail Generic"]
    assert (brand["claims"], brand["awp"], brand["ingredient_cost_paid"]) == (1, D("100.00"), D("70.00"))
    assert (brand["guaranteed_discount"], brand["actual_discount"]) == (D("20.00"), D("30.00"))
    assert brand["effective_rate"] == D("0.300000")  # 1 - 70/100
    assert (brand["shortfall"], brand["shortfall_owed"]) == (D("0.00"), D("0.00"))
    assert (generic["shortfall"], generic["shortfall_owed"]) == (D("6.00"), D("6.00"))  # 50 - 44
    assert generic["effective_rate"] == D("0.440000")  # 1 - 56/100
    for line in results["awp_discount_guarantee"]:
        assert all(isinstance(line[key], D) for key in ("awp", "guaranteed_discount", "shortfall", "effective_rate"))


def test_combined_guarantee_offsets_a_deficit_with_a_surplus(tmp_path):
    terms = [term("Retail Brand", "retail", "brand", rate="0.2000", basis="combined"),
             term("Retail Generic", "retail", "generic", rate="0.5000", basis="combined")]
    results = calculate(tmp_path, _offsetting_claims(), terms)
    combined = awp_lines(results, "combined")["combined"]
    # Σ AWP 200.00, Σ ICP 126.00: guaranteed 20 + 50 = 70.00, actual 74.00: no shortfall.
    assert (combined["claims"], combined["awp"], combined["ingredient_cost_paid"]) == (2, D("200.00"), D("126.00"))
    assert (combined["guaranteed_discount"], combined["actual_discount"]) == (D("70.00"), D("74.00"))
    assert combined["effective_rate"] == D("0.370000")  # 1 - 126/200
    assert (combined["shortfall"], combined["shortfall_owed"]) == (D("0.00"), D("0.00"))
    assert (combined["period_start"], combined["period_end"]) == (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    generic = awp_lines(results)["Retail Generic"]
    assert (generic["shortfall"], generic["shortfall_owed"]) == (D("6.00"), D("0.00"))  # shown, not owed


def _zero_balance_claims():
    return [
        # AWP 100.00, ICP 50.00: actual 50.00 = guaranteed 50.00
        claim(qty="10", awp_unit="10", icp="50"),
        # zero balance (plan paid 0): AWP 1 x 10 = 10.00, ICP 8.00 (member paid it): actual 2.00 vs 5.00
        claim(qty="1", awp_unit="10", icp="8", member_paid="8", plan_paid="0"),
    ]


@pytest.mark.parametrize(("exclusions", "claims", "awp", "shortfall"), [
    ("", 2, D("110.00"), D("3.00")),  # guaranteed 55.00, actual 52.00
    ("zero_balance", 1, D("100.00"), D("0.00")),  # the zero-balance claim out: 50.00 vs 50.00
    ("compound; zero_balance", 1, D("100.00"), D("0.00")),
])
def test_an_exclusion_from_the_terms_flips_a_shortfall(tmp_path, exclusions, claims, awp, shortfall):
    extra = {"Compound Code": pa.string()} if "compound" in exclusions else None
    terms = [term("Retail Generic", "retail", "generic", rate="0.5000", exclusions=exclusions)]
    line = awp_lines(calculate(tmp_path, _zero_balance_claims(), terms, extra=extra))["Retail Generic"]
    assert (line["claims"], line["awp"], line["shortfall"], line["shortfall_owed"]) == (claims, awp, shortfall,
                                                                                        shortfall)


def test_an_exclusion_whose_claim_column_is_absent_is_refused(tmp_path):
    terms = [term("Retail Generic", "retail", "generic", rate="0.5000", exclusions="zero_balance;compound")]
    with pytest.raises(engine.CalculationInputError, match=r"claims\.parquet: column 'Compound Code' is missing"):
        calculate(tmp_path, _zero_balance_claims(), terms)


def test_no_awp_and_specialty_carve_out(tmp_path):
    claims = [
        claim(qty="10", awp_unit="10", icp="50"),  # AWP 100.00, ICP 50.00
        claim(qty="1", awp_unit=None, icp="5"),  # no AWP: counts with AWP 0 unless excluded
        claim(channel="specialty", qty="1", awp_unit="1000", icp="999"),
    ]
    terms = [term("Retail Generic", "retail", "generic", rate="0.5000", exclusions="no_awp;specialty_carve_out"),
             term("Specialty Generic", "specialty", "generic", rate="0.1000",
                  exclusions="no_awp;specialty_carve_out")]
    lines = awp_lines(calculate(tmp_path, claims, terms))
    assert set(lines) == {"Retail Generic"}  # the specialty claim counts in no guarantee
    assert (lines["Retail Generic"]["claims"], lines["Retail Generic"]["shortfall"]) == (1, D("0.00"))
    terms = [term("Retail Generic", "retail", "generic", rate="0.5000")]
    line = awp_lines(calculate(tmp_path, claims, terms))["Retail Generic"]
    # AWP 100 + 0, ICP 55.00: actual 45.00 vs guaranteed 50.00
    assert (line["claims"], line["ingredient_cost_paid"], line["shortfall"]) == (2, D("55.00"), D("5.00"))


def test_a_mid_year_amendment_applies_from_its_start(tmp_path):
    terms = [term("Retail Generic", "retail", "generic", rate="0.5000", end="2025-06-30"),
             term("Retail Generic", "retail", "generic", rate="0.6000", start="2025-07-01")]
    claims = [claim(fill="2025-06-30", qty="10", awp_unit="10", icp="45"),  # 50.00 guaranteed, 55.00 actual
              claim(fill="2025-07-01", qty="10", awp_unit="10", icp="45")]  # 60.00 guaranteed, 55.00 actual
    lines = [line for line in calculate(tmp_path, claims, terms)["awp_discount_guarantee"]]
    assert [(line["period_start"], line["guaranteed_discount"], line["shortfall_owed"]) for line in lines] == [
        (dt.date(2025, 1, 1), D("50.00"), D("0.00")), (dt.date(2025, 7, 1), D("60.00"), D("5.00"))]


@pytest.mark.parametrize("start", ["2025-07-01", "2025-01-01", "2025-12-31"])
def test_overlapping_term_rows_are_refused(tmp_path, start):
    terms = [term("Retail Generic", "retail", "generic", rate="0.5000"),
             term("Retail Generic", "retail", "generic", rate="0.6000", start=start)]
    with pytest.raises(engine.CalculationInputError, match=r"terms rows 1 and 2 \(client .*, retail generic\) overlap"):
        calculate(tmp_path, [claim(icp="1")], terms)


def test_claims_with_more_decimal_places_than_calculated_are_refused(tmp_path):
    path = write_claims(tmp_path / "claims.parquet", [claim(icp="1")])
    table = pq.read_table(path)
    index = table.schema.get_field_index("AWP Unit Price")
    table = table.set_column(index, "AWP Unit Price", table.column(index).cast(pa.decimal128(38, 7)))
    pq.write_table(table, path)
    con = engine.connect(memory_limit="256MB", threads=1)
    with pytest.raises(engine.CalculationInputError,
                       match="claims file claims.parquet: column 'AWP Unit Price' has 7 decimal places"):
        engine.run(con, path, [term("Retail Generic", "retail", "generic", rate="0.5")], [], [])
    con.close()


def test_a_mac_price_change_on_the_fill_date(tmp_path):
    terms = [term("Retail Generic", "retail", "generic", rate="0.5000")]
    prices = [price(GENERIC_NDC, "1.000000", "2025-01-01", "2025-03-14"), price(GENERIC_NDC, "0.800000", "2025-03-15")]
    claims = [claim(claim_id="RX-BEFORE", fill="2025-03-14", qty="10", icp="9.00"),  # MAC x qty 10.00: fine
              claim(claim_id="RX-ON", fill="2025-03-15", qty="10", icp="9.00"),  # 8.00: 1.00 over
              # 0.8 x 12.345 = 9.876 paid as 9.88: 0.004 over, 0.00 in cents: not a finding
              claim(claim_id="RX-CENT", member="M0000007", fill="2025-03-15", qty="12.345", icp="9.88")]
    findings = calculate(tmp_path, claims, terms, prices)["pricing_findings"]
    assert findings == [{"kind": "mac", "client_account_id": CLIENT, "claim_id": "RX-ON",
                         "fill_date": dt.date(2025, 3, 15), "ndc": GENERIC_NDC, "pharmacy_npi": "1000000001",
                         "paid": D("9.00"), "allowed": D("8.00"), "reference": "LEAF-MAC 2025-03-15",
                         "channel": "retail", "drug_class": "generic", "claim_row": 1, "term_source": None,
                         "term_class": None, "price_source": None, "overpayment": D("1.00"),
                         "overpayment_exact": D("1.000000000000000")}]


def test_a_finding_starts_at_half_a_cent_over(tmp_path):
    """Half a cent over rounds (half up) to a cent: a finding; a hair under half a cent rounds to nothing."""
    terms = [term("Retail Generic", "retail", "generic", rate="0.5000")]
    prices = [price(GENERIC_NDC, "1.000000", "2025-01-01"), price("00093000001", "1.000001", "2025-01-01")]
    claims = [claim(claim_id="RX-HALF", qty="9.875", icp="9.88"),  # 9.875 allowed: 0.005 over
              claim(claim_id="RX-UNDER", member="M0000002", ndc="00093000001", qty="9.875",
                    icp="9.88")]  # 9.875009875 allowed: 0.004990125 over
    findings = calculate(tmp_path, claims, terms, prices)["pricing_findings"]
    assert [(f["claim_id"], f["allowed"], f["overpayment"]) for f in findings] == [
        ("RX-HALF", D("9.88"), D("0.01"))]


def test_brand_and_dispensing_fee_findings_and_fee_guarantee(tmp_path):
    terms = [term("Retail Brand", "retail", "brand", rate="0.2000", fee="1.2500")]
    claims = [
        # AWP 100.00 x (1 - 0.20) = 80.00 allowed, 85.00 paid: 5.00 over; fee 1.25 = contracted
        claim(claim_id="RX-B1", drug_class="Brand", ndc=BRAND_NDC, qty="10", awp_unit="10", icp="85", fee="1.25"),
        # fee 2.00 against 1.25: 0.75 over; ICP 80.00 = allowed
        claim(claim_id="RX-B2", member="M0000009", drug_class="Brand", ndc=BRAND_NDC, qty="10", awp_unit="10", icp="80", fee="2.00"),
    ]
    results = calculate(tmp_path, claims, terms)
    assert [(f["kind"], f["claim_id"], f["allowed"], f["overpayment"]) for f in results["pricing_findings"]] == [
        ("brand_awp", "RX-B1", D("80.00"), D("5.00")), ("dispensing_fee", "RX-B2", D("1.25"), D("0.75"))]
    [fees] = results["dispensing_fee_guarantee"]
    # 2 scripts x 1.25 = 2.50 guaranteed, 1.25 + 2.00 = 3.25 paid: 0.75 above
    assert (fees["scripts"], fees["guaranteed_fees"], fees["fees_paid"], fees["shortfall"]) == (
        2, D("2.50"), D("3.25"), D("0.75"))


def test_a_duplicate_and_a_reversed_rebilled_claim(tmp_path):
    nine = dt.datetime(2025, 3, 1, 9, 0)
    claims = [
        claim(claim_id="RX-1", at=nine, icp="12.34", fee="1.50"),
        claim(claim_id="RX-2", at=nine + dt.timedelta(minutes=5), icp="12.34", fee="1.50"),  # billed twice
        claim(claim_id="RX-3", npi="1000000002", icp="12.34", fee="1.50"),  # another pharmacy: not a duplicate
        # reversed and rebilled (one claim id): counted once, never a duplicate of itself
        claim(claim_id="RX-4", member="M0000002", at=nine, icp="20", fee="1"),
        claim(claim_id="RX-4", member="M0000002", status="REVERSED", at=nine + dt.timedelta(days=1), qty="-10",
              icp="-20", fee="-1"),
        claim(claim_id="RX-4", member="M0000002", at=nine + dt.timedelta(days=1, minutes=4), icp="18", fee="1"),
    ]
    terms = [term("Retail Generic", "retail", "generic", rate="0.5000")]
    results = calculate(tmp_path, claims, terms)
    assert [(f["kind"], f["claim_id"], f["reference"], f["paid"], f["overpayment"])
            for f in results["pricing_findings"]] == [("duplicate", "RX-2", "RX-1", D("13.84"), D("13.84"))]
    # four current claims (RX-4 at its rebilled 18.00), the duplicate included: 12.34 x 3 + 18.00
    line = awp_lines(results)["Retail Generic"]
    assert (line["claims"], line["ingredient_cost_paid"]) == (4, D("55.02"))


def edge_claims():
    """Claims at the edges of "current" and "duplicate": two lines of one claim tied on time and status, and two
    groups that differ only by a member that is none in one and empty in the other."""
    nine = dt.datetime(2025, 3, 1, 9, 0)
    later = nine + dt.timedelta(minutes=5)
    return [
        claim(claim_id="RX-T", member="M0000009", at=nine, icp="11", fee="1"),
        claim(claim_id="RX-T", member="M0000009", at=nine, icp="13", fee="1"),  # the same time, status: later row
        claim(claim_id="RX-N1", member=None, at=nine, icp="5", fee="1"),
        claim(claim_id="RX-N2", member=None, at=later, icp="5", fee="1"),
        claim(claim_id="RX-E1", member="", at=nine, icp="7", fee="1"),
        claim(claim_id="RX-E2", member="", at=later, icp="7", fee="1"),
        claim(claim_id="RX-S", member="", npi="1000000002", at=nine, icp="3", fee="1"),  # alone at its pharmacy
    ]


def test_ties_go_to_the_later_line_and_twin_groups_are_numbered_apart(tmp_path):
    results = calculate(tmp_path, edge_claims(), [term("Retail Generic", "retail", "generic", rate="0.5000")])
    # each group's second claim is a duplicate of its first, and no more: none and empty are different members
    assert [(f["kind"], f["claim_id"], f["reference"], f["paid"]) for f in results["pricing_findings"]] == [
        ("duplicate", "RX-E2", "RX-E1", D("8.00")), ("duplicate", "RX-N2", "RX-N1", D("6.00"))]
    # RX-T counts once, at its later line's 13.00: 13 + 5 + 5 + 7 + 7 + 3
    line = awp_lines(results)["Retail Generic"]
    assert (line["claims"], line["ingredient_cost_paid"]) == (6, D("40.00"))


def test_a_rebate_quarter_with_a_missing_invoice(tmp_path):
    terms = [term("Retail Brand", "retail", "brand", rebate="200.00"),
             term("Retail Brand", "retail", "brand", rebate="200.00", client=OTHER)]
    brand = {"drug_class": "Brand", "icp": "100"}
    claims = [claim(ndc=BRAND_NDC, fill="2025-01-10", **brand), claim(ndc=BRAND_NDC, fill="2025-03-31", **brand),
              claim(ndc=BRAND_NDC_2, fill="2025-02-01", **brand),  # no invoice for it in 2025Q1
              claim(ndc=BRAND_NDC, fill="2025-04-01", **brand)]
    invoices = [invoice("INV-1", "2025Q1", BRAND_NDC, "350.00"), invoice("INV-2", "2025Q2", BRAND_NDC, "200.00"),
                invoice("INV-3", "2025Q1", BRAND_NDC_2, "999.00", client=OTHER),  # another client's: no match
                invoice("INV-5", "2025Q2", BRAND_NDC_2, "123.45")]  # no brand claim of that NDC in 2025Q2
    lines = calculate(tmp_path, claims, terms, invoices=invoices)["rebate_guarantee"]
    assert [(r["quarter"], r["brand_claims"], r["ndcs"], r["ndcs_without_invoice"], r["guaranteed_rebates"],
             r["rebates_received"], r["shortfall"], r["unmatched_invoices"]) for r in lines] == [
        # 3 brand claims x 200.00 = 600.00 against 350.00 received: 250.00
        ("2025Q1", 3, 2, 1, D("600.00"), D("350.00"), D("250.00"), D("0.00")),
        # INV-5 matches no claim: shown beside, never counted as received
        ("2025Q2", 1, 1, 0, D("200.00"), D("200.00"), D("0.00"), D("123.45")),
    ]


def test_rounding_is_once_at_the_end_half_up(tmp_path):
    # Five claims of AWP 0.01 at a 50% guarantee: 0.005 each. Per claim, rounded, that would be 5 x 0.01 = 0.05;
    # exactly it is 0.025, rounded once, half up: 0.03 (half to even would give 0.02).
    claims = [claim(qty="1", awp_unit="0.01", icp="0") for _ in range(5)]
    terms = [term("Retail Generic", "retail", "generic", rate="0.5000")]
    assert awp_lines(calculate(tmp_path, claims, terms))["Retail Generic"]["guaranteed_discount"] == D("0.03")


def test_negative_amounts_round_half_away_from_zero(tmp_path):
    # AWP 1.005 x 1, ICP 1.01: actual discount -0.005 -> -0.01 (away from zero, like Python's ROUND_HALF_UP);
    # effective rate 1 - 1.01/1.005 = -0.0049751243... -> -0.004975
    claims = [claim(qty="1", awp_unit="1.005", icp="1.01")]
    line = awp_lines(calculate(tmp_path, claims, [term("Retail Generic", "retail", "generic", rate="0.1000")]))
    assert (line["Retail Generic"]["actual_discount"], line["Retail Generic"]["effective_rate"]) == (
        D("-0.01"), D("-0.004975"))
    # guaranteed 0.1005 -> 0.10; shortfall 0.1005 + 0.005 = 0.1055 -> 0.11 (exact, not 0.10 - (-0.01))
    assert line["Retail Generic"]["shortfall"] == D("0.11")


@pytest.mark.parametrize(("relation", "record", "message"), [
    ("terms", term("X", "retail", "generic", rate=0.5), r"terms row 1, column 'awp_discount_guarantee': 0\.5 is a float"),
    ("terms", term("X", "retail", "generic", rate="abc"), r"terms row 1, column 'awp_discount_guarantee': 'abc' is not"),
    ("prices", price(GENERIC_NDC, "1.0", "2025-13-01"), r"prices row 1, column 'effective_date'"),
    ("terms", term("X", "retail", "generic", exclusions="vip"), r"terms row 1, column 'exclusions': 'vip'"),
])
def test_bad_evidence_is_refused_naming_relation_row_and_column(tmp_path, relation, record, message):
    inputs = {"terms": [term("Retail Generic", "retail", "generic", rate="0.5")], "prices": [], "invoices": []}
    inputs[relation] = [record]
    with pytest.raises(engine.CalculationInputError, match=message):
        calculate(tmp_path, [claim(icp="1")], inputs["terms"], inputs["prices"], inputs["invoices"])
