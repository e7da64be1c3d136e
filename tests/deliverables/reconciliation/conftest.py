"""The sample for the reconciliation tests: the claims promoted into a backend contract and the evidence received
(tests.deliverables.runs.conftest), a succeeded run over every client for 2025, and the sample's shipped mappings
loaded by the operator (olivia), through the real services. Reconciliations run in-process, as the worker would."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from deliverables.models import CalculationRun, Reconciliation
from deliverables.reconciliation import services, sources
from deliverables.runs import services as runs
from tests.deliverables.runs.conftest import (  # noqa: F401 (fixtures)
    PERIOD,
    Sample,
    build_contract_sample,
    contract_sample,
    execute,
    sample_of,
)
from tests.promotion.conftest import curated_db, no_enqueue  # noqa: F401 (fixtures)

BRAND_REBATE = "Brand Rebate Estimate"  # both measures explained by their planted flaws: reconciled
REBATE_PER_CLAIM = "Rebate per Brand Claim by Quarter"  # Domo's invoices for a quarter the evidence lacks: open
EFFECTIVE = "Effective Discount by Client"
GUARANTEE_FLOW = "Guarantee Reconciliation 2025"


@dataclass
class Mapped:
    sample: Sample
    run: CalculationRun

    def subject(self, title: str) -> sources.Subject:
        return next(s for s in sources.subjects() if s.title == title)


def reconcile(actor, subject: sources.Subject, run: CalculationRun | None = None) -> Reconciliation:
    """Start a reconciliation of the subject and execute it in-process; it must succeed."""
    queued = services.reconciliation_start(actor=actor, kind=subject.kind, subject_id=subject.id, run=run,
                                           enqueue=False)
    done = services.reconciliation_execute(reconciliation_id=queued.pk, task_id="test")
    assert done is not None and done.state == "succeeded", (done and done.error)
    return done


@pytest.fixture
def mapped(tmp_path, states, olivia, arthur, adam, curated_db, no_enqueue, broker) -> Mapped:  # noqa: F811
    def build():
        manifest = build_contract_sample(tmp_path, olivia, arthur, adam)
        run = execute(runs.run_start(actor=olivia, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=False))
        loaded = services.mappings_load(actor=olivia)
        assert {e.outcome for e in loaded} == {"saved"}, loaded
        return manifest, run

    # Built once per test process, restored afterwards (tests/support/states.py).
    manifest, run = states.get("reconciliation: the contract sample, a run over every client, the shipped mappings",
                               build)
    return Mapped(sample_of(manifest, tmp_path), run)
