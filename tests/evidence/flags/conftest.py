"""The sample (export and evidence of seed 7) for the flag tests: the claims promoted into the curated registry
through the real promotion services, the evidence packets received through the real service and verified
through the four-eyes service (all but the one the sample leaves unverified)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from evidence.flags.models import FlagRun, FlagRunStatus
from evidence.flags.services import flag_run_execute, request_flags_recompute
from evidence.models import PacketRevision, SourceManifest
from evidence.packets.services import packet_receive
from evidence.packets.verification import packet_verify
from evidence.samples.evidence import SampleEvidenceSummary, write_sample_evidence
from evidence.samples.export import DEFAULT_EXPORTED_AT, write_sample_export
from tests.promotion.conftest import CLAIMS, CURATED_DB, curated_db, dataset, ingest, no_enqueue, promoted  # noqa: F401 (fixtures)

ROWS = 600
LATER = DEFAULT_EXPORTED_AT + dt.timedelta(days=1)
FLAGS_DB = CURATED_DB


@dataclass
class Sample:
    evidence: SampleEvidenceSummary
    claims_key: str
    first: SourceManifest  # 30 claims, promoted first (v1)
    second: SourceManifest  # ROWS claims, promoted after (v2, current)

    def revision(self, packet_id: str) -> PacketRevision:
        return PacketRevision.objects.get(claimed_packet_id=packet_id)

    def client_of(self, packet_id: str) -> str:
        return self.revision(packet_id).packet.client_account_ids[0]


def recompute(trigger: str = "test") -> FlagRun:
    """Run the queued flag run (the triggers' one, coalesced) in-process, as the worker would."""
    run = request_flags_recompute(trigger=trigger, enqueue=False)
    done = flag_run_execute(run_id=run.pk, worker="test")
    assert done is not None and done.status == FlagRunStatus.SUCCEEDED, done and done.error
    return done


@pytest.fixture
def sample(tmp_path, states, olivia, arthur, curated_db, no_enqueue, broker) -> Sample:  # noqa: F811
    def build():
        first = ingest(write_sample_export(tmp_path / "first", rows=30).path)
        promoted(first, CLAIMS, olivia, arthur)
        second = ingest(write_sample_export(tmp_path / "second", rows=ROWS, exported_at=LATER).path)
        promoted(second, CLAIMS, olivia, arthur)
        return first, second

    first, second = states.get("flags: sample claims promoted twice (load task in-process)", build)
    summary = write_sample_evidence(tmp_path / "evidence", seed=7, rows=ROWS, exported_at=LATER)
    for packet_id, _kind, path in summary.packets:
        outcome = packet_receive(actor=olivia, source=path, original_name=path.name)
        assert outcome.status == "accepted", packet_id
        if packet_id != summary.unverified_packet_id:
            packet_verify(actor=arthur, revision=outcome.revision, sha256=outcome.revision.sha256,
                          comment="checked against the source documents")
    return Sample(evidence=summary, claims_key=dataset(second, CLAIMS).domo_id, first=first, second=second)
