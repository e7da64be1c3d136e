"""What a reader sees of a number on its provenance page: money figures as every page shows money (thousands
separators, exact), counts and rates as they are, and a title that says the finding's kind in words and never
repeats the decision its badge shows."""
from __future__ import annotations

import re

from django.test import Client

from deliverables.models import RunNumber
from deliverables.runs.selectors import money
from tests.deliverables.provenance.conftest import CURATED_DB


def page_of(user, number: RunNumber) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(f"/runs/{number.run_id}/numbers/{number.key}/")
    assert response.status_code == 200
    return response.content.decode()


def figures_of(html: str) -> dict[str, str]:
    listed = re.search(r'<dl class="facts" id="figures">(.*?)</dl>', html, re.DOTALL)
    assert listed, "no figures"
    return dict(re.findall(r'<dt>([^<]+)</dt><dd class="mono">([^<]*)</dd>', listed.group(1)))


def h1_of(html: str) -> list[str]:
    return re.sub(r"<[^>]+>|\s+", " ", re.search(r"<h1>(.*?)</h1>", html, re.DOTALL).group(1)).split()


@CURATED_DB
def test_a_guarantee_lines_money_figures_have_thousands_separators_and_its_counts_and_rates_do_not(
        sample_run, audrey):
    number = RunNumber.objects.filter(run=sample_run, kind="awp_guarantee", decision="authorized").order_by(
        "-row_count").first()
    shown = figures_of(page_of(audrey, number))
    assert number.figures["awp"] and float(number.figures["awp"]) >= 1000  # a figure that needs a separator
    for name in ("awp", "ingredient_cost_paid", "guaranteed_discount", "actual_discount", "shortfall"):
        assert shown[name] == money(number.figures[name]) and "," in money(number.figures["awp"])
    assert shown["claims"] == number.figures["claims"] and "," not in shown["claims"]
    assert shown["effective_rate"] == number.figures["effective_rate"]  # a rate keeps its six places
    assert shown["period_start"] == number.figures["period_start"]


@CURATED_DB
def test_a_savings_page_says_savings_once_with_its_figures_as_money(sample_run, audrey):
    number = RunNumber.objects.filter(run=sample_run, kind="savings", decision="authorized").first()
    html = page_of(audrey, number)
    assert h1_of(html) == ["Savings", "authorized"]
    shown = figures_of(html)
    for name in ("guarantee_shortfalls", "rebate_shortfalls", "overpayments", "overpayments_not_added", "total"):
        assert shown[name] == money(number.figures[name])
    assert shown["numbers"] == number.figures["numbers"]  # a count, not money
    assert f'id="amount-value">{money(number.amount)}<' in html


@CURATED_DB
def test_a_findings_page_names_the_kind_in_words_and_the_decision_once(sample_run, audrey):
    number = RunNumber.objects.filter(run=sample_run, kind="finding", key__contains=":mac:").first()
    html = page_of(audrey, number)
    decision = number.get_decision_display().lower()
    assert " ".join(h1_of(html)) == f"Pricing audit findings, Above MAC {decision}"
    assert f"<title>Pricing audit findings, Above MAC: run #{sample_run.pk}" in html
    assert figures_of(html)["findings"] == number.figures["findings"]
    rows_page = Client()
    rows_page.force_login(audrey)
    rows_html = rows_page.get(f"/runs/{sample_run.pk}/numbers/{number.key}/rows/").content.decode()
    assert f"<h1>The rows of Pricing audit findings, Above MAC ({decision})</h1>" in rows_html
