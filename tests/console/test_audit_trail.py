"""The auditor's audit trail: page, API and CSV export share filters, page by keyset, and are audited."""

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from console import chain, clock, context
from console.audit import audit_record
from console.models import AuditEvent
from console.tables import AuditEventTable

T0 = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def trail(olivia, arthur):
    """Twelve events by two users and a command, over four hours, on three objects, in three runs."""
    for index in range(12):
        actor = [olivia, arthur, None][index % 3]
        with (
            clock.frozen(T0 + dt.timedelta(minutes=20 * index)),
            context.for_command("load", run_id=f"run-{index % 3:08d}"),
        ):
            audit_record(
                actor=actor,
                action=["promotion.requested", "promotion.approved"][index % 2],
                object_type="promotion.request",
                object_id=str(index % 4),
                after={"index": index, "amount": f"{index}.50"},
            )


def page_seqs(response) -> list[int]:
    assert response.status_code == 200, response.content[:500]
    return [row["seq"] for row in response.context["rows"]]


def api_seqs(response) -> list[int]:
    assert response.status_code == 200, response.content[:500]
    return [event["seq"] for event in response.json()["results"]]


def reads(action="audit.read"):
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


# --- who may read -------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_login(client, db):
    response = client.get("/audit/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.get("/api/audit-events/").status_code == 401


@pytest.mark.parametrize("persona", ["oscar", "olivia"])
@pytest.mark.parametrize(
    "url", ["/audit/", "/audit/export.csv", "/api/audit-events/", "/api/audit-events/1/"]
)
def test_users_without_the_auditor_capabilities_are_refused(client, request, persona, url, trail):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(url).status_code == 403
    assert not reads() and not reads("audit.exported")


def test_the_auditor_sees_the_trail_newest_first_with_utc_times(client, audrey, trail):
    client.force_login(audrey)
    response = client.get("/audit/")
    seqs = page_seqs(response)
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == AuditEvent.objects.count() - 1
    body = response.content.decode()
    assert "2026-11-26 12:40:00 UTC" in body  # event 11 at T0 + 220 minutes
    assert 'datetime="2026-11-26T12:40:00+00:00"' in body
    assert "Export CSV" in body


# --- filters: the same on the page and the API -----------------------------------------------


def matching(**filters) -> list[int]:
    """The oracle: filter every event in Python, newest first."""
    since, until = filters.get("since"), filters.get("until")
    events = [
        event
        for event in AuditEvent.objects.all()
        if event.actor_label == filters.get("actor", event.actor_label)
        and event.action == filters.get("action", event.action)
        and event.object_type == filters.get("object_type", event.object_type)
        and event.object_id == filters.get("object_id", event.object_id)
        and event.correlation_id == filters.get("correlation_id", event.correlation_id)
        and (
            since is None
            or event.occurred_at >= dt.datetime.fromisoformat(since).replace(tzinfo=dt.timezone.utc)
        )
        and (
            until is None
            or event.occurred_at < dt.datetime.fromisoformat(until).replace(tzinfo=dt.timezone.utc)
        )
    ]
    return sorted((event.seq for event in events), reverse=True)


@pytest.mark.parametrize(
    "filters",
    [
        {"actor": "olivia"},
        {"actor": "system:command:load"},
        {"action": "promotion.approved"},
        {"object_type": "promotion.request", "object_id": "2"},
        {"correlation_id": "run-00000001"},
        {"since": "2026-11-26T10:00:00", "until": "2026-11-26T11:00:00"},
        {"since": "2026-11-26T10:00", "action": "promotion.requested", "actor": "arthur"},
    ],
)
def test_filters_select_the_same_events_on_the_page_and_the_api(client, audrey, trail, filters):
    client.force_login(audrey)
    expected = matching(**filters)
    assert expected, "a filter that matches nothing proves little"
    assert page_seqs(client.get("/audit/", filters)) == expected
    assert api_seqs(client.get("/api/audit-events/", filters)) == expected


def test_api_times_are_utc(client, audrey, trail):
    client.force_login(audrey)
    [event] = client.get(
        "/api/audit-events/", {"since": "2026-11-26T09:00", "until": "2026-11-26T09:01"}
    ).json()["results"]
    assert event["occurred_at"] == "2026-11-26T09:00:00Z"


def test_a_time_with_an_offset_is_compared_in_utc(client, audrey, trail):
    client.force_login(audrey)
    response = client.get(
        "/api/audit-events/", {"since": "2026-11-26T12:00:00+02:00", "until": "2026-11-26T12:30:00+02:00"}
    )
    assert api_seqs(response) == matching(since="2026-11-26T10:00:00", until="2026-11-26T10:30:00")


def test_invalid_filters_are_refused_and_not_recorded_as_a_read(client, audrey, trail):
    client.force_login(audrey)
    page = client.get("/audit/", {"since": "yesterday-ish"})
    assert page.status_code == 200 and page.context["page"] is None
    assert "Enter a valid date/time" in page.content.decode()
    assert client.get("/api/audit-events/", {"since": "yesterday-ish"}).status_code == 400
    assert client.get("/audit/export.csv", {"since": "yesterday-ish"}).status_code == 400
    assert not reads() and not reads("audit.exported")


# --- keyset pages ---------------------------------------------------------------------------------


def test_page_links_walk_every_event_once_by_keyset(client, audrey, trail, settings):
    settings.AUDIT_PAGE_SIZE = 5
    client.force_login(audrey)
    expected = matching()
    pages, url = [], "/audit/"
    while url:
        response = client.get(url if url.startswith("/") else "/audit/" + url)
        pages.append(page_seqs(response))
        url = response.context["older_url"]
    assert [seq for page in pages for seq in page] == expected
    assert len(pages) > 2 and all(len(page) == 5 for page in pages[:-1])
    back = client.get("/audit/" + response.context["newer_url"])
    assert page_seqs(back) == pages[-2]


def test_page_links_keep_the_filters(client, audrey, trail, settings):
    settings.AUDIT_PAGE_SIZE = 2
    client.force_login(audrey)
    first = client.get("/audit/", {"actor": "olivia"})
    second = client.get("/audit/" + first.context["older_url"])
    assert page_seqs(first) + page_seqs(second) == matching(actor="olivia")[:4]
    assert "actor=olivia" in first.context["older_url"] and "offset" not in first.context["older_url"]


def test_api_cursor_walks_every_event_once(client, audrey, trail):
    client.force_login(audrey)
    expected = matching()
    seen, url = [], "/api/audit-events/?page_size=5"
    while url:
        body = client.get(url).json()
        seen += [event["seq"] for event in body["results"]]
        url = body["next"]
    assert seen == expected


def test_the_page_runs_the_same_queries_for_a_short_and_a_long_trail(client, audrey, record_events):
    client.force_login(audrey)
    client.get("/audit/")  # warm the session and permission caches the same way for both runs

    def page_queries():
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/audit/").status_code == 200
        return len(queries)

    short = page_queries()
    record_events(120)
    assert page_queries() == short


def test_the_page_query_count_is_locked(client, audrey, record_events, django_assert_num_queries):
    record_events(60)
    client.force_login(audrey)
    # session, user, the user's and the groups' permissions, the page (one keyset query), the
    # read's audit row (savepoint, lock, last link, insert, release), the header's groups, and the
    # session save (savepoint, update, release), and the chain status (the last verification, the
    # table's end, the anchored event and the one after it), and the pickers (the actions the trail
    # holds, the known actors). SQLite's append lock is BEGIN IMMEDIATE, not a query.
    with django_assert_num_queries(19 if connection.vendor == "postgresql" else 18):
        client.get("/audit/")


# --- reading and exporting are audited ----------------------------------------------------------


@pytest.mark.catalogue(23)
def test_reading_the_page_is_audited_with_its_filters_and_request_id(client, audrey, trail):
    client.force_login(audrey)
    response = client.get("/audit/", {"action": "promotion.approved"}, HTTP_X_REQUEST_ID="auditor-read-0001")
    [event] = reads()
    assert (event.actor, event.object_type, event.correlation_id) == (
        audrey,
        "console.auditevent",
        "auditor-read-0001",
    )
    assert event.after == {"via": "page", "filters": {"action": ["promotion.approved"]}, "cursor": None}
    assert response["X-Request-ID"] == event.correlation_id


@pytest.mark.catalogue(23)
def test_reading_through_the_api_is_audited(client, audrey, trail):
    client.force_login(audrey)
    client.get("/api/audit-events/", {"since": "2026-11-26T10:00:00Z"})
    client.get("/api/audit-events/3/")
    listed, detail = reads()
    assert listed.after == {
        "via": "api",
        "filters": {"since": "2026-11-26T10:00:00.000000+00:00"},
        "cursor": None,
    }
    assert detail.after["filters"] == {"seq": 3}


def export(client, **filters):
    response = client.get("/audit/export.csv", filters)
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-trail-')
    note, *rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(note) == 1 and note[0].startswith("# LeafEnterprise audit trail excerpt")
    return rows


def test_export_streams_the_filtered_events_oldest_first_with_a_stable_header(client, audrey, trail):
    client.force_login(audrey)
    header, *rows = export(client, actor="arthur")
    assert header == [
        "seq",
        "occurred_at",
        "actor_id",
        "actor_label",
        "action",
        "object_type",
        "object_id",
        "before",
        "after",
        "correlation_id",
        "prev_hash",
        "hash",
        "clock_reading",
    ]
    assert [int(row[0]) for row in rows] == sorted(matching(actor="arthur"))
    first = AuditEvent.objects.get(seq=int(rows[0][0]))
    assert rows[0][1] == "2026-11-26T09:20:00.000000+00:00"
    assert rows[0][7:9] == ["null", chain.canonical_json(first.after)]
    assert rows[0][10:] == [first.prev_hash, first.hash, ""]  # the clock never lagged here


def test_an_unfiltered_export_recomputes_to_the_same_chain(client, audrey, trail):
    client.force_login(audrey)
    header, *rows = export(client)
    prev = chain.GENESIS_HASH
    for row in rows:
        values = dict(zip(header, row, strict=True))
        payload = {
            **{name: values[name] for name in chain.HASHED_FIELDS},
            "seq": int(values["seq"]),
            "actor_id": int(values["actor_id"]) if values["actor_id"] else None,
            "before": chain.json.loads(values["before"]),
            "after": chain.json.loads(values["after"]),
        }
        if values["clock_reading"]:  # hashed only when the clock lagged
            payload["clock_reading"] = values["clock_reading"]
        assert values["prev_hash"] == prev and chain.link_hash(prev, payload) == values["hash"]
        prev = values["hash"]


@pytest.mark.catalogue(23)
def test_exporting_is_audited_with_its_filters(client, audrey, trail):
    client.force_login(audrey)
    response = client.get("/audit/export.csv", {"object_type": "promotion.request", "object_id": "1"})
    [event] = reads("audit.exported")
    assert event.actor == audrey and event.correlation_id == response["X-Request-ID"]
    assert event.after == {"format": "csv", "filters": {"object_type": "promotion.request", "object_id": "1"}}


def test_export_cells_that_a_spreadsheet_would_run_are_neutralized(client, audrey):
    audit_record(actor=None, action="auth.login_failed", object_type="auth.user", object_id='=HYPERLINK("x")')
    client.force_login(audrey)
    _header, *rows = export(client, action="auth.login_failed")
    assert rows[0][AuditEventTable.csv_columns.index("object_id")] == '\'=HYPERLINK("x")'


def test_htmx_gets_only_the_results_fragment(client, audrey, trail):
    client.force_login(audrey)
    response = client.get("/audit/", {"actor": "olivia"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "<html" not in body and "<table" in body
    assert page_seqs(response) == matching(actor="olivia")


def test_a_filter_that_matches_nothing_says_what_to_do(client, audrey, trail):
    client.force_login(audrey)
    body = client.get("/audit/", {"actor": "nobody"}).content.decode()
    assert "No audit events match these filters." in body


@pytest.mark.catalogue(23)
def test_an_admins_queries_and_exports_are_recorded_too(client, adam, trail):
    client.force_login(adam)
    client.get("/audit/", {"actor": "olivia"})
    client.get("/api/audit-events/", {"action": "promotion.approved"})
    csv_response = client.get("/audit/export.csv", {"actor": "arthur"})
    jsonl_response = client.get("/audit/export.jsonl")
    b"".join(csv_response.streaming_content), b"".join(jsonl_response.streaming_content)
    assert [(e.actor, e.after["via"], e.after["filters"]) for e in reads()] == [
        (adam, "page", {"actor": "olivia"}), (adam, "api", {"action": ["promotion.approved"]})]
    assert [(e.actor, e.after["format"], e.after["filters"]) for e in reads("audit.exported")] == [
        (adam, "csv", {"actor": "arthur"}), (adam, "jsonl", {})]


def test_the_api_exports_the_same_file_for_a_token_and_records_it(audrey, olivia, trail):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=audrey).key}")
    response = api.get("/api/audit-events/export.csv", {"actor": "arthur"})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-trail-')
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(lines[0]) == 1 and lines[0][0].startswith("# LeafEnterprise audit trail excerpt")
    assert [int(row[0]) for row in lines[2:]] == sorted(matching(actor="arthur"))  # as the page exports them
    [event] = reads("audit.exported")
    assert event.actor == audrey and event.after == {"format": "csv", "filters": {"actor": "arthur"}}

    jsonl = api.get("/api/audit-events/export.jsonl", {"actor": "arthur"})
    assert jsonl.status_code == 200 and jsonl["Content-Type"].startswith("application/x-ndjson")
    bad = api.get("/api/audit-events/export.csv", {"period": "someday"})
    assert bad.status_code == 400 and "period" in bad.json()
    assert len(reads("audit.exported")) == 2  # the refused one exported nothing

    operator = APIClient()
    operator.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=olivia).key}")
    assert operator.get("/api/audit-events/export.csv").status_code == 403
