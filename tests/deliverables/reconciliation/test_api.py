"""Reconciliation API: the scoreboard (counts, filters, links, 400 naming the filter), a card's page as JSON (golden
source, mapping versions, reconciliations), the proposal, a reconciliation's inputs and progress, its differences
(status, explanation, keyset pages); and through a real HTTP server: a mapping saved (201 + Location, then 200
unchanged), a reconciliation started (202, the caller's trace) and cancelled, an approver's verdicts (201; 403 for
who may not, four eyes included; 400 without a comment), remembered by the next reconciliation, and the card retired
(409 while open, 201 once reconciled); the OpenAPI schema."""
from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
import yaml
from django.contrib.auth.models import Group
from django.core.management import call_command

from console import roles
from console.models import AuditEvent
from deliverables.models import Adjudication, CardMapping, Reconciliation
from deliverables.reconciliation import services
from tests.deliverables.reconciliation.conftest import (
    BRAND_REBATE,
    EFFECTIVE,
    GUARANTEE_FLOW,
    REBATE_PER_CLAIM,
    reconcile,
)
from tests.support.api import Api

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "curated"])

SCOREBOARD = "/api/reconciliation/scoreboard/"


def subject_path(subject, suffix: str = "") -> str:
    return f"/api/reconciliation/subjects/{subject.kind}/{subject.id}/{suffix}"


def by_title(body: dict) -> dict:
    return {row["title"]: row for row in body["subjects"]}


def mapping_body(mapping: CardMapping, **changes) -> dict:
    """The mapping as a client would send it back (flaws by fingerprint)."""
    body = {"output": mapping.output, "golden_dataset": mapping.golden_dataset, "note": mapping.note,
            "keys": [{k: key[k] for k in ("golden", "backend", "kind", "casefold")} for key in mapping.keys],
            "measures": [{**{k: m[k] for k in ("golden", "backend", "scale", "abs_tolerance", "rel_tolerance")},
                          "flaws": [f["fingerprint"] for f in m["flaws"]]} for m in mapping.measures]}
    return {**body, **changes}


def all_items(client, recon_id: int, query: str = "") -> list[dict]:
    page = client.get(f"/api/reconciliations/{recon_id}/items/?page_size=500{query}").json()
    assert page["next"] is None
    return page["results"]


# --- reading -------------------------------------------------------------------------------------------------
def test_the_scoreboard_counts_every_card_filters_by_state_and_export_and_links_each_reconciliation(
        mapped, olivia, cecilia, oscar, client):
    brand = reconcile(olivia, mapped.subject(BRAND_REBATE))
    reconcile(olivia, mapped.subject(REBATE_PER_CLAIM))
    client.force_login(cecilia)  # the C-suite reads it

    body = client.get(SCOREBOARD).json()

    rows = by_title(body)
    counts = body["counts"]
    assert counts["total"] == len(body["subjects"]) == sum(counts[s] for s in
                                                           ("not_mapped", "mapped", "open", "reconciled", "retired"))
    assert counts["open"] == 2 and counts["mapped"] == 2
    assert rows[BRAND_REBATE]["state"] == "open" and rows[BRAND_REBATE]["state_label"] == "Reconciled with open variances"
    assert rows[BRAND_REBATE]["open"] == 2 and rows[BRAND_REBATE]["counts"]["variance"] == 6
    assert rows[BRAND_REBATE]["explained"] == brand.summary["explained"] > 0 and rows[BRAND_REBATE]["accepted"] == 0
    assert rows[BRAND_REBATE]["open"] + rows[BRAND_REBATE]["explained"] + rows[BRAND_REBATE]["accepted"] == sum(
        rows[BRAND_REBATE]["counts"].get(c, 0) for c in ("variance", "only_backend", "only_domo"))
    assert rows[BRAND_REBATE]["mapping_version"] == 1 and rows[BRAND_REBATE]["retired"] is None
    assert rows[BRAND_REBATE]["reconciliation"] == {
        "id": brand.pk, "state": "succeeded", "url": f"http://testserver/api/reconciliations/{brand.pk}/"}
    assert client.get(rows[BRAND_REBATE]["reconciliation"]["url"]).json()["artifact_sha256"] == brand.artifact_sha256
    assert rows[EFFECTIVE]["state"] == "mapped" and rows[EFFECTIVE]["reconciliation"] is None
    flow = client.get(rows[GUARANTEE_FLOW]["url"]).json()
    assert flow["kind"] == "dataflow"
    unknown = client.get(f"{flow['proposal_url']}?golden_dataset=zzz")  # 400 naming it and the DataFlow's outputs
    assert unknown.status_code == 400 and "is not an output dataset of" in unknown.json()["golden_dataset"][0]
    assert "(one of " in unknown.json()["golden_dataset"][0]

    opened = client.get(f"{SCOREBOARD}?state=open").json()
    assert set(by_title(opened)) == {BRAND_REBATE, REBATE_PER_CLAIM}
    assert opened["counts"] == counts  # the counts are the export's, before the state filter
    manifest = rows[BRAND_REBATE]["manifests"][0]
    assert client.get(f"{SCOREBOARD}?manifest={manifest}&state=mapped").json()["subjects"] == [
        rows[EFFECTIVE], rows[GUARANTEE_FLOW]]

    for query, field in [("state=done", "state"), ("manifest=first", "manifest"), ("manifest=99999", "manifest")]:
        answer = client.get(f"{SCOREBOARD}?{query}")
        assert answer.status_code == 400 and list(answer.json()) == [field], query

    client.force_login(oscar)  # an account without a role reads nothing
    assert client.get(SCOREBOARD).status_code == 403
    assert client.get(f"/api/reconciliations/{brand.pk}/items/").status_code == 403
    client.logout()
    assert client.get(SCOREBOARD).status_code == 401


def test_a_card_shows_its_golden_source_mapping_versions_reconciliations_and_a_proposal(mapped, olivia, client):
    subject = mapped.subject(REBATE_PER_CLAIM)
    recon = reconcile(olivia, subject)
    client.force_login(olivia)

    card = client.get(subject_path(subject)).json()

    assert card["title"] == REBATE_PER_CLAIM and card["state"] == "open" and card["open"] == 9
    assert card["golden"]["sha256"] == recon.golden["sha256"] and card["golden"]["source"] == "golden.csv"
    assert card["golden"]["columns"][:3] == ["Client Account", "Quarter", "Rebate Amount"]
    assert card["golden"]["as_of"] == recon.pk  # as the reconciliation read them
    effective = client.get(subject_path(mapped.subject(EFFECTIVE))).json()  # not reconciled yet: read now
    assert effective["golden"]["as_of"] is None and effective["golden"]["source"] == "golden.csv"
    assert effective["golden"]["sha256"] and effective["golden_problem"] == ""
    no_golden = next(r for r in client.get(SCOREBOARD).json()["subjects"] if not r["has_golden"])
    answer = client.get(no_golden["url"]).json()
    assert answer["golden"] is None and "golden.csv" in answer["golden_problem"]
    assert client.get(f"{no_golden['url']}proposal/").status_code == 409
    assert card["mapping"]["version"] == 1 and card["mapping"]["created_by"] == "olivia"
    assert card["mapping"]["output"] == "rebate_guarantee_lines" and card["mapping"]["source"] == "shipped"
    assert [m["version"] for m in card["mappings"]] == [1]
    assert [r["id"] for r in card["reconciliations"]] == [recon.pk]
    assert client.get(card["mapping"]["url"]).json()["keys"] == card["mapping"]["keys"]
    assert [m["version"] for m in client.get(card["mappings_url"]).json()["results"]] == [1]
    listed = client.get(card["reconciliations_url"]).json()["results"]
    assert [r["id"] for r in listed] == [recon.pk] and listed[0]["total"]["variance"] == 1

    proposal = client.get(card["proposal_url"]).json()
    assert proposal["output"] == "rebate_guarantee_lines"
    assert {"golden": "Rebate Amount", "backend": "rebates_received"}.items() <= proposal["measures"][0].items()
    assert "client_guarantees" in {o["name"] for o in proposal["outputs"]}
    assert client.get(f"{card['proposal_url']}?output=client_guarantees").json()["output"] == "client_guarantees"
    answer = client.get(f"{card['proposal_url']}?output=nope")
    assert answer.status_code == 400 and "output" in answer.json()
    answer = client.get(f"{card['proposal_url']}?golden_dataset=zzz")  # a card has no output datasets to choose
    assert answer.status_code == 400 and "only a DataFlow has output datasets" in answer.json()["golden_dataset"][0]

    for path in ["/api/reconciliation/subjects/chart/1/", f"/api/reconciliation/subjects/card/{subject.id}0/",
                 f"/api/reconciliation/subjects/dataflow/{subject.id}/proposal/"]:
        answer = client.get(path)
        assert answer.status_code == 404 and answer.json()["detail"], path


def test_a_reconciliation_shows_its_inputs_progress_and_its_differences_in_keyset_pages(
        mapped, olivia, arthur, client):
    recon = reconcile(olivia, mapped.subject(REBATE_PER_CLAIM))
    brand = reconcile(olivia, mapped.subject(BRAND_REBATE))
    client.force_login(olivia)

    detail = client.get(f"/api/reconciliations/{recon.pk}/").json()

    assert detail["state"] == "succeeded" and detail["step"] == "done" and detail["open"] == 9
    assert [(s["name"], s["state"]) for s in detail["steps"]] == [(s, "done") for s in services.STEPS]
    assert detail["inputs"]["run"] == {"id": mapped.run.pk, "url": f"http://testserver/api/runs/{mapped.run.pk}/"}
    assert detail["inputs"]["mapping_version"] == 1
    assert detail["inputs"]["golden"]["sha256"] == recon.golden["sha256"]
    assert detail["artifact_sha256"] == recon.artifact_sha256 and detail["summary"]["total"]["match"] == 23
    assert detail["worker_pid"] and detail["queue"] == "runs" and detail["trace_id"] == recon.trace_id
    assert detail["subject"]["title"] == REBATE_PER_CLAIM

    items = all_items(client, recon.pk)
    assert len(items) == recon.items.count() == 9
    variance = next(i for i in items if i["item_class"] == "variance")
    assert (variance["key_label"], variance["measure"], variance["backend_value"], variance["status"]) == (
        "Bluewater County Schools / 2025Q3", "Rebate Amount", "0.00", "open")
    assert variance["can_adjudicate"] and variance["adjudication"] is None and variance["explanation"] is None
    assert variance["adjudications_url"] == f"http://testserver/api/reconciliation-items/{variance['id']}/adjudications/"
    assert len(all_items(client, recon.pk, "&status=open")) == detail["open"]
    assert {i["item_class"] for i in all_items(client, recon.pk, "&class=only_domo")} == {"only_domo"}
    assert all_items(client, recon.pk, "&status=explained") == []

    explained = all_items(client, brand.pk, "&status=explained")
    assert len(explained) == 6
    assert {i["explanation"]["code"] for i in explained} == {"HARDCODED_ASSUMPTION"}
    assert all(i["explanation"]["how"] and not i["is_open"] and not i["can_adjudicate"] for i in explained)
    assert [i["key_label"] for i in all_items(client, brand.pk, "&status=open")] == ["Summit Logistics Group"] * 2

    # a verdict on the variance's place under other values (the backend said 1.00 then) is shown, the item open;
    # an `investigating` verdict on an only_domo row keeps it open too
    item = recon.items.get(pk=variance["id"])
    olds = {"subject_kind": recon.subject_kind, "subject_id": recon.subject_id, "measure": item.measure,
            "keys": item.keys, "key_label": item.key_label, "item_class": item.item_class, "reconciliation": recon,
            "decided_by": arthur}
    Adjudication.objects.create(**olds, fingerprint="0" * 64, locator=item.locator, backend_value="1.00",
                                golden_value=item.golden_value, verdict="accepted", comment="a cent off")
    only = recon.items.filter(item_class="only_domo").order_by("position").first()
    Adjudication.objects.create(**olds, fingerprint=only.fingerprint, locator=only.locator, verdict="investigating",
                                comment="asked Summit")
    reopened = next(i for i in all_items(client, recon.pk, "&status=open") if i["id"] == item.pk)
    assert reopened["status"] == "open" and reopened["adjudication"] is None
    assert (reopened["earlier"]["verdict"], reopened["earlier"]["backend_value"]) == ("accepted", "1.00")
    assert [i["id"] for i in all_items(client, recon.pk, "&status=investigating")] == [only.pk]
    assert len(all_items(client, recon.pk, "&status=open")) == 9 == client.get(
        f"/api/reconciliations/{recon.pk}/").json()["open"]
    assert all_items(client, recon.pk, "&status=accepted") == []

    first = client.get(f"/api/reconciliations/{recon.pk}/items/?page_size=4").json()
    second = client.get(first["next"]).json()
    assert [i["position"] for i in first["results"] + second["results"]] == list(range(8))
    assert client.get(second["previous"]).json()["results"] == first["results"]

    for query, field in [("status=closed", "status"), ("class=match", "class")]:
        answer = client.get(f"/api/reconciliations/{recon.pk}/items/?{query}")
        assert answer.status_code == 400 and list(answer.json()) == [field], query
    assert client.get("/api/reconciliations/?state=finished").status_code == 400
    assert client.get(f"/api/reconciliations/{brand.pk + 1}/items/").status_code == 404


# --- creating and deciding, through a real HTTP server -------------------------------------------------------
def test_mapping_a_card_saves_a_new_version_at_its_location_then_answers_unchanged(
        mapped, olivia, cecilia, live_server):
    subject = mapped.subject(EFFECTIVE)
    path = subject_path(subject, "mappings/")
    body = mapping_body(services.current_mapping(subject.kind, subject.id), note="Checked with finance.")
    api = Api.with_token(live_server.url, olivia)

    answer = api.post(path, body)

    assert answer.status_code == 201, answer.text
    assert answer.headers["Location"] == f"{live_server.url}{path}2/" == answer.json()["url"]
    assert answer.json()["outcome"] == "saved" and answer.json()["source"] == "api"
    saved = api.get(answer.headers["Location"].removeprefix(live_server.url)).json()
    assert saved["version"] == 2 and saved["note"] == "Checked with finance." and saved["created_by"] == "olivia"
    assert saved["measures"][1]["flaws"][0]["code"] == "AGGREGATE_OF_ROW_RATIO"

    again = api.post(path, body)
    assert again.status_code == 200 and again.json()["outcome"] == "unchanged" and again.json()["version"] == 2
    retried = [api.post(path, {**body, "note": "v3"}, key="effective-v3") for _ in range(2)]
    assert [r.status_code for r in retried] == [201, 201] and retried[1].headers["Idempotent-Replayed"] == "true"
    assert CardMapping.objects.filter(subject_id=subject.id).count() == 3
    assert AuditEvent.objects.filter(action="deliverables.mapping.saved", object_id=f"card:{subject.id}").count() == 3

    answer = api.post(path, {**body, "keys": []})
    assert answer.status_code == 400 and "keys" in answer.json()
    answer = api.post(path, {**body, "measures": [{**body["measures"][0], "abs_tolerance": "a cent"}]})
    assert answer.status_code == 400 and "abs_tolerance" in str(answer.json()["measures"]), answer.json()
    answer = api.post(path, {**body, "keys": [{"golden": "Client", "backend": "client_name"}]})
    assert answer.status_code == 409 and "'Client' is not in" in answer.json()["detail"]
    answer = Api.with_token(live_server.url, cecilia).post(path, body)
    assert answer.status_code == 403 and "build_deliverable" in answer.json()["detail"]
    assert CardMapping.objects.filter(subject_id=subject.id).count() == 3


def test_starting_a_reconciliation_queues_it_with_the_callers_trace_and_it_can_be_cancelled(
        mapped, olivia, cecilia, live_server):
    subject = mapped.subject(EFFECTIVE)
    path = subject_path(subject, "reconciliations/")
    api = Api.with_token(live_server.url, olivia)
    trace = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"

    answer = api.session.post(live_server.url + path, json={"run": mapped.run.pk}, headers={"traceparent": trace},
                              timeout=60)

    recon = Reconciliation.objects.get()
    assert answer.status_code == 202, answer.text
    assert answer.headers["Location"] == f"{live_server.url}/api/reconciliations/{recon.pk}/"
    body = answer.json()
    assert body["state"] == "queued" and body["trace_id"] == "ab" * 16 and body["run"] == mapped.run.pk
    assert [s["name"] for s in body["steps"]] == list(services.STEPS) and body["requested_by"] == "olivia"
    row = by_title(api.get(SCOREBOARD).json())[EFFECTIVE]
    assert row["state"] == "mapped" and row["latest"]["id"] == recon.pk and row["latest"]["state"] == "queued"

    assert api.post(path, {"run": 99999}).json() == {"run": ["no calculation run #99999"]}
    unmapped = next(r for r in api.get(f"{SCOREBOARD}?state=not_mapped").json()["subjects"])
    answer = api.post(f"/api/reconciliation/subjects/{unmapped['kind']}/{unmapped['id']}/reconciliations/", {})
    assert answer.status_code == 409 and "is not mapped" in answer.json()["detail"]
    answer = Api.with_token(live_server.url, cecilia).post(path, {})
    assert answer.status_code == 403
    assert Reconciliation.objects.count() == 1

    assert api.post(f"/api/reconciliations/{recon.pk}/cancel/").json()["state"] == "cancelled"
    answer = api.post(f"/api/reconciliations/{recon.pk}/cancel/")
    assert answer.status_code == 409 and "cancelled" in answer.json()["detail"]


def test_an_approver_adjudicates_the_open_differences_a_new_reconciliation_keeps_them_and_the_card_retires(
        mapped, olivia, arthur, live_server):
    subject = mapped.subject(BRAND_REBATE)
    recon = reconcile(olivia, subject)
    approver, operator = Api.with_token(live_server.url, arthur), Api.with_token(live_server.url, olivia)
    retire = subject_path(subject, "retire/")

    answer = approver.post(retire, {"comment": "done"})
    assert answer.status_code == 409 and "open variances" in answer.json()["detail"]

    items = approver.get(f"/api/reconciliations/{recon.pk}/items/?status=open").json()["results"]
    assert [i["item_class"] for i in items] == ["only_domo", "only_domo"]
    target = items[0]["adjudications_url"].removeprefix(live_server.url)
    answer = operator.post(target, {"verdict": "accepted", "comment": "mine"})
    assert answer.status_code == 403 and "approver" in answer.json()["detail"]
    answer = approver.post(target, {"verdict": "accepted"})
    assert answer.status_code == 400 and "comment" in answer.json()
    answer = approver.post(target, {"verdict": "fine", "comment": "x"})
    assert answer.status_code == 400 and "verdict" in answer.json()
    explained = approver.get(f"/api/reconciliations/{recon.pk}/items/?status=explained").json()["results"][0]
    answer = approver.post(explained["adjudications_url"].removeprefix(live_server.url),
                           {"verdict": "accepted", "comment": "x"})
    assert answer.status_code == 409 and "explained by a flaw" in answer.json()["detail"]
    assert not Adjudication.objects.exists()

    for item in items:
        answer = approver.post(item["adjudications_url"].removeprefix(live_server.url),
                               {"verdict": "accepted", "comment": "Summit left before 2025: Domo still shows it."})
        assert answer.status_code == 201, answer.text
        verdict = approver.get(answer.headers["Location"].removeprefix(live_server.url)).json()
        assert (verdict["verdict"], verdict["decided_by"], verdict["fingerprint"]) == (
            "accepted", "arthur", item["fingerprint"])
    row = by_title(approver.get(SCOREBOARD).json())[BRAND_REBATE]
    assert row["state"] == "reconciled" and row["open"] == 0
    assert approver.get(f"/api/reconciliations/{recon.pk}/").json()["open"] == 0

    again = reconcile(olivia, subject)
    kept = approver.get(f"/api/reconciliations/{again.pk}/items/?status=accepted").json()["results"]
    assert [(i["fingerprint"], i["adjudication"]["decided_by"]) for i in kept] == [
        (i["fingerprint"], "arthur") for i in items]
    assert approver.get(f"/api/reconciliations/{again.pk}/items/?status=open").json()["results"] == []

    answer = approver.post(retire, {"comment": "The backend's guarantees replace the card."})
    assert answer.status_code == 201, answer.text
    assert answer.headers["Location"] == f"{live_server.url}{subject_path(subject)}"
    assert answer.json()["retired"]["by"] == "arthur" and answer.json()["retired"]["reconciliation"]["id"] == again.pk
    assert approver.get(subject_path(subject)).json()["state"] == "retired"
    answer = approver.post(retire, {})
    assert answer.status_code == 409 and "is already retired (by arthur)" in answer.json()["detail"]


def test_an_approver_who_mapped_the_card_may_not_adjudicate_it(mapped, olivia, arthur, live_server):
    arthur.groups.add(Group.objects.get(name=roles.OPERATOR))  # an approver who also operates
    subject = mapped.subject(REBATE_PER_CLAIM)
    api = Api.with_token(live_server.url, arthur)
    body = mapping_body(services.current_mapping(subject.kind, subject.id), note="Arthur's reading.")
    assert api.post(subject_path(subject, "mappings/"), body).status_code == 201
    recon = reconcile(olivia, subject)

    variance = api.get(f"/api/reconciliations/{recon.pk}/items/?class=variance").json()["results"][0]
    answer = api.post(variance["adjudications_url"].removeprefix(live_server.url),
                      {"verdict": "accepted", "comment": "Domo's invoices are right."})

    assert answer.status_code == 403 and "four eyes" in answer.json()["detail"]
    assert not Adjudication.objects.exists()
    assert AuditEvent.objects.filter(action="deliverables.adjudication.refused").exists()


def test_the_schema_documents_the_reconciliation_api_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    paths = yaml.safe_load(target.read_text())["paths"]
    subject = "/api/reconciliation/subjects/{kind}/{subject_id}/"
    posts = {f"{subject}mappings/": {"200", "201", "400", "403", "409"},
             f"{subject}reconciliations/": {"202", "400", "403", "409"},
             f"{subject}retire/": {"201", "400", "403", "409"},
             "/api/reconciliations/{id}/cancel/": {"200", "403", "404", "409"},
             "/api/reconciliation-items/{id}/adjudications/": {"201", "400", "403", "404", "409"}}
    for url, codes in posts.items():
        assert set(paths[url]["post"]["responses"]) >= codes, url
    for url in ["/api/reconciliation/scoreboard/", subject, f"{subject}proposal/", f"{subject}mappings/",
                f"{subject}mappings/{{version}}/", "/api/reconciliations/", "/api/reconciliations/{id}/",
                "/api/reconciliations/{id}/items/", "/api/adjudications/{id}/"]:
        assert "get" in paths[url], url
    assert {p["name"] for p in paths["/api/reconciliation/scoreboard/"]["get"]["parameters"]} >= {"manifest", "state"}
    assert {p["name"] for p in paths["/api/reconciliations/{id}/items/"]["get"]["parameters"]} >= {"status", "class"}
    assert "Idempotency-Key" in {p["name"] for p in paths[f"{subject}mappings/"]["post"]["parameters"]}
    assert "traceparent" in {p["name"] for p in paths[f"{subject}reconciliations/"]["post"]["parameters"]}


@pytest.mark.parametrize("persona", ["adam", "arthur"])  # mapping and starting; adjudicating and retiring
def test_the_edges_of_every_parameter_on_real_cards_answer_no_server_error_and_a_message(
        mapped, olivia, persona, client, django_user_model):
    """The API fuzz's edge values (a NUL byte, 5,000 characters, integers past bigint, ...) on every reconciliation
    operation, its path naming a mapped card, its reconciliation, a difference and a verdict that exist."""
    from tests.console.test_api_fuzz import _edge_calls, _says_something
    from tests.support.fuzz import served_schema

    subject = mapped.subject(REBATE_PER_CLAIM)
    recon = reconcile(olivia, subject)
    item = recon.items.order_by("position").first()
    verdict = Adjudication.objects.create(
        subject_kind=subject.kind, subject_id=subject.id, fingerprint=item.fingerprint, locator=item.locator,
        measure=item.measure, keys=item.keys, key_label=item.key_label, item_class=item.item_class,
        backend_value=item.backend_value, golden_value=item.golden_value, verdict="investigating",
        comment="asked the client", decided_by=django_user_model.objects.get(username="arthur"),
        reconciliation=recon)
    client.force_login(django_user_model.objects.get(username=persona))
    client.raise_request_exception = False
    served = served_schema(client)
    card = {"kind": [subject.kind], "subject_id": [subject.id]}
    real = {path: card for path in served["paths"] if path.startswith("/api/reconciliation/subjects/")}
    real["/api/reconciliation/subjects/{kind}/{subject_id}/mappings/{version}/"] = {**card, "version": [1]}
    real.update({path: {"id": [recon.pk]} for path in served["paths"] if path.startswith("/api/reconciliations/{id}")})
    real["/api/reconciliation-items/{id}/adjudications/"] = {"id": [item.pk]}
    real["/api/adjudications/{id}/"] = {"id": [verdict.pk]}
    paths = {path: operations for path, operations in served["paths"].items()
             if path.startswith(("/api/reconciliation", "/api/adjudications/"))}

    failures, calls = [], 0
    for method, url, query, body in _edge_calls(paths, served["components"]["schemas"], real):
        target = f"{url}?{urlencode(query)}" if query else url
        response = client.generic(method.upper(), target, "" if body is None else json.dumps(body),
                                  content_type="application/json")
        calls += 1
        if response.status_code >= 500:
            failures.append(f"{method.upper()} {target[:200]}: {response.status_code}")
        elif response.status_code >= 400 and not _says_something(response.json()):
            failures.append(f"{method.upper()} {target[:200]}: {response.status_code} without a message")
    assert calls > 60 and not failures, "\n".join(failures)
