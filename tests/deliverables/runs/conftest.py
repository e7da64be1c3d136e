"""The sample (export and evidence of seed 7) for the calculation-run tests: the claims promoted into a backend
contract by the admin (the contract permission) and approved by the approver, through the real services; the
evidence packets received and verified through the real services (all but the one the sample leaves unverified).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from deliverables.models import CalculationRun
from deliverables.runs import services as runs
from evidence.models import SourceManifest
from evidence.packets.services import packet_receive
from evidence.packets.verification import packet_verify
from evidence.samples.evidence import SampleEvidenceSummary, write_sample_evidence
from evidence.samples.export import DEFAULT_EXPORTED_AT, write_sample_export
from promotion import services, tasks
from promotion.choices import PromotionTarget
from tests.promotion.conftest import (  # noqa: F401 (fixtures)
    CLAIMS,
    CURATED_DB,
    approve,
    checked,
    curated_db,
    dataset,
    disposition_all,
    ingest,
    no_enqueue,
)

ROWS = 600
LATER = DEFAULT_EXPORTED_AT + dt.timedelta(days=1)
PERIOD = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))


@dataclass
class Sample:
    evidence: SampleEvidenceSummary
    manifest: SourceManifest
    claims_key: str

    def client_of(self, packet_id: str) -> str:
        from evidence.models import PacketRevision

        return PacketRevision.objects.get(claimed_packet_id=packet_id).packet.client_account_ids[0]


def promote(manifest, requester, approver, *, target=PromotionTarget.CONTRACT):
    chosen = dataset(manifest, CLAIMS)
    disposition_all(requester, manifest, [chosen])
    request = checked(services.promotion_request(actor=requester, manifest=manifest, datasets=[chosen],
                                                 target=target, enqueue=False))
    assert request.state == "ready", list(request.gate_results.values_list("gate", "outcome", "details"))
    approve(request, approver)
    tasks.promotion_load(request.pk)
    request.refresh_from_db()
    assert request.state == "promoted", request.error
    return request


def receive_evidence(tmp_path, olivia, arthur, *, rows: int = ROWS) -> SampleEvidenceSummary:
    """The sample evidence of the export's seed received by the operator, all but one verified by the approver."""
    summary = write_sample_evidence(tmp_path / "evidence", seed=7, rows=rows, exported_at=LATER)
    for packet_id, _kind, path in summary.packets:
        outcome = packet_receive(actor=olivia, source=path, original_name=path.name)
        assert outcome.status == "accepted", packet_id
        if packet_id != summary.unverified_packet_id:
            packet_verify(actor=arthur, revision=outcome.revision, sha256=outcome.revision.sha256,
                          comment="checked against the source documents")
    return summary


@pytest.fixture
def contract_sample(tmp_path, states, olivia, arthur, adam, curated_db, no_enqueue, broker) -> Sample:  # noqa: F811
    # Built once per test process (the receipts and verifications included), restored afterwards.
    manifest = states.get("runs: sample claims promoted into a backend contract, the sample evidence received",
                          lambda: build_contract_sample(tmp_path, olivia, arthur, adam))
    return sample_of(manifest, tmp_path)


def build_contract_sample(tmp_path, olivia, arthur, adam):
    """The sample export ingested, its claims promoted into a backend contract, the sample evidence received and
    all but one packet verified: the real services, in that order."""
    manifest = ingest(write_sample_export(tmp_path / "export", rows=ROWS, exported_at=LATER).path)
    promote(manifest, adam, arthur)
    receive_evidence(tmp_path, olivia, arthur)
    return manifest


def sample_of(manifest, tmp_path) -> Sample:
    """The Sample of a restored state: the evidence's summary is the generator's, written again (files only: the
    same seed gives the same packets)."""
    summary = write_sample_evidence(tmp_path / "evidence-summary", seed=7, rows=ROWS, exported_at=LATER)
    return Sample(evidence=summary, manifest=manifest, claims_key=dataset(manifest, CLAIMS).domo_id)


def execute(run: CalculationRun) -> CalculationRun:
    """Run the queued run in-process, as the worker would."""
    done = runs.run_execute(run_id=run.pk, task_id="test")
    assert done is not None
    return done
