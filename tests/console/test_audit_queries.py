"""The auditor's queries: actor prefix, several actions, text in the details, period presets; values that cannot
be used are said by name; each event's diff; the export verifies outside the console; object links; verify now."""

import csv
import datetime as dt
import io
import json

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from console import chain, clock, context
from console.audit import audit_record
from console.audit_verify import VerifyState, audit_verify_progress, audit_verify_run
from console.diffs import ChangeKind, KeyChange, details_diff
from console.models import AuditEvent

T0 = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def trail(olivia, arthur, ada, adam):
    """Twelve events, 20 minutes apart from T0, by four users and a command, in three runs."""
    actors = [olivia, arthur, None, ada, adam]
    for index in range(12):
        with (
            clock.frozen(T0 + dt.timedelta(minutes=20 * index)),
            context.for_command("load", run_id=f"run-{index % 3:08d}"),
        ):
            audit_record(
                actor=actors[index % 5],
                action=["promotion.requested", "promotion.approved", "evidence.attached"][index % 3],
                object_type="promotion.request",
                object_id=str(index % 4),
                before={"state": "requested", "note": "Ünïcode 100%"} if index % 2 else None,
                after={"state": "approved", "amount": f"{index}.50", "gates": {"golden": index % 2 == 0}},
            )


def seqs_of(response) -> list[int]:
    assert response.status_code == 200, response.content[:800]
    return [row["seq"] for row in response.context["rows"]]


def api_seqs(response) -> list[int]:
    assert response.status_code == 200, response.content[:800]
    return [event["seq"] for event in response.json()["results"]]


def oracle(keep) -> list[int]:
    return sorted((event.seq for event in AuditEvent.objects.all() if keep(event)), reverse=True)


def details_text(event) -> str:
    return " ".join(json.dumps(side, ensure_ascii=False) for side in (event.before, event.after) if side is not None).upper()


@pytest.mark.parametrize(
    ("filters", "keep"),
    [
        ({"actor": "ad"}, lambda e: e.actor_label in ("ada", "adam")),
        ({"actor": "system:"}, lambda e: e.actor_label.startswith("system:")),
        (
            {"action": ["promotion.approved", "evidence.attached"]},
            lambda e: e.action in ("promotion.approved", "evidence.attached"),
        ),
        ({"text": "ünïcode 100%"}, lambda e: "ÜNÏCODE 100%" in details_text(e)),
        ({"text": "3.50"}, lambda e: "3.50" in details_text(e)),
        ({"text": "_"}, lambda e: "_" in details_text(e)),  # a LIKE wildcard, searched as itself
        ({"period": "last_hour"}, lambda e: T0 + dt.timedelta(minutes=200) <= e.occurred_at),
        ({"period": "today"}, lambda e: e.occurred_at.date() == T0.date()),
        ({"period": "last_7_days", "actor": "olivia"}, lambda e: e.actor_label == "olivia"),
        ({"period": "custom", "since": "2026-11-26T10:00", "until": "2026-11-26T11:00"},
         lambda e: T0 + dt.timedelta(hours=1) <= e.occurred_at < T0 + dt.timedelta(hours=2)),
        ({"correlation_id": "run-00000002", "text": "approved"}, lambda e: e.correlation_id == "run-00000002"),
        ({"object_type": "promotion.request", "object_id": "1", "action": "promotion.approved"},
         lambda e: e.object_id == "1" and e.action == "promotion.approved"),
    ],
)
def test_each_filter_selects_the_same_events_on_the_page_and_the_api(client, audrey, trail, filters, keep):
    # Presets count back from console.clock's now: 40 minutes after the last event. Each read is
    # itself an event, so the oracle looks again before the API's read.
    with clock.frozen(T0 + dt.timedelta(minutes=20 * 11 + 40)):
        client.force_login(audrey)
        expected = oracle(keep)
        assert expected, "a filter that matches nothing proves little"
        page = client.get("/audit/", filters)
        assert seqs_of(page) == expected
        if filters.get("period") == "last_hour":
            assert "Last hour: events from <time datetime=\"2026-11-26T12:20:00+00:00\">" in page.content.decode()
        expected = oracle(keep)
        assert api_seqs(client.get("/api/audit-events/", filters)) == expected


def test_filtered_pages_walk_by_keyset(client, audrey, trail, settings):
    settings.AUDIT_PAGE_SIZE = 2
    client.force_login(audrey)
    filters = {"action": ["promotion.approved", "evidence.attached"], "text": "approved"}
    seen, url = [], "/audit/?" + "action=promotion.approved&action=evidence.attached&text=approved"
    while url:
        response = client.get(url if url.startswith("/") else "/audit/" + url)
        seen += seqs_of(response)
        url = response.context["older_url"]
    assert seen == oracle(lambda e: e.action in filters["action"])


def test_the_page_offers_the_actions_by_area_and_the_known_actors(client, audrey, trail):
    client.force_login(audrey)
    body = client.get("/audit/").content.decode()
    assert '<optgroup label="promotion">' in body and '<optgroup label="evidence">' in body
    assert '<option value="promotion.approved">approved</option>' in body
    assert '<datalist id="audit-actors">' in body and '<option value="olivia">' in body
    assert '<option value="system:task:">' in body


@pytest.mark.parametrize(
    ("filters", "field", "message"),
    [
        ({"action": ["promotion.approved", "promotion.teleported"]}, "action",
         "no event has the action promotion.teleported"),
        ({"action": "a\x00"}, "action", "no event has the action a"),  # never sent to the database
        ({"text": "a\x00"}, "text", "Null characters are not allowed"),
        ({"since": "2026-13-40"}, "since", "Enter a valid date/time"),
        ({"period": "fortnight"}, "period", "Select a valid choice"),
        ({"period": "last_hour", "since": "2026-11-26T10:00"}, "since", "choose Custom range"),
    ],
)
def test_values_that_cannot_be_used_are_said_by_name_never_dropped(client, audrey, trail, filters, field, message):
    client.force_login(audrey)
    page = client.get("/audit/", filters)
    assert page.status_code == 200 and page.context["page"] is None and not page.context["rows"]
    body = page.content.decode()
    assert 'id="filter-errors"' in body and f"<strong>{field}</strong>" in body and message in body
    api = client.get("/api/audit-events/", filters)
    assert api.status_code == 400 and message in " ".join(api.json()[field])
    assert client.get("/audit/export.jsonl", filters).status_code == 400
    assert not AuditEvent.objects.filter(action__in=("audit.read", "audit.exported")).exists()


def test_the_diff_names_added_removed_and_changed_keys_nested_by_path():
    before = {"state": "requested", "amount": "10.00", "gates": {"golden": False, "reconciled": True}, "note": "x"}
    after = {"state": "approved", "amount": "10.00", "gates": {"golden": True, "reconciled": True}, "by": "arthur"}
    assert details_diff(before, after) == [
        KeyChange("by", ChangeKind.ADDED, after="arthur"),
        KeyChange("gates.golden", ChangeKind.CHANGED, False, True),
        KeyChange("note", ChangeKind.REMOVED, before="x"),
        KeyChange("state", ChangeKind.CHANGED, "requested", "approved"),
    ]
    assert details_diff(None, {"a": 1}) == [KeyChange("a", ChangeKind.ADDED, after=1)]
    assert details_diff({"n": 1}, {"n": 1.0}) == [KeyChange("n", ChangeKind.CHANGED, 1, 1.0)]
    assert details_diff([1], [1]) == [] and details_diff("a", "b") == [KeyChange("", ChangeKind.CHANGED, "a", "b")]


def test_each_row_shows_its_diff_with_the_full_json_one_click_away(client, audrey, trail):
    client.force_login(audrey)
    response = client.get("/audit/", {"object_type": "promotion.request", "object_id": "1", "action": "promotion.approved"})
    [row] = response.context["rows"]
    assert [(change.key, change.kind) for change in row["changes"]] == [
        ("amount", "added"), ("gates", "added"), ("note", "removed"), ("state", "changed"),
    ]
    body = response.content.decode()
    assert "<summary>4 keys changed</summary>" in body and "<summary>Full JSON</summary>" in body


def verify_rows(rows: list[dict]) -> None:
    """What an outside reader does with the excerpt: every row's hash, and the links between neighbours."""
    for previous, row in zip([None, *rows], rows, strict=False):
        payload = {name: row[name] for name in chain.HASHED_FIELDS}
        if row.get("clock_reading"):
            payload["clock_reading"] = row["clock_reading"]
        assert chain.link_hash(row["prev_hash"], payload) == row["hash"], row["seq"]
        if previous and previous["seq"] + 1 == row["seq"]:
            assert row["prev_hash"] == previous["hash"]


def test_the_export_is_the_filtered_set_and_verifies_outside_the_console(client, audrey, trail):
    client.force_login(audrey)
    filters = {"action": ["promotion.approved", "evidence.attached"], "actor": "ad"}
    expected = sorted(oracle(lambda e: e.action in filters["action"] and e.actor_label.startswith("ad")))
    response = client.get("/audit/export.jsonl", filters)
    assert response["Content-Type"].startswith("application/x-ndjson")
    first, *lines = b"".join(response.streaming_content).decode().splitlines()
    about = json.loads(first)["audit_trail_excerpt"]
    rows = [json.loads(line) for line in lines]
    assert [row["seq"] for row in rows] == expected
    assert "sha256" in about["verify"] and about["filters"] == {"actor": "ad", "action": filters["action"]}
    verify_rows(rows)
    exported = AuditEvent.objects.get(action="audit.exported")
    assert about["export_event"] == {"seq": exported.seq, "hash": exported.hash}
    assert exported.actor == audrey and exported.after == {"format": "jsonl", "filters": about["filters"]}

    # The CSV: the same events, its first line says how to verify them; an unfiltered one links end to end.
    response = client.get("/audit/export.csv")
    note, header, *cells = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert note[0].startswith("# LeafEnterprise audit trail excerpt") and "sha256" in note[0]
    rows = []
    for values in cells:
        row = dict(zip(header, values, strict=True))
        row.update(seq=int(row["seq"]), actor_id=int(row["actor_id"]) if row["actor_id"] else None,
                   before=json.loads(row["before"]), after=json.loads(row["after"]))
        rows.append(row)
    assert [row["seq"] for row in rows] == list(range(1, rows[-1]["seq"] + 1))
    assert rows[-1]["action"] == "audit.exported"  # the excerpt ends at its own record
    verify_rows(rows)


def render_link(user, template: str, **values) -> str:
    request = RequestFactory().get("/")
    request.user = user
    return Template("{% load audit_links %}" + template).render(Context({"request": request, **values}))


def test_object_pages_link_to_their_events_for_those_who_read_the_trail(client, audrey, adam, olivia, trail):
    html = render_link(audrey, "{% audit_link 'promotion.promotionrequest' 7 %}")
    assert html.strip() == (
        '<a class="audit-link" href="/audit/?object_type=promotion.promotionrequest&amp;object_id=7" '
        'title="This object\'s events on the audit trail">Audit events</a>'
    )
    assert render_link(olivia, "{% audit_link 'promotion.promotionrequest' 7 %}").strip() == ""
    # The person page (an admin reads it; adam also holds view_audit) links to the events about the person.
    client.force_login(adam)
    body = client.get(f"/people/{olivia.pk}/").content.decode()
    assert 'href="/audit/?object_type=auth.user&amp;object_id=olivia"' in body
    client.force_login(audrey)
    assert seqs_of(client.get("/audit/", {"object_type": "auth.user", "object_id": "olivia"}))


def test_verify_now_is_asked_audited_then_run_and_reported(client, audrey, trail, lake):
    client.force_login(audrey)
    response = client.post("/audit/verify/", HTTP_HX_REQUEST="true")
    run_id = response.context["run"].run_id
    assert response.context["run"].state == VerifyState.QUEUED and "waiting for a worker" in response.content.decode()
    asked = AuditEvent.objects.get(action="audit.verify_requested")
    assert (asked.actor, asked.correlation_id, asked.after) == (audrey, run_id, {"run_id": run_id})
    assert 'hx-trigger="every 1s"' in client.get(f"/audit/verify/{run_id}/").content.decode()

    with context.for_task("task-verify-1", run_id=run_id):  # what the worker's task does
        report = audit_verify_run(run_id=run_id)
        assert audit_verify_run(run_id=run_id) is None  # a redelivered message verifies nothing twice
    run = audit_verify_progress(run_id)
    assert report.ok and run.state == VerifyState.DONE and run.report["head_seq"] == report.head_seq
    body = client.get(f"/audit/verify/{run_id}/").content.decode()
    assert "intact" in body and "hx-trigger" not in body
    page = client.get("/audit/").content.decode()
    assert "by <span class=\"mono\">system:task:task-verify-1</span>" in page
    assert client.get("/audit/verify/not-a-run/").status_code == 404


def test_only_those_who_read_the_trail_may_verify_now(client, olivia, trail):
    client.force_login(olivia)
    assert client.post("/audit/verify/").status_code == 403
    assert not AuditEvent.objects.filter(action="audit.verify_requested").exists()
