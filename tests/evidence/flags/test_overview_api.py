"""The API of the overview and the missing-evidence flags: the same cells as the pages, the same flags in the
same order by cursor pages, the same refusals, and all of it in the OpenAPI schema without warnings."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import yaml
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from evidence.flags import listing, overview
from tests.conftest import PASSWORD
from tests.evidence.flags import world as w
from tests.evidence.packets.builders import ACME, CASCADE

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(tmp_path, olivia, arthur):
    return w.build(tmp_path, olivia, arthur)


def _api(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def _cells(grid_json) -> dict:
    return {(row["kind"], cell["month"]): (cell["state"], cell["href"])
            for row in grid_json["rows"] for cell in row["cells"]}


def _page_cells(html: str, client: str) -> dict:
    table = re.search(rf'<table class="evidence-grid" data-client="{client}".*?</table>', html, re.DOTALL).group(0)
    found = {}
    for kind, month, state, rest in re.findall(
            r'<td data-kind="(\w+)" data-month="([\d-]+)" data-state="(\w+)">(.*?)</td>', table):
        href = re.search(r'href="([^"]+)"', rest)
        found[(kind, month)] = ("" if state == "blank" else state,
                                href.group(1).replace("&amp;", "&") if href else "")
    return found


def test_the_overview_api_has_the_same_cells_as_the_page(client, world, cecilia):
    data = _api(cecilia).get("/api/evidence/overview/").json()
    assert data["run"]["id"] == world.run.pk and data["run"]["status"] == "succeeded"
    assert client.login(username="cecilia", password=PASSWORD)
    html = client.get(reverse("flags:overview")).content.decode()
    grids = {grid["client_account_id"]: grid for grid in data["clients"]}
    for client_id, grid in grids.items():
        assert _cells(grid) == _page_cells(html, client_id), client_id
    acme = grids[ACME]
    assert acme["counts"] == {"governed": 27, "candidate": 11, "missing": 4}
    assert acme["months"][0] == {"month": "2025-01", "has_claims": True}
    assert acme["page_url"] == f"{reverse('flags:overview-client', args=[ACME])}?period=2025"


def test_the_client_overview_api_is_the_selectors_grid_and_refuses_a_bad_period(world, audrey):
    api = _api(audrey)
    data = api.get(f"/api/evidence/overview/{ACME}/", {"period": "2025"}).json()
    grid = overview.client_overview(ACME, period=2025).grids[0]
    assert _cells(data["client"]) == {(c.kind, c.month): (c.state, c.href) for _k, cells in grid.rows for c in cells}
    bad = api.get(f"/api/evidence/overview/{ACME}/", {"period": "20x5"})
    assert bad.status_code == 400 and bad.json() == {"period": ["expected a year (YYYY), got '20x5'"]}
    assert api.get("/api/evidence/overview/0015e00000Zz9ZzAAJ/").status_code == 404


def test_the_missing_api_lists_the_flags_in_the_pages_order_by_cursor_pages(world, arthur, monkeypatch):
    monkeypatch.setattr(listing, "PAGE_SIZE", 2)
    for i in range(2):
        w.flag(world.run, "salesforce", CASCADE, dt.date(2025, 1, 1), dt.date(2025, 12, 31), ndc=f"0000000000{i}")
    api, url, seen = _api(arthur), "/api/evidence/missing/", []
    while url:
        body = api.get(url).json()
        seen += [flag["id"] for flag in body["results"]]
        last, url = body, body["next"]
    expected = list(listing.flags().filter(status="open").order_by(
        "client_account_id", "kind", "first_raised_at", "id").values_list("pk", flat=True))
    assert seen == expected and len(seen) == 7
    back = api.get(last["previous"]).json()
    assert [flag["id"] for flag in back["results"]] == expected[-3:-1]


def test_the_missing_api_filters_by_client_kind_month_and_status(world, arthur):
    api = _api(arthur)
    march = api.get("/api/evidence/missing/", {"client": ACME, "kind": "pricing", "month": "2025-03"}).json()
    assert [flag["id"] for flag in march["results"]] == [flag.pk for flag in world.march]
    assert march["results"][0]["candidate_exists"] is True
    assert march["results"][0]["page_url"] == reverse("flags:missing-detail", args=[world.march[0].pk])
    w.resolve(world.q2, world.run, world.rebate, at=w.AT + dt.timedelta(days=1))
    resolved = api.get("/api/evidence/missing/", {"status": "resolved"}).json()["results"]
    assert [flag["id"] for flag in resolved] == [world.q2.pk]
    assert resolved[0]["resolved_by_revision"] == {
        "id": world.rebate.pk, "packet_id": world.rebate.packet.packet_id, "revision": 1,
        "sha256": world.rebate.sha256,
        "page_url": reverse("packets:revision-detail", args=[world.rebate.packet_id, 1])}
    bad = api.get("/api/evidence/missing/", {"month": "2025-13"})
    assert bad.status_code == 400 and bad.json() == {"month": ["expected a month YYYY-MM, got '2025-13'"]}


def test_the_flag_api_has_every_field(world, cecilia):
    data = _api(cecilia).get(f"/api/evidence/missing/{world.march[0].pk}/").json()
    assert data["key"] == world.march[0].key and data["holds_back"] == ["pricing_finding"]
    assert data["candidates"] == [{"source": "domo", "dataset": "Contract Terms 2025", "rows": 3}]
    assert data["raised_by_run"] == world.run.pk and data["status"] == "open"
    assert _api(cecilia).get("/api/evidence/missing/999999/").status_code == 404


@pytest.mark.parametrize("url", ["/api/evidence/overview/", f"/api/evidence/overview/{ACME}/",
                                 "/api/evidence/missing/"])
def test_the_outsider_and_the_anonymous_are_refused_the_api(world, oscar, url):
    assert _api(oscar).get(url).status_code == 403
    assert APIClient().get(url).status_code in (401, 403)


def test_the_schema_documents_the_overview_and_missing_api_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    paths = yaml.safe_load(target.read_text())["paths"]
    for url in ["/api/evidence/overview/", "/api/evidence/overview/{client}/", "/api/evidence/missing/",
                "/api/evidence/missing/{id}/"]:
        assert "get" in paths[url], url
    parameters = {p["name"] for p in paths["/api/evidence/missing/"]["get"]["parameters"]}
    assert parameters >= {"status", "client", "kind", "month", "cursor"}
    assert {p["name"] for p in paths["/api/evidence/overview/"]["get"]["parameters"]} == {"period"}
