"""Deliverables pages: the Build workbook form of a run's page, the deliverable's page (polled while it is built,
then its file), the download (its hash checked: a changed file is a 409 page naming it, never its bytes; every
download audited), the list and its filters, and the form posted through a real server."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from console.models import AuditEvent
from deliverables.choices import DELIVERABLE_TYPE
from deliverables.models import Deliverable
from deliverables.workbooks import services
from tests.conftest import PASSWORD
from tests.deliverables.workbooks.conftest import a_client, build, control_characters_in_name
from tests.support.api import Api

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "curated"])


def _lake_file(path: str) -> Path:
    from django.conf import settings

    return Path(settings.LAKE_URL.removeprefix("file://")) / path


def _events(action: str, deliverable: Deliverable) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type=DELIVERABLE_TYPE, object_id=str(deliverable.pk),
                                          action=action).order_by("seq"))


def test_the_run_page_offers_an_operator_a_workbook_of_each_of_its_clients(sample_run, olivia, cecilia, client):
    client.force_login(olivia)
    page = client.get(f"/runs/{sample_run.pk}/").content.decode()
    form = re.search(r'<form method="post" action="/deliverables/new/".*?</form>', page, re.DOTALL).group(0)
    offered = re.findall(r'<option value="([^"]+)"', form)
    assert offered == services.run_clients(sample_run) and len(offered) > 1
    assert f'name="run" value="{sample_run.pk}"' in form and "Build workbook" in form

    client.force_login(cecilia)  # a reviewer reads, builds nothing
    page = client.get(f"/runs/{sample_run.pk}/").content.decode()
    assert "Build workbook" not in page and f"/deliverables/?run={sample_run.pk}" in page


def test_the_form_queues_a_workbook_and_its_page_follows_it(sample_run, olivia, client):
    client.force_login(olivia)
    chosen = a_client(sample_run)
    answer = client.post("/deliverables/new/", {"run": sample_run.pk, "client": chosen, "kind": "workbook"})

    deliverable = Deliverable.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/deliverables/{deliverable.pk}/"
    assert deliverable.client_account_id == chosen and deliverable.requested_by == olivia
    page = client.get(answer["Location"]).content.decode()
    assert "queued; this page follows it" in page
    assert f'hx-get="/deliverables/{deliverable.pk}/progress/?state=queued"' in page  # polled while queued
    assert "download-button" not in page

    services.deliverable_execute(deliverable_id=deliverable.pk, task_id="t-1", queue="runs")
    fragment = client.get(f"/deliverables/{deliverable.pk}/progress/?state=queued")
    assert fragment["HX-Refresh"] == "true"  # the page reloads once built

    deliverable.refresh_from_db()
    page = client.get(f"/deliverables/{deliverable.pk}/").content.decode()
    assert "hx-trigger=" not in page  # final: no more polling
    assert deliverable.sha256 in page and deliverable.path in page and f"/runs/{sample_run.pk}/" in page
    for sheet in deliverable.summary["sheets"]:
        assert f'data-sheet="{sheet}"' in page
    assert f'href="/deliverables/{deliverable.pk}/download/"' in page
    assert deliverable.worker_host in page and deliverable.trace_id in page and "t-1" in page


@pytest.mark.catalogue(37)
def test_the_page_of_a_workbook_says_which_cells_held_control_characters(sample_run, olivia, cecilia, client):
    chosen = a_client(sample_run)
    clean = build(olivia, sample_run, chosen)
    control_characters_in_name(chosen)
    escaped = build(olivia, sample_run, chosen)
    client.force_login(cecilia)  # a reader sees it

    page = client.get(f"/deliverables/{escaped.pk}/").content.decode()
    assert ('<p class="notice" id="deliverable-control-characters">2 cells held control characters; they are '
            "written as Excel escapes (_xHHHH_) and read back exactly: Summary › Title (1), Summary › Client (1).</p>"
            ) in page
    detail = client.get(f"/api/deliverables/{escaped.pk}/").json()
    assert detail["summary"]["control_characters"] == {"cells": 2, "columns": [["Summary", "Title", 1],
                                                                               ["Summary", "Client", 1]]}

    page = client.get(f"/deliverables/{clean.pk}/").content.decode()
    assert "deliverable-control-characters" not in page and "control characters" not in page
    assert "control_characters" not in client.get(f"/api/deliverables/{clean.pk}/").json()["summary"]


def test_the_download_is_the_stored_file_named_for_its_client_period_and_hash(sample_run, olivia, cecilia, client):
    done = build(olivia, sample_run, a_client(sample_run))
    client.force_login(cecilia)  # reading is enough to download

    answer = client.get(f"/deliverables/{done.pk}/download/")

    assert answer.status_code == 200
    assert answer["Content-Type"] == services.CONTENT_TYPES["workbook"]
    name = f"{done.client_account_id}-2025-01-01_2025-12-31-{done.sha256[:8]}.xlsx"
    assert answer["Content-Disposition"] == f'attachment; filename="{name}"'
    body = b"".join(answer.streaming_content)
    assert hashlib.sha256(body).hexdigest() == done.sha256
    [downloaded] = _events("deliverables.deliverable.downloaded", done)
    assert downloaded.actor_id == cecilia.pk and downloaded.after["sha256"] == done.sha256


def test_a_changed_file_is_a_409_page_naming_it_never_its_bytes(sample_run, olivia, client):
    done = build(olivia, sample_run, a_client(sample_run))
    stored = _lake_file(done.path)
    stored.chmod(0o644)
    stored.write_bytes(stored.read_bytes()[:-10] + b"0123456789")
    client.force_login(olivia)

    answer = client.get(f"/deliverables/{done.pk}/download/")

    assert answer.status_code == 409 and answer["Content-Type"].startswith("text/html")
    assert "Content-Disposition" not in answer
    page = answer.content.decode()
    assert done.path in page and "Refused" in page
    assert not _events("deliverables.deliverable.downloaded", done)
    assert _events("deliverables.deliverable.download_refused", done)[0].after["path"] == done.path


def test_a_deliverable_still_queued_has_nothing_to_download(sample_run, olivia, client):
    queued = services.deliverable_start(actor=olivia, run=sample_run, client=a_client(sample_run), enqueue=False)
    client.force_login(olivia)
    answer = client.get(f"/deliverables/{queued.pk}/download/")
    assert answer.status_code == 409 and "is queued: it has no stored file" in answer.content.decode()


def test_a_reviewer_may_not_build_a_workbook(sample_run, cecilia, client):
    client.force_login(cecilia)
    answer = client.post("/deliverables/new/", {"run": sample_run.pk, "client": a_client(sample_run)})
    assert answer.status_code == 403 and not Deliverable.objects.exists()
    assert AuditEvent.objects.filter(action="deliverables.deliverable.refused", actor=cecilia).exists()


def test_a_client_the_run_did_not_calculate_is_refused_naming_it(sample_run, olivia, client):
    client.force_login(olivia)
    answer = client.post("/deliverables/new/", {"run": sample_run.pk, "client": "001NOTACLIENT0000X"})
    assert answer.status_code == 409
    page = answer.content.decode()
    assert "001NOTACLIENT0000X" in page and f'href="/runs/{sample_run.pk}/"' in page
    assert not Deliverable.objects.exists()


def test_the_list_is_newest_first_and_filters_by_client_kind_and_state(sample_run, olivia, cecilia, client):
    clients = services.run_clients(sample_run)
    first = build(olivia, sample_run, clients[0])
    second = services.deliverable_start(actor=olivia, run=sample_run, client=clients[1], enqueue=False)
    client.force_login(cecilia)

    def listed(query=""):
        page = client.get(f"/deliverables/{query}").content.decode()
        return [int(n) for n in re.findall(r'data-deliverable="(\d+)"', page)]

    assert listed() == [second.pk, first.pk]
    assert listed(f"?client={clients[0]}") == [first.pk]
    assert listed("?state=queued") == [second.pk]
    assert listed("?state=succeeded&kind=workbook") == [first.pk]
    assert listed("?kind=dashboard_payload") == []
    assert listed(f"?run={sample_run.pk}") == [second.pk, first.pk]
    assert "No deliverable matches these filters." in client.get("/deliverables/?kind=dashboard_payload").content.decode()
    fragment = client.get("/deliverables/?state=queued", HTTP_HX_REQUEST="true").content.decode()
    assert "<h1>" not in fragment and f'data-deliverable="{second.pk}"' in fragment


def test_the_nav_links_the_deliverables(olivia, client):
    client.force_login(olivia)
    page = client.get("/deliverables/").content.decode()
    assert '<a href="/deliverables/" aria-current="page">Deliverables</a>' in page


def test_the_form_posted_through_a_real_server_queues_a_workbook(sample_run, olivia, live_server):
    session = Api.signed_in(live_server.url, "olivia", PASSWORD).session
    chosen = a_client(sample_run)

    answer = session.post(f"{live_server.url}/deliverables/new/", timeout=60, allow_redirects=False,
                          data={"run": sample_run.pk, "client": chosen, "kind": "workbook"},
                          headers={"Referer": f"{live_server.url}/runs/{sample_run.pk}/"})

    deliverable = Deliverable.objects.get()
    assert answer.status_code == 302 and answer.headers["Location"] == f"/deliverables/{deliverable.pk}/"
    assert deliverable.client_account_id == chosen and deliverable.state == "queued"
    page = session.get(f"{live_server.url}{answer.headers['Location']}", timeout=60)
    assert page.status_code == 200 and f"Workbook #{deliverable.pk} queued" in page.text


# The browser test of building a workbook, following it and downloading it is the first part of
# tests/deliverables/publication/test_done_when.py.
