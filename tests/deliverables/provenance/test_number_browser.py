"""The provenance page in a browser: a reviewer finds a number by client and period, reads its six answers (no form,
printable on A4 without cut columns), pages its rows with htmx, and sees a not-concluded number name its missing
evidence; an operator re-derives a number on the re-derive page, answered in place; no CSP refusal."""
from __future__ import annotations

import pytest

from deliverables.models import RunNumber
from deliverables.runs import services as runs
from tests.conftest import login
from tests.deliverables.provenance.test_rows import shortfall_line
from tests.deliverables.runs.conftest import PERIOD, execute

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases=["default", "curated"])]

A4_WIDTH_PX = 703  # 210 mm less the 12 mm margins each side, at 96 px per inch


def test_a_reviewer_reads_a_numbers_provenance_and_an_operator_rederives_it(page, contract_sample, olivia, cecilia,
                                                                             settings, var_dir):
    settings.CALCULATION_ENGINE = "duckdb"
    run = execute(runs.run_start(actor=olivia, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=False))
    number = shortfall_line(run)
    login(page, "cecilia")
    page.click("nav >> text=Provenance")
    page.select_option("#id_client", number.client_account_id)
    page.select_option("#id_period", f"{PERIOD[0]}:{PERIOD[1]}")
    page.click("#provenance-filters button[type=submit]")
    page.click(f"a.number-link[href='/runs/{run.pk}/numbers/{number.key}/']")
    assert page.locator("#decision").inner_text() == "authorized"
    assert page.locator("section.question h2").count() == 6
    assert page.locator("main form").count() == 0 and page.locator("#rederive-link").count() == 0
    assert page.locator("#predicate").inner_text() == number.predicate

    # Printed: no navigation, each question on its own page, nothing wider than an A4 page.
    page.set_viewport_size({"width": A4_WIDTH_PX, "height": 1000})
    page.emulate_media(media="print")
    page.locator("header.topbar").wait_for(state="hidden", timeout=5000)  # the print rules applied
    assert page.locator("#q-publications").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= A4_WIDTH_PX
    assert page.evaluate("getComputedStyle(document.querySelector('#q-formulas')).breakBefore") == "page"
    page.emulate_media(media="screen")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.click("#rows-page")
    page.goto(f"{page.url}?limit=4")
    first = page.locator("td.row-number").all_inner_texts()
    assert len(first) == min(4, number.row_count)
    if number.row_count > 4:
        page.click("#rows-next")
        page.wait_for_function("first => document.querySelector('td.row-number').innerText !== first", arg=first[0])
        assert int(page.locator("td.row-number").first.inner_text()) > int(first[-1])

    # A number not concluded: no amount, the missing evidence named where one looks first and in question 4.
    held = (RunNumber.objects.filter(run=run, decision="not_concluded", kind="awp_guarantee")
            .order_by("position").first())
    page.goto(f"/runs/{run.pk}/numbers/{held.key}/")
    missing = held.evidence["missing"][0]
    component = missing["component"]
    named = f"contract evidence ({component['channel']} {component['drug_class']}, "
    visible = page.locator("#not-concluded").inner_text()
    assert "No amount: this number is not concluded." in visible and named in visible
    assert named in page.locator("#q-missing").inner_text()
    assert page.locator("#amount-value").count() == 0
    page.screenshot(path="/tmp/provenance-not-concluded.png", full_page=True)

    # The operator re-derives the shortfall line on the re-derive page, linked from the number's page.
    page.click("header button.link")  # sign out
    login(page, "olivia")
    page.goto(f"/runs/{run.pk}/numbers/{number.key}/")
    page.click("#rederive-link")
    page.click("#rederive")
    page.wait_for_selector("#rederive-result")
    assert f"Matches: {number.row_count} rows" in page.locator("#rederive-result").inner_text()
    page.screenshot(path="/tmp/provenance-number.png", full_page=True)
