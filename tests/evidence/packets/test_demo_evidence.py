"""The demo's evidence on first start (evidence.samples.demo, called by run_console): on a fresh database
the sample packets are received by the demo operator and verified by the demo approver, but for the contract
the sample leaves unverified; the authority rules then show governed, candidate (indicative) and missing
evidence. A second start changes nothing."""
from __future__ import annotations

import pytest

from console.models import AuditEvent
from console.services import demo_users_create
from evidence.choices import EvidenceClass, PacketStatus
from evidence.packets.decisions import decision_answer
from evidence.packets.models import EvidencePacket, PacketRevision, RebateInvoiceRow
from evidence.packets.verification import VERIFIED
from evidence.samples.demo import VERIFY_COMMENT, demo_evidence_load
from evidence.samples.evidence import write_sample_evidence

pytestmark = pytest.mark.django_db

ROWS = 600
YEAR = "2025-01-01:2025-12-31"
BRAND_AND_GENERIC = "retail/brand,retail/generic"


@pytest.fixture
def sample(tmp_path):
    """What the sample plants for seed 7 (written aside: the loader writes its own copy under the var dir)."""
    return write_sample_evidence(tmp_path / "planted", seed=7, rows=ROWS)


def _contract(client: str) -> dict:
    return decision_answer({"output": "contract_guarantee", "client": client, "period": YEAR,
                            "component": BRAND_AND_GENERIC})


def test_a_fresh_start_governs_the_verifiable_packets_and_leaves_the_planted_gaps(tmp_path, sample):
    demo_users_create()

    loaded = demo_evidence_load(tmp_path / "var", seed=7, rows=ROWS)

    count = len(sample.packets)
    assert (loaded.packets, loaded.accepted, loaded.unchanged, loaded.refused) == (count, count, 0, 0)
    assert (loaded.governed, loaded.candidate, loaded.verified) == (count - 1, 1, count - 1)
    assert (loaded.path / sample.unverified_packet_id / "packet.json").is_file()
    revisions = PacketRevision.objects.select_related("received_by", "verified_by")
    assert revisions.count() == count and not revisions.filter(status=PacketStatus.REFUSED).exists()
    for revision in revisions:
        assert revision.received_by.username == "olivia.operator"
        if revision.claimed_packet_id == sample.unverified_packet_id:
            assert (revision.evidence_class, revision.verified_by) == (EvidenceClass.CANDIDATE, None)
        else:
            assert revision.evidence_class == EvidenceClass.GOVERNED
            assert revision.verified_by.username == "arthur.approver"
    verified = AuditEvent.objects.filter(action=VERIFIED)
    assert verified.count() == count - 1
    assert {(e.actor_label, e.after["comment"]) for e in verified} == {("arthur.approver", VERIFY_COMMENT)}

    # What a new user reads: governed, candidate only (indicative) and missing evidence.
    amended_client = EvidencePacket.objects.get(packet_id=sample.amended_packet_id).client_account_ids[0]
    unverified_client = EvidencePacket.objects.get(packet_id=sample.unverified_packet_id).client_account_ids[0]
    assert _contract(amended_client)["decision"] == "authorized"
    assert _contract(unverified_client)["decision"] == "indicative"
    missing = _contract(sample.client_without_contract)
    assert missing["decision"] == "not_concluded" and {m["kind"] for m in missing["missing"]} == {"contract"}
    client, quarter = sample.missing_rebate
    assert not RebateInvoiceRow.objects.filter(client_account_id=client, quarter=quarter).exists()
    assert loaded.gaps == tuple(sample.gaps())
    line = loaded.line()
    assert f"{count} packets received as olivia.operator ({count} new, 0 unchanged, 0 refused)" in line
    assert f"{count - 1} governed ({count - 1} verified now by arthur.approver), 1 left candidate" in line


def test_a_second_start_changes_nothing(tmp_path, sample):
    demo_users_create()
    first = demo_evidence_load(tmp_path / "var", seed=7, rows=ROWS)
    revisions = list(PacketRevision.objects.order_by("pk").values())
    events = AuditEvent.objects.count()

    again = demo_evidence_load(tmp_path / "var", seed=7, rows=ROWS)

    count = len(sample.packets)
    assert (again.accepted, again.unchanged, again.refused, again.verified) == (0, count, 0, 0)
    assert (again.governed, again.candidate) == (first.governed, first.candidate)
    assert list(PacketRevision.objects.order_by("pk").values()) == revisions
    assert AuditEvent.objects.count() == events


def test_a_withdrawal_by_a_person_is_not_overridden_on_the_next_start(tmp_path, sample, arthur):
    from evidence.packets.verification import packet_withdraw

    demo_users_create()
    demo_evidence_load(tmp_path / "var", seed=7, rows=ROWS)
    pricing = PacketRevision.objects.get(kind="pricing")
    packet_withdraw(actor=arthur, revision=pricing, sha256=pricing.sha256, reason="a price row is wrong")

    again = demo_evidence_load(tmp_path / "var", seed=7, rows=ROWS)

    pricing.refresh_from_db()
    assert pricing.evidence_class == EvidenceClass.CANDIDATE and pricing.withdrawn_at is not None
    assert (again.verified, again.candidate) == (0, 2)
