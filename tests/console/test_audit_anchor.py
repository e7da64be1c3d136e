"""Anchors: a decision's commit writes the chain's head to the lake; what follows the last anchor is counted.

Cutting the tail off the trail is detectable only up to the last head the lake holds, so every
decision anchors the head as it commits, and verify_audit_chain and the trail page say how many
events, and since when, are not anchored yet.
"""

import datetime as dt
import json
import logging

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from console import anchors, chain, clock
from console.audit import audit_record, audit_verify_chain, is_decision
from console.models import AuditEvent
from tests.console.conftest import bypassing_triggers

T0 = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)


def decide(action: str = "role.grant_confirmed", **fields) -> AuditEvent:
    return audit_record(actor=None, action=action, object_type="auth.user", object_id="7", **fields)


def heads(lake) -> list[int]:
    return [json.loads(lake.read(path))["seq"] for path in lake.list(anchors.HEADS_PREFIX)]


@pytest.mark.parametrize(
    "action",
    [
        "promotion.approved",
        "promotion.rejected",
        "promotion.promoted",
        "promotion.rolled_back",
        "intake.finished",
        "role.permissions_set",
        "role.grant_proposed",
        "role.grant_confirmed",
        "publication.approved",
        "evidence_packet.verified",
        "evidence_packet.withdrawn",
    ],
)
def test_each_decision_anchors_the_head_when_it_commits(db, lake, record_events, action,
                                                        django_capture_on_commit_callbacks):
    record_events(2)
    with django_capture_on_commit_callbacks(execute=True):
        event = decide(action)
    assert is_decision(action)
    assert heads(lake) == [event.seq]


@pytest.mark.parametrize("action", ["audit.read", "auth.login", "promotion.requested", "promotion.refused"])
def test_other_events_wait_for_the_periodic_verification(db, lake, record_events, action,
                                                         django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        record_events(2, action=action)
    assert not is_decision(action)
    assert heads(lake) == []


def test_a_rolled_back_decision_anchors_nothing(db, lake, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        decide()
        raise RuntimeError("the change failed")
    assert callbacks == [] and heads(lake) == []


def test_the_anchor_holds_the_whole_transaction_after_the_decision(db, lake, record_events,
                                                                    django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        decide()
        tail = record_events(2)
    assert heads(lake) == [tail[-1].seq]


def test_a_lake_down_leaves_the_decision_committed_and_the_beat_anchors_it(
    transactional_db, settings, tmp_path, caplog
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("the lake's mount is gone\n")
    working_lake = settings.LAKE_URL
    settings.LAKE_URL = str(blocker / "lake")
    with caplog.at_level(logging.ERROR, logger="console.anchors"):
        event = decide("promotion.approved")  # commits: transactional_db runs on_commit for real
    assert AuditEvent.objects.filter(seq=event.seq, action="promotion.approved").exists()
    assert f"could not anchor the audit head after promotion.approved (seq {event.seq})" in caplog.text
    assert "the periodic verification will anchor it" in caplog.text

    settings.LAKE_URL = working_lake
    assert audit_verify_chain(audit=False).head_path == anchors.head_path(
        event.seq, chain.isoformat_utc(event.occurred_at)
    )


# --- what is not anchored yet --------------------------------------------------------------------


def test_verify_counts_the_events_after_the_last_anchor_and_their_age(
    db, lake, record_events, capsys, django_capture_on_commit_callbacks
):
    with clock.frozen(T0), django_capture_on_commit_callbacks(execute=True):
        anchored = decide()
    with clock.frozen(T0 + dt.timedelta(minutes=5)):
        record_events(3)
    with clock.frozen(T0 + dt.timedelta(minutes=20)):
        call_command("verify_audit_chain")
    out = capsys.readouterr().out
    assert "Audit chain intact" in out
    assert (
        f"Before this run: 3 events after the last anchor at 2026-11-26 09:00:00 UTC (seq {anchored.seq}), "
        "oldest 15 min old." in out
    )
    with clock.frozen(T0 + dt.timedelta(minutes=30)):
        report = audit_verify_chain(audit=False)
    # The run before recorded the head (and then its own event): one event since.
    assert report.unanchored.count == 1 and report.unanchored.anchor_seq == anchored.seq + 3


def test_verify_without_any_anchor_says_so(db, lake, record_events, capsys):
    with clock.frozen(T0):
        record_events(4)
    with clock.frozen(T0 + dt.timedelta(hours=3)):
        call_command("verify_audit_chain", "--json")
        report = json.loads(capsys.readouterr().out)
        assert report["unanchored"] == {
            "count": 4, "anchor_seq": None, "anchor_occurred_at": None, "oldest_at": "2026-11-26T09:00:00.000000+00:00",
        }
        assert anchors.Unanchored(**report["unanchored"]).describe() == (
            "4 events and no anchor in the lake yet, oldest 3 h old"
        )


def test_a_cut_tail_names_the_missing_range(db, lake, record_events, capsys, django_capture_on_commit_callbacks):
    record_events(3)
    with django_capture_on_commit_callbacks(execute=True):
        anchored = decide()
    record_events(2)  # not anchored: these can go unnoticed
    with bypassing_triggers() as cursor:
        cursor.execute("DELETE FROM console_auditevent WHERE seq >= 3")
    with pytest.raises(CommandError, match=rf"events 3\.\.{anchored.seq} are missing"):
        call_command("verify_audit_chain")
    assert "Before this run" in capsys.readouterr().out


# --- the trail page ---------------------------------------------------------------------------------


def test_the_trail_page_shows_the_unanchored_events(client, audrey, lake, record_events,
                                                    django_capture_on_commit_callbacks):
    with clock.frozen(T0):
        with django_capture_on_commit_callbacks(execute=True):
            anchored = decide()
        record_events(2)
        audit_verify_chain(record_head=False)
    with clock.frozen(T0 + dt.timedelta(hours=2, minutes=1)):
        client.force_login(audrey)
        page = client.get("/audit/").content.decode()
    assert 'id="chain-status"' in page
    assert "intact</span> at the last verification" in page
    after = AuditEvent.objects.filter(seq__gt=anchored.seq).count()  # with the login and this read
    assert after >= 4
    assert (
        f"{after} events after the last anchor at 2026-11-26 09:00:00 UTC (seq {anchored.seq}), oldest 2 h 1 min old"
        in page
    )


def cut_below_the_anchor(client, audrey, record_events, django_capture_on_commit_callbacks, keep: int):
    record_events(6)
    with django_capture_on_commit_callbacks(execute=True):
        anchored = decide()
    with bypassing_triggers() as cursor:
        cursor.execute("DELETE FROM console_auditevent WHERE seq > %s", [keep])
    client.force_login(audrey)
    page = client.get("/audit/").content.decode()
    return anchored, page


def test_the_trail_page_names_events_missing_below_the_last_anchor(client, audrey, lake, record_events,
                                                                   django_capture_on_commit_callbacks):
    anchored, page = cut_below_the_anchor(client, audrey, record_events, django_capture_on_commit_callbacks, keep=3)
    end = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()  # refilled by the login and read
    assert end < anchored.seq
    assert f"Events {end + 1}..{anchored.seq} are missing" in page


def test_the_trail_page_sees_a_tail_cut_and_refilled(client, audrey, lake, record_events,
                                                     django_capture_on_commit_callbacks):
    anchored, page = cut_below_the_anchor(
        client, audrey, record_events, django_capture_on_commit_callbacks, keep=1000
    )
    with bypassing_triggers() as cursor:
        cursor.execute("DELETE FROM console_auditevent WHERE seq >= %s", [anchored.seq - 1])
    client.get("/audit/")  # its read refills seq anchored - 1
    page = client.get("/audit/").content.decode()  # and this one seq anchored, with another hash
    assert f"Event {anchored.seq} no longer has the hash anchored in the lake" in page


def test_the_trail_page_says_when_the_lake_cannot_be_read(client, audrey, lake, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        decide()
    (path,) = lake.list(anchors.HEADS_PREFIX)
    (lake.root / path).write_text('{"seq": 1, "hash": "forged"}\n')  # no longer its recorded SHA-256
    client.force_login(audrey)
    response = client.get("/audit/")
    assert response.status_code == 200
    assert "anchors could not be read (LakeIntegrityError)" in response.content.decode()


def test_the_scheduled_task_reports_and_logs_the_unanchored_events(db, lake, record_events, caplog):
    from console.tasks import audit_verify_chain as task

    with clock.frozen(T0):
        record_events(3)
    with clock.frozen(T0 + dt.timedelta(minutes=45)), caplog.at_level(logging.INFO, logger="console.tasks"):
        result = task.apply(task_id="verify-task-anchor").result
    assert result["unanchored"]["count"] == 3 and result["unanchored"]["anchor_seq"] is None
    assert "audit chain intact before this run: 3 events and no anchor in the lake yet, oldest 45 min old" in (
        caplog.text
    )
    assert heads(lake) == [3]  # the beat's run anchors them
