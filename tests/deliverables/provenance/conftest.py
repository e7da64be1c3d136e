"""A run over the sample (tests/deliverables/runs/conftest.py), executed in-process, for the provenance tests."""
from __future__ import annotations

import pytest

from deliverables.runs import services as runs
from tests.deliverables.runs.conftest import (  # noqa: F401 (fixtures)
    CURATED_DB,
    PERIOD,
    contract_sample,
    curated_db,
    execute,
    no_enqueue,
)


def run_over_sample(actor, engine: str, settings):
    settings.CALCULATION_ENGINE = engine
    run = execute(runs.run_start(actor=actor, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=False))
    assert run.state == "succeeded", run.error
    return run


@pytest.fixture
def var_dir(settings, tmp_path):
    """The provenance row cache of these tests in a folder of their own."""
    settings.VAR_DIR = tmp_path / "var"
    settings.VAR_DIR.mkdir()
    return settings.VAR_DIR


@pytest.fixture
def sample_run(contract_sample, olivia, settings, var_dir):  # noqa: F811
    return run_over_sample(olivia, "duckdb", settings)
