"""What the verification tests share: a second approver, a packet received through the service, and the audit
events of a revision."""
from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from console import roles
from console.models import AuditEvent
from evidence.packets.services import packet_receive
from tests.conftest import PASSWORD
from tests.evidence.packets.builders import contract_packet


def second_approver(username: str = "vera"):
    """Another approver than Arthur (roles granted outside a web request, as a command does)."""
    user = get_user_model().objects.create_user(username=username, password=PASSWORD)
    user.groups.add(Group.objects.get(name=roles.APPROVER))
    return user


def received(tmp_path: Path, actor, packet=None, *, name: str = "contract"):
    """A contract packet (with its executed-contract PDF) received by `actor` (None: a command)."""
    packet = packet or contract_packet()
    source = packet.write(tmp_path / name)
    outcome = packet_receive(actor=actor, source=source, original_name=source.name)
    return outcome.revision


def events(revision, action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type="evidence.packetrevision", object_id=str(revision.pk),
                                          action=action).order_by("seq"))
