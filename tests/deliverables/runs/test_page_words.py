"""What a reader sees on a run's page besides its numbers: each step's time as the console shows every time
(`2026-12-07 06:00:31 UTC`, never ISO text with microseconds), the run's parameters in words, and each number
titled in words (a finding's kind as the findings table says it; the decision only in its own column)."""
from __future__ import annotations

import re

from django.utils.html import escape

from deliverables.choices import Engine
from deliverables.models import RunNumber
from deliverables.runs import services as runs
from tests.deliverables.runs.conftest import CURATED_DB, PERIOD, execute
from tests.deliverables.runs.test_pages import governed_names, row_of


def run_page(olivia, client, scope: str = "") -> tuple:
    run = execute(runs.run_start(actor=olivia, period_start=PERIOD[0], period_end=PERIOD[1], client=scope,
                                 enqueue=False))
    client.force_login(olivia)
    return run, client.get(f"/runs/{run.pk}/").content.decode()


@CURATED_DB
def test_each_steps_time_shows_as_a_utc_time_not_iso_text(contract_sample, olivia, client):
    run, html = run_page(olivia, client)
    steps = (run.progress or {}).get("steps")
    assert steps and all(step.get("at") for step in steps)
    for step in steps:
        row = re.search(rf'<tr data-step="{re.escape(step["name"])}".*?</tr>', html, re.DOTALL).group(0)
        assert f'><span class="date">{step["at"][:10]}</span> <span class="hour">{step["at"][11:19]} UTC</span></time>' in row, row
        assert step["at"] not in row.split('datetime="')[0]  # the ISO text only in the machine-readable attribute
    assert not re.search(r">\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00<", html)


@CURATED_DB
def test_the_parameters_say_every_client_the_period_the_dataset_and_the_engine_in_words(
        contract_sample, olivia, client):
    run, html = run_page(olivia, client)
    shown = re.search(r'<dd id="input-parameters">(.*?)</dd>', html, re.DOTALL).group(1)
    claims = run.inputs["claims"]
    assert shown == escape(f"every client; period {PERIOD[0]} to {PERIOD[1]}; "
                           f"dataset {claims['name']} ({run.dataset_key}); engine {Engine(run.engine).label}")
    assert "=" not in shown and "[" not in shown


@CURATED_DB
def test_a_clients_run_names_its_client_in_the_parameters(contract_sample, olivia, client):
    client_id, name = min(governed_names().items())
    _, html = run_page(olivia, client, client_id)
    shown = re.search(r'<dd id="input-parameters">(.*?)</dd>', html, re.DOTALL).group(1)
    assert shown.startswith(escape(f"client {name} ({client_id}); period {PERIOD[0]} to {PERIOD[1]}; "))


@CURATED_DB
def test_the_numbers_are_titled_in_words_without_their_decision(contract_sample, olivia, client):
    run, html = run_page(olivia, client)
    brand = RunNumber.objects.filter(run=run, kind="finding", key__contains=":brand_awp:").first()
    savings = RunNumber.objects.filter(run=run, kind="savings", decision="authorized").first()
    assert brand is not None and savings is not None
    assert ">Pricing audit findings, Above AWP guarantee</a>" in row_of(html, brand.key)
    assert ">Savings</a>" in row_of(html, savings.key)
    assert "brand awp" not in html and "(authorized)" not in html
