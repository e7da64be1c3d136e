"""Publication, four eyes: request, approve (published write-once under published/, the previous one superseded),
retract, the gates (stale inputs, hash) and self-approval."""
from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from console.lake import get_lake
from console.models import AuditEvent
from deliverables.choices import PUBLICATION_TYPE, DeliverableKind, PublicationState
from deliverables.lineage import lineage_events
from deliverables.models import Deliverable, Publication
from deliverables.publication import selectors, services
from deliverables.workbooks import services as deliverables
from tests.deliverables.publication.conftest import events, flip_last_bit
from tests.promotion.conftest import make_approver

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "curated"])


def _read(stream) -> bytes:
    with stream:
        return stream.read()


def test_an_approval_bound_to_the_hash_publishes_the_same_bytes_the_next_supersedes_it_a_retraction_keeps_it(
        workbook, olivia, arthur):
    first = services.publication_request(actor=olivia, deliverable=workbook, comment="Q4 workbook")
    assert first.state == PublicationState.REQUESTED and first.sha256 == workbook.sha256
    assert [g["gate"] for g in first.gates] == ["run_succeeded", "artifact_intact", "inputs_current",
                                                "client_scope_governed"]
    assert all(g["passed"] and g["stage"] == "request" for g in first.gates)
    assert "summary" in first.reconciliation
    assert selectors.live_publication(workbook.client_account_id, DeliverableKind.WORKBOOK) is None

    # The approval is bound to the hash: another hash, or stored bytes that changed, publish nothing.
    with pytest.raises(services.PublicationRefused, match="sha256: the approval names 0{64}, the request is bound"):
        services.publication_approve(actor=arthur, publication=first, comment="ok", sha256="0" * 64)
    flip_last_bit(workbook.path)
    with pytest.raises(services.PublicationRefused, match="gate artifact_intact failed") as refused:
        services.publication_approve(actor=arthur, publication=first, comment="ok", sha256=workbook.sha256)
    assert workbook.path in refused.value.reason and not get_lake().list("published")
    flip_last_bit(workbook.path)  # back as built

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
    job = f"deliverables.publication.{workbook.client_account_id}.workbook"
    lineage = [(e["eventType"], [o["name"] for o in e["outputs"]]) for e in lineage_events() if e["job"]["name"] == job]
    assert lineage[0][0] == "START" and lineage[-1] == ("COMPLETE", [published.path])  # OpenLineage, once committed

    second = services.publication_request(actor=olivia, deliverable=workbook)
    again = services.publication_approve(actor=arthur, publication=second, comment="re-issued",
                                         sha256=workbook.sha256)

    first.refresh_from_db()
    assert again.version == 2 and again.path == f"published/{workbook.client_account_id}/workbook/2/{name}"
    assert first.state == PublicationState.SUPERSEDED and first.superseded_by == again
    assert first.superseded_at == again.published_at
    assert selectors.live_publication(workbook.client_account_id, DeliverableKind.WORKBOOK) == again
    assert events("publication.superseded", first.pk)[0].after["superseded_by"] == again.pk

    with pytest.raises(services.PublicationRefused, match="reason: a retraction needs a reason"):
        services.publication_retract(actor=arthur, publication=again, reason=" ")
    with pytest.raises(services.PublicationRefused, match="approve_publication") as refused:
        services.publication_retract(actor=olivia, publication=again, reason="wrong client")
    assert refused.value.forbidden
    retracted = services.publication_retract(actor=arthur, publication=again, reason="wrong period")

    assert retracted.state == PublicationState.RETRACTED and retracted.retracted_by == arthur
    assert retracted.retraction_reason == "wrong period" and retracted.version == 2
    assert selectors.live_publication(workbook.client_account_id, DeliverableKind.WORKBOOK) is None
    assert [p.state for p in selectors.history(workbook.client_account_id, DeliverableKind.WORKBOOK)] == [
        PublicationState.RETRACTED, PublicationState.SUPERSEDED]
    assert _read(selectors.publication_open(retracted)) == get_lake().read(workbook.path)  # the file stays
    assert events("publication.retracted", retracted.pk)[0].after["reason"] == "wrong period"
    assert [e.after["attempt"] for e in events("publication.refused", retracted.pk)] == ["retract", "retract"]
    assert [e.after["attempt"] for e in events("publication.refused", first.pk)] == ["approve", "approve"]

    flip_last_bit(retracted.path)  # a published file that changed is never served
    with pytest.raises(selectors.PublicationIntegrityError, match=retracted.path):
        selectors.publication_open(retracted)


PERSONAS = ("olivia", "arthur", "cecilia", "audrey", "adam", "ada", "oscar")


def test_nobody_approves_or_rejects_their_own_request_whatever_they_hold(workbook, request, arthur):
    from django.db import IntegrityError, transaction

    from tests.deliverables.publication.conftest import grant

    for name in PERSONAS:
        person = grant(request.getfixturevalue(name), "publish_output", "approve_publication")
        mine = services.publication_request(actor=person, deliverable=workbook, comment=f"{name}'s")
        for decide, more in ((services.publication_approve, {"sha256": workbook.sha256}),
                             (services.publication_reject, {})):
            with pytest.raises(services.PublicationRefused, match="its requester cannot") as refused:
                decide(actor=person, publication=mine, comment="fine", **more)
            assert refused.value.forbidden, name
        mine.refresh_from_db()
        assert mine.state == PublicationState.REQUESTED and mine.decided_by is None, name
        assert [e.actor for e in events("publication.refused", mine.pk)] == [person, person]
        services.publication_withdraw(actor=person, publication=mine, reason="testing four eyes")

    # The database holds the rule too: a decision recorded by the requester, past the service, is refused.
    with pytest.raises(IntegrityError), transaction.atomic():
        Publication.objects.filter(pk=mine.pk).update(decided_by=mine.requested_by)
    assert not get_lake().list("published")


def test_stale_inputs_refuse_the_approval_and_the_request_naming_the_gate(workbook, olivia, arthur, adam,
                                                                          tmp_path):
    from evidence.packets.models import PacketRevision
    from evidence.packets.verification import packet_withdraw

    run = workbook.run
    asked = services.publication_request(actor=olivia, deliverable=workbook)
    read = {(e["packet_id"], e["revision"]) for e in run.inputs["evidence"]
            if e["class"] == "governed" and e["kind"] != "salesforce"}
    revision = next(r for r in PacketRevision.objects.select_related("packet").order_by("pk")
                    if (r.packet.packet_id, r.revision) in read
                    and (workbook.client_account_id in r.packet.client_account_ids or not r.packet.client_account_ids))
    packet_withdraw(actor=arthur, revision=revision, sha256=revision.sha256, reason="signed copy missing")

    with pytest.raises(services.PublicationRefused, match="gate inputs_current failed") as refused:
        services.publication_approve(actor=arthur, publication=asked, comment="ok", sha256=workbook.sha256)
    assert f"{revision.packet.packet_id} revision {revision.revision} was withdrawn" in refused.value.reason
    asked.refresh_from_db()
    assert asked.state == PublicationState.REQUESTED and asked.version is None
    assert not get_lake().list("published")
    services.publication_withdraw(actor=olivia, publication=asked)
    with pytest.raises(services.PublicationRefused, match="gate inputs_current failed"):
        services.publication_request(actor=olivia, deliverable=workbook)

    # A newer version of the claims dataset promoted since the run: the run's inputs are no longer current.
    packet_verify_again(revision, arthur)
    second = services.publication_request(actor=olivia, deliverable=workbook)
    assert second.state == PublicationState.REQUESTED  # governed again: the inputs are current again
    newer_claims_promoted(tmp_path, adam, arthur)
    with pytest.raises(services.PublicationRefused, match="gate inputs_current failed") as refused:
        services.publication_approve(actor=arthur, publication=second, comment="ok", sha256=workbook.sha256)
    claims = run.inputs["claims"]
    assert f"the run read v{claims['version']}, the current version is v{claims['version'] + 1}" in (
        refused.value.reason)
    assert [p.state for p in Publication.objects.order_by("pk")] == ["withdrawn", "requested"]
    assert not get_lake().list("published")  # the refusals stored nothing but their audit rows
    assert [e.after["attempt"] for e in events("publication.refused")] == ["approve", "request", "approve"]


def packet_verify_again(revision, verifier):
    from evidence.packets.verification import packet_verify

    revision.refresh_from_db()
    packet_verify(actor=verifier, revision=revision, sha256=revision.sha256, comment="signed copy found")


def newer_claims_promoted(tmp_path, requester, approver):
    """The sample's claims exported again a day later and promoted into the backend contract: version 2."""
    import datetime as dt

    from evidence.samples.export import write_sample_export
    from tests.deliverables.runs.conftest import LATER, ROWS, promote
    from tests.promotion.conftest import ingest

    manifest = ingest(write_sample_export(tmp_path / "export-2", rows=ROWS // 10,
                                          exported_at=LATER + dt.timedelta(days=1)).path)
    promote(manifest, requester, approver)


def _start_and_wait_on_the_lock(threads: list[threading.Thread], outcomes: dict) -> None:
    """Start the threads and return once each waits on a lock (the one the caller holds)."""
    for thread in threads:
        thread.start()
    for _ in range(600):
        if _waiting_on_locks() >= len(threads):
            break
        threading.Event().wait(0.05)
    assert _waiting_on_locks() >= len(threads), outcomes


def _waiting_on_locks() -> int:
    """Sessions of this database waiting for a lock (read afresh: inside a transaction PostgreSQL keeps showing
    the activity it read first)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0]


@pytest.mark.catalogue(30)
@pytest.mark.postgres_only
def test_two_approvals_a_rejection_and_a_withdrawal_racing_end_in_exactly_one_decision(workbook, olivia, arthur):
    """All four find the publication requested while the test holds its row; released at once, the first to take
    the row decides and each of the others re-checks the state under the row lock and is refused, audited."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    bruno, carla = make_approver("bruno"), make_approver("carla")
    requested = services.publication_request(actor=olivia, deliverable=workbook, comment="Q4 workbook")
    attempts = {
        "approve arthur": lambda: services.publication_approve(actor=arthur, publication=requested, comment="ok",
                                                               sha256=workbook.sha256),
        "approve bruno": lambda: services.publication_approve(actor=bruno, publication=requested, comment="ok",
                                                              sha256=workbook.sha256),
        "reject": lambda: services.publication_reject(actor=carla, publication=requested, comment="wrong quarter"),
        "withdraw": lambda: services.publication_withdraw(actor=olivia, publication=requested, reason="too early"),
    }
    outcomes: dict[str, str] = {}

    def attempt(name):
        try:
            attempts[name]()
            outcomes[name] = "done"
        except services.PublicationRefused as refused:
            outcomes[name] = refused.reason
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(name,)) for name in attempts]
    with transaction.atomic():
        Publication.objects.select_for_update().get(pk=requested.pk)  # held until all four wait on it
        _start_and_wait_on_the_lock(threads, outcomes)
    for thread in threads:
        thread.join(timeout=60)

    assert list(outcomes.values()).count("done") == 1, outcomes
    winner = next(name for name, outcome in outcomes.items() if outcome == "done")
    requested.refresh_from_db()
    expected = {"approve": "published", "reject": "rejected", "withdraw": "withdrawn"}[winner.split()[0]]
    assert requested.state == expected
    decided = [e for e in events_of(requested.pk) if e.action != "publication.refused"]
    assert [e.action for e in decided] == ["publication.requested", f"publication.{expected}"]
    refused = [e.after["attempt"] for e in events_of(requested.pk) if e.action == "publication.refused"]
    assert sorted(refused) == sorted(name.split()[0] for name in outcomes if name != winner)
    if expected == "published":
        assert requested.version == 1 and requested.decided_by.username == winner.split()[1]
        assert Publication.objects.filter(state=PublicationState.PUBLISHED).count() == 1


def events_of(publication_id: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type=PUBLICATION_TYPE, object_id=str(publication_id)).order_by("seq"))


@pytest.mark.postgres_only
def test_two_requests_of_one_deliverable_at_once_record_one_and_refuse_the_other(workbook, olivia, adam):
    """Both pass the first check while the test holds the deliverable's row; released at once, the first to take
    the row records its request and the other, checking again under the lock, is refused, audited."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    outcomes: dict[str, str] = {}

    def attempt(actor):
        try:
            services.publication_request(actor=actor, deliverable=workbook, comment=f"asked by {actor.username}")
            outcomes[actor.username] = "requested"
        except services.PublicationRefused as refused:
            outcomes[actor.username] = refused.reason
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(actor,)) for actor in (olivia, adam)]
    with transaction.atomic():
        Deliverable.objects.select_for_update().get(pk=workbook.pk)  # held until both wait on it
        _start_and_wait_on_the_lock(threads, outcomes)
    for thread in threads:
        thread.join(timeout=60)

    assert len(outcomes) == 2 and list(outcomes.values()).count("requested") == 1, outcomes
    recorded = Publication.objects.get(deliverable=workbook)  # one, whoever won
    assert recorded.state == PublicationState.REQUESTED
    loser = next(name for name, outcome in outcomes.items() if outcome != "requested")
    assert outcomes[loser] == f"deliverable #{workbook.pk} already has publication #{recorded.pk} requested"
    refusals = AuditEvent.objects.filter(action="publication.refused", actor__username=loser)
    assert [e.after["attempt"] for e in refusals] == ["request"]
    assert AuditEvent.objects.filter(action="publication.requested").count() == 1


def test_the_database_keeps_one_requested_publication_per_deliverable(workbook, olivia):
    """The backstop where there are no row locks: a second requested row of a deliverable is refused by the
    database itself (publication_one_requested)."""
    from django.db import IntegrityError

    first = services.publication_request(actor=olivia, deliverable=workbook, comment="Q4")
    with pytest.raises(IntegrityError), transaction.atomic():
        Publication.objects.create(deliverable=workbook, client_account_id=first.client_account_id, kind=first.kind,
                                   sha256=first.sha256, requested_by=olivia, requested_at=first.requested_at)
    assert Publication.objects.filter(deliverable=workbook).count() == 1
