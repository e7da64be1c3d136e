"""The demo's evidence on first start (`make run`): the sample packets of the sample export's seed and rows,
received by the demo operator and verified by the demo approver, so a new user sees governed, candidate and
missing evidence at once.

- The packets are written under `<var dir>/evidence/sample/` (regenerated each start: same seed and rows,
  same bytes) and each is received through the receiving service with the demo operator as the actor, as
  if she had uploaded it: the receipt is hers, so four eyes holds (she could not verify them herself).
- Every accepted revision is then verified by the demo approver, with the comment VERIFY_COMMENT, except
  the packets the sample leaves unverified (`SampleEvidenceSummary.unverified_packet_id`): that contract
  stays candidate. A revision that was ever decided (verified, or verified then withdrawn by a person) is
  left as it is: the demo never overrides a person's decision.
- A second start changes nothing: identical bytes are answered `unchanged` (nothing stored, nothing audited)
  and governed revisions are skipped.

After the packets, the sample export's Domo dataset "Contract Terms 2025" is registered as candidate contract
evidence (as the demo operator, with the proposed mapping): the client without a contract packet then has Domo's
candidate terms, indicative at most. A second start answers `unchanged`.

The gaps the sample plants (no contract for one client, a pricing gap, a missing rebate quarter, a mid-year
amendment) are reported as the sample names them.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model

from console import roles
from console.services import DEMO_USERS
from evidence.candidates.services import candidate_register, mapping_proposal
from evidence.choices import EvidenceClass, PacketStatus
from evidence.models import DomoDataset
from evidence.packets import verification
from evidence.packets.services import UNCHANGED, packet_receive
from evidence.samples.evidence import write_sample_evidence

VERIFY_COMMENT = "demo: verified on first start"
CANDIDATE_DATASET = "Contract Terms 2025"  # the sample export's Domo contract terms (evidence.samples.world)
CANDIDATE_NOTE = "demo: Domo's keyed contract terms, registered on first start"


@dataclass(frozen=True)
class DemoEvidence:
    """What demo_evidence_load did (counts over the sample's packets) and the gaps the sample planted."""

    path: Path
    packets: int
    accepted: int  # new revisions recorded by this load
    unchanged: int  # identical bytes already received: nothing stored
    refused: int
    verified: int  # verified by this load
    governed: int  # the sample's revisions governed after this load (verified now or before)
    candidate: int  # left candidate (the sample's unverified packet, or withdrawn by a person)
    operator: str
    approver: str
    gaps: tuple[str, ...]
    domo_candidates: str = "no sample export to register candidate evidence from"

    def line(self) -> str:
        return (f"Sample evidence: {self.packets} packets received as {self.operator} ({self.accepted} new, "
                f"{self.unchanged} unchanged, {self.refused} refused), {self.governed} governed "
                f"({self.verified} verified now by {self.approver}), {self.candidate} left candidate; "
                f"gaps: {'; '.join(self.gaps)}; candidate evidence from Domo: {self.domo_candidates}")


def demo_evidence_load(var_dir: Path, *, seed: int, rows: int, export_load_id: str | None = None) -> DemoEvidence:
    """Write the sample evidence for `seed` and `rows` under var_dir, receive every packet as the demo
    operator and verify the verifiable ones as the demo approver (the demo users must exist); then register
    the Contract Terms dataset of the sample export received as `export_load_id` as candidate evidence."""
    User = get_user_model()
    operator = User.objects.get(username=DEMO_USERS[roles.OPERATOR])
    approver = User.objects.get(username=DEMO_USERS[roles.APPROVER])
    out = Path(var_dir) / "evidence" / "sample"
    if out.exists():
        shutil.rmtree(out)  # ours: written by the last start, rewritten byte for byte
    sample = write_sample_evidence(out, seed=seed, rows=rows)
    left_unverified = {sample.unverified_packet_id}

    counts = {PacketStatus.ACCEPTED: 0, UNCHANGED: 0, PacketStatus.REFUSED: 0}
    verified = governed = candidate = 0
    for packet_id, _kind, path in sample.packets:
        outcome = packet_receive(actor=operator, source=path, original_name=path.name)
        counts[outcome.status] += 1
        revision = outcome.revision
        if outcome.status == PacketStatus.REFUSED:
            continue
        if (packet_id not in left_unverified and revision.verified_by_id is None
                and verification.may_verify(approver, revision)):
            revision = verification.packet_verify(actor=approver, revision=revision, sha256=revision.sha256,
                                                  comment=VERIFY_COMMENT)
            verified += 1
        if revision.evidence_class == EvidenceClass.GOVERNED:
            governed += 1
        else:
            candidate += 1
    return DemoEvidence(
        path=out, packets=len(sample.packets), accepted=counts[PacketStatus.ACCEPTED], unchanged=counts[UNCHANGED],
        refused=counts[PacketStatus.REFUSED], verified=verified, governed=governed, candidate=candidate,
        operator=operator.get_username(), approver=approver.get_username(), gaps=tuple(sample.gaps()),
        **({"domo_candidates": _register_contract_terms(operator, export_load_id)} if export_load_id else {}),
    )


def _register_contract_terms(operator, load_id: str) -> str:
    """Register the export's Domo contract terms as candidate contract evidence; what happened, in words."""
    dataset = (DomoDataset.objects.filter(manifest__load_id=load_id, name=CANDIDATE_DATASET)
               .select_related("manifest").order_by("-id").first())
    if dataset is None or not dataset.silver_path:
        return f"no {CANDIDATE_DATASET} with silver data in export {load_id}"
    mapping = {line.column: line.domo_column for line in mapping_proposal(dataset, "contract")}
    outcome = candidate_register(actor=operator, dataset=dataset, kind="contract", mapping=mapping,
                                 note=CANDIDATE_NOTE)
    return f"{CANDIDATE_DATASET} as contract terms ({outcome.candidate_set.rows} rows, {outcome.status})"
