"""Long actions answer at once (catalogue item 48): a calculation run, a reconciliation, a workbook build, a
promotion's gate checks, a flag run and an audit verification are each queued for the worker; the request
answers within a second with the job's id and its progress URL (an API's Location, a form's redirect to its
progress page), and the job is still queued when the answer arrives: no HTTP worker did the work.

Here no worker consumes the broker (the messages are real, on the test Redis, emptied afterwards), so a job
done before the answer could only have been done inside the request. An intake upload and an evidence packet
upload answer 202 the same way (tests/evidence/test_intake_api.py, tests/evidence/packets/test_receipts.py).
"""
from __future__ import annotations

import re
import time

import pytest

from evidence.models import DomoDataset
from promotion.services import promotion_check
from tests.deliverables.reconciliation.conftest import (  # noqa: F401 (fixtures)
    GUARANTEE_FLOW,
    Mapped,
    contract_sample,
    curated_db,
    mapped,
    no_enqueue,
)

pytestmark = [pytest.mark.django_db(transaction=True, databases=["default", "curated"]), pytest.mark.catalogue(48)]

ANSWER_SECONDS = 1.0


def timed(call):
    started = time.perf_counter()
    response = call()
    return response, time.perf_counter() - started


def api_post(client, url: str, body: dict):
    return timed(lambda: client.post(url, body, content_type="application/json"))


def test_every_long_action_answers_within_a_second_with_its_job_and_its_progress(
        client, mapped: Mapped, adam, arthur):  # noqa: F811
    client.force_login(adam)  # the admin role may start each of them
    run, claims = mapped.run, DomoDataset.objects.filter(manifest=mapped.sample.manifest).order_by("pk").first()
    client_id = run.numbers.order_by("pk").values_list("client_account_id", flat=True).first()
    subject = mapped.subject(GUARANTEE_FLOW)
    actions = {
        "calculation run": ("/api/runs/", {"period_start": "2025-01-01", "period_end": "2025-12-31"}, "state"),
        "reconciliation": (f"/api/reconciliation/subjects/{subject.kind}/{subject.id}/reconciliations/",
                           {"run": run.pk}, "state"),
        "workbook build": ("/api/deliverables/", {"run": run.pk, "client": client_id, "kind": "workbook"}, "state"),
        "promotion gate checks": ("/api/promotions/", {"manifest": mapped.sample.manifest.pk,
                                                       "datasets": [claims.pk]}, "state"),
        "missing-evidence flag run": ("/api/evidence-flag-runs/", {"reason": "budget"}, "status"),
    }
    # The first request of a view imports and compiles, the first curated read opens that database's connection
    # (kept: conn_max_age): costs of a process's first minute, not of the action.
    for url in [*(url for url, _, _ in actions.values()), "/api/curated/"]:
        client.get(url)
    # Nor the process's first job: it opens the broker connection the later ones reuse (a flag run asked for
    # now; the timed one below is coalesced into it, queued and not started).
    first, first_seconds = api_post(client, "/api/evidence-flag-runs/", {"reason": "first"})
    assert first.status_code == 202, first.content[:300]
    timings = {"first job": round(first_seconds, 3)}
    for name, (url, body, state_field) in actions.items():
        response, seconds = api_post(client, url, body)
        timings[name] = round(seconds, 3)
        # 202 Accepted: queued. A promotion request is 201 Created: the request is itself the thing made (it waits
        # for a person's approval), its gate checks queued behind it.
        expected = 201 if name == "promotion gate checks" else 202
        assert response.status_code == expected, (name, response.status_code, response.content[:400])
        assert seconds < ANSWER_SECONDS, f"{name} took {seconds:.2f} s to answer"
        answer = response.json()
        assert answer["id"] and response["Location"] == answer["url"], name  # the job's id and where to follow it
        assert answer[state_field] in ("queued", "checking"), (name, answer[state_field])
        progress, seconds = timed(lambda: client.get(response["Location"]))  # noqa: B023
        assert progress.status_code == 200 and seconds < ANSWER_SECONDS, name
        assert progress.json()[state_field] == answer[state_field], name  # nobody took it: no worker runs here

    # The promotion's load: its request checked (in-process, as the worker would), then approved by another person.
    request_id = client.get("/api/promotions/").json()["results"][0]["id"]
    assert promotion_check(request_id=request_id).state == "ready"
    client.force_login(arthur)
    response, seconds = api_post(client, f"/api/promotions/{request_id}/approve/", {"comment": "figures match Domo"})
    assert response.status_code == 200 and seconds < ANSWER_SECONDS, (response.content[:400], seconds)
    timings["promotion load"] = round(seconds, 3)
    assert response.json()["state"] == "approved", response.json()["state"]  # the load waits for the worker
    assert client.get(f"/api/promotions/{request_id}/").json()["state"] == "approved"
    client.force_login(adam)

    # A form: the audit verification redirects to the trail's page, which follows the run by its id.
    client.get("/audit/")
    response, seconds = timed(lambda: client.post("/audit/verify/"))
    assert response.status_code == 302 and seconds < ANSWER_SECONDS, (response.status_code, seconds)
    run_id = re.search(r"verify=([\w-]+)", response["Location"]).group(1)
    progress = client.get(f"/audit/verify/{run_id}/")
    assert progress.status_code == 200 and "queued" in progress.content.decode().lower()
    print(f"answers (s): {timings}, audit verification {seconds:.3f}")
