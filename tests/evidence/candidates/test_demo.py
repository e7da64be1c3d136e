"""The demo (evidence.samples.demo, run by `make run`): after the sample packets, the sample export's Contract Terms
dataset is registered as candidate contract evidence by the demo operator, so the client without a contract packet
has Domo's terms, indicative; a second start answers unchanged."""
from __future__ import annotations

import pytest

from console.models import AuditEvent
from console.services import demo_users_create
from evidence.candidates.models import DomoCandidateSet
from evidence.packets.decisions import decision_answer
from evidence.samples.demo import demo_evidence_load
from tests.evidence.candidates.conftest import SUMMIT

pytestmark = pytest.mark.django_db


def test_the_demo_registers_domo_contract_terms_once(tmp_path, manifest):
    demo_users_create()

    first = demo_evidence_load(tmp_path / "var", seed=7, rows=600, export_load_id=manifest.load_id)
    again = demo_evidence_load(tmp_path / "var", seed=7, rows=600, export_load_id=manifest.load_id)

    candidate_set = DomoCandidateSet.objects.get()
    assert (candidate_set.kind, candidate_set.rows, candidate_set.registered_by.username) == (
        "contract", 24, "olivia.operator")
    assert first.line().endswith("candidate evidence from Domo: Contract Terms 2025 as contract terms "
                                 "(24 rows, registered)")
    assert again.domo_candidates == "Contract Terms 2025 as contract terms (24 rows, unchanged)"
    assert AuditEvent.objects.filter(action="evidence.candidate.registered").count() == 1
    answer = decision_answer({"output": "contract_guarantee", "client": SUMMIT, "period": "2025-01-01:2025-12-31",
                              "component": "retail/brand"})
    assert answer["decision"] == "indicative"
    assert {seen["source"] for seen in answer["candidates_seen"]} == {"domo"}
