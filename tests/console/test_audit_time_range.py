"""Time along the chain follows seq, so the trail's time range is exact and served as a seq range."""

import datetime as dt
import json
import random
import urllib.parse
import urllib.request

import pytest
from django.db import DatabaseError, connection, transaction

from console import chain, clock
from console.audit import BreakKind, audit_record, audit_verify_chain
from console.models import AuditEvent
from tests.console.conftest import bypassing_triggers, postgresql_only

T0 = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.timezone.utc)


def record_at(when: dt.datetime, name: str) -> AuditEvent:
    with clock.frozen(when):
        return audit_record(actor=None, action="test.timed", object_type="test.object", object_id=name)


@pytest.fixture
def timed(db):
    """Events at 09:00, 09:10 (three at once), 09:20, 09:30: ties sit on the range's edges."""
    times = {
        "a": T0,
        "b1": T0 + dt.timedelta(minutes=10),
        "b2": T0 + dt.timedelta(minutes=10),
        "b3": T0 + dt.timedelta(minutes=10),
        "c": T0 + dt.timedelta(minutes=20),
        "d": T0 + dt.timedelta(minutes=30),
    }
    return {name: record_at(when, name).seq for name, when in times.items()}


def page_ids(client, **filters) -> list[str]:
    response = client.get("/audit/", {"action": "test.timed", **filters})
    assert response.status_code == 200, response.content[:500]
    return [row["object_id"] for row in response.context["rows"]]


def api_ids(client, **filters) -> list[str]:
    response = client.get("/api/audit-events/", {"action": "test.timed", **filters})
    assert response.status_code == 200, response.content[:500]
    return [event["object_id"] for event in response.json()["results"]]


def at(minutes: int) -> str:
    return (T0 + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S")


@pytest.mark.parametrize(
    "since, until, expected",
    [
        (10, 20, ["b3", "b2", "b1"]),  # From is inclusive (all three at 09:10), Until exclusive (09:20 out)
        (10, 21, ["c", "b3", "b2", "b1"]),
        (0, 10, ["a"]),
        (11, 20, []),  # between events
        (-60, 0, []),  # before the first event: Until is exclusive
        (31, 90, []),  # after the last event
        (20, None, ["d", "c"]),
        (None, 10, ["a"]),
        (-60, 90, ["d", "c", "b3", "b2", "b1", "a"]),
    ],
)
def test_a_time_range_returns_exactly_the_events_stamped_in_it(client, audrey, timed, since, until, expected):
    client.force_login(audrey)
    filters = {**({"since": at(since)} if since is not None else {}), **({"until": at(until)} if until is not None else {})}
    assert page_ids(client, **filters) == expected
    assert api_ids(client, **filters) == expected


@pytest.mark.parametrize("name, value", [("since", "0001-01-01T00:00:00+14:00"), ("until", "9999-12-31T23:59:59-14:00")])
def test_a_time_with_no_utc_reading_is_refused_with_the_filter_named(client, audrey, name, value):
    """Found by the API fuzz: year 0 or 10000 in UTC passed the form, then failed (500) where the read was
    audited; the page, the API and the export now refuse it, naming the filter."""
    client.force_login(audrey)
    api = client.get("/api/audit-events/", {name: value})
    assert api.status_code == 400 and "outside the years 1 to 9999" in api.json()[name][0]
    page = client.get("/audit/", {name: value})
    assert page.status_code == 200 and "outside the years 1 to 9999" in page.content.decode()
    assert client.get("/audit/export.csv", {name: value}).status_code == 400
    assert not AuditEvent.objects.filter(action="audit.read").exists()


def test_the_filter_form_says_from_is_inclusive_and_until_exclusive_in_utc(client, audrey, timed):
    client.force_login(audrey)
    form = client.get("/audit/").context["filterset"].form
    assert (form.fields["since"].label, form.fields["until"].label) == ("From (UTC)", "Until (UTC)")
    # One second before an event's time leaves it out of Until, at its time keeps it in From.
    assert page_ids(client, since=at(30), until=(T0 + dt.timedelta(minutes=30, seconds=1)).isoformat()) == ["d"]


def test_the_export_holds_the_same_range_oldest_first(client, audrey, timed):
    client.force_login(audrey)
    response = client.get("/audit/export.csv", {"action": "test.timed", "since": at(10), "until": at(30)})
    body = b"".join(response.streaming_content).decode()
    ids = [line.split(",")[6] for line in body.splitlines()[2:]]  # after the note on verifying, the header
    assert ids == ["b1", "b2", "b3", "c"]


def test_a_range_pages_by_keyset_within_the_range(client, audrey, timed, settings):
    settings.AUDIT_PAGE_SIZE = 2
    client.force_login(audrey)
    first = client.get("/audit/", {"action": "test.timed", "since": at(0), "until": at(30)})
    second = client.get("/audit/" + first.context["older_url"])
    third = client.get("/audit/" + second.context["older_url"])
    walked = [row["object_id"] for response in (first, second, third) for row in response.context["rows"]]
    assert walked == ["c", "b3", "b2", "b1", "a"]
    assert third.context["older_url"] is None


# --- the clock stepping back -----------------------------------------------------------------------


def test_a_clock_that_steps_back_is_held_at_the_previous_event_and_its_reading_kept(db):
    first = record_at(T0, "first")
    behind = record_at(T0 - dt.timedelta(minutes=5), "behind")
    behind.refresh_from_db()
    assert behind.occurred_at == first.occurred_at == T0
    assert behind.clock_reading == T0 - dt.timedelta(minutes=5)
    assert first.clock_reading is None
    # The reading is part of what the link hashes, and the chain verifies.
    assert behind.payload()["clock_reading"] == "2026-11-26T08:55:00.000000+00:00"
    assert "clock_reading" not in first.payload()
    assert behind.hash == chain.link_hash(first.hash, behind.payload())
    assert audit_verify_chain(record_head=False, audit=False).ok


def test_the_trail_page_api_and_export_show_the_clocks_own_reading(client, audrey, db):
    record_at(T0, "first")
    record_at(T0 - dt.timedelta(minutes=5), "behind")
    client.force_login(audrey)
    assert "clock read 2026-11-26 08:55:00.000000 UTC" in client.get("/audit/").content.decode()
    [event] = client.get("/api/audit-events/", {"action": "test.timed", "since": at(0), "until": at(1)}).json()[
        "results"
    ][:1]
    assert (event["object_id"], event["occurred_at"], event["clock_reading"]) == (
        "behind",
        "2026-11-26T09:00:00Z",
        "2026-11-26T08:55:00Z",
    )
    response = client.get("/audit/export.csv", {"action": "test.timed"})
    _note, header, *rows = [line.split(",") for line in b"".join(response.streaming_content).decode().splitlines()]
    assert [row[header.index("clock_reading")] for row in rows] == ["", "2026-11-26T08:55:00.000000+00:00"]


def test_time_never_runs_backwards_along_the_chain_whatever_the_clock_does(db):
    rng = random.Random(5)
    readings = [T0 + dt.timedelta(seconds=rng.randrange(-3600, 3600)) for _ in range(60)]
    for index, reading in enumerate(readings):
        record_at(reading, str(index))
    events = list(AuditEvent.objects.filter(action="test.timed").order_by("seq"))
    stamped = [event.occurred_at for event in events]
    assert stamped == sorted(stamped)
    # Each event is stamped at its reading, or held at the latest reading before it.
    assert stamped == [max(readings[: index + 1]) for index in range(len(readings))]
    assert [event.clock_reading for event in events] == [
        None if reading == held else reading for reading, held in zip(readings, stamped, strict=True)
    ]


def test_a_range_over_held_events_matches_their_stamped_time(client, audrey, db):
    """The filter reads occurred_at (the chain's time); an event held at 09:00 is in 09:00's minute."""
    record_at(T0, "first")
    record_at(T0 - dt.timedelta(hours=2), "behind")
    record_at(T0 + dt.timedelta(minutes=1), "after")
    client.force_login(audrey)
    assert page_ids(client, since=at(0), until=at(1)) == ["behind", "first"]
    assert page_ids(client, since=at(-180), until=at(0)) == []


@postgresql_only
def test_postgresql_refuses_an_event_stamped_before_its_predecessor(db):
    first = record_at(T0, "first")
    forged = AuditEvent(
        seq=first.seq + 1,
        occurred_at=T0 - dt.timedelta(seconds=1),
        actor_label="system:unknown",
        action="test.forged",
        object_type="test.object",
        object_id="x",
        correlation_id="forged",
        prev_hash=first.hash,
    )
    forged.hash = chain.link_hash(first.hash, forged.payload())
    with pytest.raises(DatabaseError, match="is stamped before event"), transaction.atomic():
        forged.save()
    assert not AuditEvent.objects.filter(action="test.forged").exists()


@pytest.mark.catalogue(20)  # timestamps reordered
def test_the_verifier_reports_an_event_stamped_before_its_predecessor(db, lake):
    """Written around audit_record (and PostgreSQL's trigger), with every link recomputed."""
    for minute in range(4):
        record_at(T0 + dt.timedelta(minutes=minute), str(minute))
    events = list(AuditEvent.objects.order_by("seq"))
    target = events[-2]
    prev = events[-3].hash
    json_param = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    with bypassing_triggers() as cursor:
        for event in events[-2:]:
            if event.seq == target.seq:
                event.occurred_at = T0 - dt.timedelta(hours=1)
            event.prev_hash, event.hash = prev, chain.link_hash(prev, event.payload())
            cursor.execute(
                f"UPDATE console_auditevent SET occurred_at = %s, prev_hash = %s, hash = %s, after = {json_param}"
                " WHERE seq = %s",
                [event.occurred_at, event.prev_hash, event.hash, json.dumps(event.after), event.seq],
            )
            prev = event.hash
    report = audit_verify_chain(record_head=False, audit=False)
    assert (report.first_break.seq, report.first_break.kind) == (target.seq, BreakKind.TIME_REVERSED)
    assert report.checked == target.seq - 1


# --- through a real HTTP server ---------------------------------------------------------------------


def test_a_time_range_through_a_real_server(live_server, transactional_db, audrey):
    from rest_framework.authtoken.models import Token

    for minute in range(5):
        record_at(T0 + dt.timedelta(minutes=minute), str(minute))
    token = Token.objects.create(user=audrey)
    query = urllib.parse.urlencode({"action": "test.timed", "since": at(1), "until": at(3)})
    request = urllib.request.Request(
        f"{live_server.url}/api/audit-events/?{query}", headers={"Authorization": f"Token {token.key}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.load(response)
    assert [event["object_id"] for event in body["results"]] == ["2", "1"]
