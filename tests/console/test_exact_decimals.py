"""A decimal is kept exactly or refused, never changed by the column that stores it (console.exact): PostgreSQL
keeps DECIMAL(20, 6) whole; the embedded SQLite keeps a decimal column as a binary float, exact to 15
significant digits, so there a wider value is refused, naming file, row and column, and nothing is stored."""
from decimal import Decimal

import pytest
from django.db import connection, transaction

from evidence.choices import PacketStatus
from evidence.models import ContractTermRow, PacketRevision
from evidence.packets.services import packet_receive
from tests.evidence.packets.builders import contract_packet

WIDE = "1234567890.123456"  # 16 significant digits: within DECIMAL(20, 6), beyond a float


def _receive(packet, tmp_path, actor):
    source = packet.write(tmp_path / "packet")
    return packet_receive(actor=actor, source=source, original_name=source.name)


def test_a_fee_of_sixteen_significant_digits_is_kept_exactly_or_refused_named_never_rounded(tmp_path, olivia, lake):
    packet = contract_packet()
    packet.rows[0][6] = WIDE  # the first terms row's dispensing fee guarantee
    outcome = _receive(packet, tmp_path, olivia)
    if connection.vendor == "sqlite":
        assert outcome.status == PacketStatus.REFUSED
        issue = PacketRevision.objects.get(pk=outcome.revision.pk).issues.get(code="VALUE_INVALID")
        assert (issue.file, issue.row, issue.column) == ("terms.csv", 1, "dispensing_fee_guarantee")
        assert "16 significant digits" in issue.message and "SQLite" in issue.message
        assert not ContractTermRow.objects.exists()
    else:
        assert outcome.status == PacketStatus.ACCEPTED
        assert Decimal(WIDE) in set(ContractTermRow.objects.values_list("dispensing_fee_guarantee", flat=True))


def test_a_value_the_column_would_change_is_refused_when_saved_by_any_path(tmp_path, olivia, lake):
    outcome = _receive(contract_packet(), tmp_path, olivia)
    assert outcome.status == PacketStatus.ACCEPTED
    row = ContractTermRow.objects.order_by("pk").first()
    row.dispensing_fee_guarantee = Decimal("1.1234567")  # 7 places: every database would round it
    with pytest.raises(ValueError, match=r"evidence\.ContractTermRow\.dispensing_fee_guarantee: 1\.1234567 has 7 "), \
            transaction.atomic():
        row.save()
    row.refresh_from_db()
    assert row.dispensing_fee_guarantee != Decimal("1.1234567")
