"""Publication, four eyes: request, approve (published write-once under published/, the previous one superseded),
retract, the gates (stale inputs, hash) and self-approval."""
from __future__ import annotations

import hashlib
import json

import pytest

from console.lake import get_lake
from deliverables.choices import DeliverableKind, PublicationState
from deliverables.models import Publication
from deliverables.payloads.builder import errors, payload_bytes, payload_for
from deliverables.publication import selectors, services
from deliverables.workbooks import services as deliverables
from tests.deliverables.publication.conftest import a_client, build, events, flip_last_bit

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "curated"])


def _read(stream) -> bytes:
    with stream:
        return stream.read()


def test_an_approved_request_publishes_the_same_bytes_and_the_next_one_supersedes_it(workbook, olivia, arthur):
    first = services.publication_request(actor=olivia, deliverable=workbook, comment="Q4 workbook")
    assert first.state == PublicationState.REQUESTED and first.sha256 == workbook.sha256
    assert [g["gate"] for g in first.gates] == ["run_succeeded", "artifact_intact", "inputs_current",
                                                "client_scope_governed"]
    assert all(g["passed"] and g["stage"] == "request" for g in first.gates)
    assert "summary" in first.reconciliation
    assert selectors.live_publication(workbook.client_account_id, DeliverableKind.WORKBOOK) is None

    published = services.publication_approve(actor=arthur, publication=first, comment="checked",
                                             sha256=workbook.sha256)

    name = deliverables.download_name(workbook)
    assert published.state == PublicationState.PUBLISHED and published.version == 1
    assert published.path == f"published/{workbook.client_account_id}/workbook/1/{name}"
    assert published.decided_by == arthur and published.published_at is not None
    assert get_lake().read(published.path) == _read(deliverables.deliverable_open(workbook))
    assert _read(selectors.publication_open(published)) == get_lake().read(workbook.path)
    assert [g["stage"] for g in published.gates].count("approval") == 4
    assert selectors.live_publication(workbook.client_account_id, DeliverableKind.WORKBOOK) == published
    assert events("publication.published", published.pk)[0].before["state"] == "requested"

    second = services.publication_request(actor=olivia, deliverable=workbook)
    again = services.publication_approve(actor=arthur, publication=second, comment="re-issued",
                                         sha256=workbook.sha256)

    first.refresh_from_db()
    assert again.version == 2 and again.path == f"published/{workbook.client_account_id}/workbook/2/{name}"
    assert first.state == PublicationState.SUPERSEDED and first.superseded_by == again
    assert first.superseded_at == again.published_at
    assert selectors.live_publication(workbook.client_account_id, DeliverableKind.WORKBOOK) == again
    assert events("publication.superseded", first.pk)[0].after["superseded_by"] == again.pk


def test_a_retraction_needs_a_reason_stops_serving_and_keeps_the_history_and_the_file(workbook, olivia, arthur):
    publication = services.publication_approve(
        actor=arthur, publication=services.publication_request(actor=olivia, deliverable=workbook),
        comment="ok", sha256=workbook.sha256)
    with pytest.raises(services.PublicationRefused, match="reason: a retraction needs a reason"):
        services.publication_retract(actor=arthur, publication=publication, reason=" ")
    with pytest.raises(services.PublicationRefused, match="approve_publication") as refused:
        services.publication_retract(actor=olivia, publication=publication, reason="wrong client")
    assert refused.value.forbidden

    retracted = services.publication_retract(actor=arthur, publication=publication, reason="wrong period")

    assert retracted.state == PublicationState.RETRACTED and retracted.retracted_by == arthur
    assert retracted.retraction_reason == "wrong period" and retracted.version == 1
    assert selectors.live_publication(workbook.client_account_id, DeliverableKind.WORKBOOK) is None
    assert list(selectors.history(workbook.client_account_id, DeliverableKind.WORKBOOK)) == [retracted]
    assert _read(selectors.publication_open(retracted)) == get_lake().read(workbook.path)
    assert events("publication.retracted", retracted.pk)[0].after["reason"] == "wrong period"
    assert [e.after["attempt"] for e in events("publication.refused", retracted.pk)] == ["retract", "retract"]
