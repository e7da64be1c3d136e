"""Lineage events (deliverables.lineage) of a calculation run, the workbook built from it and its publication, read
back from the lake and received by a Marquez-like endpoint; a run that fails; an endpoint that is down."""
from __future__ import annotations

import datetime as dt
import json
import logging

import pytest

from console import clock
from deliverables import lineage
from deliverables.lineage.events import lake_namespace
from deliverables.models import CalculationRun, Publication, RunNumber
from deliverables.runs import services as runs
from promotion.models import GateResult
from tests.deliverables.lineage.conftest import by_name, events_of
from tests.deliverables.workbooks.conftest import (  # noqa: F401 (fixtures)
    PERIOD,
    a_client,
    build,
    contract_sample,
    curated_db,
    execute,
    no_enqueue,
    var_dir,
)

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "curated"])


def _check_run(run: CalculationRun) -> None:
    start, complete = events_of(run)
    assert [start["eventType"], complete["eventType"]] == ["START", "COMPLETE"]
    assert start["run"]["runId"] == complete["run"]["runId"] == lineage.run_id(run)
    assert complete["job"]["namespace"] == "leaf-takeover-console"
    assert complete["job"]["name"] == "deliverables.run.all-clients"
    assert complete["producer"] == lineage.PRODUCER
    assert complete["run"]["facets"]["leafConsole_object"]["traceId"] == run.trace_id
    assert start["outputs"] == []

    claims = run.inputs["claims"]
    inputs = by_name(complete["inputs"])
    read = inputs[f"curated/{claims['dataset_key']}"]
    assert read["facets"]["version"]["datasetVersion"] == str(claims["version"])
    assert read["inputFacets"]["inputStatistics"]["rowCount"] == claims["rows"]
    assert read["facets"]["leafConsole_integrity"]["checksum"] == claims["checksum"]
    gates = read["inputFacets"]["dataQualityAssertions"]["assertions"]
    promoted = GateResult.objects.filter(request_id=claims["promotion_request"], current=True)
    assert sorted(g["assertion"] for g in gates) == sorted(promoted.values_list("gate", flat=True))
    assert all(g["success"] and g["actual"] == "passed" for g in gates)
    assert run.inputs["evidence"]
    for revision in run.inputs["evidence"]:
        packet = inputs[f"evidence/{revision['kind']}/{revision['packet_id']}"]
        assert packet["facets"]["version"]["datasetVersion"] == str(revision["revision"])
        assert packet["facets"]["leafConsole_integrity"]["sha256"] == revision["sha256"]
        assert packet["facets"]["leafConsole_integrity"]["details"]["class"] == revision["class"]
    assert complete["run"]["facets"]["leafConsole_evidence"]["details"]["revisions"] == run.inputs["evidence"]

    outputs = by_name(complete["outputs"])
    numbers = outputs[f"deliverables/runs/{run.pk}/numbers"]
    assert numbers["outputFacets"]["outputStatistics"]["rowCount"] == RunNumber.objects.filter(run=run).count()
    assert numbers["facets"]["version"]["datasetVersion"] == run.result_sha256
    findings = outputs[run.findings_path]
    assert findings["namespace"] == lake_namespace()
    assert findings["facets"]["version"]["datasetVersion"] == run.findings_sha256
    assert findings["outputFacets"]["outputStatistics"]["rowCount"] == run.findings_count
    calculation = complete["job"]["facets"]
    assert calculation["leafConsole_calculation"]["details"]["version"] == run.calculation_version
    assert calculation["sourceCode"]["language"] == "sql"
    assert "-- pricing_findings" in calculation["sourceCode"]["sourceCode"]


def test_a_run_its_workbook_and_its_publication_are_in_the_lake_and_at_the_endpoint(
        contract_sample, olivia, arthur, var_dir, settings, receiver, dead_url, caplog):  # noqa: F811
    settings.OPENLINEAGE_URL = receiver.url
    run = execute(runs.run_start(actor=olivia, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=False))
    assert run.state == "succeeded", run.error
    _check_run(run)

    client = a_client(run)
    workbook = build(olivia, run, client)
    start, complete = events_of(workbook)
    assert [start["eventType"], complete["eventType"]] == ["START", "COMPLETE"]
    assert start["run"]["runId"] == complete["run"]["runId"] != lineage.run_id(run)
    assert complete["job"]["name"] == f"deliverables.workbook.{client}"
    assert set(by_name(complete["inputs"])) == {f"deliverables/runs/{run.pk}/numbers", run.findings_path}
    [file] = complete["outputs"]
    assert (file["namespace"], file["name"]) == (lake_namespace(), workbook.path)
    assert file["facets"]["leafConsole_integrity"]["sha256"] == workbook.sha256
    assert file["outputFacets"]["outputStatistics"]["size"] == workbook.bytes

    gates = [{"gate": "run_succeeded", "passed": True, "detail": f"run #{run.pk} succeeded"},
             {"gate": "inputs_current", "passed": True, "detail": "no newer version, no withdrawn revision"}]
    requested = clock.now()
    publication = Publication.objects.create(
        deliverable=workbook, client_account_id=client, kind=workbook.kind, sha256=workbook.sha256,
        state="published", version=1, requested_by=olivia, requested_at=requested, gates=gates, decided_by=arthur,
        decided_at=clock.now(), decision_comment="checked", published_at=clock.now(),
        path=f"published/{client}/workbook/1/{workbook.sha256}.xlsx")
    lineage.lineage_publication(publication)
    start, complete = events_of(publication)
    assert [start["eventType"], complete["eventType"]] == ["START", "COMPLETE"]
    assert start["run"]["runId"] == complete["run"]["runId"]
    assert complete["job"]["name"] == f"deliverables.publication.{client}.workbook"
    [read] = complete["inputs"]
    assert read["name"] == workbook.path
    assert [(a["assertion"], a["success"]) for a in read["inputFacets"]["dataQualityAssertions"]["assertions"]] == [
        ("run_succeeded", True), ("inputs_current", True)]
    [published] = complete["outputs"]
    assert published["name"] == publication.path
    assert complete["run"]["facets"]["leafConsole_publication"]["details"]["decided_by"] == "arthur"

    # The endpoint received every event, the same JSON, at /api/v1/lineage.
    stored = [e for obj in (run, workbook, publication) for e in events_of(obj)]
    assert {path for path, _ in receiver.received} == {"/api/v1/lineage"}
    assert sorted(json.dumps(e, sort_keys=True) for _, e in receiver.received) == sorted(
        json.dumps(e, sort_keys=True) for e in stored)

    # An endpoint that is down fails nothing: the build succeeds, the lake has its events, the log says why.
    settings.OPENLINEAGE_URL = dead_url
    settings.OPENLINEAGE_TIMEOUT_SECONDS = 1
    with caplog.at_level(logging.WARNING, logger="deliverables.lineage"):
        again = build(olivia, run, client)
    assert again.state == "succeeded" and again.sha256 == workbook.sha256
    assert [e["eventType"] for e in events_of(again)] == ["START", "COMPLETE"]
    warned = [r.getMessage() for r in caplog.records if r.name == "deliverables.lineage"]
    assert len(warned) == 2 and all(dead_url in m and f"trace_id={again.trace_id}" in m for m in warned)


def test_a_run_that_fails_reports_its_error(curated_db, olivia, var_dir):  # noqa: F811
    trace = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
    queued = CalculationRun.objects.create(
        period_start=PERIOD[0], period_end=PERIOD[1], dataset_key="no-such-dataset", requested_by=olivia,
        traceparent=trace, trace_id="ab" * 16, queue="runs")
    run = runs.run_execute(run_id=queued.pk, task_id="test")
    assert run.state == "failed" and run.error
    start, fail = events_of(run)
    assert [start["eventType"], fail["eventType"]] == ["START", "FAIL"]
    assert start["run"]["runId"] == fail["run"]["runId"] == lineage.run_id(run)
    error = fail["run"]["facets"]["errorMessage"]
    assert error["message"] == run.error and error["programmingLanguage"] == "python"
    assert [i["name"] for i in fail["inputs"]] == ["curated/no-such-dataset"]
    assert fail["outputs"] == []


def test_a_lost_worker_a_cancelled_run_and_a_silent_run_each_end_their_lineage_run(olivia, var_dir):  # noqa: F811
    from deliverables import jobs

    trace = "ef" * 16
    old = clock.now() - dt.timedelta(hours=2)
    rows = {"period_start": PERIOD[0], "period_end": PERIOD[1], "dataset_key": "claims", "requested_by": olivia,
            "traceparent": f"00-{trace}-{'01' * 8}-01", "trace_id": trace, "queue": "runs", "state": "running",
            "attempts": 1, "started_at": old, "heartbeat_at": old, "worker_host": "lost-host", "worker_pid": 4242}
    lost = CalculationRun.objects.create(**rows)
    silent = CalculationRun.objects.create(**rows)
    first_attempt = lineage.run_id(lost)

    taken = jobs.claim(runs.RUNS, lost.pk, task_id="again", queue="runs")  # the redelivered task takes it over
    assert taken.attempts == 2
    runs.run_cancel(actor=olivia, run=taken)
    fail, start, abort = events_of(lost)
    assert (fail["eventType"], fail["run"]["runId"]) == ("FAIL", first_attempt)
    assert "worker lost-host pid 4242 lost; taken over" in fail["run"]["facets"]["errorMessage"]["message"]
    assert (start["eventType"], abort["eventType"]) == ("START", "ABORT")
    assert start["run"]["runId"] == abort["run"]["runId"] == lineage.run_id(taken) != first_attempt

    CalculationRun.objects.filter(pk=silent.pk).update(heartbeat_at=old)
    assert runs.runs_sweep_stale() == [silent.pk]
    [swept] = events_of(silent)
    assert swept["eventType"] == "FAIL" and swept["run"]["runId"] == lineage.run_id(silent)
    assert swept["run"]["facets"]["errorMessage"]["message"].startswith("abandoned: no heartbeat since")
