"""Four eyes on evidence, in the service and the database: another approver verifies a candidate revision into
governed evidence; the receiver never verifies their own; withdrawal turns it back into candidate with a
reason; a stale sha256 or a refused receipt is never verified; only approvers decide. Every decision and every
refusal is audited with before and after."""
from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from console import audit, roles
from evidence.choices import EvidenceClass
from evidence.packets.models import PacketRevision
from evidence.packets.verification import (
    VERIFIED,
    VERIFY_REFUSED,
    WITHDRAW_REFUSED,
    WITHDRAWN,
    VerificationRefused,
    may_verify,
    packet_verify,
    packet_withdraw,
)
from tests.evidence.packets.builders import contract_packet
from tests.evidence.packets.verification_helpers import events, received, second_approver

pytestmark = pytest.mark.django_db


def _verify(actor, revision, **changes):
    return packet_verify(actor=actor, revision=revision, **{"sha256": revision.sha256,
                                                            "comment": "terms match Exhibit C", **changes})


def test_another_approver_verifies_a_candidate_into_governed_and_it_is_audited(tmp_path, arthur):
    vera = second_approver()
    revision = received(tmp_path, arthur)
    assert revision.evidence_class == EvidenceClass.CANDIDATE

    verified = _verify(vera, revision)

    assert verified.evidence_class == EvidenceClass.GOVERNED
    assert verified.verified_by == vera and verified.verified_at is not None
    (event,) = events(revision, VERIFIED)
    assert event.actor_label == "vera"
    assert event.before["class"] == "candidate" and event.before["verified_by"] is None
    assert event.after["class"] == "governed" and event.after["verified_by"] == "vera"
    assert event.after["verified_at"] and event.after["comment"] == "terms match Exhibit C"
    assert event.after["sha256"] == revision.sha256 and event.after["received_by"] == "arthur"
    assert audit.is_decision(VERIFIED) and audit.is_decision(WITHDRAWN)


def test_the_receiver_cannot_verify_their_own_revision(tmp_path, arthur):
    revision = received(tmp_path, arthur)

    with pytest.raises(VerificationRefused) as refused:
        _verify(arthur, revision)

    assert refused.value.forbidden and "four eyes" in refused.value.reason
    revision.refresh_from_db()
    assert revision.evidence_class == EvidenceClass.CANDIDATE and revision.verified_by is None
    (event,) = events(revision, VERIFY_REFUSED)
    assert event.actor_label == "arthur" and event.after["forbidden"] is True
    assert "four eyes" in event.after["reason"] and event.before["class"] == "candidate"
    assert not events(revision, VERIFIED)


@pytest.mark.parametrize("as_email", [True, False], ids=["by email", "by username"])
def test_the_person_who_keyed_the_records_cannot_verify_them(tmp_path, olivia, arthur, as_email):
    """packet.json's keyed_by names who keyed the records: that approver is no second pair of eyes either."""
    keyer = second_approver("ana")
    keyer.email = "Ana.Ferreira@LeafHealth.com"  # keyed_by is ana.ferreira@leafhealth.com, compared without case
    keyer.save()
    packet = contract_packet()
    packet.fields["keyed_by"] = "ana.ferreira@leafhealth.com" if as_email else "ANA"
    revision = received(tmp_path, olivia, packet)

    assert not may_verify(keyer, revision) and may_verify(arthur, revision)
    with pytest.raises(VerificationRefused) as refused:
        _verify(keyer, revision)

    assert refused.value.forbidden and "keyed this packet's records" in refused.value.reason
    revision.refresh_from_db()
    assert revision.evidence_class == EvidenceClass.CANDIDATE
    (event,) = events(revision, VERIFY_REFUSED)
    assert event.actor_label == "ana" and "keyed" in event.after["reason"]
    _verify(arthur, revision)
    revision.refresh_from_db()
    assert revision.evidence_class == EvidenceClass.GOVERNED and revision.verified_by == arthur


def test_the_database_refuses_a_raw_update_that_makes_the_receiver_the_verifier(tmp_path, arthur):
    revision = received(tmp_path, arthur)

    with pytest.raises(IntegrityError, match="packet_revision_verifier_not_receiver"), transaction.atomic():
        PacketRevision.objects.filter(pk=revision.pk).update(
            verified_by=arthur, evidence_class=EvidenceClass.GOVERNED)


def test_a_revision_received_by_a_command_may_be_verified_by_any_approver(tmp_path, arthur):
    revision = received(tmp_path, None)
    assert revision.received_by is None and revision.received_by_label.startswith("system:")

    assert _verify(arthur, revision).evidence_class == EvidenceClass.GOVERNED


def test_withdrawal_turns_governed_back_into_candidate_with_its_reason(tmp_path, arthur):
    vera = second_approver()
    revision = _verify(vera, received(tmp_path, arthur))

    withdrawn = packet_withdraw(actor=arthur, revision=revision, sha256=revision.sha256,
                                reason="Exhibit C was superseded by the amendment of 2025-07-01")

    assert withdrawn.evidence_class == EvidenceClass.CANDIDATE
    assert withdrawn.withdrawn_at is not None and "superseded" in withdrawn.withdrawal_reason
    (event,) = events(revision, WITHDRAWN)
    assert event.before["class"] == "governed" and event.before["verified_by"] == "vera"
    assert event.after["class"] == "candidate" and event.after["withdrawn_at"]
    assert event.after["reason"].startswith("Exhibit C was superseded")


def test_a_withdrawal_needs_a_reason_and_a_governed_revision(tmp_path, arthur):
    vera = second_approver()
    revision = received(tmp_path, arthur)

    with pytest.raises(VerificationRefused, match="only governed evidence can be withdrawn"):
        packet_withdraw(actor=vera, revision=revision, sha256=revision.sha256, reason="wrong client")
    _verify(vera, revision)
    with pytest.raises(VerificationRefused, match="needs a reason"):
        packet_withdraw(actor=vera, revision=revision, sha256=revision.sha256, reason="  ")

    revision.refresh_from_db()
    assert revision.evidence_class == EvidenceClass.GOVERNED
    first, second = events(revision, WITHDRAW_REFUSED)
    # Each refusal keeps what was typed beside why it was refused.
    assert {first.after["withdrawal_reason"], second.after["withdrawal_reason"]} == {"wrong client", ""}
    assert {first.after["reason"], second.after["reason"]} >= {"a withdrawal needs a reason"}


def test_a_comment_or_reason_past_ten_thousand_characters_is_refused_and_the_audit_keeps_it_cut(tmp_path, arthur):
    vera = second_approver()
    revision = received(tmp_path, arthur)
    flood = "x" * 2_000_000

    with pytest.raises(VerificationRefused, match=r"comment: at most 10,000 characters \(it has 2,000,000\)"):
        _verify(vera, revision, comment=flood)
    revision.refresh_from_db()
    assert revision.evidence_class == EvidenceClass.CANDIDATE
    (refused,) = events(revision, VERIFY_REFUSED)
    assert len(refused.after["comment"]) < 10_100
    assert refused.after["comment"].endswith("[2,000,000 characters, cut at 10,000]")

    _verify(vera, revision, comment="y" * 10_000)  # at the limit: kept whole
    with pytest.raises(VerificationRefused, match=r"reason: at most 10,000 characters \(it has 10,001\)"):
        packet_withdraw(actor=vera, revision=revision, sha256=revision.sha256, reason="z" * 10_001)
    revision.refresh_from_db()
    assert revision.evidence_class == EvidenceClass.GOVERNED
    assert events(revision, VERIFIED)[0].after["comment"] == "y" * 10_000


def test_a_withdrawn_revision_can_be_verified_again_by_someone_other_than_its_receiver(tmp_path, arthur):
    vera = second_approver()
    revision = _verify(vera, received(tmp_path, arthur))
    packet_withdraw(actor=vera, revision=revision, sha256=revision.sha256, reason="checking the amendment")

    with pytest.raises(VerificationRefused, match="four eyes"):
        _verify(arthur, revision)
    again = _verify(vera, revision, comment="the amendment does not touch these terms")

    assert again.evidence_class == EvidenceClass.GOVERNED and again.withdrawn_at is None
    assert [e.after["class"] for e in events(revision, VERIFIED)] == ["governed", "governed"]
    assert events(revision, VERIFIED)[1].before["withdrawal_reason"] == "checking the amendment"


def test_a_stale_sha256_is_refused(tmp_path, arthur):
    vera = second_approver()
    first = received(tmp_path, arthur)
    changed = contract_packet()
    changed.fields["source"]["reference"] = "CLM-2024-0113-A"
    second = received(tmp_path, arthur, changed, name="contract-2")
    assert second.revision == 2

    with pytest.raises(VerificationRefused, match="stale") as refused:
        _verify(vera, second, sha256=first.sha256)

    assert not refused.value.forbidden
    second.refresh_from_db()
    assert second.evidence_class == EvidenceClass.CANDIDATE
    (event,) = events(second, VERIFY_REFUSED)
    assert event.after["sha256"] == first.sha256 and "stale" in event.after["reason"]


def test_a_refused_receipt_is_never_verifiable(tmp_path, arthur):
    vera = second_approver()
    broken = contract_packet()
    broken.fields["format"] = "leaf-evidence/0"  # FORMAT_UNKNOWN: the packet is refused
    refused = received(tmp_path, arthur, broken)
    assert refused.status == "refused"

    with pytest.raises(VerificationRefused, match="a refused packet is no evidence"):
        _verify(vera, refused)
    with pytest.raises(VerificationRefused, match="no evidence"):
        packet_withdraw(actor=vera, revision=refused, sha256=refused.sha256, reason="no")
    refused.refresh_from_db()
    assert refused.evidence_class == "" and refused.verified_by is None


def test_an_already_governed_revision_is_not_verified_twice(tmp_path, arthur):
    vera, walt = second_approver(), second_approver("walt")
    revision = _verify(vera, received(tmp_path, arthur))

    with pytest.raises(VerificationRefused, match="already governed .*verified by vera"):
        _verify(walt, revision)
    revision.refresh_from_db()
    assert revision.verified_by == vera


@pytest.mark.parametrize("persona", ["olivia", "cecilia", "audrey", "adam"])
def test_only_approvers_verify_or_withdraw(tmp_path, request, arthur, persona):
    person = request.getfixturevalue(persona)
    revision = received(tmp_path, None)

    with pytest.raises(VerificationRefused, match="verify_evidence capability") as refused:
        _verify(person, revision)
    assert refused.value.forbidden
    _verify(arthur, revision)
    with pytest.raises(VerificationRefused, match="verify_evidence capability"):
        packet_withdraw(actor=person, revision=revision, sha256=revision.sha256, reason="no")
    assert [e.actor_label for e in events(revision, VERIFY_REFUSED)] == [persona]


def test_the_roles_hold_the_evidence_capabilities(seeded_roles):
    assert "console.verify_evidence" in roles.ROLE_PERMISSIONS[roles.APPROVER]
    assert all("console.verify_evidence" not in roles.ROLE_PERMISSIONS[r] for r in roles.ROLE_PERMISSIONS
               if r != roles.APPROVER)
    assert {r for r in roles.ROLE_PERMISSIONS if "console.receive_evidence" in roles.ROLE_PERMISSIONS[r]} == {
        roles.OPERATOR, roles.ADMIN}
    assert roles.is_decision_permission("console.verify_evidence")


@pytest.mark.postgres_only  # row locks: SQLite serializes whole transactions instead
@pytest.mark.django_db(transaction=True)
def test_two_approvers_racing_verify_once(tmp_path, seeded_roles):
    vera, walt = second_approver(), second_approver("walt")
    revision = received(tmp_path, None)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def decide(person):
        try:
            barrier.wait()
            _verify(person, PacketRevision.objects.get(pk=revision.pk))
            outcomes.append("verified")
        except VerificationRefused as refused:
            outcomes.append(refused.reason)
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(p,)) for p in (vera, walt)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count("verified") == 1
    assert any("already governed" in outcome for outcome in outcomes)
    assert len(events(revision, VERIFIED)) == 1
