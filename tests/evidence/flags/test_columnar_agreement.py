"""The columnar pricing and rebate coverage agrees with decide(), need by need, on hand-built evidence that has
every case the rules know: supersession mid-year, a withdrawn latest revision, price gaps and conflicts,
candidate packets and Domo rows, a missing quarter, a partial match, an invoice held twice. No database."""
from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from evidence.flags import columnar, coverage, needs
from evidence.packets.authority import (
    AUTHORIZED,
    INDICATIVE,
    PRICING_FINDING,
    REBATE_CLAIM,
    RECEIVED,
    WITHDRAWN,
    decide,
)
from evidence.packets.model import CONTRACT, PRICING, REBATE
from tests.evidence.packets.authority_builders import (
    CLIENT,
    OTHER,
    contract,
    domo,
    evidence,
    invoice,
    price,
    pricing,
    rebate,
    term,
)

THIRD = "0015e00000Ab1CdAAK"  # no evidence at all
GENERICS = ["00093015001", "00093015002", "00093015003"]
BRANDS = ["00006027731", "00006027732"]


def claims_parquet(path) -> needs.ClaimsSource:
    """Claims on every 5th day of 2025 for three clients, three channels, each NDC (vectorised)."""
    days = [dt.date(2025, 1, 1) + dt.timedelta(days=d) for d in range(0, 365, 5)]
    rows = {"Client Account ID": [], "CHANNEL": [], "Brand/Generic": [], "NDC": [], "fill date": [],
            "Client Account": []}
    for client in (CLIENT, OTHER, THIRD):
        for channel in ("retail", "mail"):
            for ndc, kind in [(n, "Generic") for n in GENERICS] + [(n, "Brand") for n in BRANDS]:
                for day in days:
                    rows["Client Account ID"].append(client)
                    rows["CHANNEL"].append(channel)
                    rows["Brand/Generic"].append(kind)
                    rows["NDC"].append(ndc)
                    rows["fill date"].append(day)
                    rows["Client Account"].append(f"Client {client[-4:]}")
    pq.write_table(pa.table(rows), path)
    columns = needs.claims_columns(list(rows))
    return needs.ClaimsSource(dataset_key="claims", version=1, path=path, columns=columns)


def world() -> dict:
    g1, g2, g3 = GENERICS
    b1, b2 = BRANDS
    base = contract([term(("retail", "generic"), price_list="MAC-A"), term(("retail", "brand")),
                     term(("mail", "generic"), price_list="MAC-A", end="2025-06-30")],
                    packet_id="EVP-C-BASE")
    amendment = contract([term(("retail", "generic"), price_list="MAC-B", start="2025-07-01")],
                         packet_id="EVP-C-AMEND", start="2025-07-01", supersedes="EVP-C-BASE")
    other_candidate = contract([term(("retail", "generic"), client=OTHER, price_list="MAC-A")],
                               packet_id="EVP-C-OTHER", clients=(OTHER,), status=RECEIVED)
    prices = pricing([price(ndc=g1, price_list="MAC-A"), price(ndc=g2, price_list="MAC-A", end="2025-03-31"),
                      price(ndc=g2, price_list="MAC-A", effective="2025-05-01"),
                      price(ndc=g1, price_list="MAC-B"), price(ndc=g3, price_list="MAC-B", effective="2025-09-01")],
                     packet_id="EVP-P-1")
    conflicting = pricing([price(ndc=g1, price_list="MAC-B", effective="2025-10-01", mac="0.9999")],
                          packet_id="EVP-P-2", start="2025-10-01")
    withdrawn_latest = pricing([price(ndc=g3, price_list="MAC-A")], packet_id="EVP-P-3", number=2, status=WITHDRAWN)
    verified_first = pricing([price(ndc=g3, price_list="MAC-A", end="2025-02-28")], packet_id="EVP-P-3", number=1)
    candidate_prices = pricing([price(ndc=g2, price_list="MAC-A", effective="2025-04-01", end="2025-04-30")],
                               packet_id="EVP-P-CAND", status=RECEIVED)
    invoices = rebate([invoice(quarter="2025Q1", ndc=b1, invoice_id="I1"), invoice(quarter="2025Q2", ndc=b1,
                       invoice_id="I2"), invoice(quarter="2025Q2", ndc=b2, invoice_id="I3"),
                       invoice(quarter="2025Q3", ndc=b2, invoice_id="I4")], packet_id="EVP-R-1")
    twice = rebate([invoice(quarter="2025Q2", ndc=b2, invoice_id="I3")], packet_id="EVP-R-2")
    candidate_invoices = rebate([invoice(quarter="2025Q4", ndc=b1, invoice_id="I5")], packet_id="EVP-R-CAND",
                                status=RECEIVED)
    other_rebate = rebate([invoice(client=OTHER, quarter="2025Q1", ndc=b1, invoice_id="O1")], packet_id="EVP-R-O",
                          clients=(OTHER,))
    domo_rows = [domo(PRICING, price(ndc=g3, price_list="MAC-B", effective="2025-07-15", end="2025-08-15"), 1),
                 domo(REBATE, invoice(client=OTHER, quarter="2025Q3", ndc=b2, invoice_id="D1"), 2),
                 domo(CONTRACT, term(("mail", "generic"), client=CLIENT, price_list="MAC-A", start="2025-07-01"), 3)]
    revisions = [base, amendment, other_candidate, prices, conflicting, withdrawn_latest, verified_first,
                 candidate_prices, invoices, twice, candidate_invoices, other_rebate]
    return {client: evidence(*revisions, domo_rows=domo_rows) for client in (CLIENT, OTHER, THIRD)}


@pytest.fixture
def computed(tmp_path):
    con = needs.connect(memory_limit="256MB", threads=1)
    needs.build_needs(con, [claims_parquet(tmp_path / "claims.parquet")])
    found = world()
    columnar.pricing_coverage(con, found)
    columnar.rebate_coverage(con, found)
    yield con, found
    con.close()


def test_every_generic_need_is_flagged_exactly_when_decide_does_not_authorize_it(computed):
    con, found = computed
    flagged = {(c, ch, n, d): indicative for c, ch, n, d, indicative in con.execute(
        "SELECT client, channel, ndc, fill_date, indicative FROM pricing_flagged").fetchall()}
    decisions = {}
    for client, channel, ndc, day in con.execute("SELECT client, channel, ndc, fill_date FROM generic_needs").fetchall():
        decisions[(client, channel, ndc, day)] = decide(
            PRICING_FINDING, client=client, ndc=ndc, fill_date=day, component=(channel, "generic"),
            evidence=found[client]).decision

    assert {k for k, d in decisions.items() if d != AUTHORIZED} == set(flagged)
    assert {k for k, d in decisions.items() if d == INDICATIVE} == {k for k, i in flagged.items() if i}
    assert set(decisions.values()) == {AUTHORIZED, INDICATIVE, "not_concluded"}  # the sample has every case


def test_every_brand_need_is_flagged_exactly_when_decide_does_not_authorize_it(computed):
    con, found = computed
    flagged = {(c, n, q): i for c, n, q, i in con.execute(
        "SELECT client, ndc, quarter, indicative FROM rebate_flagged").fetchall()}
    decisions = {
        (client, ndc, quarter): decide(REBATE_CLAIM, client=client, ndc=ndc, quarter=quarter,
                                       evidence=found[client]).decision
        for client, ndc, quarter in con.execute("SELECT client, ndc, quarter FROM brand_needs").fetchall()
    }

    assert {k for k, d in decisions.items() if d != AUTHORIZED} == set(flagged)
    assert {k for k, d in decisions.items() if d == INDICATIVE} == {k for k, i in flagged.items() if i}
    assert set(decisions.values()) == {AUTHORIZED, INDICATIVE, "not_concluded"}


def test_flags_group_needs_at_their_grain_with_a_reason_and_the_same_keys_each_time(tmp_path):
    source = claims_parquet(tmp_path / "claims.parquet")
    keys = []
    for _ in range(2):
        con = needs.connect(memory_limit="256MB", threads=1)
        needs.build_needs(con, [source])
        flags = coverage.compute_flags(con, needs.client_periods(con, [source]), world())
        con.close()
        keys.append([f.key for f in flags])

    assert keys[0] == keys[1] and len(set(keys[0])) == len(keys[0])
    by_kind = {kind: [f for f in flags if f.kind == kind] for kind in ("contract", "pricing", "rebate", "salesforce")}
    assert {f.client for f in by_kind["salesforce"]} == {CLIENT, OTHER, THIRD}
    third = [f for f in by_kind["contract"] if f.client == THIRD]
    assert {f.component for f in third} == {"retail/generic", "retail/brand", "mail/generic", "mail/brand"}
    assert third[0].reason.startswith(f"No governed contract covers {third[0].component} for {THIRD} in "
                                      "2025-01-01…2025-12-31: ")
    gap = next(f for f in by_kind["pricing"] if f.client == CLIENT and f.ndc == GENERICS[1]
               and f.period_start == dt.date(2025, 4, 1))
    assert gap.holds_back == ["pricing_finding"] and gap.period_end == dt.date(2025, 4, 30)
    assert gap.detail["no_price_row"] > 0 and gap.candidate_exists is True  # the received price file has April
    assert "no governed price row on MAC-A" in gap.reason
    assert " on 6 fill dates in 2025-04 " in gap.reason and "; 12 claims, " in gap.reason  # the plural, when many


def test_a_claims_column_that_cannot_be_a_need_is_named(tmp_path):
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"Client Account ID": [CLIENT], "Channel": ["drive-thru"], "Brand/Generic": ["Generic"],
                             "NDC": [GENERICS[0]], "Fill Date": [dt.date(2025, 1, 2)]}), path)
    source = needs.ClaimsSource(dataset_key="abc", version=3, path=path,
                                columns=needs.claims_columns(["client account id", "channel", "brand/generic",
                                                              "ndc", "fill date"]) and {
                                    c: c for c in needs.CLAIMS_COLUMNS})
    con = needs.connect(memory_limit="128MB", threads=1)

    with pytest.raises(needs.FlagInputError, match=r"claims dataset abc v3 \(bad.parquet\): column 'Channel' is "
                                                   r"not retail, mail, specialty in 1 claim\(s\) \(first value: 'drive-thru'\)"):
        needs.build_needs(con, [source])


@pytest.mark.parametrize("column, value, message", [
    ("NDC", "12345", r"column 'NDC' is not 11 digits in 1 claim\(s\) \(first value: '12345'\)"),
    ("Fill Date", "2025-02-30", r"column 'Fill Date' is not a date in 1 claim\(s\) \(first value: '2025-02-30'\)"),
    ("Brand/Generic", "OTC", r"column 'Brand/Generic' is not Brand or Generic in 1 claim\(s\) \(first value: 'OTC'\)"),
    ("Client Account ID", "0015", r"column 'Client Account ID' is not an 18-character account id in 1 claim\(s\)"),
])
def test_each_claims_column_that_cannot_make_a_need_is_named_with_its_first_value(tmp_path, column, value, message):
    row = {"Client Account ID": CLIENT, "Channel": "Retail", "Brand/Generic": "Generic", "NDC": GENERICS[0],
           "Fill Date": "2025-01-02"}
    good = dict(row)
    row[column] = value
    path = tmp_path / "claims.parquet"
    pq.write_table(pa.table({k: [good[k], row[k]] for k in row}), path)
    source = needs.ClaimsSource(dataset_key="abc", version=3, path=path, columns={c: c for c in needs.CLAIMS_COLUMNS})

    with pytest.raises(needs.FlagInputError, match=r"claims dataset abc v3 \(claims.parquet\): " + message):
        needs.build_needs(needs.connect(memory_limit="128MB", threads=1), [source])


def test_a_flags_reason_counts_one_claim_and_one_fill_date_in_the_singular(tmp_path):
    path = tmp_path / "one.parquet"
    rows = {"Client Account ID": [THIRD, THIRD], "CHANNEL": ["retail", "retail"], "Brand/Generic": ["Generic", "Brand"],
            "NDC": [GENERICS[0], BRANDS[0]], "fill date": [dt.date(2025, 3, 5)] * 2, "Client Account": ["Third"] * 2}
    pq.write_table(pa.table(rows), path)
    source = needs.ClaimsSource(dataset_key="claims", version=1, path=path, columns=needs.claims_columns(list(rows)))
    con = needs.connect(memory_limit="128MB", threads=1)
    needs.build_needs(con, [source])
    flags = coverage.compute_flags(con, needs.client_periods(con, [source]), world())
    con.close()

    pricing_flag = next(f for f in flags if f.kind == "pricing")
    assert pricing_flag.reason.startswith(f"No governed price for generic NDC {GENERICS[0]} for {THIRD} on 1 fill date "
                                          "in 2025-03 (2025-03-05; 1 claim, retail; 1 fill date × channel need): ")
    rebate_flag = next(f for f in flags if f.kind == "rebate")
    assert f"{THIRD}, brand NDC {BRANDS[0]}, 2025Q1 (1 claim)" in rebate_flag.reason
    assert "(s)" not in pricing_flag.reason + rebate_flag.reason and " 1 claims" not in rebate_flag.reason
