"""Source intake pages: upload, intake runs, manifests and the objects inside; who may see them, what they
show, how they page and filter, and how many queries they cost."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from console import clock
from console.models import AuditEvent
from evidence import views
from evidence.choices import IntakeSource, IntakeStatus
from evidence.intake import pdp
from evidence.intake.services import intake_create, staging_root
from evidence.models import IntakeRun, SourceManifest
from tests.evidence import exports
from tests.evidence.conftest import HTML_FORMULA, UNKNOWN_GROUP, ingest, invalid_export, rich_export

KIB = 1024


def page_urls(manifest: SourceManifest) -> dict[str, str]:
    """Every reading page, on the objects of one manifest."""
    return {
        "home-intake": "/sources/intake/",
        "manifests": "/sources/",
        "manifest": f"/sources/{manifest.pk}/",
        "issues": "/sources/issues/",
        "intake": f"/sources/intake/{manifest.intake_run_id}/",
        "running": "/sources/intake/running/",
        "dataset": f"/sources/datasets/{manifest.datasets.get(domo_id=exports.CLAIMS).pk}/",
        "card": f"/sources/cards/{manifest.cards.get(domo_id=exports.CARD).pk}/",
        "dataflow": f"/sources/dataflows/{manifest.dataflows.get().pk}/",
    }


def upload_folders() -> set[str]:
    return {p.name for p in staging_root().glob("upload-*")}


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- who may see and upload -----------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_login(client, received):
    for url in [*page_urls(received).values(), "/sources/intake/upload/"]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url


def test_outsiders_are_refused_every_page(client, oscar, received):
    client.force_login(oscar)
    for url in [*page_urls(received).values(), "/sources/intake/upload/"]:
        assert client.get(url).status_code == 403, url


def test_outsiders_see_no_sources_in_the_navigation_nor_intake_on_home(client, oscar):
    client.force_login(oscar)
    body = client.get("/").content.decode()
    assert "/sources/" not in body and 'id="intake"' not in body


@pytest.mark.parametrize("persona", ["olivia", "arthur", "cecilia", "audrey", "adam"])
def test_every_role_reads_every_evidence_page(client, request, persona, received):
    client.force_login(request.getfixturevalue(persona))
    for name, url in page_urls(received).items():
        assert client.get(url).status_code == 200, name


def test_the_reviewer_cannot_upload(client, cecilia, export_zip):
    client.force_login(cecilia)
    assert client.get("/sources/intake/upload/").status_code == 403
    before = upload_folders()
    with export_zip.open("rb") as handle:
        assert client.post("/sources/intake/upload/", {"file": handle}).status_code == 403
    assert not IntakeRun.objects.exists()
    assert upload_folders() == before
    assert "Upload an export" not in client.get("/sources/intake/").content.decode()


def test_the_operator_sees_the_upload_page_with_its_limit(client, olivia, settings):
    settings.INTAKE_MAX_UPLOAD_BYTES = 3 * 1024**3
    client.force_login(olivia)
    response = client.get("/sources/intake/upload/")
    assert response.status_code == 200
    body = text(response)
    assert 'accept=".zip,application/zip"' in body
    assert "3 GiB (3,221,225,472 bytes)" in body
    assert 'hx-encoding="multipart/form-data"' in body and 'aria-label="Upload progress"' in body


# --- upload ----------------------------------------------------------------------------------------


def test_an_upload_creates_a_queued_run_and_enqueues_it_after_commit(
    client, olivia, export_zip, django_capture_on_commit_callbacks
):
    client.force_login(olivia)
    with django_capture_on_commit_callbacks(execute=False) as callbacks, export_zip.open("rb") as handle:
        response = client.post("/sources/intake/upload/", {"file": handle})
    run = IntakeRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/sources/intake/{run.pk}/"
    assert (run.status, run.source, run.original_name, run.requested_by) == (
        IntakeStatus.QUEUED,
        IntakeSource.UPLOAD,
        "leafiq-export.zip",
        olivia,
    )
    assert len(callbacks) == 1  # the task goes to the workers only once the run is committed
    staged = Path(run.staged_path)
    assert staged.read_bytes() == export_zip.read_bytes()


def test_an_upload_is_audited_with_the_uploader_the_file_name_and_its_hash(client, olivia, export_zip):
    client.force_login(olivia)
    with export_zip.open("rb") as handle:
        client.post("/sources/intake/upload/", {"file": handle})
    run = IntakeRun.objects.get()
    queued = AuditEvent.objects.get(action="intake.queued", object_id=str(run.pk))
    assert (queued.actor, queued.actor_label) == (olivia, "olivia")
    assert queued.after == {"source": "upload", "original_name": "leafiq-export.zip", "status": "queued"}
    uploaded = AuditEvent.objects.get(action="intake.uploaded", object_id=str(run.pk))
    assert uploaded.actor == olivia and uploaded.object_type == "evidence.intakerun"
    assert uploaded.after == {
        "source": "upload",
        "original_name": "leafiq-export.zip",
        "bytes": export_zip.stat().st_size,
        "sha256": hashlib.sha256(export_zip.read_bytes()).hexdigest(),
    }
    assert uploaded.correlation_id == queued.correlation_id  # one request, one correlation id


def test_an_htmx_upload_is_sent_on_to_the_run_page(client, olivia, export_zip):
    client.force_login(olivia)
    with export_zip.open("rb") as handle:
        response = client.post("/sources/intake/upload/", {"file": handle}, HTTP_HX_REQUEST="true")
    run = IntakeRun.objects.get()
    assert response.status_code == 200 and response["HX-Redirect"] == f"/sources/intake/{run.pk}/"


def test_an_upload_needs_its_csrf_token(olivia, export_zip):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(olivia)
    before = upload_folders()
    with export_zip.open("rb") as handle:
        assert strict.post("/sources/intake/upload/", {"file": handle}).status_code == 403
    assert not IntakeRun.objects.exists()
    assert upload_folders() == before


def test_a_file_that_is_not_a_zip_is_refused_and_not_kept(client, olivia, tmp_path):
    client.force_login(olivia)
    folder = tmp_path / "manifest.json"
    folder.write_text("{}")
    before = upload_folders()
    with folder.open("rb") as handle:
        response = client.post("/sources/intake/upload/", {"file": handle})
    assert response.status_code == 400
    assert "Upload the export as a .zip of its folder" in text(response)
    assert not IntakeRun.objects.exists()
    assert upload_folders() == before
    (event,) = AuditEvent.objects.filter(action="upload.refused")
    assert (event.actor, event.after["via"], event.after["original_name"]) == (olivia, "page", "manifest.json")


def test_an_upload_without_a_file_says_what_to_do(client, olivia):
    client.force_login(olivia)
    response = client.post("/sources/intake/upload/", {})
    assert response.status_code == 400
    assert "Choose the export&#x27;s .zip file to upload." in response.content.decode()


class Untouchable:
    """A request body that counts every read: an upload refused up front must never read it."""

    def __init__(self):
        self.reads = 0

    def read(self, *args):
        self.reads += 1
        return b""

    readline = read


def test_an_upload_declared_over_the_limit_is_refused_before_its_body_is_read(
    client, olivia, settings, export_zip
):
    settings.INTAKE_MAX_UPLOAD_BYTES = 2 * KIB
    client.force_login(olivia)
    body = Untouchable()
    before = upload_folders()
    with export_zip.open("rb") as handle:
        response = client.post(
            "/sources/intake/upload/",
            {"file": handle},
            CONTENT_LENGTH=str(5 * 1024**3),
            **{"wsgi.input": body},
        )
    assert response.status_code == 413
    assert body.reads == 0
    page = text(response)
    assert "This upload is 5 GiB (5,368,709,120 bytes)" in page
    assert "at most 2 KiB (2,048 bytes) (INTAKE_MAX_UPLOAD_BYTES)" in page
    assert not IntakeRun.objects.exists()
    assert upload_folders() == before


def test_an_upload_that_grows_past_the_limit_while_streaming_is_stopped_and_removed(
    client, olivia, settings, tmp_path
):
    settings.INTAKE_MAX_UPLOAD_BYTES = 2 * KIB  # the multipart allowance lets the body in; the count stops it
    client.force_login(olivia)
    big = tmp_path / "big.zip"
    big.write_bytes(b"PK" + b"x" * (4 * KIB))
    before = upload_folders()
    with big.open("rb") as handle:
        response = client.post("/sources/intake/upload/", {"file": handle})
    assert response.status_code == 413
    assert "at most 2 KiB (2,048 bytes)" in text(response)
    assert not IntakeRun.objects.exists()
    assert upload_folders() == before


def test_an_upload_of_exactly_the_limit_is_received(client, olivia, settings, tmp_path):
    settings.INTAKE_MAX_UPLOAD_BYTES = 2 * KIB
    client.force_login(olivia)
    exact = tmp_path / "exact.zip"
    exact.write_bytes(b"PK" + b"x" * (2 * KIB - 2))
    with exact.open("rb") as handle:
        assert client.post("/sources/intake/upload/", {"file": handle}).status_code == 302
    assert IntakeRun.objects.get().original_name == "exact.zip"


# --- the intake run page ---------------------------------------------------------------------------


def queued_run(actor=None, name="export.zip") -> IntakeRun:
    folder = staging_root() / "test-runs"
    folder.mkdir(exist_ok=True)
    return intake_create(
        actor=actor, source=IntakeSource.UPLOAD, original_name=name, staged_path=folder / name, enqueue=False
    )


def test_a_running_intake_shows_its_stage_and_progress_and_polls(client, olivia):
    run = queued_run(olivia)
    IntakeRun.objects.filter(pk=run.pk).update(
        status=IntakeStatus.RUNNING, stage="writing bronze", progress=40
    )
    client.force_login(olivia)
    body = text(client.get(f"/sources/intake/{run.pk}/"))
    assert "Running" in body and "writing bronze" in body
    assert 'aria-valuenow="40"' in body and 'class="progress-fill" data-value="40"' in body
    assert f'hx-get="/sources/intake/{run.pk}/" hx-trigger="every 1s"' in body


def test_htmx_polls_get_only_the_progress_fragment(client, olivia):
    run = queued_run(olivia)
    client.force_login(olivia)
    response = client.get(f"/sources/intake/{run.pk}/", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="intake-progress"')
    assert "<html" not in body and "Waiting for a worker" in body


def test_a_finished_intake_stops_polling_and_links_its_manifest(client, olivia, received):
    client.force_login(olivia)
    body = text(client.get(f"/sources/intake/{received.intake_run_id}/"))
    assert "hx-trigger" not in body
    assert f'href="/sources/{received.pk}/"' in body and "Open the manifest LIQ-20261120-0001" in body
    assert 'aria-valuenow="100"' in body


def test_a_failed_intake_shows_its_error_and_stops_polling(client, olivia):
    run = queued_run(olivia)
    IntakeRun.objects.filter(pk=run.pk).update(status=IntakeStatus.RUNNING)
    run.refresh_from_db()
    run.fail("IntakeError: /var/intake/x.zip: nothing to receive (the staged export is gone)")
    client.force_login(olivia)
    body = text(client.get(f"/sources/intake/{run.pk}/"))
    assert "The intake failed." in body and "nothing to receive (the staged export is gone)" in body
    assert "hx-trigger" not in body


def test_a_missing_run_is_404(client, olivia):
    client.force_login(olivia)
    assert client.get("/sources/intake/999999/").status_code == 404


# --- intake list -----------------------------------------------------------------------------------


def test_the_intake_list_is_empty_with_what_to_do_next(client, olivia, cecilia):
    client.force_login(olivia)
    assert "Upload a Leaf IQ export (.zip)" in text(client.get("/sources/intake/"))
    client.force_login(cecilia)
    assert "Ask an operator to upload the Leaf IQ export" in text(client.get("/sources/intake/"))


def test_the_intake_list_filters_by_status_and_source(client, olivia, received):
    queued = queued_run(olivia)
    client.force_login(olivia)
    ids = lambda response: [run.pk for run in response.context["page"].items]  # noqa: E731
    assert ids(client.get("/sources/intake/", {"status": "queued"})) == [queued.pk]
    assert ids(client.get("/sources/intake/", {"source": "command"})) == [received.intake_run_id]
    assert ids(client.get("/sources/intake/")) == [queued.pk, received.intake_run_id]
    empty = client.get("/sources/intake/", {"status": "failed"})
    assert ids(empty) == [] and "No intake runs match these filters." in text(empty)


def test_an_unknown_status_filter_is_reported_not_ignored(client, olivia):
    client.force_login(olivia)
    response = client.get("/sources/intake/", {"status": "exploded"})
    assert response.context["page"] is None
    assert "Select a valid choice" in text(response)


# --- manifests -------------------------------------------------------------------------------------


def test_the_manifest_list_is_empty_with_what_to_do_next(client, olivia, cecilia):
    client.force_login(olivia)
    assert "No export has been received yet." in text(client.get("/sources/"))
    assert "Upload a Leaf IQ export (.zip)" in text(client.get("/sources/"))
    client.force_login(cecilia)
    assert "Ask an operator to upload the Leaf IQ export" in text(client.get("/sources/"))


@pytest.fixture
def three_manifests(db, tmp_path):
    """Three receipts on three days: partial, invalid, complete."""
    made = []
    for day, export in [(20, rich_export()), (21, invalid_export()), (22, exports.Export())]:
        if day == 22:
            export.manifest["load_id"] = "LIQ-20261122-0003"
        with clock.frozen(dt.datetime(2026, 11, day, 9, 30, tzinfo=dt.timezone.utc)):
            made.append(ingest(export.write(tmp_path / f"export-{day}")))
    return made


def listed(response) -> list[int]:
    assert response.status_code == 200, response.content[:500]
    return [manifest.pk for manifest in response.context["page"].items]


def test_the_manifest_list_shows_claim_verdict_and_issue_counts_newest_first(client, olivia, three_manifests):
    client.force_login(olivia)
    response = client.get("/sources/")
    assert listed(response) == [m.pk for m in reversed(three_manifests)]
    body = text(response)
    assert "LIQ-20261122-0003" in body and "1 error" in body and "1 warning" in body
    assert '2026-11-21</span> <span class="hour">09:30:00 UTC' in body


@pytest.mark.parametrize(
    "filters, expected",
    [
        ({"status": "invalid"}, [1]),
        ({"status": "partial"}, [0]),
        ({"load_id": "LIQ-20261122-0003"}, [2]),
        ({"received_from": "2026-11-21"}, [2, 1]),
        ({"received_until": "2026-11-21"}, [1, 0]),
        ({"received_from": "2026-11-21", "received_until": "2026-11-21"}, [1]),
        ({"status": "complete", "received_until": "2026-11-21"}, []),
        # The calendar's edges (found by the API fuzz: the day after 9999-12-31 answered 500).
        ({"received_from": "0001-01-01", "received_until": "9999-12-31"}, [2, 1, 0]),
    ],
)
def test_manifest_filters_are_the_same_on_the_page_and_the_api(
    client, olivia, three_manifests, filters, expected
):
    client.force_login(olivia)
    wanted = [three_manifests[i].pk for i in expected]
    assert listed(client.get("/sources/", filters)) == wanted
    assert [m["id"] for m in client.get("/api/manifests/", filters).json()["results"]] == wanted


def test_the_manifest_list_pages_by_keyset(client, olivia, three_manifests, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    client.force_login(olivia)
    newest, middle, oldest = reversed(three_manifests)
    first = client.get("/sources/")
    assert listed(first) == [newest.pk, middle.pk]
    assert first.context["prev_url"] is None and first.context["next_url"] == f"?after={middle.pk}"
    with CaptureQueriesContext(connection) as queries:
        second = client.get("/sources/", {"after": middle.pk})
    assert listed(second) == [oldest.pk]
    assert second.context["next_url"] is None and second.context["prev_url"] == f"?before={oldest.pk}"
    page_query = next(q["sql"] for q in queries if 'FROM "evidence_sourcemanifest"' in q["sql"])
    assert "OFFSET" not in page_query.upper() and '"evidence_sourcemanifest"."id" <' in page_query
    back = client.get("/sources/", {"before": oldest.pk})
    assert listed(back) == [newest.pk, middle.pk] and back.context["prev_url"] is None


def test_paging_keeps_the_filters(client, olivia, three_manifests, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 1)
    client.force_login(olivia)
    first = client.get("/sources/", {"received_from": "2026-11-21"})
    assert first.context["next_url"] == f"?received_from=2026-11-21&after={three_manifests[2].pk}"
    assert listed(client.get("/sources/" + first.context["next_url"])) == [three_manifests[1].pk]


def test_htmx_filtering_returns_only_the_results(client, olivia, three_manifests):
    client.force_login(olivia)
    body = client.get("/sources/", {"status": "invalid"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in body and "LIQ-20261121-0002" in body and "LIQ-20261122-0003" not in body


def test_filters_that_match_nothing_say_so(client, olivia, three_manifests):
    client.force_login(olivia)
    assert "No source manifests match these filters." in text(
        client.get("/sources/", {"load_id": "LIQ-19990101-0001"})
    )


# --- manifest detail -------------------------------------------------------------------------------


def test_the_manifest_shows_the_exporters_claim_beside_the_consoles_verdict(client, olivia, received_invalid):
    client.force_login(olivia)
    body = text(client.get(f"/sources/{received_invalid.pk}/"))
    claim = body[body.index('id="claim"') : body.index('id="verdict"')]
    verdict = body[body.index('id="verdict"') : body.index('id="issues"')]
    assert ">complete<" in claim and "leaf-iq 4.2.0" in claim and "leafhealth.domo.com" in claim
    assert ">Invalid<" in verdict and "(the exporter claimed complete)" in verdict
    assert received_invalid.manifest_sha256 in verdict


def test_the_manifest_groups_issues_by_severity_with_file_row_and_column(client, olivia, received_invalid):
    client.force_login(olivia)
    response = client.get(f"/sources/{received_invalid.pk}/")
    [(severity, _label, count, issues)] = response.context["detail"].issues_by_severity
    assert (severity, count) == ("error", 1)
    body = text(response)
    assert '<td class="mono issue-file">' + exports.CLAIMS_CSV + "</td>" in body
    assert '<td class="mono issue-row">2</td>' in body and '<td class="issue-column">fill_date</td>' in body
    assert "CSV_BAD_VALUE" in body


def test_a_clean_manifest_says_it_has_no_issues_and_what_that_allows(client, olivia, tmp_path):
    manifest = ingest(exports.Export().write(tmp_path / "clean"))
    client.force_login(olivia)
    assert "No issues." in text(client.get(f"/sources/{manifest.pk}/"))


def test_the_manifest_lists_files_with_hashes_sizes_and_where_they_are_kept(client, olivia, received):
    client.force_login(olivia)
    body = text(client.get(f"/sources/{received.pk}/"))
    csv_file = received.files.get(path=exports.CLAIMS_CSV)
    assert csv_file.sha256 in body and re.search(rf'<td class="num">{csv_file.bytes}\s*</td>', body)
    assert csv_file.bronze_path in body
    assert received.bronze_prefix in body and received.silver_prefix in body


def test_the_manifest_lists_the_objects_inside(client, olivia, received):
    client.force_login(olivia)
    body = text(client.get(f"/sources/{received.pk}/"))
    for link in page_urls(received)["dataset"], page_urls(received)["card"], page_urls(received)["dataflow"]:
        assert f'href="{link}"' in body
    assert "Claims" in body and "Paid by member" in body and "Claims by pharmacy" in body


def test_the_manifest_shows_what_the_exporter_said_is_missing(client, olivia, tmp_path):
    export = exports.Export()
    del export.files[exports.CARD_GOLDEN]
    export.manifest["cards"][0].pop("golden")
    export.manifest["cards"][0].pop("golden_captured_at")
    export.manifest["status"] = "partial"
    export.manifest["missing"] = [{"kind": "golden", "id": exports.CARD, "reason": "card render timed out"}]
    manifest = ingest(export.write(tmp_path / "partial"))
    client.force_login(olivia)
    body = text(client.get(f"/sources/{manifest.pk}/"))
    assert "Missing, by its own account" in body and "card render timed out" in body
    assert "DECLARED_PARTIAL" in body


# --- issues page -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"severity": "error"},
        {"severity": "warning"},
        {"code": "CSV_BAD_VALUE"},
        {"file": exports.CLAIMS_CSV},
    ],
)
def test_issue_filters_are_the_same_on_the_page_and_the_api(client, olivia, three_manifests, filters):
    client.force_login(olivia)
    for manifest in [None, *three_manifests]:
        query = {**filters, **({"manifest": manifest.pk} if manifest else {})}
        page = [issue.pk for issue in client.get("/sources/issues/", query).context["page"].items]
        api = [issue["id"] for issue in client.get("/api/issues/", query).json()["results"]]
        assert page == api, query


def test_the_issues_page_shows_file_row_and_column_and_its_manifest(client, olivia, received_invalid):
    client.force_login(olivia)
    body = text(client.get("/sources/issues/", {"severity": "error"}))
    assert f'href="/sources/{received_invalid.pk}/"' in body
    assert '<td class="mono issue-row">2</td>' in body and '<td class="issue-column">fill_date</td>' in body


def test_the_issues_page_is_empty_with_what_it_is_for(client, olivia):
    client.force_login(olivia)
    assert "No issue has been found in any export." in text(client.get("/sources/issues/"))


# --- dataset ---------------------------------------------------------------------------------------


def test_the_dataset_page_shows_schema_rows_from_silver_and_policies_in_plain_words(client, olivia, received):
    client.force_login(olivia)
    body = text(client.get(page_urls(received)["dataset"]))
    for name, kind in exports.CLAIMS_COLUMNS:
        assert f'<td>{name}</td><td class="mono">{kind}</td>' in body
    assert "<td>1001</td><td>M-001</td><td>2026-01-05</td><td>12.50</td>" in body
    assert '<span class="null">NULL</span>' in body and "The first 3 rows of 3." in body
    assert (
        "Group Member services, group 1234 (not in the export&#x27;s directory) and user Ann Analyst "
        "see rows where member equals M-001" in body
    )
    assert (
        "Group Member services sees rows where member equals none of M-001, M-002 and paid is greater than 5"
        in body
    )
    assert "nobody sees rows through this policy (it covers all rows)" in body


def test_the_dataset_page_shows_at_most_fifty_rows(client, olivia, tmp_path):
    export = exports.Export()
    rows = [
        [str(2000 + i), f"M-{i:03d}", "2026-03-01", "1.00", "1.5", "2026-03-01T00:00:00"] for i in range(80)
    ]
    export.files[exports.CLAIMS_CSV] = exports.csv_bytes([n for n, _ in exports.CLAIMS_COLUMNS], rows)
    export.files[exports.CLAIMS_METADATA] = exports.claims_metadata(rows=80)
    manifest = ingest(export.write(tmp_path / "big"))
    client.force_login(olivia)
    response = client.get(f"/sources/datasets/{manifest.datasets.get(domo_id=exports.CLAIMS).pk}/")
    assert response.context["detail"].preview.shown == 50
    assert "The first 50 rows of 80." in text(response)


def test_a_dataset_without_silver_says_why(client, olivia, received_invalid):
    client.force_login(olivia)
    dataset = received_invalid.datasets.get(domo_id=exports.CLAIMS)
    body = text(client.get(f"/sources/datasets/{dataset.pk}/"))
    assert "No silver data: this dataset did not pass its checks" in body


def test_a_tampered_silver_file_is_reported_not_shown(client, olivia, received, lake):
    dataset = received.datasets.get(domo_id=exports.CLAIMS)
    target = lake.root / dataset.silver_path
    target.write_bytes(target.read_bytes()[:-1] + b"\0")
    client.force_login(olivia)
    body = text(client.get(f"/sources/datasets/{dataset.pk}/"))
    assert "The silver file could not be read" in body and "<td>1001</td>" not in body


# --- card ------------------------------------------------------------------------------------------


def test_beast_mode_formulas_are_shown_as_text_never_as_html(client, olivia, received):
    client.force_login(olivia)
    body = client.get(page_urls(received)["card"]).content.decode()
    assert "<b>high</b>" not in body and "<script>alert" not in body
    assert "&lt;b&gt;high&lt;/b&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    assert HTML_FORMULA.startswith("CASE WHEN SUM(`paid`)")


def test_the_card_page_shows_columns_filters_beast_modes_and_the_golden_rows(client, olivia, received):
    client.force_login(olivia)
    body = text(client.get(page_urls(received)["card"]))
    assert "<td>member</td><td>column member</td>" in body
    assert (
        "beast mode Paid share" in body and "No filter: the card reads every row its viewer may see." in body
    )
    assert "<th>member</th><th>Paid share</th>" in body
    assert "<td>M-001</td><td>0.64</td>" in body and "<td>M-002</td><td>0.36</td>" in body
    assert 'href="/sources/datasets/' in body


def test_a_card_using_a_dataset_beast_mode_shows_its_formula(client, olivia, received):
    card = received.cards.get(domo_id=exports.CARD_ON_DATASET_FORMULA)
    client.force_login(olivia)
    body = text(client.get(f"/sources/cards/{card.pk}/"))
    assert "Total with fee" in body and "SUM(`total`) + <mark" in body  # 1.5 is marked as a flaw
    assert "The export holds no golden output for this card." in body


# --- dataflow --------------------------------------------------------------------------------------


def test_the_dataflow_page_shows_inputs_outputs_and_each_steps_sql(client, olivia, received):
    client.force_login(olivia)
    body = text(client.get(page_urls(received)["dataflow"]))
    inputs = body[body.index('id="inputs"') : body.index('id="outputs"')]
    outputs = body[body.index('id="outputs"') : body.index('id="steps"')]
    assert "Claims" in inputs and exports.CLAIMS in inputs
    assert "Pharmacies" in outputs and exports.PHARMACIES in outputs
    assert "CREATE INDEX m ON claims (member)" in body
    assert "SELECT member AS pharmacy, SUM(paid) AS total FROM claims GROUP BY member" in body


# --- home ------------------------------------------------------------------------------------------


def test_home_shows_counts_recent_intakes_and_running_jobs_polling(
    client, olivia, received, received_invalid
):
    running = queued_run(olivia, name="running.zip")
    IntakeRun.objects.filter(pk=running.pk).update(
        status=IntakeStatus.RUNNING, stage="silver 1/2", progress=65
    )
    client.force_login(olivia)
    response = client.get("/")
    summary = response.context["intake"]
    assert [(s, n) for s, _l, n in summary.runs_by_status] == [
        ("queued", 0),
        ("running", 1),
        ("succeeded", 2),
        ("failed", 0),
    ]
    assert [(s, n) for s, _l, n in summary.manifests_by_status] == [
        ("complete", 0),
        ("partial", 1),
        ("invalid", 1),
    ]
    body = text(response)
    assert 'hx-get="/sources/intake/running/" hx-trigger="every 2s"' in body
    assert "silver 1/2" in body and 'aria-valuenow="65"' in body
    assert (
        "Takeover Console" in body and "Your roles" in body and "Curated SQL" in body
    )  # the rest of home stays


def test_home_stops_polling_when_nothing_runs(client, olivia, received):
    client.force_login(olivia)
    body = text(client.get("/"))
    assert "hx-trigger" not in body and "No intake is running." in body


def test_home_says_what_to_do_before_the_first_export(client, olivia):
    client.force_login(olivia)
    assert "Upload a Leaf IQ export (.zip) to start" in text(client.get("/"))


def test_the_running_fragment_polls_only_while_something_runs(client, olivia):
    run = queued_run(olivia)
    client.force_login(olivia)
    assert "hx-trigger" in client.get("/sources/intake/running/").content.decode()
    IntakeRun.objects.filter(pk=run.pk).update(status=IntakeStatus.SUCCEEDED)
    assert "hx-trigger" not in client.get("/sources/intake/running/").content.decode()


# --- navigation ------------------------------------------------------------------------------------


def test_the_navigation_links_sources_and_intake_for_readers(client, cecilia):
    client.force_login(cecilia)
    body = client.get("/").content.decode()
    assert 'href="/sources/"' in body and 'href="/sources/intake/"' in body


# --- query counts ----------------------------------------------------------------------------------

# session, user, the user's and its groups' permissions, the header's groups, and the session save
# (savepoint, update, release); the page's own queries come on top
SHELL = 8
PAGE_QUERIES = {
    "home-intake": 1,  # one keyset page (runs with their requester and manifest)
    "manifests": 1,  # one keyset page with issue counts
    # manifest, severity counts, issues, files, directory, datasets, cards, dataflows, beast modes,
    # calculation flaw counts
    "manifest": 10,
    "issues": 1,
    "intake": 1,
    "running": 1,
    # dataset, policies, dataflows, directory, beast modes, cards (the claims dataset has no beast
    # mode, so their analyses are not asked for), its registrations as candidate evidence
    "dataset": 7,
    "card": 6,  # card, beast modes, their analyses, their flaws, datasets, the golden packet's bronze path
    "dataflow": 5,  # dataflow, datasets in and out, steps, their analyses, their flaws
}


@pytest.mark.parametrize("name", sorted(PAGE_QUERIES))
def test_page_query_counts_are_locked(client, olivia, received, name, django_assert_num_queries):
    client.force_login(olivia)
    url = page_urls(received)[name]
    client.get(url)
    with django_assert_num_queries(SHELL + PAGE_QUERIES[name] - (1 if name == "running" else 0)):
        assert client.get(url).status_code == 200


def test_home_query_count_is_locked(client, olivia, received, django_assert_num_queries):
    client.force_login(olivia)
    client.get("/")
    # the shell; the intake section: run counts, manifest counts, recent runs, running runs; the roles section;
    # an operator's work in flight (intakes, promotion requests, builds, publications) and what is published; the
    # takeover at a glance: the exports' cards and DataFlows (three), the mappings, the reconciliations, the
    # retirements (the open differences of every reconciled card in one more, none reconciled here), the open flags,
    # the newest run over every client (none here: its savings and the clients' names are not read)
    with django_assert_num_queries(SHELL + 4 + 1 + 4 + 1 + 7 + 1):
        client.get("/")


def test_the_upload_page_query_count_is_locked(client, olivia, django_assert_num_queries):
    client.force_login(olivia)
    client.get("/sources/intake/upload/")
    with django_assert_num_queries(SHELL):
        client.get("/sources/intake/upload/")


def query_count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_query_counts_do_not_grow_with_the_data(client, olivia, received, tmp_path):
    client.force_login(olivia)
    urls = {**page_urls(received), "home": "/"}
    for url in urls.values():
        client.get(url)
    before = {name: query_count(client, url) for name, url in urls.items()}
    # Twice the objects: a second receipt, more rows, more issues, and running runs.
    ingest(invalid_export("LIQ-20261123-0009").write(tmp_path / "more"))
    for _ in range(3):
        queued_run(olivia)
    assert {name: query_count(client, url) for name, url in urls.items()} == before


# --- PDP in plain words (pure) --------------------------------------------------------------------

DIRECTORY = pdp.Directory(users={101: "Ann Analyst"}, groups={7: "ACME viewers"})


def test_a_group_policy_reads_as_a_sentence():
    policy = {
        "type": "user",
        "group_ids": [7],
        "user_ids": [],
        "filters": [{"column": "Client Account", "operator": "EQUALS", "values": ["ACME Manufacturing"]}],
    }
    assert (
        pdp.describe_policy(policy, DIRECTORY)
        == "Group ACME viewers sees rows where Client Account equals ACME Manufacturing"
    )


def test_unknown_ids_are_named_as_unknown_not_guessed():
    policy = {"type": "user", "group_ids": [UNKNOWN_GROUP], "user_ids": [55], "filters": []}
    assert pdp.describe_policy(policy, DIRECTORY) == (
        "Group 1234 (not in the export's directory) and user 55 (not in the export's directory) see all rows "
        "(the policy has no filter)"
    )


def test_the_open_policy_sees_every_row():
    policy = {"type": "open", "group_ids": [7], "user_ids": [101], "filters": []}
    assert pdp.describe_policy(policy, DIRECTORY) == (
        "Group ACME viewers and user Ann Analyst see all rows (the open All Rows policy)"
    )


@pytest.mark.parametrize(
    "flt, words",
    [
        ({"operator": "EQUALS", "values": ["A"], "negated": True}, "C does not equal A"),
        ({"operator": "EQUALS", "values": ["A", "B"]}, "C equals one of A, B"),
        ({"operator": "EQUALS", "values": ["A", "B"], "negated": True}, "C equals none of A, B"),
        ({"operator": "LIKE", "values": ["%A%"]}, "C is like %A%"),
        ({"operator": "GREATER_THAN", "values": ["5"]}, "C is greater than 5"),
        ({"operator": "LESS_THAN", "values": ["5"]}, "C is less than 5"),
        ({"operator": "GREATER_THAN_EQUAL", "values": ["5"]}, "C is at least 5"),
        ({"operator": "LESS_THAN_EQUAL", "values": ["5"]}, "C is at most 5"),
        ({"operator": "BETWEEN", "values": ["1", "9"]}, "C is between 1 and 9"),
        ({"operator": "BETWEEN", "values": ["1", "9"], "negated": True}, "C is not between 1 and 9"),
        ({"operator": "BEGINS_WITH", "values": ["AC"]}, "C begins with AC"),
        ({"operator": "ENDS_WITH", "values": ["ME"]}, "C ends with ME"),
        ({"operator": "CONTAINS", "values": ["CM"], "negated": True}, "C does not contain CM"),
        ({"operator": "EQUALS", "values": ["A"], "ignore_case": False}, "C equals A (case-sensitive)"),
        ({"operator": "EQUALS", "values": ["region"], "dynamic": True}, "C equals the viewer's own region"),
        ({"operator": "IN", "values": ["retail", "mail"]}, "C is one of retail, mail"),  # a card filter
    ],
)
def test_every_operator_reads_plainly(flt, words):
    assert pdp.describe_filter({"column": "C", **flt}) == words


def test_filters_of_one_policy_are_joined_with_and():
    policy = {
        "type": "user",
        "user_ids": [101],
        "group_ids": [],
        "filters": [
            {"column": "Client", "operator": "EQUALS", "values": ["ACME"]},
            {"column": "Region", "operator": "EQUALS", "values": ["West"], "negated": True},
        ],
    }
    assert pdp.describe_policy(policy, DIRECTORY) == (
        "User Ann Analyst sees rows where Client equals ACME and Region does not equal West"
    )


# --- admin: evidence is read, never edited --------------------------------------------------------


@pytest.fixture
def superuser(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("root", "root@example.org", "a-long-enough-password-42")


def test_the_admin_shows_evidence_but_nobody_adds_changes_or_deletes_it(client, superuser, received):
    client.force_login(superuser)
    assert client.get("/admin/evidence/sourcemanifest/").status_code == 200
    change_url = f"/admin/evidence/sourcemanifest/{received.pk}/change/"
    page = client.get(change_url)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert client.post(change_url, {"load_id": "LIQ-20990101-0001"}).status_code == 403
    assert client.get("/admin/evidence/sourcemanifest/add/").status_code == 403
    assert (
        client.post(f"/admin/evidence/sourcemanifest/{received.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    received.refresh_from_db()
    assert received.load_id == "LIQ-20261120-0001"
    for model in [
        "intakerun",
        "manifestissue",
        "manifestfile",
        "domodataset",
        "domocard",
        "beastmode",
        "domodataflow",
        "dataflowstep",
        "pdppolicy",
        "directoryentry",
    ]:
        assert client.get(f"/admin/evidence/{model}/").status_code == 200, model
        assert client.get(f"/admin/evidence/{model}/add/").status_code == 403, model


def test_staff_without_the_provenance_capability_do_not_see_evidence_in_the_admin(client, oscar, received):
    oscar.is_staff = True
    oscar.save()
    client.force_login(oscar)
    assert client.get("/admin/evidence/sourcemanifest/").status_code == 403
