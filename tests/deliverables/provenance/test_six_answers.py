"""The provenance page answers the six questions (rows, formulas, evidence, missing, production, publications) in
plain language, read-only for a reviewer, the API twin the same; the search finds numbers by client and period."""
from __future__ import annotations

import datetime as dt
import hashlib
import re

from django.utils.html import escape

from console import clock
from console.models import AuditEvent
from deliverables.models import ConsumerRead, ConsumerToken, Deliverable, Publication, RunNumber
from deliverables.reconciliation import services as reconciliation
from deliverables.runs.selectors import money
from tests.deliverables.provenance.conftest import CURATED_DB
from tests.deliverables.provenance.test_number_pages import api, browser, page_url
from tests.deliverables.provenance.test_rows import shortfall_line

QUERIES = 13  # session (read and saved), user, permissions, groups (nav), client names, clients, periods, count, page
QUESTIONS = ("1. Which source rows does it come from?", "2. Which formulas calculated it?",
             "3. Which evidence stands behind it?", "4. What was missing, or only candidate evidence?",
             "5. Which queue, worker, task, trace and artifact produced it?",
             "6. Which publications put it in front of whom?")


def section(html: str, name: str) -> str:
    match = re.search(rf'<section class="question" id="q-{name}">(.*?)</section>', html, re.DOTALL)
    assert match, f"no section q-{name}"
    return match.group(1)


def main_of(html: str) -> str:
    return re.search(r"<main[^>]*>(.*)</main>", html, re.DOTALL).group(1)


def published_workbook(run, client: str, requester, approver) -> tuple[Deliverable, Publication]:
    """A workbook of `client` built from `run` and published (rows written directly: the publication services
    are another feature's), read twice by a consumer token."""
    now = clock.now()
    built = Deliverable.objects.create(kind="workbook", run=run, client_account_id=client,
                                       period_start=run.period_start, period_end=run.period_end, state="succeeded",
                                       requested_by=requester, path=f"deliverables/{client}/x/{'a' * 64}.xlsx",
                                       sha256="a" * 64, traceparent=run.traceparent, trace_id=run.trace_id,
                                       finished_at=now)
    publication = Publication.objects.create(deliverable=built, client_account_id=client, kind="workbook",
                                             sha256=built.sha256, state="published", version=1,
                                             requested_by=requester, decided_by=approver, decided_at=now,
                                             decision_comment="checked", published_at=now,
                                             path=f"published/{client}/workbook/1/book.xlsx")
    token = ConsumerToken.objects.create(name="Domo executive dashboard", prefix=f"pv-{client[-8:]}",
                                         token_sha256=hashlib.sha256(client.encode()).hexdigest(), clients=[client], created_by=requester,
                                         expires_at=now + dt.timedelta(days=30))
    for _ in range(2):
        ConsumerRead.objects.create(token=token, client_account_id=client, endpoint="workbook",
                                    publication=publication, status=200)
    return built, publication


@CURATED_DB
def test_an_authorized_numbers_page_answers_the_six_questions_read_only(sample_run, cecilia, olivia, arthur, oscar):
    reconciliation.mappings_load(actor=olivia)  # the sample's cards mapped onto the backend outputs
    number = shortfall_line(sample_run)
    built, publication = published_workbook(sample_run, number.client_account_id, olivia, arthur)
    response = browser(cecilia).get(page_url(number))
    assert response.status_code == 200
    html = response.content.decode()
    for question in QUESTIONS:
        assert f"<h2>{question}</h2>" in html
    assert "<form" not in main_of(html)  # nothing to change from the page (the header's sign-out is the only form)
    assert 'id="rederive-link"' not in html and "/rederive/" not in html
    assert f'id="amount-value">{money(number.amount)}<' in html

    rows = section(html, "rows")
    version = sample_run.inputs["claims"]["version"]
    assert f'id="row-count">{number.row_count}<' in rows and f'id="dataset-version">{version}<' in rows
    assert f'href="{page_url(number)}rows.csv"' in rows and number.rows_checksum in rows

    formulas = section(html, "formulas")
    assert "AWP discount guarantee" in formulas and number.calculation_version in formulas
    assert "the guaranteed discount is the sum of AWP x the guaranteed rate" in formulas
    # The card it replaces, its Beast Mode and the flaw the formula analysis recorded on it, linked.
    assert "Effective Discount by Client" in formulas and "Avg Effective Discount" in formulas
    assert re.search(r'class="flaw-link mono">AGGREGATE_OF_ROW_RATIO<', formulas)
    assert re.search(r'href="/sources/\d+/flaws/\?code=AGGREGATE_OF_ROW_RATIO"', formulas)
    assert re.search(r'href="/sources/cards/\d+/" class="card-link">Effective Discount by Client<', formulas)

    evidence = section(html, "evidence")
    used = number.evidence["used"]
    assert used and all(u["sha256"] in evidence for u in used)
    assert 'badge-ok">governed<' in evidence and 'href="/evidence/packets/' in evidence

    assert 'id="nothing-missing"' in section(html, "missing")

    production = section(html, "production")
    for fact in (sample_run.queue or "—", sample_run.task_id, sample_run.trace_id, sample_run.findings_sha256,
                 sample_run.result_sha256, built.sha256):
        assert fact in production
    assert f'href="/deliverables/{built.pk}/"' in production

    published = section(html, "publications")
    assert f'id="publication-{publication.pk}"' in published
    assert "Client workbook (xlsx) version 1" in published and ">Published<" in published  # the state by its choice label, as the lists say it
    assert "by olivia" in published and "by arthur" in published
    assert "Domo executive dashboard</span>: 2 reads" in published

    # The API twin answers the same six questions.
    answers = api(cecilia).get(f"/api{page_url(number)}").json()["answers"]
    assert answers["rows"]["count"] == number.row_count and answers["rows"]["dataset_version"] == version
    card = next(c for c in answers["formulas"]["cards"] if c["title"] == "Effective Discount by Client")
    assert any(f["code"] == "AGGREGATE_OF_ROW_RATIO" for formula in card["formulas"] for f in formula["flaws"])
    assert {r["sha256"] for r in answers["evidence"]["revisions"]} >= {u["sha256"] for u in used}
    assert answers["missing"]["items"] == [] and answers["missing"]["concluded"] is True
    assert answers["production"]["deliverables"][0]["sha256"] == built.sha256
    [pub] = answers["publications"]["publications"]
    assert (pub["state"], pub["requested_by"], pub["decided_by"], pub["read_count"]) == ("published", "olivia",
                                                                                       "arthur", 2)
    assert pub["reads"][0]["token"] == "Domo executive dashboard"

    # An outsider reads nothing; a reviewer cannot re-derive (an operator's act, on a page of its own).
    assert browser(oscar).get(page_url(number)).status_code == 403
    assert browser(cecilia).get(f"{page_url(number)}rederive/").status_code == 403
    assert browser(cecilia).post(f"{page_url(number)}rederive/").status_code == 403
    assert api(cecilia).post(f"/api{page_url(number)}rederive/").status_code == 403
    assert not AuditEvent.objects.filter(action="deliverables.number.rederived").exists()
    operator_page = browser(olivia).get(page_url(number)).content.decode()
    assert f'href="{page_url(number)}rederive/" id="rederive-link"' in operator_page
    assert "<form" not in main_of(operator_page)


@CURATED_DB
def test_a_numbers_production_answer_names_its_clients_deliverables_never_anothers(sample_run, cecilia, olivia,
                                                                                   arthur):
    number = shortfall_line(sample_run)
    savings = RunNumber.objects.get(run=sample_run, key=f"savings:{number.client_account_id}:authorized")
    other = RunNumber.objects.filter(run=sample_run).exclude(client_account_id=number.client_account_id).first()
    mine, _ = published_workbook(sample_run, number.client_account_id, olivia, arthur)
    theirs, _ = published_workbook(sample_run, other.client_account_id, olivia, arthur)
    for shown in (number, savings):
        production = section(browser(cecilia).get(page_url(shown)).content.decode(), "production")
        assert f'href="/deliverables/{mine.pk}/"' in production
        assert f'href="/deliverables/{theirs.pk}/"' not in production and other.client_account_id not in production
        answer = api(cecilia).get(f"/api{page_url(shown)}").json()["answers"]["production"]
        assert [d["id"] for d in answer["deliverables"]] == [mine.pk]
    answer = api(cecilia).get(f"/api{page_url(other)}").json()["answers"]["production"]
    assert [(d["id"], d["client_account_id"]) for d in answer["deliverables"]] == [(theirs.pk, other.client_account_id)]


@CURATED_DB
def test_a_not_concluded_numbers_page_names_the_missing_evidence_and_shows_no_amount(sample_run, cecilia):
    number = (RunNumber.objects.filter(run=sample_run, decision="not_concluded", kind="awp_guarantee")
              .order_by("position").first())
    html = browser(cecilia).get(page_url(number)).content.decode()
    missing = number.evidence["missing"][0]
    component = missing["component"]
    what = f"contract evidence ({component['channel']} {component['drug_class']}, "
    callout = re.search(r'<div class="callout callout-bad" id="not-concluded">(.*?)</div>', html, re.DOTALL).group(1)
    assert "No amount: this number is not concluded." in callout and what in callout
    section_missing = section(html, "missing")
    assert what in section_missing and escape(missing["reason"]) in section_missing
    assert "It holds back the number&#x27;s amount" in section_missing
    assert 'id="amount-value"' not in html and 'id="indicative-value"' not in html and 'id="figures"' not in html
    # No amount anywhere: a not-concluded rebate line's figures (what was received, what was guaranteed) are not
    # on its page, nor any amount at all.
    rebate = RunNumber.objects.filter(run=sample_run, kind="rebate_guarantee", decision="not_concluded").first()
    amounts = [v for v in rebate.figures.values() if v and re.fullmatch(r"-?\d+\.\d+", str(v))]
    assert amounts
    article = re.search(r"<article.*</article>", browser(cecilia).get(page_url(rebate)).content.decode(),
                        re.DOTALL).group(0)
    assert "rebate evidence (NDC " in article
    assert not [v for v in amounts if v in article]
    assert not re.findall(r"(?<![\w.])\d[\d,]*\.\d{2}(?![\w.])", article)
    for question in QUESTIONS:
        assert f"<h2>{question}</h2>" in html
    body = api(cecilia).get(f"/api{page_url(number)}").json()
    assert body["amount"] is None and body["answers"]["missing"]["concluded"] is False
    assert body["answers"]["missing"]["items"][0]["what"].startswith(what)


@CURATED_DB
def test_the_search_finds_numbers_by_client_and_period_and_marks_the_published(sample_run, cecilia, olivia, arthur,
                                                                              oscar, django_assert_max_num_queries):
    number = shortfall_line(sample_run)
    client = number.client_account_id
    published_workbook(sample_run, client, olivia, arthur)
    period = f"{sample_run.period_start}:{sample_run.period_end}"
    reader = browser(cecilia)
    home = reader.get("/").content.decode()
    assert 'href="/provenance/"' in home and ">Provenance<" in home
    with django_assert_max_num_queries(QUERIES):  # a page costs the same whatever the numbers on it
        response = reader.get("/provenance/", {"client": client, "period": period})
    html = response.content.decode()
    assert response.status_code == 200
    assert f'href="{page_url(number)}" class="number-link">{escape(number.label)}<' in html
    links = re.findall(r'href="/runs/\d+/numbers/([^/]+)/" class="number-link"', html)
    assert links and all(RunNumber.objects.get(run=sample_run, key=k).client_account_id == client for k in links)
    assert 'class="badge badge-ok published">published<' in html and "badge-info\">latest<" in html
    other = RunNumber.objects.filter(run=sample_run).exclude(client_account_id=client).first()
    assert other.key not in html
    # The API twin finds the same numbers, in the same order.
    found = api(cecilia).get("/api/provenance/numbers/", {"client": client, "period": period}).json()
    assert [r["key"] for r in found["results"]] == links and found["count"] == len(links)
    assert next(r for r in found["results"] if r["key"] == number.key)["published"] is True
    refused = api(cecilia).get("/api/provenance/numbers/", {"period": "2025"})
    assert refused.status_code == 400 and "period '2025': give it as START:END" in refused.json()["detail"]
    text = reader.get("/provenance/", {"client": client, "q": "rebate guarantee"}).content.decode()
    labels = re.findall(r'class="number-link">([^<]+)<', text)
    assert labels and all("rebate guarantee" in label.lower() for label in labels)
    # Bad filters are said on the page.
    bad = reader.get("/provenance/", {"period": "2025-13-01:x", "client": "nobody"})
    assert bad.status_code == 400
    assert "period &#x27;2025-13-01:x&#x27;: give it as START:END" in bad.content.decode()
    assert "client &#x27;nobody&#x27;: no succeeded run has a number of this client" in bad.content.decode()
    beyond = reader.get("/provenance/", {"client": client, "page": "999"})
    assert beyond.status_code == 400 and "page &#x27;999&#x27;: give a page number from 1 to" in beyond.content.decode()
    assert browser(oscar).get("/provenance/").status_code == 403


@CURATED_DB
def test_a_findings_total_names_the_governed_price_lists_and_terms_its_findings_rest_on(sample_run, cecilia):
    """A total of MAC findings is authorized by the governed MAC list in force on each fill date (and the contract
    terms that name the list): its provenance (page, API, and so the payload and workbook built from it) names
    those revisions, with their hashes, and every source its findings read (it named none)."""
    total = RunNumber.objects.get(run=sample_run, key__startswith="findings:", key__endswith=":mac:authorized",
                                  client_account_id="0015e00000Qm7AcAAJ")
    used = total.evidence["used"]
    assert used and {u["kind"] for u in used} == {"pricing", "contract"}
    assert all(len(u["sha256"]) == 64 and f"{u['packet_id']}#{u['revision']}" in total.evidence["sources"]
               for u in used)
    body = api(cecilia).get(f"/api{page_url(total)}").json()
    assert {(r["packet_id"], r["revision"]) for r in body["answers"]["evidence"]["revisions"]} == {
        (u["packet_id"], u["revision"]) for u in used}
    assert {s["source"] for s in body["evidence_sources"]} == set(total.evidence["sources"])
    html = browser(cecilia).get(page_url(total)).content.decode()
    assert all(u["packet_id"] in section(html, "evidence") for u in used)
