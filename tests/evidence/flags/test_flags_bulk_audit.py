"""A flag run refreshes the open flags with one bulk_update: each flag whose content it changes is audited
(evidence.flag.updated, before and after), a flag it only stamps as seen (last_seen_run) is not."""
from __future__ import annotations

import pytest

from console.models import AuditEvent
from evidence.flags.models import MissingEvidenceFlag
from tests.evidence.flags.conftest import FLAGS_DB, recompute

pytestmark = [FLAGS_DB, pytest.mark.catalogue(18)]


def updated() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="evidence.flag.updated").order_by("seq"))


def test_the_bulk_update_of_open_flags_audits_exactly_the_flags_it_changes(sample):
    recompute()
    open_flags = MissingEvidenceFlag.objects.filter(status="open").order_by("pk")
    assert open_flags.count() > 3

    second = recompute()  # the same inputs: every open flag is rewritten, none changes

    assert updated() == []
    assert set(open_flags.values_list("last_seen_run", flat=True)) == {second.pk}

    # Three flags whose stored content went stale (as an earlier engine could have left it): the next run's
    # bulk_update writes them back, and only they are audited.
    stale = list(open_flags.values_list("pk", "reason")[:3])
    MissingEvidenceFlag.objects.filter(pk__in=[pk for pk, _ in stale]).update(reason="stale", candidate_exists=True)

    recompute()

    events = updated()
    assert sorted(int(e.object_id) for e in events) == sorted(pk for pk, _ in stale)
    for event, (pk, reason) in zip(events, sorted(stale), strict=True):
        assert event.before["reason"] == "stale" and event.after["reason"] == reason
        assert event.actor_label.startswith("system:") and event.correlation_id
        assert MissingEvidenceFlag.objects.get(pk=pk).reason == reason
