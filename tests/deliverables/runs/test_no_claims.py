"""A run whose scope holds no claim (a well-formed but unknown client id, a period outside the claims) is accepted and
succeeds with no number, and its page, its progress and the API say plainly why: no claims for that client in that
period in the claims dataset and version it read. A run with claims says nothing of the kind."""
from __future__ import annotations

import datetime as dt

from deliverables.models import RunNumber
from deliverables.runs import services as runs
from tests.deliverables.runs.conftest import CURATED_DB, PERIOD, execute

UNKNOWN = "0015e00000Qm7ZzAAJ"  # well formed, no claim of the sample's


def start(actor, **options):
    return execute(runs.run_start(actor=actor, period_start=options.pop("start", PERIOD[0]),
                                  period_end=options.pop("end", PERIOD[1]), enqueue=False, **options))


@CURATED_DB
def test_a_run_for_a_client_without_claims_says_so_on_its_page_and_in_the_api(contract_sample, olivia, client):
    run = start(olivia, client=UNKNOWN)
    claims = run.inputs["claims"]
    said = f"no claims for client {UNKNOWN} from 2025-01-01 to 2025-12-31 in {claims['name']} v{claims['version']}"
    client.force_login(olivia)

    page = client.get(f"/runs/{run.pk}/").content.decode()
    detail = client.get(f"/api/runs/{run.pk}/").json()

    assert run.state == "succeeded" and not RunNumber.objects.filter(run=run).exists()
    assert 'id="run-no-claims"' in page and f"{said[0].upper()}{said[1:]}." in page
    assert said in page  # the evidence step's detail, in the progress panel
    assert detail["no_claims"] == said and detail["state"] == "succeeded"


@CURATED_DB
def test_a_run_over_every_client_in_a_period_without_claims_says_so(contract_sample, olivia, client):
    run = start(olivia, start=dt.date(2019, 1, 1), end=dt.date(2019, 12, 31))
    client.force_login(olivia)

    detail = client.get(f"/api/runs/{run.pk}/").json()

    assert detail["no_claims"].startswith("no claims for any client from 2019-01-01 to 2019-12-31 in ")


@CURATED_DB
def test_a_run_with_claims_says_nothing_of_the_kind(contract_sample, olivia, client):
    run = start(olivia, client="0015e00000Qm7AcAAJ")
    client.force_login(olivia)

    page = client.get(f"/runs/{run.pk}/").content.decode()

    assert RunNumber.objects.filter(run=run).exists()
    assert 'id="run-no-claims"' not in page and "no claims for" not in page.lower()
    assert client.get(f"/api/runs/{run.pk}/").json()["no_claims"] is None
