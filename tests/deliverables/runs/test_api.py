"""Runs API: list with filters, start (202 + Location, refusals 409/403/400, Idempotency-Key, traceparent, through a
real HTTP server too), detail, results (decisions, provenance links, never an amount not concluded), findings
(keyset pages from the Parquet artifact), cancel; the OpenAPI schema."""
from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command

from console.api.pagination import INVALID_CURSOR
from console.models import AuditEvent
from deliverables.models import CalculationRun, RunNumber
from deliverables.runs import selectors
from deliverables.runs import services as runs
from deliverables.runs.selectors import number_url
from tests.deliverables.runs.conftest import CURATED_DB, PERIOD, execute
from tests.deliverables.runs.test_pages import migration_sample  # noqa: F401 (fixture)
from tests.support.api import Api

BODY = {"period_start": "2025-01-01", "period_end": "2025-12-31"}


def start(actor, **options) -> CalculationRun:
    return runs.run_start(actor=actor, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=False, **options)


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


@CURATED_DB
def test_the_list_filters_by_state_and_client(contract_sample, olivia, client):
    client_id = contract_sample.client_of(contract_sample.evidence.packets[0][0])
    everyone = execute(start(olivia))
    one = start(olivia, client=client_id)
    client.force_login(olivia)

    listed = client.get("/api/runs/").json()["results"]
    assert [r["id"] for r in listed] == [one.pk, everyone.pk]
    assert client.get("/api/runs/?state=succeeded").json()["results"][0]["result_sha256"] == everyone.result_sha256
    assert [r["id"] for r in client.get(f"/api/runs/?client={client_id}").json()["results"]] == [one.pk]
    assert [r["id"] for r in client.get("/api/runs/?client=all").json()["results"]] == [everyone.pk]
    assert client.get("/api/runs/?period_from=2030-01-01").json()["results"] == []


@CURATED_DB
def test_post_starts_a_run_with_the_callers_trace(contract_sample, olivia, client):
    client.force_login(olivia)
    trace = "00-" + "12" * 16 + "-" + "34" * 8 + "-01"

    answer = client.post("/api/runs/", BODY, content_type="application/json", HTTP_TRACEPARENT=trace)

    run = CalculationRun.objects.get()
    assert answer.status_code == 202  # queued: the work runs on the worker
    assert answer["Location"] == f"http://testserver/api/runs/{run.pk}/"
    body = answer.json()
    assert body["state"] == "queued" and body["trace_id"] == "12" * 16 and body["requested_by"] == "olivia"
    assert [s["name"] for s in body["steps"]] == list(runs.STEPS)


@CURATED_DB
def test_post_with_an_idempotency_key_starts_one_run(contract_sample, olivia, client):
    client.force_login(olivia)

    first = client.post("/api/runs/", BODY, content_type="application/json", HTTP_IDEMPOTENCY_KEY="run-2025")
    again = client.post("/api/runs/", BODY, content_type="application/json", HTTP_IDEMPOTENCY_KEY="run-2025")

    assert first.status_code == again.status_code == 202
    assert again["Idempotent-Replayed"] == "true" and again["Location"] == first["Location"]
    assert CalculationRun.objects.count() == 1


@CURATED_DB
def test_post_of_migration_only_claims_is_refused_409_and_audited(migration_sample, olivia, client):  # noqa: F811
    client.force_login(olivia)

    answer = post(client, "/api/runs/", BODY)

    assert answer.status_code == 409
    assert "promoted for migration and reconciliation only" in answer.json()["detail"]
    assert not CalculationRun.objects.exists()
    assert AuditEvent.objects.filter(action="deliverables.run.refused").exists()


@pytest.mark.django_db
def test_post_by_a_reviewer_is_forbidden_and_bad_input_names_the_field(cecilia, olivia, client):
    client.force_login(cecilia)
    assert post(client, "/api/runs/", BODY).status_code == 403

    client.force_login(olivia)
    answer = post(client, "/api/runs/", {"period_start": "2025-12-31", "period_end": "2025-01-01"})
    assert answer.status_code == 400 and "period_end" in answer.json()
    answer = post(client, "/api/runs/", {**BODY, "client": "not an id"})
    assert answer.status_code == 400 and "client" in answer.json()


@CURATED_DB
def test_detail_results_and_findings_of_a_succeeded_run(contract_sample, olivia, client):
    first = execute(start(olivia))
    run = execute(start(olivia))
    client.force_login(olivia)

    detail = client.get(f"/api/runs/{run.pk}/").json()
    assert detail["state"] == "succeeded" and detail["result_sha256"] == run.result_sha256
    assert detail["comparison"] == {"run": first.pk, "same": True, "url": f"http://testserver/api/runs/{first.pk}/"}
    assert detail["inputs"]["claims"]["promotion_url"].endswith(
        f"/promotions/{run.inputs['claims']['promotion_request']}/")
    assert detail["worker_pid"] and detail["task_id"] == "test" and detail["queue"] == "runs"

    results = client.get(f"/api/runs/{run.pk}/results/?page_size=500").json()["results"]
    assert len(results) == RunNumber.objects.filter(run=run).count()
    for number in results:
        assert number["provenance_url"] == "http://testserver" + number_url(run.pk, number["key"])
        if number["decision"] == "not_concluded":
            assert number["amount"] is None and number["indicative_amount"] is None
            assert number["missing"] or number["kind"] == "savings", number  # savings name the flags they wait on
    held = client.get(f"/api/runs/{run.pk}/results/?decision=not_concluded&kind=awp_guarantee").json()["results"]
    assert held and {(n["decision"], n["kind"]) for n in held} == {("not_concluded", "awp_guarantee")}

    page = client.get(f"/api/runs/{run.pk}/findings/?page_size=20").json()
    assert len(page["results"]) == min(20, run.findings_count) and page["previous"] is None
    keys = [f["key"] for f in page["results"]]
    if run.findings_count > 20:
        following = client.get(page["next"]).json()
        assert not set(keys) & {f["key"] for f in following["results"]}
        back = client.get(following["previous"]).json()
        assert [f["key"] for f in back["results"]] == keys
    finding = page["results"][0]
    assert finding["provenance_url"].endswith(number_url(run.pk, finding["key"]))
    assert finding["key"] == f"finding:{finding['kind']}:{finding['claim_id']}"
    kind = finding["kind"]
    only = client.get(f"/api/runs/{run.pk}/findings/?kind={kind}&page_size=500").json()["results"]
    assert only and {f["kind"] for f in only} == {kind}
    assert client.get(f"/api/runs/{run.pk}/findings/?kind=nope").status_code == 400


@CURATED_DB
def test_cancel_a_queued_run_then_a_second_cancel_is_409(contract_sample, olivia, cecilia, client):
    run = start(olivia)
    client.force_login(cecilia)
    assert client.post(f"/api/runs/{run.pk}/cancel/").status_code == 403

    client.force_login(olivia)
    answer = client.post(f"/api/runs/{run.pk}/cancel/")
    assert answer.status_code == 200 and answer.json()["state"] == "cancelled"
    assert answer.json()["cancelled_by"] == "olivia"
    assert client.post(f"/api/runs/{run.pk}/cancel/").status_code == 409
    assert client.get(f"/api/runs/{run.pk}/findings/").status_code == 409


@CURATED_DB
def test_post_through_a_real_server_answers_202_with_location(contract_sample, olivia, live_server):
    api = Api.with_token(live_server.url, olivia)

    answer = api.post("/api/runs/", BODY)

    run = CalculationRun.objects.get()
    assert answer.status_code == 202 and answer.headers["Location"] == f"{live_server.url}/api/runs/{run.pk}/"
    assert api.get(answer.headers["Location"].removeprefix(live_server.url)).json()["id"] == run.pk


@CURATED_DB
def test_a_refusal_through_a_real_server_is_409(migration_sample, olivia, live_server):  # noqa: F811
    answer = Api.with_token(live_server.url, olivia).post("/api/runs/", BODY)

    assert answer.status_code == 409 and "backend contract" in answer.json()["detail"]


def test_the_schema_documents_the_runs_api_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    paths = yaml.safe_load(target.read_text())["paths"]
    assert {"get", "post"} <= set(paths["/api/runs/"])
    assert set(paths["/api/runs/"]["post"]["responses"]) >= {"202", "400", "403", "409"}
    assert set(paths["/api/runs/{id}/cancel/"]["post"]["responses"]) >= {"200", "403", "404", "409"}
    for url in ["/api/runs/{id}/", "/api/runs/{id}/results/", "/api/runs/{id}/findings/"]:
        assert "get" in paths[url], url
    parameters = {p["name"] for p in paths["/api/runs/"]["get"]["parameters"]}
    assert parameters >= {"client", "state", "period_from", "period_to"}
    parameters = {p["name"] for p in paths["/api/runs/{id}/findings/"]["get"]["parameters"]}
    assert parameters >= {"kind", "client", "pharmacy_npi", "decision", "after", "before"}


@CURATED_DB
def test_a_findings_cursor_that_is_not_one_is_400_naming_it(contract_sample, olivia, client):
    """`after=garbage` was the first page, as if no cursor were sent; a cursor is checked before the run's state."""
    run = start(olivia)
    client.force_login(olivia)
    for name in ("after", "before"):
        for value in ("garbage", "W10", "WyJhIl0"):  # not base64 of JSON; [], ["a"]: not a position
            refused = client.get(f"/api/runs/{run.pk}/findings/", {name: value})
            assert refused.status_code == 400, (name, value)
            assert refused.json() == {name: [INVALID_CURSOR]}
    position = selectors.encode_cursor(("k", "c", "1"))
    assert client.get(f"/api/runs/{run.pk}/findings/", {"after": position}).status_code == 409  # queued: none yet
