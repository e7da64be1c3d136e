"""Starting a run is done once per ask, through a real HTTP server as a browser and a script send it: the Start run
form sent twice at once (a double click) or again after its answer leads to the first send's run (and so queues no
second run, nor its after-run reconciliations); the same form with other choices is a 409 shown again with a new
key; two shown forms are two asks; POST /api/runs/ twice with one Idempotency-Key starts one run. A refusal under a
key is audited and leaves the key free."""
from __future__ import annotations

import re
import uuid

import pytest
import requests

from console.models import AuditEvent, IdempotencyKey
from deliverables.models import CalculationRun
from tests.deliverables.runs.conftest import CURATED_DB
from tests.support.api import Api
from tests.support.forms import Shown, at_once, browser

PERIOD = {"period_start": "2025-01-01", "period_end": "2025-12-31"}


class ShownForm(Shown):
    """The Start run form as the page showed it to one signed-in browser session."""

    def __init__(self, live_server, session: requests.Session):
        super().__init__(session, f"{live_server.url}/runs/new/")

    def send(self, **choices) -> requests.Response:
        return self.post({**PERIOD, **choices})


@CURATED_DB
@pytest.mark.postgres_only  # SQLite's in-memory test database answers "table is locked" to concurrent writers
def test_the_start_form_sent_four_times_at_once_starts_one_run_and_every_answer_leads_to_it(
        contract_sample, olivia, live_server):
    form = ShownForm(live_server, browser(live_server))

    answers = at_once(*[form.send] * 4)

    [run] = CalculationRun.objects.all()
    assert [a.status_code for a in answers] == [302] * 4
    assert {a.headers["Location"] for a in answers} == {f"/runs/{run.pk}/"}
    assert AuditEvent.objects.filter(action="deliverables.run.queued").count() == 1


@CURATED_DB
def test_a_resend_of_the_start_form_leads_to_the_same_run_and_says_so(contract_sample, olivia, live_server):
    form = ShownForm(live_server, browser(live_server))
    first = form.send()
    form.session.get(live_server.url + first.headers["Location"], timeout=30)  # the first answer, read

    again = form.send()

    [run] = CalculationRun.objects.all()
    assert first.headers["Location"] == again.headers["Location"] == f"/runs/{run.pk}/"
    page = form.session.get(live_server.url + again.headers["Location"], timeout=30).text
    assert f"This form was sent twice: run #{run.pk} is its one run." in page


@CURATED_DB
def test_the_start_form_with_other_choices_is_409_shown_again_with_a_new_key(contract_sample, olivia, live_server):
    form = ShownForm(live_server, browser(live_server))
    assert form.send().status_code == 302

    other = form.send(period_start="2025-04-01")

    assert other.status_code == 409 and "already sent with other choices" in other.text
    new_key = re.search(r'name="submission" value="([0-9a-f]{32})"', other.text).group(1)
    assert new_key != form.key and 'name="period_start" value="2025-04-01"' in other.text
    assert CalculationRun.objects.count() == 1


@CURATED_DB
def test_two_shown_start_forms_are_two_runs(contract_sample, olivia, live_server):
    session = browser(live_server)
    one, two = ShownForm(live_server, session), ShownForm(live_server, session)
    assert one.key != two.key

    assert one.send().status_code == 302 and two.send().status_code == 302
    assert CalculationRun.objects.count() == 2


@CURATED_DB
def test_a_refused_start_under_a_key_is_audited_and_leaves_the_key_free(contract_sample, olivia, live_server):
    form = ShownForm(live_server, browser(live_server))

    refused = form.send(period_start="2025-12-31", period_end="2025-01-01", client="0015e00000Qm7AcAAJ")
    bad_client = form.send(client="not-an-id")

    assert refused.status_code == 400 and bad_client.status_code == 409  # the form's check, then the service's
    assert "not a Salesforce account id" in bad_client.text
    assert AuditEvent.objects.filter(action="deliverables.run.refused").count() == 1
    assert not IdempotencyKey.objects.exists() and not CalculationRun.objects.exists()
    assert form.send().status_code == 302  # the same key, now with choices that start a run
    assert CalculationRun.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_reviewer_sending_the_start_form_is_403_and_the_refusal_is_audited(cecilia, live_server):
    reviewer, url = browser(live_server, "cecilia"), f"{live_server.url}/runs/new/"

    answer = reviewer.post(url, timeout=30, allow_redirects=False, headers={"Referer": url},
                           data={"submission": uuid.uuid4().hex, **PERIOD})  # the session sends its CSRF header

    assert answer.status_code == 403
    assert AuditEvent.objects.filter(action="deliverables.run.refused", actor=cecilia).count() == 1
    assert not IdempotencyKey.objects.exists() and not CalculationRun.objects.exists()


@CURATED_DB
@pytest.mark.postgres_only
def test_post_api_runs_twice_at_once_with_one_idempotency_key_starts_one_run(contract_sample, olivia, live_server):
    api = Api.with_token(live_server.url, olivia)

    answers = at_once(*[lambda: api.post("/api/runs/", PERIOD, key="start-2025-once")] * 2)

    [run] = CalculationRun.objects.all()
    assert sorted(a.status_code for a in answers) == [202, 202]
    assert {a.headers["Location"] for a in answers} == {f"{live_server.url}/api/runs/{run.pk}/"}
    assert sorted(a.headers.get("Idempotent-Replayed", "") for a in answers) == ["", "true"]
