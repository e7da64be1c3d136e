"""An operator in a real browser uploads an export, watches a real worker finish it, and reads its issues."""

import re

import pytest

from evidence.models import IntakeRun
from evidence.samples.export import write_export_zip, write_sample_export
from tests.conftest import login

pytestmark = pytest.mark.browser


@pytest.mark.worker
def test_an_operator_uploads_an_export_watches_it_finish_opens_the_manifest_and_sees_its_issues(
    celery_worker, olivia, page, live_server, tmp_path
):
    export = write_sample_export(tmp_path / "export", rows=300, seed=31, variant="partial")
    archive = write_export_zip(export.path, tmp_path / "leafiq-partial.zip")

    login(page, "olivia")
    page.get_by_role("link", name="Intake", exact=True).click()
    page.wait_for_url("**/sources/intake/")
    page.get_by_role("link", name="Upload an export").click()
    page.wait_for_url("**/sources/intake/upload/")
    page.set_input_files("#id_file", str(archive))
    page.get_by_role("button", name="Upload").click()

    # The upload hands over to the run's page, which polls until the worker is done.
    page.wait_for_url(re.compile(r".*/sources/intake/\d+/$"))
    run = IntakeRun.objects.get()
    assert (run.original_name, run.requested_by, run.source) == ("leafiq-partial.zip", olivia, "upload")
    assert (
        page.locator("#intake-progress[hx-trigger]").count() == 1 or run.is_final
    )  # polling while not final
    page.locator("#intake-status", has_text="Received").wait_for(timeout=120_000)
    assert page.locator("#intake-verdict").inner_text() == "verdict Partial"  # how good the export is, beside it
    progress = page.locator("#intake-progress .progress")
    assert progress.get_attribute("aria-valuenow") == "100"
    assert page.locator("#intake-progress[hx-trigger]").count() == 0  # final: polling stopped

    page.get_by_role("link", name=re.compile(r"Open the manifest")).click()
    run.refresh_from_db()
    page.wait_for_url(f"**/sources/{run.manifest_id}/")
    assert page.locator("#manifest-verdict").inner_text() == "Partial"
    assert export.load_id in page.locator("h1").inner_text()

    issues = page.locator("#issues table.issues")
    headers = issues.locator("thead th").all_inner_texts()
    assert headers[:5] == ["Severity", "Code", "File", "Row", "Column"]
    rows = issues.locator("tbody tr")
    assert rows.count() == len(export.missing) == 2
    for index in range(rows.count()):
        cells = rows.nth(index).locator("td").all_inner_texts()
        severity, code, file, row, column = cells[:5]
        assert (severity, code, file, row, column) == ("Warning", "DECLARED_PARTIAL", "manifest.json", "", "")
    messages = " ".join(rows.locator("td:last-child").all_inner_texts())
    assert "card render timed out" in messages and "403 Forbidden from the PDP endpoint" in messages


def test_an_upload_over_the_limit_is_refused_with_the_limit_in_the_browser_and_on_the_server(
    transactional_db, olivia, page, live_server, settings, tmp_path
):
    settings.INTAKE_MAX_UPLOAD_BYTES = 2048
    archive = write_export_zip(
        write_sample_export(tmp_path / "export", rows=50, seed=32).path, tmp_path / "big.zip"
    )
    login(page, "olivia")
    page.goto("/sources/intake/upload/")
    page.set_input_files("#id_file", str(archive))

    # The page refuses it before sending a byte...
    page.get_by_role("button", name="Upload").click()
    refusal = page.locator("#upload-client-error")
    refusal.wait_for()
    assert "at most 2 KiB (2,048 bytes) (INTAKE_MAX_UPLOAD_BYTES)" in refusal.inner_text()

    # ...and the server refuses it too when the page's check is bypassed.
    page.evaluate("document.getElementById('upload').dataset.limit = '999999999999'")
    page.get_by_role("button", name="Upload").click()
    server = page.locator("#upload-refusal")
    server.wait_for()
    assert "receives exports of at most 2 KiB (2,048 bytes)" in server.inner_text()
    assert page.url.endswith("/sources/intake/upload/")
    assert not IntakeRun.objects.exists()
