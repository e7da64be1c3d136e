"""Packets received through the real service (`packet_receive`), and the verification state set directly.

The verification service (four eyes, audited) is being built in parallel; until it lands, `govern` and
`withdraw` set what it will set, through the ORM: the class, the verifier (never the receiver: the database
refuses it) and the time, or the withdrawal and its reason. The database's constraints on those columns
still hold (a governed revision is accepted, verified and not withdrawn).
"""
from __future__ import annotations

import io
import json
from pathlib import Path

from django.core.management import call_command

from console import clock
from evidence.choices import EvidenceClass
from evidence.models import PacketRevision
from evidence.packets.services import packet_receive
from tests.evidence.packets.builders import Packet

YEAR = "2025-01-01:2025-12-31"


def receive(packet: Packet, root: Path, actor) -> PacketRevision:
    """Receive the packet as a folder under root (its packet_id and a counter name it) and return the
    accepted revision."""
    folder = root / f"{packet.fields['packet_id']}-{len(list(root.glob('*')))}"
    outcome = packet_receive(actor=actor, source=packet.write(folder), original_name=folder.name)
    assert outcome.revision.evidence_class == EvidenceClass.CANDIDATE, outcome.status
    return outcome.revision


def govern(revision: PacketRevision, verifier) -> PacketRevision:
    """Mark the revision verified by `verifier` (not its receiver), now: governed evidence."""
    PacketRevision.objects.filter(pk=revision.pk).update(
        evidence_class=EvidenceClass.GOVERNED, verified_by=verifier, verified_at=clock.now())
    revision.refresh_from_db()
    return revision


def withdraw(revision: PacketRevision, reason: str = "the terms were keyed from the draft") -> PacketRevision:
    """Withdraw a governed revision: candidate again, with the time and the reason."""
    PacketRevision.objects.filter(pk=revision.pk).update(
        evidence_class=EvidenceClass.CANDIDATE, withdrawn_at=clock.now(), withdrawal_reason=reason)
    revision.refresh_from_db()
    return revision


def command_text(*args: str) -> str:
    out = io.StringIO()
    call_command("evidence_decision", *args, stdout=out)
    return out.getvalue()


def command_json(*args: str) -> dict:
    return json.loads(command_text(*args, "--json"))
