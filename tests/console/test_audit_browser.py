"""The auditor in a real browser: log in, filter the audit trail, export what the filter shows."""

import csv
import datetime as dt
import io

import pytest

from console import clock
from console.audit import audit_record
from tests.conftest import login

pytestmark = pytest.mark.browser

T0 = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def committed_trail(transactional_db, olivia, arthur):
    """Committed events (the live server runs in another thread, on its own connection)."""
    for index in range(9):
        with clock.frozen(T0 + dt.timedelta(minutes=index)):
            audit_record(
                actor=[olivia, arthur, None][index % 3],
                action="promotion.approved",
                object_type="promotion.request",
                object_id=f"PR-{index}",
                after={"index": index},
            )


def test_auditor_filters_the_trail_and_exports_it_as_csv(committed_trail, audrey, page, live_server):
    login(page, "audrey")
    page.get_by_role("link", name="Audit trail").click()
    page.wait_for_url("**/audit/")
    assert page.locator("table.audit-trail tbody tr").count() > 9  # roles, events, audrey's login

    page.fill("#id_actor", "olivia")
    page.fill("#id_since", "2026-11-26T09:00:00")
    page.fill("#id_until", "2026-11-26T09:06:00")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/audit/?*actor=olivia*")
    rows = page.locator("table.audit-trail tbody tr")
    rows.first.wait_for()
    assert rows.count() == 2
    assert rows.nth(0).locator("td").nth(4).inner_text().split() == ["promotion.request", "PR-3"]
    assert "2026-11-26 09:03:00 UTC" in rows.nth(0).inner_text()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("audit-trail-") and download.suggested_filename.endswith(
        ".csv"
    )
    with open(download.path(), newline="", encoding="utf-8") as handle:
        header, *exported = list(csv.reader(io.StringIO(handle.read())))
    columns = {name: position for position, name in enumerate(header)}
    assert [(row[columns["actor_label"]], row[columns["object_id"]]) for row in exported] == [
        ("olivia", "PR-0"),
        ("olivia", "PR-3"),
    ]
    assert [row[columns["occurred_at"]] for row in exported] == [
        "2026-11-26T09:00:00.000000+00:00",
        "2026-11-26T09:03:00.000000+00:00",
    ]

    # The export itself is on the trail, with the filters the auditor used.
    page.goto("/audit/?action=audit.exported")
    exported_row = page.locator("table.audit-trail tbody tr").first
    assert "audrey" in exported_row.inner_text() and '"actor": "olivia"' in exported_row.inner_text()
