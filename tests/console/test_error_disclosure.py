"""Error disclosure (ASVS 16.5.1): an unexpected error in an API view and in a task answers a generic message with
the id to quote, never a traceback, SQL or a secret; the log holds the detail under that same id."""
from __future__ import annotations

import pytest
from django.test import Client
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from console.urls import urlpatterns as console_urls
from evidence.choices import IntakeStatus
from evidence.intake.services import staging_root
from evidence.models import IntakeRun
from evidence.tasks import intake_run
from tests.evidence.conftest import export_zip  # noqa: F401 (a fixture)
from tests.support.logs import log_lines

pytestmark = [pytest.mark.catalogue(52)]

SECRET = "password=hunter2-the-secret"
SQL = 'SELECT "auth_user"."password" FROM "auth_user"'
LEAKS = (SECRET, "hunter2", SQL, "Traceback", "RuntimeError", 'File "', "site-packages")


class Explodes(APIView):
    def get(self, request):
        if request.query_params.get("calm"):
            return Response({"ok": True})
        raise RuntimeError(f"{SQL} failed: {SECRET}")


# This module is the URL conf of the view test: the console's URLs and an API view that fails unexpectedly.
urlpatterns = [*console_urls, path("api/test-explodes/", Explodes.as_view())]
handler404 = "console.views.not_found"
handler500 = "console.errors.server_error"


def assert_no_leak(text: str) -> None:
    for leak in LEAKS:
        assert leak not in text, leak


@pytest.mark.urls(__name__)
def test_an_api_view_error_answers_generic_json_with_the_request_id_and_the_log_has_the_detail(settings, olivia):
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    client.force_login(olivia)
    assert client.get("/api/test-explodes/", {"calm": "1"}).status_code == 200
    with log_lines() as lines:
        response = client.get("/api/test-explodes/", HTTP_X_REQUEST_ID="req-boom-0001")
    assert response.status_code == 500 and response["Content-Type"] == "application/json"
    body = response.json()
    assert body["request_id"] == response["X-Request-ID"] == "req-boom-0001"
    assert "req-boom-0001" in body["detail"] and "log" in body["detail"]
    assert_no_leak(response.content.decode())
    [logged] = [line for line in lines.getvalue().splitlines() if "Internal Server Error" in line]
    assert "[req-boom-0001]" in logged and SECRET in logged and "Traceback" in logged and "RuntimeError" in logged


def test_a_task_error_records_a_generic_reason_with_its_reference_and_logs_the_detail(
    client, olivia, export_zip  # noqa: F811
):
    client.force_login(olivia)
    with export_zip.open("rb") as handle:
        assert client.post("/api/intake-runs/", {"file": handle}).status_code == 202
    run = IntakeRun.objects.get()
    # A real fault no one planned for: a file where the run's work folder goes (a disk left in a bad state);
    # clearing it fails with an OSError naming the server's paths.
    blocked = staging_root() / f"run-{run.pk}"
    blocked.write_text(SECRET)

    try:
        with log_lines() as lines:
            intake_run.apply(args=[run.pk])  # the task as a worker runs it, in this process
    finally:
        blocked.unlink()  # the staging folder outlives the test (per process): leave no trap for the next run #1

    run.refresh_from_db()
    reference = f"intake-{run.pk}"
    assert run.status == IntakeStatus.FAILED
    assert run.error.startswith(f"An unexpected error stopped this job (reference {reference})")
    assert str(blocked) not in run.error and "Errno" not in run.error
    answer = client.get(f"/api/intake-runs/{run.pk}/")
    assert answer.json()["error"] == run.error and str(blocked) not in answer.content.decode()
    page = client.get(f"/sources/intake/{run.pk}/").content.decode()
    assert reference in page and str(blocked) not in page and "Traceback" not in page
    [logged] = [line for line in lines.getvalue().splitlines() if f"(reference {reference})" in line]
    assert f"[{reference}]" in logged and "Traceback" in logged and str(blocked) in logged
