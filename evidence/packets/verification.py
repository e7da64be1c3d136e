"""Four eyes on evidence: verifying a packet revision (candidate → governed) and withdrawing it (governed →
candidate). The one place either happens; the pages, the API and nothing else call it (the admin is
read-only, and the database refuses a revision verified by its receiver).

- Verifying needs console.verify_evidence (approvers) and a comment, and is never the receiver's: a person
  who received a revision (`received_by`) cannot verify it. A revision received by a command or a task has
  no receiving person (`received_by` null; `received_by_label` names the command): any person holding the
  capability may verify it.
- A refused receipt is no evidence: it is never verifiable.
- The decision is bound to what the verifier was shown: the caller passes the revision's sha256 (the page's
  form and the API's body carry it); another sha256 is stale and refused, as promotions bind to their hash.
- Withdrawing needs the same capability and a reason; only a governed revision is withdrawn. A withdrawn
  revision is candidate again and may later be verified anew (by someone other than its receiver); the
  audit trail keeps every verification and withdrawal with its comment or reason.
- The revision row is locked (SELECT … FOR UPDATE) while deciding, so two verifiers racing take turns: the
  second sees the first's decision and is refused.

Every decision is audited (`evidence_packet.verified`, `evidence_packet.withdrawn`, which anchor the audit
head) with before and after, and so is every refusal (`evidence_packet.verify_refused`,
`evidence_packet.withdraw_refused`) with its reason. A refusal raises VerificationRefused: `forbidden` when
it is about who asks (HTTP 403), otherwise about when or what (HTTP 409).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import transaction

from console import clock
from console.audit import audit_record
from console.comments import as_attempted, too_long
from console.models import AuditEvent
from evidence.choices import EvidenceClass, PacketStatus
from evidence.flags.services import flags_moved
from evidence.packets.models import PacketRevision

VERIFY_PERMISSION = "console.verify_evidence"
REVISION_TYPE = "evidence.packetrevision"
VERIFIED = "evidence_packet.verified"
WITHDRAWN = "evidence_packet.withdrawn"
VERIFY_REFUSED = "evidence_packet.verify_refused"
WITHDRAW_REFUSED = "evidence_packet.withdraw_refused"


class VerificationRefused(Exception):
    """A verification or withdrawal the rules refuse; `reason` says why (it is in the audit trail too).

    forbidden: True when the person may not take the action at all (no capability, or their own receipt),
    False when the revision is not in a state for it (refused, already governed, stale sha256, …)."""

    def __init__(self, reason: str, *, forbidden: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.forbidden = forbidden


def may_verify(user, revision: PacketRevision) -> bool:
    """Whether the Verify form is offered to this person for this revision (the service decides anyway)."""
    return (
        _holds_capability(user)
        and revision.status == PacketStatus.ACCEPTED
        and revision.evidence_class == EvidenceClass.CANDIDATE
        and not is_receiver(user, revision)
        and not keyed_it(user, revision)
    )


def may_withdraw(user, revision: PacketRevision) -> bool:
    return _holds_capability(user) and revision.evidence_class == EvidenceClass.GOVERNED


def is_receiver(user, revision: PacketRevision) -> bool:
    return revision.received_by_id is not None and revision.received_by_id == getattr(user, "pk", None)


def keyed_it(user, revision: PacketRevision) -> bool:
    """Whether this person keyed the packet's records (packet.json's `keyed_by` is their email or username,
    compared case-insensitively): checking one's own keying is no second pair of eyes either."""
    keyed_by = str((revision.header or {}).get("keyed_by") or "").strip().casefold()
    if not keyed_by or not getattr(user, "is_authenticated", False):
        return False
    names = {str(getattr(user, "email", "") or "").strip().casefold(), user.get_username().strip().casefold()}
    return keyed_by in names - {""}


def packet_verify(*, actor, revision: PacketRevision, sha256: str, comment: str) -> PacketRevision:
    """Verify a candidate revision into governed evidence: another person than its receiver, with the
    verify capability and a comment, on the revision whose sha256 they were shown."""
    _packet_revision_only(revision)
    comment = (comment or "").strip()
    attempt = {"sha256": sha256, "comment": as_attempted(comment)}
    with _refusals_audited(actor, VERIFY_REFUSED, revision, attempt=attempt):
        if not _holds_capability(actor):
            _forbid("verifying evidence needs the verify_evidence capability (approvers)")
        if is_receiver(actor, revision):
            _forbid(f"{revision.received_by_label} received this revision and cannot verify it (four eyes): "
                    "another approver verifies it")
        if keyed_it(actor, revision):
            _forbid(f"{actor.get_username()} keyed this packet's records (keyed_by) and cannot verify them "
                    "(four eyes): another approver verifies it")
        if not comment:
            _refuse("a verification needs a comment: what was checked against the source documents")
        if problem := too_long(comment, "comment"):
            _refuse(problem)
        with transaction.atomic():
            locked = _locked(revision)
            if locked.status != PacketStatus.ACCEPTED:
                _refuse("a refused packet is no evidence: it cannot be verified; receive a corrected packet")
            if is_receiver(actor, locked):
                _forbid(f"{locked.received_by_label} received this revision and cannot verify it (four eyes)")
            _check_sha256(locked, sha256)
            if locked.evidence_class == EvidenceClass.GOVERNED:
                _refuse(f"{locked} is already governed (verified by {_name(locked.verified_by)} at "
                        f"{locked.verified_at:%Y-%m-%d %H:%M} UTC)")
            before = state(locked)
            locked.evidence_class = EvidenceClass.GOVERNED
            locked.verified_by = actor
            locked.verified_at = clock.now()
            locked.withdrawn_at = None
            locked.withdrawal_reason = ""
            locked.save(update_fields=["evidence_class", "verified_by", "verified_at", "withdrawn_at",
                                       "withdrawal_reason"])
            audit_record(actor=actor, action=VERIFIED, object_type=REVISION_TYPE, object_id=str(locked.pk),
                         before=before, after={**state(locked), "comment": comment})
            flags_moved(trigger="packet.verified", ref=f"{locked.claimed_packet_id} revision {locked.revision}",
                        actor=actor)
    revision.refresh_from_db()
    return revision


def packet_withdraw(*, actor, revision: PacketRevision, sha256: str, reason: str) -> PacketRevision:
    """Withdraw a governed revision, with a reason: from then on it is candidate evidence."""
    _packet_revision_only(revision)
    reason = (reason or "").strip()
    attempt = {"sha256": sha256, "withdrawal_reason": as_attempted(reason)}  # "reason" is the refusal's
    with _refusals_audited(actor, WITHDRAW_REFUSED, revision, attempt=attempt):
        if not _holds_capability(actor):
            _forbid("withdrawing evidence needs the verify_evidence capability (approvers)")
        if not reason:
            _refuse("a withdrawal needs a reason")
        if problem := too_long(reason, "reason"):
            _refuse(problem)
        with transaction.atomic():
            locked = _locked(revision)
            if locked.status != PacketStatus.ACCEPTED:
                _refuse("a refused packet is no evidence: there is nothing to withdraw")
            _check_sha256(locked, sha256)
            if locked.evidence_class != EvidenceClass.GOVERNED:
                _refuse(f"only governed evidence can be withdrawn; {locked} is {locked.evidence_class}")
            before = state(locked)
            locked.evidence_class = EvidenceClass.CANDIDATE
            locked.withdrawn_at = clock.now()
            locked.withdrawal_reason = reason
            locked.save(update_fields=["evidence_class", "withdrawn_at", "withdrawal_reason"])
            audit_record(actor=actor, action=WITHDRAWN, object_type=REVISION_TYPE, object_id=str(locked.pk),
                         before=before, after={**state(locked), "reason": reason})
            flags_moved(trigger="packet.withdrawn", ref=f"{locked.claimed_packet_id} revision {locked.revision}",
                        actor=actor)
    revision.refresh_from_db()
    return revision


def state(revision: PacketRevision) -> dict:
    """What the audit trail says of a revision's verification, before and after a decision."""
    return {
        "packet_id": revision.claimed_packet_id, "revision": revision.revision, "sha256": revision.sha256,
        "class": revision.evidence_class or None, "received_by": revision.received_by_label,
        "verified_by": _name(revision.verified_by) if revision.verified_by_id else None,
        "verified_at": revision.verified_at, "withdrawn_at": revision.withdrawn_at,
        "withdrawal_reason": revision.withdrawal_reason or None,
    }


def decisions_of(revision: PacketRevision, limit: int = 20) -> list:
    """The newest verifications and withdrawals of a revision, from the audit trail (their comment or reason
    is kept there, not on the revision)."""
    return list(AuditEvent.objects.filter(object_type=REVISION_TYPE, object_id=str(revision.pk),
                                          action__in=(VERIFIED, WITHDRAWN)).order_by("-seq")[:limit])


# --- shared --------------------------------------------------------------------------------------


def _packet_revision_only(revision) -> None:
    """Governed evidence comes only from packets: anything else (a Domo candidate set) is never verified."""
    if not isinstance(revision, PacketRevision):
        raise VerificationRefused(f"{revision} is not an evidence packet revision: only a packet revision can be "
                                  "verified; candidate evidence from Domo is never governed")


def _holds_capability(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.has_perm(VERIFY_PERMISSION)


def _locked(revision: PacketRevision) -> PacketRevision:
    return PacketRevision.objects.select_for_update(of=("self",)).select_related("verified_by").get(pk=revision.pk)


def _check_sha256(revision: PacketRevision, sha256: str) -> None:
    if (sha256 or "").strip().lower() != revision.sha256:
        _refuse(f"stale: {revision} has sha256 {revision.sha256}, not {sha256 or '(none given)'}; "
                "reload the revision and check what it holds before deciding")


def _name(user) -> str:
    return user.get_username() if user is not None else ""


def _refuse(reason: str):
    raise VerificationRefused(reason)


def _forbid(reason: str):
    raise VerificationRefused(reason, forbidden=True)


@contextlib.contextmanager
def _refusals_audited(actor, action: str, revision: PacketRevision, *, attempt: dict) -> Iterator[None]:
    """Audit a refusal after the refused transaction rolled back (in the caller's transaction, or its own),
    as promotion refusals are."""
    try:
        yield
    except VerificationRefused as refused:
        fresh = PacketRevision.objects.select_related("verified_by").filter(pk=revision.pk).first()
        with transaction.atomic():
            audit_record(
                actor=actor, action=action, object_type=REVISION_TYPE, object_id=str(revision.pk),
                before=state(fresh) if fresh else None,
                after={**attempt, "reason": refused.reason, "forbidden": refused.forbidden},
            )
        raise
