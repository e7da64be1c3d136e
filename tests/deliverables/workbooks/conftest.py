"""A succeeded run over the sample (tests/deliverables/runs/conftest.py) and workbooks built from it in-process, for
the workbook deliverable tests."""
from __future__ import annotations

import pytest

from deliverables.models import Deliverable, RunNumber
from deliverables.runs import services as runs
from deliverables.workbooks import services
from tests.deliverables.runs.conftest import (  # noqa: F401 (fixtures)
    CURATED_DB,
    PERIOD,
    contract_sample,
    curated_db,
    execute,
    no_enqueue,
)


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    settings.VAR_DIR.mkdir()
    return settings.VAR_DIR


@pytest.fixture
def sample_run(contract_sample, olivia, var_dir):  # noqa: F811
    run = execute(runs.run_start(actor=olivia, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=False))
    assert run.state == "succeeded", run.error
    return run


def a_client(run) -> str:
    """A client of the run with a not-concluded number (the workbook's Not concluded sheet has rows)."""
    client = (RunNumber.objects.filter(run=run, decision="not_concluded").order_by("position")
              .values_list("client_account_id", flat=True).first())
    assert client
    return client


def build(actor, run, client) -> Deliverable:
    """A workbook of `client` from `run`, queued and built in-process as the worker would."""
    queued = services.deliverable_start(actor=actor, run=run, client=client, enqueue=False)
    done = services.deliverable_execute(deliverable_id=queued.pk, task_id="test", queue="runs")
    assert done is not None and done.state == "succeeded", done and done.error
    return done


def control_characters_in_name(client: str) -> str:
    """Give the client's governed Salesforce account a name holding control characters (a bell and an escape, as
    a pasted value can); the workbook shows it in the Summary's title and Client rows. Returns the name."""
    from evidence.packets.models import AccountRow

    name = "Acme\x07 Health\x1b Plan"
    assert AccountRow.objects.filter(account_id=client).update(account_name=name)
    return name
