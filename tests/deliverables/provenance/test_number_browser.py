"""The provenance page in a browser: the rows page on with htmx, re-derive answers in place, no CSP refusal."""
from __future__ import annotations

import pytest

from deliverables.runs import services as runs
from tests.conftest import login
from tests.deliverables.provenance.test_rows import shortfall_line
from tests.deliverables.runs.conftest import PERIOD, execute

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases=["default", "curated"])]


def test_the_auditor_pages_the_rows_and_rederives_a_shortfall_line(page, contract_sample, olivia, audrey, settings,
                                                                     var_dir):
    settings.CALCULATION_ENGINE = "duckdb"
    run = execute(runs.run_start(actor=olivia, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=False))
    number = shortfall_line(run)
    login(page, "audrey")
    page.goto(f"/runs/{run.pk}/numbers/{number.key}/?limit=4")
    assert page.locator("#decision").inner_text() == "authorized"
    assert page.locator("#predicate").inner_text() == number.predicate
    first = page.locator("td.row-number").all_inner_texts()
    assert len(first) == min(4, number.row_count)
    if number.row_count > 4:
        page.click("#rows-next")
        page.wait_for_function("first => document.querySelector('td.row-number').innerText !== first", arg=first[0])
        assert int(page.locator("td.row-number").first.inner_text()) > int(first[-1])
    page.click("#rederive")
    page.wait_for_selector("#rederive-result")
    assert f"Matches: {number.row_count} rows" in page.locator("#rederive-result").inner_text()
    page.screenshot(path="/tmp/provenance-number.png", full_page=True)
