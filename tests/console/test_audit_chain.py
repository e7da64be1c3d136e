"""The audit chain: one append service, immutable rows, a verifier that records heads in the lake."""

import datetime as dt
import decimal
import hashlib
import json
import uuid

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction

from console import chain, clock, context
from console.audit import audit_record, audit_verify_chain
from console.models import AuditEvent, AuditTrailImmutable

AT = dt.datetime(2026, 11, 26, 14, 13, 0, 123456, tzinfo=dt.timezone.utc)


def test_an_event_records_who_did_what_to_which_object(olivia):
    event = audit_record(
        actor=olivia,
        action="promotion.requested",
        object_type="promotion.request",
        object_id="42",
        before=None,
        after={"status": "requested"},
        correlation_id="req-00000001",
    )
    event.refresh_from_db()
    assert (event.actor, event.actor_label) == (olivia, "olivia")
    assert (event.action, event.object_type, event.object_id) == (
        "promotion.requested",
        "promotion.request",
        "42",
    )
    assert (event.before, event.after) == (None, {"status": "requested"})
    assert event.correlation_id == "req-00000001"


def test_time_comes_from_the_one_clock_in_utc(db):
    with clock.frozen(AT.astimezone(dt.timezone(dt.timedelta(hours=2)))):
        event = audit_record(actor=None, action="test.clock", object_type="test", object_id="1")
    event.refresh_from_db()
    assert event.occurred_at == AT
    assert event.occurred_at.utcoffset() == dt.timedelta(0)


@pytest.mark.catalogue(50)
def test_hash_is_sha256_of_previous_hash_and_canonical_json_of_the_event(db):
    with clock.frozen(AT):
        first = audit_record(
            actor=None,
            action="test.first",
            object_type="test",
            object_id="1",
            after={"b": 1, "a": "é"},
            correlation_id="run-00000001",
        )
        second = audit_record(
            actor=None, action="test.second", object_type="test", object_id="2", correlation_id="run-00000001"
        )
    canonical = (
        '{"action":"test.first","actor_id":null,"actor_label":"system:unknown","after":{"a":"é","b":1},'
        '"before":null,"correlation_id":"run-00000001","object_id":"1","object_type":"test",'
        '"occurred_at":"2026-11-26T14:13:00.123456+00:00","seq":1}'
    )
    assert first.prev_hash == "0" * 64
    assert first.hash == hashlib.sha256(("0" * 64 + canonical).encode()).hexdigest()
    assert (second.seq, second.prev_hash) == (2, first.hash)


def test_system_actor_and_correlation_id_come_from_the_command_context(db):
    with context.for_command("seed_roles", run_id="run-12345678"):
        event = audit_record(actor=None, action="test.command", object_type="test", object_id="1")
    assert (event.actor, event.actor_label, event.correlation_id) == (
        None,
        "system:command:seed_roles",
        "run-12345678",
    )


def test_system_actor_of_a_task_is_its_task_id(db):
    with context.for_task("5d41402a-task"):
        event = audit_record(actor=None, action="test.task", object_type="test", object_id="1")
    assert (event.actor_label, event.correlation_id) == ("system:task:5d41402a-task", "5d41402a-task")


def test_without_context_the_actor_is_unknown_system_and_the_correlation_id_is_new(db):
    first = audit_record(actor=None, action="test.a", object_type="test", object_id="1")
    second = audit_record(actor=None, action="test.b", object_type="test", object_id="1")
    assert first.actor_label == "system:unknown"
    assert len(first.correlation_id) == 32 and first.correlation_id != second.correlation_id


def test_an_anonymous_actor_is_labelled_anonymous(db):
    event = audit_record(actor=AnonymousUser(), action="test.anon", object_type="test", object_id="1")
    assert (event.actor, event.actor_label) == (None, "anonymous")


@pytest.mark.catalogue(50)
def test_before_and_after_are_made_json_safe_and_round_trip_through_the_database(db, lake):
    awkward = {
        "amount": decimal.Decimal("12.30"),
        "when": AT,
        "day": AT.date(),
        "id": uuid.UUID(int=7),
        "big_float": 1e20,
        "tiny": 1e-7,
        "minus_zero": -0.0,
        "third": 0.1 + 0.2,
        "nan": float("nan"),
        "nul": "a\x00b",
        "tags": {"b", "a"},
        "pair": (1, 2),
        3: "int key",
    }
    event = audit_record(actor=None, action="test.json", object_type="test", object_id="1", after=awkward)
    stored = AuditEvent.objects.get(seq=event.seq)
    assert stored.after["amount"] == "12.30"
    assert stored.after["when"] == "2026-11-26T14:13:00.123456+00:00"
    assert stored.after["tags"] == ["a", "b"] and stored.after["3"] == "int key"
    assert stored.after["nul"] == "a\ufffdb"
    assert chain.link_hash(stored.prev_hash, stored.payload()) == stored.hash
    assert audit_verify_chain(record_head=False, audit=False).ok


def test_values_that_are_not_json_are_refused(db):
    with pytest.raises(TypeError, match="object"):
        audit_record(actor=None, action="test.bad", object_type="test", object_id="1", after={"x": object()})


def test_save_after_create_is_refused(db):
    event = audit_record(actor=None, action="test.save", object_type="test", object_id="1")
    event.action = "test.changed"
    with pytest.raises(AuditTrailImmutable):
        event.save()
    assert AuditEvent.objects.get(seq=event.seq).action == "test.save"


def test_delete_is_refused(db):
    event = audit_record(actor=None, action="test.delete", object_type="test", object_id="1")
    with pytest.raises(AuditTrailImmutable):
        event.delete()
    assert AuditEvent.objects.filter(seq=event.seq).exists()


@pytest.mark.catalogue(19)  # the ORM's bulk paths
@pytest.mark.parametrize(
    "operation",
    [
        lambda events: events.update(action="test.changed"),
        lambda events: events.delete(),
        lambda events: events.bulk_update(list(events), ["action"]),
        lambda events: events.bulk_create([AuditEvent(seq=99)]),
    ],
)
def test_bulk_writes_are_refused(db, operation):
    audit_record(actor=None, action="test.bulk", object_type="test", object_id="1")
    with pytest.raises(AuditTrailImmutable):
        operation(AuditEvent.objects.all())
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["test.bulk"]


def test_an_event_created_outside_audit_record_is_refused(db):
    with pytest.raises(AuditTrailImmutable, match="audit_record"):
        AuditEvent.objects.create(
            seq=1,
            occurred_at=AT,
            actor_label="mallory",
            action="x",
            object_type="x",
            object_id="1",
            correlation_id="c",
            prev_hash="0" * 64,
            hash="f" * 64,
        )


def test_two_events_can_never_claim_the_same_predecessor(db):
    first = audit_record(actor=None, action="test.a", object_type="test", object_id="1")
    fork = AuditEvent(
        seq=2,
        occurred_at=AT,
        actor_label="mallory",
        action="test.fork",
        object_type="test",
        object_id="1",
        correlation_id="c",
        prev_hash=first.prev_hash,
    )
    fork.hash = chain.link_hash(fork.prev_hash, fork.payload())
    with pytest.raises(IntegrityError), transaction.atomic():
        fork.save()


def test_the_audit_row_is_part_of_the_callers_transaction(db):
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(actor=None, action="test.rolled_back", object_type="test", object_id="1")
        raise RuntimeError("the change failed")
    assert not AuditEvent.objects.filter(action="test.rolled_back").exists()


def test_verify_reports_an_intact_chain_and_records_its_head_in_the_lake(db, lake, record_events):
    events = record_events(5)
    report = audit_verify_chain(chunk_size=2)
    assert report.ok and report.checked == 5
    assert (report.head_seq, report.head_hash) == (5, events[-1].hash)
    day = events[-1].occurred_at.date().isoformat()
    assert report.head_path == f"audit/heads/{day}/000000000005.json"
    assert json.loads(lake.read(report.head_path)) == {
        "seq": 5,
        "hash": events[-1].hash,
        "occurred_at": chain.isoformat_utc(events[-1].occurred_at),
    }


def test_verify_is_itself_audited_and_the_next_run_checks_the_recorded_head(db, lake, record_events):
    record_events(3)
    with context.for_command("verify_audit_chain", run_id="run-verify-1"):
        audit_verify_chain()
    event = AuditEvent.objects.latest()
    assert (event.action, event.actor_label, event.correlation_id) == (
        "audit.verified",
        "system:command:verify_audit_chain",
        "run-verify-1",
    )
    assert event.after["ok"] is True and event.after["head_seq"] == 3
    second = audit_verify_chain()
    assert second.ok and second.heads_checked == 1 and second.head_seq == 4


def test_verifying_the_same_head_twice_writes_it_once(db, lake, record_events):
    record_events(2)
    first = audit_verify_chain(audit=False)
    second = audit_verify_chain(audit=False)
    assert first.head_path == second.head_path
    assert lake.list("audit/heads") == [first.head_path]


def test_verify_without_record_head_leaves_the_lake_alone(db, lake, record_events):
    record_events(2)
    assert audit_verify_chain(record_head=False, audit=False).head_path is None
    assert lake.list("audit/heads") == []


def test_an_empty_trail_verifies_and_records_no_head(db, lake):
    report = audit_verify_chain(audit=False)
    assert report.ok and report.checked == 0 and report.head_seq is None
    assert lake.list("audit/heads") == []
