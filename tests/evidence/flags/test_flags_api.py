"""The flags API: who reads, who asks for a run (operators, approvers, admins; 403 others), filters and keyset
pages, and POST through a real HTTP server (202 with a plain-str Location, coalesced, audited)."""
from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from console import clock
from console.models import AuditEvent
from evidence.flags.computed import flag_key
from evidence.flags.models import FlagRun, MissingEvidenceFlag
from tests.support.api import Api

CLIENT = "0015e00000Qm7AcAAJ"
OTHER = "0015e00000Zx4BdAAK"


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def make_flags() -> list[MissingEvidenceFlag]:
    run = FlagRun.objects.create(trigger="test", requested_by_label="test", status="succeeded")
    made = []
    for client, kind, ndc, status in [(CLIENT, "pricing", "00093015001", "open"), (CLIENT, "rebate", "00006027731",
                                      "open"), (OTHER, "pricing", "00093015001", "open"),
                                      (OTHER, "contract", "", "resolved")]:
        resolved = {"resolved_at": clock.now(), "resolved_by_run": run, "resolution": "no_longer_needed"} \
            if status == "resolved" else {}
        made.append(MissingEvidenceFlag.objects.create(
            key=flag_key(kind, client, dt.date(2025, 4, 1), "", ndc), kind=kind, client_account_id=client,
            period_start=dt.date(2025, 4, 1), period_end=dt.date(2025, 4, 30), ndc=ndc, holds_back=["x"],
            reason="No governed …", raised_by_run=run, last_seen_run=run, status=status, **resolved))
    return made


@pytest.mark.django_db
@pytest.mark.parametrize("persona, code", [("olivia", 200), ("arthur", 200), ("cecilia", 200), ("audrey", 200),
                                           ("adam", 200), ("oscar", 403)])
def test_flags_and_runs_are_read_with_view_provenance(request, persona, code):
    make_flags()
    user = request.getfixturevalue(persona)

    for path in ("/api/evidence/missing/", "/api/evidence-flag-runs/"):
        assert api(user).get(path).status_code == code


@pytest.mark.django_db
@pytest.mark.parametrize("persona, code", [("olivia", 202), ("arthur", 202), ("adam", 202), ("cecilia", 403),
                                           ("audrey", 403), ("oscar", 403)])
def test_operators_approvers_and_admins_may_ask_for_a_run_and_nobody_else(request, persona, code, broker):
    user = request.getfixturevalue(persona)

    response = api(user).post("/api/evidence-flag-runs/", {"reason": "new evidence arrived"}, format="json")

    assert response.status_code == code
    assert FlagRun.objects.count() == (1 if code == 202 else 0)


@pytest.mark.catalogue(48)
def test_a_run_is_requested_through_a_real_server_and_a_second_request_coalesces(live_server, broker, olivia,
                                                                                 arthur):
    response = Api.with_token(live_server.url, olivia).post("/api/evidence-flag-runs/", {"reason": "why not"})

    assert response.status_code == 202, response.text
    run = FlagRun.objects.get()
    url = f"{live_server.url}/api/evidence-flag-runs/{run.pk}/"
    assert response.headers["Location"] == url and response.json()["url"] == url
    assert response.json()["status"] == "queued" and response.json()["requested_by"] == "olivia"
    assert run.trigger == "api" and run.trigger_ref == "why not" and run.task_id  # sent after the commit
    event = AuditEvent.objects.get(action="evidence.flag_run.queued")
    assert event.actor == olivia and event.object_id == str(run.pk)

    again = Api.with_token(live_server.url, arthur).post("/api/evidence-flag-runs/", {})

    assert again.status_code == 202 and again.json()["id"] == run.pk  # queued and not started: the same run
    assert FlagRun.objects.count() == 1
    shown = Api.with_token(live_server.url, arthur).get(f"/api/evidence-flag-runs/{run.pk}/")
    assert shown.status_code == 200 and shown.json()["trigger"] == "api"


def test_the_schema_documents_the_flag_endpoints_without_warnings(tmp_path):
    import yaml
    from django.core.management import call_command

    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    paths = yaml.safe_load(target.read_text())["paths"]
    assert {"/api/evidence/missing/", "/api/evidence/missing/{id}/", "/api/evidence-flag-runs/",
            "/api/evidence-flag-runs/{id}/"} <= set(paths)
    assert "202" in paths["/api/evidence-flag-runs/"]["post"]["responses"]
