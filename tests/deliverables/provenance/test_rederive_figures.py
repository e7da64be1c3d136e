"""Re-deriving a number recomputes its figures and amount from its rows (not only their count and checksum): a
stored amount or figure changed in the database is named, with what the run stored and what the rows give."""
from __future__ import annotations

from decimal import Decimal

from console.models import AuditEvent
from deliverables.models import RunNumber
from deliverables.provenance import rows
from tests.deliverables.provenance.conftest import CURATED_DB
from tests.deliverables.provenance.test_number_pages import api, browser, page_url
from tests.deliverables.provenance.test_rows import shortfall_line

TAMPERED = Decimal("999999.99")


def rederive(run, key):
    return rows.rederive(run, rows.number_of(run, key))


@CURATED_DB
def test_a_guarantee_lines_tampered_amount_and_figure_are_named(sample_run, olivia):
    number = shortfall_line(sample_run)
    untouched = rederive(sample_run, number.key)
    assert untouched["matches"] and untouched["differences"] == [] and untouched["difference"] == ""
    assert untouched["rederived"]["figures"] == number.figures
    assert untouched["rederived"]["amount"] == str(number.amount)

    RunNumber.objects.filter(pk=number.pk).update(amount=TAMPERED)
    result = rederive(sample_run, number.key)
    assert not result["matches"]
    assert result["differences"] == [{"figure": "amount", "stored": "999999.99", "rederived": str(number.amount)}]
    assert result["difference"] == f"amount: the run stored 999999.99, re-derived {number.amount}"
    assert result["derived"] == {"rows": number.row_count, "checksum": number.rows_checksum}  # the rows still match

    figures = {**number.figures, "awp": "1.00"}
    RunNumber.objects.filter(pk=number.pk).update(amount=number.amount, figures=figures)
    result = rederive(sample_run, number.key)
    assert result["differences"] == [{"figure": "awp", "stored": "1.00", "rederived": number.figures["awp"]}]

    # The page and the API say the same, each difference on a line of its own.
    html = browser(olivia).post(f"{page_url(number)}rederive/").content.decode()
    assert 'id="rederive-differences"' in html
    assert '<th scope="row">awp</th><td class="num mono">1.00</td>' in html
    assert f'<td class="num mono">{number.figures["awp"]}</td>' in html
    answer = api(olivia).post(f"/api{page_url(number)}rederive/").json()
    assert answer["matches"] is False and answer["differences"] == result["differences"]
    audited = AuditEvent.objects.filter(action="deliverables.number.rederived").order_by("-pk").first()
    assert audited.after["differences"] == result["differences"]


@CURATED_DB
def test_a_findings_total_is_recomputed_from_the_claims(sample_run):
    number = (RunNumber.objects.filter(run=sample_run, relation="findings", decision="authorized")
              .order_by("position").first())
    untouched = rederive(sample_run, number.key)
    assert untouched["matches"], untouched
    assert untouched["rederived"]["figures"] == number.figures and "overpayment_exact" in number.figures
    # the total is its findings' exact overpayments added, rounded once
    assert Decimal(number.figures["overpayment_exact"]).quantize(Decimal("0.01")) == number.amount

    RunNumber.objects.filter(pk=number.pk).update(
        amount=TAMPERED, figures={**number.figures, "overpayment": "999999.99", "findings": "1"})
    result = rederive(sample_run, number.key)
    assert not result["matches"]
    assert {d["figure"]: (d["stored"], d["rederived"]) for d in result["differences"]} == {
        "findings": ("1", number.figures["findings"]), "overpayment": ("999999.99", number.figures["overpayment"]),
        "amount": ("999999.99", str(number.amount))}


@CURATED_DB
def test_a_finding_is_recomputed_from_its_claim(sample_run):
    number = RunNumber.objects.filter(run=sample_run, relation="findings", decision="authorized").first()
    kind = number.key.split(":")[2]
    import pyarrow as pa
    import pyarrow.parquet as pq

    from console.lake import get_lake

    findings = pq.read_table(pa.BufferReader(get_lake().read(sample_run.findings_path))).to_pylist()
    first = next(f for f in findings if f["kind"] == kind and f["decision"] == "authorized")
    result = rederive(sample_run, f"finding:{kind}:{first['claim_id']}")
    assert result["matches"], result
    assert result["rederived"]["amount"] == str(first["overpayment"])


@CURATED_DB
def test_a_savings_summary_re_adds_its_numbers(sample_run):
    savings = RunNumber.objects.filter(run=sample_run, kind="savings", decision="authorized",
                                       amount__gt=0).order_by("position").first()
    assert rederive(sample_run, savings.key)["matches"]

    RunNumber.objects.filter(pk=savings.pk).update(amount=TAMPERED)
    result = rederive(sample_run, savings.key)
    assert not result["matches"]
    assert result["differences"] == [{"figure": "amount", "stored": "999999.99", "rederived": str(savings.amount)}]

    # A member changed: the savings no longer add up to it, and the member itself names its own difference.
    RunNumber.objects.filter(pk=savings.pk).update(amount=savings.amount)
    member = RunNumber.objects.get(run=sample_run, key=next(k for k in savings.evidence["numbers"]
                                                          if k.startswith("awp:")))
    RunNumber.objects.filter(pk=member.pk).update(amount=member.amount + 1)
    result = rederive(sample_run, savings.key)
    added = str(savings.amount + 1)
    assert {d["figure"]: (d["stored"], d["rederived"]) for d in result["differences"]} == {
        "guarantee_shortfalls": (savings.figures["guarantee_shortfalls"],
                                 str(Decimal(savings.figures["guarantee_shortfalls"]) + 1)),
        "total": (savings.figures["total"], added), "amount": (str(savings.amount), added)}
    assert [d["figure"] for d in rederive(sample_run, member.key)["differences"]] == ["amount"]
