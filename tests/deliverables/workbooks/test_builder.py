"""The client workbook (deliverables.workbooks.builder): the same bytes on every rebuild, text never a formula,
money and rates as formatted numbers, a not-concluded figure naming its missing evidence, every number linked
to its provenance page, the findings streamed (and split under Excel's per-sheet link limit).

Most tests build a WorkbookData directly (no database); the last builds from a real run over the sample."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import time
import zipfile
from decimal import Decimal

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from deliverables.workbooks import sheets
from deliverables.workbooks.builder import build_workbook
from deliverables.workbooks.model import NumberLine, RunFacts, WorkbookData, escaped_report
from deliverables.workbooks.xlsx import MONEY_FORMAT, RATE_FORMAT, WorkbookError, xstring_decode
from tests.deliverables.runs.conftest import (  # noqa: F401 (fixtures)
    PERIOD,
    contract_sample,
    curated_db,
    execute,
    no_enqueue,
)

CLIENT = "001TEST00000000AAA"
OTHER = "001TEST00000000BBB"
BASE = "https://console.example"
PREFIXES = ("=", "+", "-", "@", "\t", "\r")
MONEY = pa.decimal128(38, 2)
SCHEMA = pa.schema([("kind", pa.string()), ("client_account_id", pa.string()), ("claim_id", pa.string()),
                    ("fill_date", pa.date32()), ("ndc", pa.string()), ("drug_name", pa.string()),
                    ("pharmacy_npi", pa.string()), ("pharmacy_name", pa.string()), ("channel", pa.string()),
                    ("drug_class", pa.string()), ("paid", MONEY), ("allowed", MONEY), ("reference", pa.string()),
                    ("decision", pa.string()), ("overpayment", MONEY), ("indicative_overpayment", MONEY),
                    ("flag_key", pa.string()), ("conflict", pa.bool_())])
MISSING_PRICES = {"kind": "pricing", "client": CLIENT, "reason": "no governed MAC list covers fills of NDC "
                  "00093505601 in March 2025", "candidate_exists": True, "flag_key": "flag-mac-march",
                  "ndc": "00093505601", "period": {"start": "2025-03-01", "end": "2025-03-31"}}
MISSING_INVOICES = {"kind": "rebate", "client": CLIENT, "reason": "no governed rebate invoice for 2025Q1",
                    "candidate_exists": False, "flag_key": "flag-rebate-q1", "quarter": "2025Q1"}


def finding(claim: str, *, kind="mac", client=CLIENT, decision="authorized", paid="120.00", allowed="100.00",
            drug="Atorvastatin 20 mg", pharmacy="Main Street Pharmacy", reference="MAC-2025 2025-01-01") -> dict:
    over = Decimal(paid) - Decimal(allowed)
    return {"kind": kind, "client_account_id": client, "claim_id": claim, "fill_date": dt.date(2025, 3, 14),
            "ndc": "00093505601", "drug_name": drug, "pharmacy_npi": "1234567890", "pharmacy_name": pharmacy,
            "channel": "retail", "drug_class": "generic", "paid": Decimal(paid), "allowed": Decimal(allowed),
            "reference": reference, "decision": decision,
            "overpayment": over if decision == "authorized" else None,
            "indicative_overpayment": over if decision == "indicative" else None,
            "flag_key": "" if decision == "authorized" else "flag-mac-march",
            "conflict": decision == "not_concluded"}


def numbers(client_label: str = "") -> list[NumberLine]:
    return [
        NumberLine(key=f"awp:{CLIENT}:retail-brand:2025-01-01", kind="awp_guarantee",
                   label=f"AWP discount guarantee, retail brand{client_label}", decision="authorized",
                   figures={"guarantee_basis": "per_component", "claims": "1200", "awp": "812345.67",
                            "ingredient_cost_paid": "690000.00", "guaranteed_discount": "138098.76",
                            "actual_discount": "122345.67", "effective_rate": "0.150607", "shortfall": "15753.09",
                            "shortfall_owed": "15753.09"},
                   evidence={"used": [{"kind": "contract", "packet_id": "PKT-C1", "revision": 2,
                                       "sha256": "c" * 64}], "seen": [], "missing": []},
                   amount=Decimal("15753.09"), period_start=PERIOD[0], period_end=PERIOD[1], row_count=1200,
                   dataset_key="claims", dataset_version=3, rows_checksum="9" * 32),
        NumberLine(key=f"fee:{CLIENT}:retail-brand:2025-01-01", kind="fee_guarantee",
                   label="Dispensing-fee guarantee, retail brand", decision="indicative",
                   figures={"scripts": "1200", "contracted_fee": "1.25", "fees_paid": "1620.00",
                            "guaranteed_fees": "1500.00", "shortfall": "120.00"},
                   evidence={"used": [], "seen": [{"kind": "contract", "class": "candidate", "source": "packet",
                                                   "packet_id": "PKT-C9", "revision": 1, "sha256": "d" * 64,
                                                   "status": "received"}], "missing": [MISSING_PRICES]},
                   indicative_amount=Decimal("120.00"), period_start=PERIOD[0], period_end=PERIOD[1]),
        NumberLine(key=f"rebate:{CLIENT}:2025Q1", kind="rebate_guarantee", label="Rebate guarantee, 2025Q1",
                   decision="not_concluded",
                   figures={"quarter": "2025Q1", "brand_claims": "300", "ndcs": "12", "ndcs_without_invoice": "3",
                            "guaranteed_rebates": "60000.00", "rebates_received": "51000.00", "shortfall": None,
                            "unmatched_invoices": "0.00"},
                   evidence={"used": [], "seen": [], "missing": [MISSING_INVOICES]},
                   period_start=dt.date(2025, 1, 1), period_end=dt.date(2025, 3, 31)),
        NumberLine(key=f"savings:{CLIENT}:authorized", kind="savings", label="Savings, authorized",
                   decision="authorized", figures={"guarantee_shortfalls": "15753.09", "rebate_shortfalls": "0.00",
                                                   "overpayments": "20.00", "overpayments_not_added": "0.00",
                                                   "numbers": "2", "total": "15773.09"},
                   evidence={"used": [], "seen": [], "missing": []}, amount=Decimal("15773.09")),
    ]


def make_data(tmp_path, rows: list[dict] | None = None, *, client_name="Acme Health Plan", labels="",
              finished=dt.datetime(2026, 1, 15, 9, 30, 12, tzinfo=dt.UTC)) -> WorkbookData:
    rows = rows if rows is not None else [finding("C1"), finding("C2", decision="indicative"),
                                          finding("C3", decision="not_concluded"), finding("C9", client=OTHER)]
    path = tmp_path / "findings.parquet"
    rows = sorted(rows, key=lambda r: (r["kind"], r["client_account_id"], r["claim_id"]))
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), path)
    run = RunFacts(run_id=77, state="succeeded", finished_at=finished, client_scope="", engine="duckdb",
                   calculation_version="e" * 64,
                   inputs={"claims": {"dataset_key": "claims", "version": 3, "checksum": "k" * 32, "rows": 600},
                           "evidence": [{"kind": "contract", "packet_id": "PKT-C1", "revision": 2, "class": "governed",
                                         "status": "accepted", "sha256": "c" * 64}],
                           "calculations": {"all": "e" * 64, "rebate_guarantee": "f" * 64},
                           "parameters": {"period": ["2025-01-01", "2025-12-31"]}},
                   inputs_sha256="i" * 64, result_sha256="r" * 64, findings_path="runs/findings/abc.parquet",
                   findings_sha256="a" * 64, findings_count=len(rows), queue="runs", worker_host="worker-7",
                   worker_pid=4321, task_id="task-123", trace_id="1" * 32, traceparent=f"00-{'1' * 32}-{'2' * 16}-01",
                   requested_by="olivia")
    return WorkbookData(run=run, client_account_id=CLIENT, period_start=PERIOD[0], period_end=PERIOD[1],
                        numbers=numbers(labels), findings_file=path, client_name=client_name,
                        flag_reasons={"flag-mac-march": "no governed pricing evidence for NDC 00093505601, March"})


def build(data, tmp_path, name="book.xlsx"):
    out = tmp_path / name
    result = build_workbook(data, CLIENT, out=out, base_url=BASE)
    return result, out


def cells(path):
    """(sheet, cell) of every non-empty cell."""
    book = openpyxl.load_workbook(path)
    return [(ws.title, c) for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value is not None]


def sheet_xml(path) -> dict[str, str]:
    with zipfile.ZipFile(path) as archive:
        return {n: archive.read(n).decode() for n in archive.namelist() if n.startswith("xl/worksheets/sheet")}


# --- the same bytes ------------------------------------------------------------------------------------------
def test_rebuilding_the_same_run_gives_the_same_bytes(tmp_path, monkeypatch):
    first, first_path = build(make_data(tmp_path), tmp_path, "first.xlsx")
    monkeypatch.setattr(time, "time", lambda: 1_900_000_000.0)  # the wall clock three years later
    second, second_path = build(make_data(tmp_path), tmp_path, "second.xlsx")
    assert first.sha256 == second.sha256 == hashlib.sha256(second_path.read_bytes()).hexdigest()
    assert first_path.read_bytes() == second_path.read_bytes()
    with zipfile.ZipFile(second_path) as archive:
        assert {i.date_time for i in archive.infolist()} == {(2026, 1, 15, 9, 30, 12)}
    props = openpyxl.load_workbook(second_path).properties
    assert props.created == props.modified == dt.datetime(2026, 1, 15, 9, 30, 12)


def test_a_stream_gets_the_same_bytes_as_a_file(tmp_path):
    result, path = build(make_data(tmp_path), tmp_path)
    stream = io.BytesIO()
    streamed = build_workbook(make_data(tmp_path), CLIENT, out=stream, base_url=BASE)
    assert streamed.sha256 == result.sha256 and stream.getvalue() == path.read_bytes()


def test_another_run_end_gives_other_bytes(tmp_path):
    first, _ = build(make_data(tmp_path), tmp_path, "first.xlsx")
    later = make_data(tmp_path, finished=dt.datetime(2026, 2, 1, 8, 0, tzinfo=dt.UTC))
    second, _ = build(later, tmp_path, "second.xlsx")
    assert first.sha256 != second.sha256


# --- text, never a formula -----------------------------------------------------------------------------------
@pytest.mark.catalogue(36)
@pytest.mark.parametrize("prefix", PREFIXES, ids=["equals", "plus", "minus", "at", "tab", "carriage-return"])
def test_data_beginning_with_a_formula_prefix_is_written_as_text(tmp_path, prefix):
    client = f"{prefix}HYPERLINK(\"http://evil.example\",\"Acme\")"
    drug = f"{prefix}2+3 Atorvastatin"
    pharmacy = f"{prefix}SUM(A1:A9) Pharmacy"
    reference = f"{prefix}cmd|' /C calc'!A0"
    rows = [finding("C1", drug=drug, pharmacy=pharmacy, reference=reference)]
    _, path = build(make_data(tmp_path, rows, client_name=client, labels=f" {prefix}x"), tmp_path)

    written = [(sheet, c) for sheet, c in cells(path) if isinstance(c.value, str)]
    for name, value, sheet in (("client", client, "Summary"), ("drug", drug, "Findings"),
                               ("pharmacy", pharmacy, "Findings"), ("reference", reference, "Findings")):
        exact = [c for s, c in written if s == sheet and xstring_decode(c.value) == value]
        assert exact, name
        for cell in exact:
            assert cell.data_type == "s", (name, cell.coordinate)
            assert cell.quotePrefix, (name, cell.coordinate)  # Excel keeps it text even when the cell is edited
        within = [c for _, c in written if value in xstring_decode(c.value)]
        assert all(c.data_type == "s" for c in within), name
    for part, xml in sheet_xml(path).items():
        assert not re.search(r"<f[ >/]", xml), part


@pytest.mark.catalogue(36)
def test_a_formula_behind_a_nul_is_text_and_comes_back_exactly(tmp_path):
    client, drug = "\x00=HYPERLINK(\"http://evil.example\",\"Acme\")", "\x00@SUM(A1:A9)"
    _, path = build(make_data(tmp_path, [finding("C1", drug=drug)], client_name=client), tmp_path)
    written = {xstring_decode(c.value): c for _, c in cells(path) if isinstance(c.value, str)}
    assert written[drug].data_type == "s" and any(client in text for text in written)
    for part, xml in sheet_xml(path).items():
        assert not re.search(r"<f[ >/]", xml), part


@pytest.mark.catalogue(37)
def test_every_control_character_is_written_and_read_back_exactly(tmp_path):
    controls = "".join(chr(code) for code in range(0x20))
    drug, pharmacy = f"A{controls}B", f"{controls}Pharmacy"
    result, path = build(make_data(tmp_path, [finding("C1", drug=drug, pharmacy=pharmacy)],
                                   client_name=f"Client{controls}"), tmp_path)
    assert result.sha256
    texts = [xstring_decode(c.value) for _, c in cells(path) if isinstance(c.value, str)]
    assert drug in texts and pharmacy in texts and any(f"Client{controls}" in text for text in texts)
    xml = sheet_xml(path)  # XML 1.0 cannot carry them raw: each is Excel's own _xHHHH_ escape, nothing dropped
    assert not any(re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", text) for text in xml.values())
    assert any("A_x0000__x0001_" in text and "_x001F_B" in text for text in xml.values())


@pytest.mark.catalogue(37)
def test_a_carriage_return_and_a_literal_escape_come_back_exactly(tmp_path):
    drug = "\rCR first_x0041_ kept"
    _, path = build(make_data(tmp_path, [finding("C1", drug=drug)]), tmp_path)
    drug_cells = [c for _, c in cells(path) if isinstance(c.value, str) and "CR first" in c.value]
    assert [xstring_decode(c.value) for c in drug_cells] == [drug]


@pytest.mark.catalogue(37)
def test_the_build_reports_the_cells_that_held_control_characters(tmp_path):
    data = make_data(tmp_path, [finding("C1", drug="Atorva\x02statin", pharmacy="Main\x1bStreet"),
                                finding("C2", drug="Lisino\x00pril"), finding("C3", drug="Tab\tand line\nfeed")],
                     client_name="Acme\x07 Health", labels="\x0b")
    result, path = build(data, tmp_path)
    assert result.escaped == (("Summary", "Title", 1), ("Summary", "Client", 1), ("Guarantees", "Guarantee", 1),
                              ("Findings", "Drug", 2), ("Findings", "Pharmacy", 1))
    assert result.escaped_cells == 6
    assert escaped_report(result.escaped) == (
        "6 cells held control characters; they are written as Excel escapes (_xHHHH_) and read back exactly: "
        "Summary › Title (1), Summary › Client (1), Guarantees › Guarantee (1), Findings › Drug (2), "
        "Findings › Pharmacy (1)")
    texts = {xstring_decode(c.value) for _, c in cells(path) if isinstance(c.value, str)}
    assert {"Atorva\x02statin", "Lisino\x00pril", "Main\x1bStreet", "Acme\x07 Health"} <= texts  # nothing dropped
    again, _ = build(data, tmp_path, "again.xlsx")
    assert again.escaped == result.escaped and again.sha256 == result.sha256


@pytest.mark.catalogue(37)
def test_a_workbook_without_control_characters_reports_nothing(tmp_path):
    # A tab, a line feed and a literal _xHHHH_ are written as they are (or escaped as text): no control character.
    result, _ = build(make_data(tmp_path, [finding("C1", drug="Tab\tline\nfeed _x0041_")]), tmp_path)
    assert result.escaped == () and result.escaped_cells == 0
    assert escaped_report(result.escaped) == ""


@pytest.mark.catalogue(37)
def test_one_escaped_cell_is_said_in_the_singular(tmp_path):
    result, _ = build(make_data(tmp_path, [finding("C1", drug="\x01")]), tmp_path)
    assert escaped_report(result.escaped) == ("1 cell held control characters; it is written as Excel escapes "
                                              "(_xHHHH_) and read back exactly: Findings › Drug (1)")


# --- money, rates, counts --------------------------------------------------------------------------------------
def test_money_is_a_number_with_a_currency_format_written_exactly(tmp_path):
    _, path = build(make_data(tmp_path), tmp_path)
    book = openpyxl.load_workbook(path)
    row = next(r for r in book["Guarantees"].iter_rows() if r[0].value == "AWP discount guarantee, retail brand")
    amount = row[4]
    assert amount.data_type == "n" and Decimal(str(amount.value)) == Decimal("15753.09")
    assert amount.number_format == MONEY_FORMAT
    awp = next(c for c in row if c.value == 812345.67)
    assert awp.number_format == MONEY_FORMAT
    xml = sheet_xml(path)["xl/worksheets/sheet2.xml"]
    assert "<v>15753.09</v>" in xml and "<v>812345.67</v>" in xml
    findings = book["Findings"]
    paid = next(c for r in findings.iter_rows(min_row=2) for c in r if c.value == 120)
    assert paid.data_type == "n" and paid.number_format == MONEY_FORMAT


@pytest.mark.catalogue(45)
def test_an_amount_excel_cannot_hold_exactly_is_refused_naming_it(tmp_path):
    data = make_data(tmp_path)
    data.numbers[0] = NumberLine(**{**data.numbers[0].__dict__, "amount": Decimal("12345678901234.56")})
    with pytest.raises(WorkbookError, match=r"Guarantees.*awp:001TEST00000000AAA:retail-brand:2025-01-01 amount"):
        build(data, tmp_path)


def test_rates_are_percentages(tmp_path):
    _, path = build(make_data(tmp_path), tmp_path)
    rate = next(c for s, c in cells(path) if s == "Guarantees" and c.value == pytest.approx(0.150607))
    assert rate.data_type == "n" and rate.number_format == RATE_FORMAT


# --- not concluded -------------------------------------------------------------------------------------------
def test_a_not_concluded_figure_names_its_missing_evidence_never_a_number(tmp_path):
    _, path = build(make_data(tmp_path), tmp_path)
    book = openpyxl.load_workbook(path)
    rebates = book["Rebates"]
    headings = [c.value for c in rebates[2]]
    row = next(r for r in rebates.iter_rows() if r[0].value == "Rebate guarantee, 2025Q1")
    for heading in ("Amount", "Shortfall"):
        cell = row[headings.index(heading)]
        assert cell.data_type == "s" and "no governed rebate invoice for 2025Q1" in cell.value, heading
        assert cell.hyperlink.target == f"{BASE}/runs/77/numbers/rebate:{CLIENT}:2025Q1/", heading
    # the figures that do not depend on the missing invoices stay numbers
    assert row[headings.index("Guaranteed rebates")].value == 60000

    findings = book["Findings"]
    headings = [c.value for c in findings[1]]
    held = next(r for r in findings.iter_rows(min_row=2) if r[headings.index("Claim id")].value == "C3")
    for heading in ("Allowed", "Overpayment"):
        cell = held[headings.index(heading)]
        assert cell.data_type == "s" and cell.value.startswith("Not concluded: no governed pricing evidence"), heading
    assert held[headings.index("Indicative overpayment")].value == "—"
    assert held[headings.index("Paid")].value == 120  # the claim's own amount does not wait on the prices

    nc = book["Not concluded"]
    listed = [[c.value for c in r] for r in nc.iter_rows(min_row=3)]
    assert any(r[0] == "Rebate guarantee, 2025Q1" and "no governed rebate invoice for 2025Q1" in r[3] and
               "shortfall" in r[4] for r in listed)
    assert any(r[0] == "Dispensing-fee guarantee, retail brand" and "no governed MAC list" in r[3] and
               "indicative only" in r[4] for r in listed)


# --- links ---------------------------------------------------------------------------------------------------
def test_every_number_cell_links_to_its_provenance_page(tmp_path):
    _, path = build(make_data(tmp_path), tmp_path)
    numeric = [(s, c) for s, c in cells(path) if c.data_type == "n" and not c.is_date]
    assert len(numeric) > 20
    for sheet, cell in numeric:
        assert cell.hyperlink is not None, (sheet, cell.coordinate)
        assert cell.hyperlink.target.startswith(f"{BASE}/runs/77/numbers/"), (sheet, cell.coordinate)
    book = openpyxl.load_workbook(path)
    row = next(r for r in book["Guarantees"].iter_rows() if r[0].value == "AWP discount guarantee, retail brand")
    assert {c.hyperlink.target for c in row if c.hyperlink} == {
        f"{BASE}/runs/77/numbers/awp:{CLIENT}:retail-brand:2025-01-01/"}
    findings = book["Findings"]
    headings = [c.value for c in findings[1]]
    first = findings[2]
    assert first[headings.index("Paid")].hyperlink.target == f"{BASE}/runs/77/numbers/finding:mac:C1/"


# --- findings ------------------------------------------------------------------------------------------------
def test_the_findings_sheet_holds_the_clients_findings_only(tmp_path):
    result, path = build(make_data(tmp_path), tmp_path)
    assert result.rows["Findings"] == 1 + 3  # the heading, C1-C3 (C9 is another client's)
    findings = openpyxl.load_workbook(path)["Findings"]
    claims = [row[1] for row in findings.iter_rows(min_row=2, values_only=True)]
    assert claims == ["C1", "C2", "C3"]
    assert findings.freeze_panes == "A2"  # the heading stays in view


def test_findings_continue_on_another_sheet_before_excels_link_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(sheets, "FINDINGS_PER_SHEET", 4)
    rows = [finding(f"C{i:02d}") for i in range(10)]
    result, path = build(make_data(tmp_path, rows), tmp_path)
    assert result.sheets == ("Summary", "Guarantees", "Rebates", "Findings", "Findings 2", "Findings 3", "Evidence",
                             "Not concluded", "Provenance")
    assert [result.rows[s] for s in ("Findings", "Findings 2", "Findings 3")] == [5, 5, 3]
    book = openpyxl.load_workbook(path)
    claims = [r[1].value for s in ("Findings", "Findings 2", "Findings 3") for r in book[s].iter_rows(min_row=2)]
    assert claims == [f"C{i:02d}" for i in range(10)]
    for part, xml in sheet_xml(path).items():
        assert xml.count("<hyperlink ") <= 65_530, part


def test_progress_is_reported_by_sheet_and_findings_batch(tmp_path):
    seen = []
    build_workbook(make_data(tmp_path), CLIENT, out=tmp_path / "book.xlsx", base_url=BASE,
                   progress=lambda sheet, rows: seen.append((sheet, rows)))
    assert ("Findings", 4) in seen
    assert [s for s, _ in seen if s != "Findings"] == ["Summary", "Guarantees", "Rebates", "Evidence",
                                                       "Not concluded", "Provenance"]


def test_a_run_that_has_not_finished_has_no_workbook(tmp_path):
    data = make_data(tmp_path)
    data.run = RunFacts(**{**data.run.__dict__, "finished_at": None})
    with pytest.raises(WorkbookError, match="run #77 has not finished"):
        build(data, tmp_path)


# --- evidence and provenance ---------------------------------------------------------------------------------
def test_the_evidence_sheet_lists_the_governed_revisions_used_with_their_hashes(tmp_path):
    _, path = build(make_data(tmp_path), tmp_path)
    rows = [[c.value for c in r] for r in openpyxl.load_workbook(path)["Evidence"].iter_rows()]
    assert ["contract", "PKT-C1", "2", "governed", "c" * 64] == rows[2][:5]
    assert any(r[1] == "PKT-C9#1" and r[3] == "candidate" for r in rows)


def test_the_provenance_sheet_names_the_run_inputs_and_worker_but_not_the_workbooks_hash(tmp_path):
    result, path = build(make_data(tmp_path), tmp_path)
    rows = {(r[0].value, r[1].value): r[2].value for r in openpyxl.load_workbook(path)["Provenance"].iter_rows(min_row=3)}
    assert rows[("Run", "id")] == "77"
    assert rows[("Worker", "queue")] == "runs" and rows[("Worker", "host")] == "worker-7"
    assert rows[("Worker", "task")] == "task-123" and rows[("Worker", "trace id")] == "1" * 32
    assert rows[("Input: claims", "version")] == "3" and rows[("Input: claims", "checksum")] == "k" * 32
    assert rows[("Calculation", "version (all)")] == "e" * 64
    assert "sha256 " + "c" * 64 in rows[("Input: evidence", "contract PKT-C1#2")]
    assert all(result.sha256 not in str(c.value) for _, c in cells(path))


# --- from a real run -----------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True, databases=["default", "curated"])
def test_a_workbook_from_a_run_over_the_sample(contract_sample, olivia, settings, tmp_path):  # noqa: F811
    from deliverables.models import RunNumber
    from deliverables.runs import services as runs
    from deliverables.runs.selectors import findings_file, number_url
    from evidence.packets.models import AccountRow

    settings.VAR_DIR = tmp_path / "var"
    settings.VAR_DIR.mkdir()
    run = execute(runs.run_start(actor=olivia, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=False))
    assert run.state == "succeeded", run.error
    client = (RunNumber.objects.filter(run=run, decision="not_concluded").order_by("position")
              .values_list("client_account_id", flat=True).first())
    assert client

    first = build_workbook(run, client, out=tmp_path / "a.xlsx", base_url=BASE)
    again = build_workbook(run, client, out=tmp_path / "b.xlsx", base_url=BASE)
    assert first.sha256 == again.sha256

    expected = pq.read_table(findings_file(run), filters=[("client_account_id", "=", client)]).num_rows
    assert sum(n for s, n in first.rows.items() if s.startswith("Findings")) == expected + 1
    book = openpyxl.load_workbook(tmp_path / "a.xlsx")
    for number in RunNumber.objects.filter(run=run, client_account_id=client):
        links = {c.hyperlink.target for ws in book.worksheets for r in ws.iter_rows() for c in r
                 if c.hyperlink and c.hyperlink.target == BASE + number_url(run.pk, number.key)}
        assert links, number.key  # each of the client's numbers is linked from its cells
    missing = [r[3].value for r in book["Not concluded"].iter_rows(min_row=3)]
    held = RunNumber.objects.filter(run=run, client_account_id=client, decision="not_concluded").exclude(kind="savings")
    for number in held:
        for m in number.evidence.get("missing") or []:
            if m.get("reason"):
                assert any(m["reason"] in text for text in missing), number.key
    summary = {r[0].value: r[1].value for r in book["Summary"].iter_rows(min_row=2, max_row=8)}
    governed_names = set(AccountRow.objects.filter(account_id=client, revision__status="accepted")
                         .values_list("account_name", flat=True))
    assert summary["Client"] in governed_names and summary["Client account id"] == client
    provenance = {r[1].value: r[2].value for r in book["Provenance"].iter_rows(min_row=3)}
    assert provenance["task"] == "test" and provenance["trace id"] == run.trace_id


def test_a_missing_contracts_component_reads_as_its_channel_and_class_not_its_keys():
    from deliverables.workbooks.sheets import _scope_text

    missing = {"kind": "contract", "component": {"channel": "retail", "drug_class": "brand"},
               "period": {"start": "2025-01-01", "end": "2025-12-31"}}
    assert _scope_text(missing) == "2025-01-01 to 2025-12-31, component retail/brand"
