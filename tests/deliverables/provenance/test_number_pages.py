"""The provenance page of a number (/runs/<id>/numbers/<key>/), its rows page and CSV, its re-derivation (an
operator's page), and the API twin."""
from __future__ import annotations

import csv
import re

import pytest
from django.test import Client
from django.utils.html import escape
from rest_framework.test import APIClient

from console.models import AuditEvent
from deliverables.models import RunNumber
from deliverables.provenance import rows
from deliverables.runs.selectors import money
from evidence.packets.models import AccountRow
from promotion.tables import hex_checksum
from tests.deliverables.provenance.conftest import CURATED_DB
from tests.deliverables.provenance.test_rows import shortfall_line


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def page_url(number) -> str:
    return f"/runs/{number.run_id}/numbers/{number.key}/"


def row_numbers(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<td class="mono row-number">(\d+)</td>', html)]


@CURATED_DB
def test_a_shortfall_lines_page_shows_its_figures_predicate_rows_and_checksum(sample_run, audrey):
    number = shortfall_line(sample_run)
    client = browser(audrey)
    response = client.get(page_url(number))
    html = response.content.decode()
    assert response.status_code == 200
    assert number.label in html and 'id="decision">authorized' in html
    assert f'id="amount-value">{money(number.amount)}<' in html
    # the client by its governed Salesforce name beside its id (a C-suite reader knows names, not ids)
    name = AccountRow.objects.filter(account_id=number.client_account_id, revision__status="accepted").last()
    assert name is not None and f'<span id="client-name">{escape(name.account_name)}</span>' in html
    assert money(number.figures["shortfall_owed"]) in html and money(number.figures["awp"]) in html
    assert f'<code class="mono" id="predicate">{escape(number.predicate)}</code>' in html
    assert f'id="row-count">{number.row_count}<' in html and number.rows_checksum in html
    assert number.calculation_version in html
    assert f'href="/runs/{sample_run.pk}/"' in html and sample_run.trace_id in html
    # The dataset's checksum as the curated registry shows it (hex in groups of 8), the decimal in its title.
    checksum = sample_run.inputs["claims"]["checksum"]
    assert f'title="{checksum} in decimal, as the API gives it">{hex_checksum(checksum)}<' in html
    run_page = client.get(f"/runs/{sample_run.pk}/").content.decode()
    assert f'title="{checksum} in decimal, as the API gives it">{hex_checksum(checksum)}<' in run_page
    assert f'href="{page_url(number)}rows/" id="rows-page"' in html
    # Paging through the rows page with its own "next" links lists exactly row_count rows.
    html = client.get(f"{page_url(number)}rows/").content.decode()
    assert f'id="row-count">{number.row_count}<' in html
    seen = row_numbers(html)
    while 'id="rows-next"' in html:
        next_url = re.search(r'href="([^"]+)"[^>]*id="rows-next"', html).group(1).replace("&amp;", "&")
        html = client.get(next_url).content.decode()
        seen += row_numbers(html)
    assert len(seen) == number.row_count and seen == sorted(set(seen))
    assert rows.checksum_of(seen) == number.rows_checksum


@CURATED_DB
def test_the_csv_download_has_row_count_data_rows(sample_run, audrey):
    number = shortfall_line(sample_run)
    response = browser(audrey).get(f"{page_url(number)}rows.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(b"".join(response.streaming_content).decode().splitlines()))
    assert lines[0][-1] == "_row" and len(lines) - 1 == number.row_count
    event = AuditEvent.objects.filter(action="deliverables.number.rows_downloaded").get()
    assert event.actor_label == audrey.username and event.object_id == str(sample_run.pk)
    assert event.after == {"key": number.key, "rows": number.row_count, "rows_checksum": number.rows_checksum}


@CURATED_DB
def test_rederive_answers_matches_and_is_audited(sample_run, olivia):
    number = shortfall_line(sample_run)
    operator = browser(olivia)
    page = operator.get(f"{page_url(number)}rederive/").content.decode()
    assert f'action="{page_url(number)}rederive/"' in page and 'id="rederive"' in page
    assert not AuditEvent.objects.filter(action="deliverables.number.rederived").exists()  # opening it did nothing
    response = operator.post(f"{page_url(number)}rederive/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert f"Matches: {number.row_count} rows, checksum" in html and number.rows_checksum in html
    event = AuditEvent.objects.filter(action="deliverables.number.rederived").get()
    assert event.after["key"] == number.key and event.after["matches"] is True
    assert event.actor_id == olivia.pk


@CURATED_DB
def test_rederive_names_the_difference_when_the_stored_count_was_tampered(sample_run, olivia):
    number = shortfall_line(sample_run)
    RunNumber.objects.filter(pk=number.pk).update(row_count=number.row_count - 1)
    html = browser(olivia).post(f"{page_url(number)}rederive/", HTTP_HX_REQUEST="true").content.decode()
    assert "Differs:" in html
    assert f"the run stored {number.row_count - 1} rows, the dataset version gives {number.row_count}" in html


@CURATED_DB
def test_a_not_concluded_numbers_page_shows_no_amount_and_names_the_missing_contract(sample_run, audrey):
    from evidence.flags.services import flag_run_execute, request_flags_recompute

    flag_run = request_flags_recompute(trigger="test", enqueue=False)
    flag_run_execute(run_id=flag_run.pk, task_id="test")
    number = (RunNumber.objects.filter(run=sample_run, decision="not_concluded", kind="awp_guarantee")
              .order_by("position").first())
    assert number is not None and number.amount is None and number.indicative_amount is None
    html = browser(audrey).get(page_url(number)).content.decode()
    assert 'id="not-concluded"' in html and 'id="amount-value"' not in html and 'id="indicative-value"' not in html
    missing = number.evidence["missing"][0]
    assert missing["kind"] == "contract"
    component = missing["component"]
    assert f"contract evidence ({component['channel']} {component['drug_class']}, " in html
    assert escape(missing["reason"]) in html and "{&#x27;channel" not in html
    assert 'class="flag-link"' in html and "/evidence/missing/" in html


@CURATED_DB
def test_a_findings_page_shows_its_one_claim_row(sample_run, audrey):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from console.lake import get_lake

    finding = pq.read_table(pa.BufferReader(get_lake().read(sample_run.findings_path))).to_pylist()[0]
    key = f"finding:{finding['kind']}:{finding['claim_id']}"
    html = browser(audrey).get(f"/runs/{sample_run.pk}/numbers/{key}/").content.decode()
    assert f"_row = {finding['claim_row']}" in html and 'id="row-count">1<' in html
    rows_page = browser(audrey).get(f"/runs/{sample_run.pk}/numbers/{key}/rows/").content.decode()
    assert finding["claim_id"] in rows_page and row_numbers(rows_page) == [finding["claim_row"]]


@CURATED_DB
def test_an_unknown_key_is_404_on_the_page_and_the_api(sample_run, audrey):
    assert browser(audrey).get(f"/runs/{sample_run.pk}/numbers/awp:nobody:x:2025-01-01/").status_code == 404
    assert api(audrey).get(f"/api/runs/{sample_run.pk}/numbers/awp:nobody:x:2025-01-01/").status_code == 404
    assert api(audrey).get(f"/api/runs/{sample_run.pk + 1000}/numbers/x/").status_code == 404


@CURATED_DB
def test_someone_without_view_provenance_is_refused(sample_run, oscar):
    number = shortfall_line(sample_run)
    assert browser(oscar).get(page_url(number)).status_code == 403
    assert api(oscar).get(f"/api{page_url(number)}").status_code == 403
    assert api(oscar).post(f"/api{page_url(number)}rederive/").status_code == 403
    assert not AuditEvent.objects.filter(action="deliverables.number.rederived").exists()


@CURATED_DB
def test_the_api_twin_answers_the_same(sample_run, audrey, olivia):
    number = shortfall_line(sample_run)
    client = api(audrey)
    body = client.get(f"/api{page_url(number)}").json()
    assert body["key"] == number.key and body["decision"] == "authorized" and body["amount"] == str(number.amount)
    assert body["client_name"] == AccountRow.objects.filter(
        account_id=number.client_account_id, revision__status="accepted").last().account_name
    assert body["predicate"] == number.predicate and body["row_count"] == number.row_count
    assert body["rows_checksum"] == number.rows_checksum and body["figures"] == number.figures
    assert body["links"]["rows_csv"] == f"{page_url(number)}rows.csv"
    assert body["dataset"]["version"] == sample_run.inputs["claims"]["version"]
    seen, url = [], f"/api{page_url(number)}rows/?limit=9"
    while url:
        page = client.get(url).json()
        assert len(page["results"]) <= 9 and page["total"] == number.row_count
        seen += [r["_row"] for r in page["results"]]
        url = page["next"]
    assert len(seen) == number.row_count and rows.checksum_of(seen) == number.rows_checksum
    assert client.get(f"/api{page_url(number)}rows/?after=x").status_code == 400
    assert client.get(f"/api{page_url(number)}rows/?limit=0").status_code == 400
    assert client.post(f"/api{page_url(number)}rederive/").status_code == 403  # an operator's act
    answer = api(olivia).post(f"/api{page_url(number)}rederive/").json()
    assert answer["matches"] is True and answer["derived"] == {"rows": number.row_count,
                                                               "checksum": number.rows_checksum}


@pytest.mark.django_db
def test_the_schema_documents_the_provenance_api_without_warnings(tmp_path):
    import yaml
    from django.core.management import call_command

    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    paths = schema["paths"]
    answers = schema["components"]["schemas"]["ProvenanceAnswers"]["properties"]
    assert set(answers) == {"rows", "formulas", "evidence", "missing", "production", "publications"}
    base = "/api/runs/{run_id}/numbers/{key}/"
    assert {base, f"{base}rows/", f"{base}rederive/", "/api/provenance/numbers/"} <= set(paths)
    assert {"200", "401", "403", "404"} <= set(paths[base]["get"]["responses"])
    assert {"200", "400", "409"} <= set(paths[f"{base}rows/"]["get"]["responses"])


@CURATED_DB
def test_an_indicative_numbers_amount_is_labelled_indicative(sample_run, audrey):
    number = (RunNumber.objects.filter(run=sample_run, decision="indicative", indicative_amount__isnull=False)
              .exclude(relation="numbers").order_by("position").first())
    html = browser(audrey).get(page_url(number)).content.decode()
    assert f'id="indicative-value">{number.indicative_amount}<' in html and 'id="amount-value"' not in html
    assert 'id="decision" title="internal only, not a conclusion">indicative' in html
    body = api(audrey).get(f"/api{page_url(number)}").json()
    assert body["amount"] is None and body["indicative_amount"] == str(number.indicative_amount)


@CURATED_DB
def test_a_savings_summary_lists_and_links_the_numbers_it_adds_up(sample_run, audrey):
    number = RunNumber.objects.filter(run=sample_run, kind="savings", decision="authorized").first()
    html = browser(audrey).get(page_url(number)).content.decode()
    for key in number.evidence["numbers"][:5]:
        assert f'href="/runs/{sample_run.pk}/numbers/{key}/"' in html


@CURATED_DB
def test_the_api_answers_a_finding(sample_run, audrey, olivia):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from console.lake import get_lake

    finding = pq.read_table(pa.BufferReader(get_lake().read(sample_run.findings_path))).to_pylist()[0]
    base = f"/api/runs/{sample_run.pk}/numbers/finding:{finding['kind']}:{finding['claim_id']}/"
    body = api(audrey).get(base).json()
    assert body["kind"] == "finding" and body["row_count"] == 1
    assert body["predicate"] == f"_row = {finding['claim_row']}"
    assert [r["_row"] for r in api(audrey).get(f"{base}rows/").json()["results"]] == [finding["claim_row"]]
    assert api(olivia).post(f"{base}rederive/").json()["matches"] is True


@CURATED_DB
def test_a_run_without_its_evidence_tables_says_what_is_missing(sample_run, audrey, olivia):
    from deliverables.models import CalculationRun

    number = shortfall_line(sample_run)
    inputs = {**sample_run.inputs, "evidence_tables": {}}
    CalculationRun.objects.filter(pk=sample_run.pk).update(inputs=inputs, inputs_sha256="tampered")
    answer = api(olivia).post(f"/api{page_url(number)}rederive/")
    assert answer.status_code == 409
    assert answer.json()["detail"] == f"run #{sample_run.pk}: the terms table it calculated with is not recorded"
    html = browser(audrey).get(f"{page_url(number)}rows/").content.decode()
    assert "the terms table it calculated with is not recorded" in html


@CURATED_DB
def test_a_not_concluded_rebate_line_withholds_its_shortfall_figure(sample_run, audrey):
    number = RunNumber.objects.filter(run=sample_run, kind="rebate_guarantee", decision="not_concluded").first()
    assert number.figures["shortfall"] is None and number.amount is None  # the run stores no conclusion
    html = browser(audrey).get(page_url(number)).content.decode()
    assert 'id="figures-withheld"' in html and "<dt>shortfall</dt>" not in html
    assert "rebate evidence (NDC " in html
    body = api(audrey).get(f"/api{page_url(number)}").json()
    assert "shortfall" not in body["figures"] and body["figures_withheld"] == ["shortfall"]


@CURATED_DB
def test_a_not_concluded_savings_total_names_each_missing_piece_as_its_number_does(sample_run, audrey):
    """A savings total not concluded lists only its numbers' flag keys; its page and API say what each is (kind,
    NDC or component, quarter or period, reason) as the number that needs it does, and link the flag."""
    from evidence.flags.services import flag_run_execute, request_flags_recompute

    flag_run = request_flags_recompute(trigger="test", enqueue=False)
    flag_run_execute(run_id=flag_run.pk, task_id="test")
    total = RunNumber.objects.filter(run=sample_run, kind="savings", decision="not_concluded").exclude(
        evidence__missing=[]).first()
    assert total is not None and all(set(entry) == {"flag_key"} for entry in total.evidence["missing"])
    members = RunNumber.objects.filter(run=sample_run, key__in=total.evidence["numbers"])
    told = {entry["flag_key"]: entry for member in members for entry in member.evidence["missing"]}

    html = browser(audrey).get(page_url(total)).content.decode()
    assert "evidence evidence" not in html and "no governed evidence covers it" not in html
    callout = re.search(r'<ul id="not-concluded-missing">(.*?)</ul>', html, re.DOTALL).group(1)
    assert callout.count("<li>") == len(total.evidence["missing"])
    for entry in total.evidence["missing"]:
        own = told[entry["flag_key"]]
        assert escape(own["reason"]) in html
        assert f"{own['kind']} evidence (" in callout
    assert html.count('class="flag-link"') == len(total.evidence["missing"])
    assert f", run #{sample_run.pk}." in html and " to ," not in html  # a total has no period of its own

    body = api(audrey).get(f"/api{page_url(total)}").json()
    assert [m["reason"] for m in body["missing"]] == [told[e["flag_key"]]["reason"] for e in total.evidence["missing"]]
