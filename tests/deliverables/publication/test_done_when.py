"""The path of issue 14's "Done when", in a real browser with a real worker: an operator builds a client's workbook
and dashboard payload from the run page and requests their publication; another person (the approver) publishes
them; a reviewer opens the published payload and the published workbook and, from each, a published number's
provenance page, which names the missing evidence of a not-concluded figure (seen on the rendered page)."""
from __future__ import annotations

import hashlib
import io
import json
import re

import openpyxl
import pytest

from deliverables.choices import DeliverableKind, PublicationState
from deliverables.models import Deliverable, Publication
from deliverables.workbooks import services as deliverables
from tests.conftest import login
from tests.deliverables.workbooks.conftest import a_client

pytestmark = [pytest.mark.browser, pytest.mark.worker,
              pytest.mark.django_db(transaction=True, databases=["default", "curated"])]


@pytest.fixture
def worker(transactional_db, lake, live_server):
    """A real worker whose deliverables link to this live server (their absolute provenance addresses)."""
    from tests.support.worker import Worker, flush_test_broker

    flush_test_broker()
    started = Worker(env={"CONSOLE_BASE_URL": live_server.url}).start()
    yield started
    started.stop()


def build_from_the_run_page(page, run, client: str, button: str) -> Deliverable:
    page.goto(f"/runs/{run.pk}/")
    page.select_option("#build-client", client)
    page.get_by_role("button", name=button).click()
    page.wait_for_url(re.compile(r".*/deliverables/\d+/$"))
    page.locator('#deliverable-state-head[data-state="succeeded"]').wait_for(timeout=120_000)
    return Deliverable.objects.get(pk=int(page.url.rstrip("/").rsplit("/", 1)[1]))


def request_publication(page, deliverable: Deliverable) -> Publication:
    page.fill("#publication-comment", "For the client's review")
    page.click("#request-publication")
    page.wait_for_url(re.compile(r".*/publications/\d+/$"))
    assert page.locator("#publication-state").get_attribute("data-state") == PublicationState.REQUESTED
    assert page.locator("#publication-sha256").inner_text() == deliverable.sha256
    return Publication.objects.get(deliverable=deliverable)


def sign_out(page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r".*/login/.*"))


def test_an_operator_builds_another_publishes_a_reviewer_opens_provenance_from_the_payload_and_the_workbook(
        sample_run, olivia, arthur, cecilia, worker, page, live_server, tmp_path):
    chosen = a_client(sample_run)  # a client with a not-concluded number

    # The operator builds both deliverables on the worker and asks for their publication.
    login(page, "olivia")
    workbook = build_from_the_run_page(page, sample_run, chosen, "Build workbook")
    assert workbook.kind == DeliverableKind.WORKBOOK and workbook.worker_pid
    assert page.locator("#deliverable-sha256").inner_text() == workbook.sha256
    assert page.locator("#deliverable-progress").get_attribute("hx-trigger") is None  # polling stopped
    assert page.locator("#deliverable-sheets tbody tr").count() == len(workbook.summary["sheets"])
    with page.expect_download() as download:
        page.click("#download-button")
    assert download.value.suggested_filename == deliverables.download_name(workbook)
    assert hashlib.sha256(download.value.path().read_bytes()).hexdigest() == workbook.sha256
    requests = [request_publication(page, workbook)]
    payload = build_from_the_run_page(page, sample_run, chosen, "Build dashboard payload")
    assert payload.kind == DeliverableKind.DASHBOARD_PAYLOAD
    requests.append(request_publication(page, payload))
    # Nobody approves their own request: the operator is not offered the approval.
    assert page.locator("#approve-form").count() == 0
    sign_out(page)

    # Another person publishes each, bound to the hash shown.
    login(page, "arthur")
    for publication in requests:
        page.goto(f"/publications/{publication.pk}/")
        page.fill("#approve-form textarea[name=comment]", "Checked against the run")
        page.click("#approve-button")
        page.locator('#publication-state[data-state="published"]').wait_for()
        publication.refresh_from_db()
        assert publication.decided_by == arthur and publication.version == 1
    sign_out(page)

    # A reviewer opens the published payload, and from its not-concluded figure that figure's provenance page.
    login(page, "cecilia")
    page.goto(f"/publications/{requests[1].pk}/")
    with page.expect_download() as download:
        page.click("#publication-download")
    published = json.loads(download.value.path().read_bytes())
    assert published["client"]["account_id"] == chosen
    held = next(f for f in published["figures"] if f["decision"] == "not_concluded")
    assert held["provenance_url"].startswith(live_server.url)
    page.goto(held["provenance_url"])
    assert page.locator("#decision").inner_text() == "not concluded"
    assert page.locator("#amount-value").count() == 0  # never a number
    box = page.locator("#not-concluded")
    box.screenshot(path=str(tmp_path / "not-concluded.png"))
    seen = box.inner_text()  # what the reviewer sees, rendered
    assert held["missing"] and all(m["kind"] in seen.lower() for m in held["missing"]), seen
    assert all(m["reason"] in page.locator("#q-missing").inner_text() for m in held["missing"])
    assert page.locator("main form").count() == 0  # the reviewer can change nothing from it
    publications = page.locator("#q-publications").inner_text()  # which publication put it in front of whom
    assert "arthur" in publications and "olivia" in publications, publications

    # And from the published workbook: a number cell's link leads to that number's provenance page.
    page.goto(f"/publications/{requests[0].pk}/")
    with page.expect_download() as download:
        page.click("#publication-download")
    book = openpyxl.load_workbook(io.BytesIO(download.value.path().read_bytes()))
    linked = [cell for cell in book["Guarantees"].iter_rows() for cell in cell
              if cell.hyperlink and isinstance(cell.value, (int, float))]
    assert linked, "no number cell links to its provenance page"
    target = linked[0].hyperlink.target
    assert target.startswith(live_server.url)
    page.goto(target)
    assert page.locator("#provenance-page").count() == 1
    assert page.locator("#q-rows").count() == 1 and page.locator("#q-evidence").count() == 1
