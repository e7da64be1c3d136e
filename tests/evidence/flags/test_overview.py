"""The evidence overview selector and its pages: each cell's state (governed, candidate, missing, blank) and
where it links, the period, the index of clients, and a fixed number of queries whatever the clients."""
from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from evidence.flags import overview
from tests.conftest import PASSWORD
from tests.evidence.flags import world as w
from tests.evidence.packets.builders import ACME, BLUEWATER, CASCADE, SUMMIT, contract_packet

pytestmark = pytest.mark.django_db


def _states(grid, kind: str) -> list[str]:
    return [cell.state or "." for cell in dict(grid.rows)[kind]]


def _cell(grid, kind: str, month: str):
    return next(cell for cell in dict(grid.rows)[kind] if cell.month == month)


@pytest.fixture
def world(tmp_path, olivia, arthur):
    return w.build(tmp_path, olivia, arthur)


def test_each_kind_and_month_of_a_client_is_governed_candidate_missing_or_blank(world):
    grid = overview.client_overview(ACME).grids[0]
    assert (grid.client_name, grid.period_start, grid.period_end) == ("ACME Manufacturing", dt.date(2025, 1, 1),
                                                                     dt.date(2025, 12, 31))
    assert [m.key for m in grid.months] == [f"2025-{m:02d}" for m in range(1, 13)]
    assert _states(grid, "contract") == ["governed"] * 12
    assert _states(grid, "pricing") == ["candidate"] * 4 + ["missing"] + ["candidate"] * 7
    assert _states(grid, "rebate") == ["governed"] * 3 + ["missing"] * 3 + ["."] * 6
    assert _states(grid, "salesforce") == ["governed"] * 12
    assert grid.counts() == {"governed": 27, "candidate": 11, "missing": 4}


def test_a_missing_cell_links_to_its_flag_and_a_governed_cell_to_the_revision(world):
    grid = overview.client_overview(ACME).grids[0]
    may = _cell(grid, "pricing", "2025-05")
    assert may.flag_ids == (world.may.pk,)
    assert may.href == reverse("flags:missing-detail", args=[world.may.pk])
    january = _cell(grid, "rebate", "2025-01")
    assert january.href == reverse("packets:revision-detail", args=[world.rebate.packet_id, world.rebate.revision])
    assert january.packet_id == world.rebate.packet.packet_id


def test_a_cell_of_several_flags_links_to_the_flags_of_that_client_kind_and_month(world):
    march = _cell(overview.client_overview(ACME).grids[0], "pricing", "2025-03")
    assert march.state == "candidate"  # every flag of the month has candidate evidence
    assert set(march.flag_ids) == {flag.pk for flag in world.march}
    url = urlsplit(march.href)
    assert url.path == reverse("flags:missing-list")
    assert parse_qs(url.query) == {"client": [ACME], "kind": ["pricing"], "month": ["2025-03"]}


def test_one_flag_without_candidate_makes_the_month_missing(world):
    w.flag(world.run, "pricing", ACME, dt.date(2025, 3, 1), dt.date(2025, 3, 31), ndc="00093999901")
    assert _cell(overview.client_overview(ACME).grids[0], "pricing", "2025-03").state == "missing"


def test_an_unverified_packet_alone_is_candidate_and_links_to_its_revision(world):
    june = _cell(overview.client_overview(ACME).grids[0], "pricing", "2025-06")
    assert (june.state, june.href) == ("candidate", reverse("packets:revision-detail",
                                                            args=[world.pricing.packet_id, 1]))


def test_a_flag_wins_over_a_governed_packet_of_its_month(world):
    w.flag(world.run, "contract", ACME, dt.date(2025, 1, 1), dt.date(2025, 12, 31), component="mail/brand")
    assert _states(overview.client_overview(ACME).grids[0], "contract") == ["missing"] * 12


def test_a_resolved_flag_no_longer_counts(world):
    w.resolve(world.may, world.run, world.contract, at=w.AT + dt.timedelta(days=1))
    assert _cell(overview.client_overview(ACME).grids[0], "pricing", "2025-05").state == "candidate"


def test_another_clients_packet_does_not_cover(world):
    bluewater = overview.client_overview(BLUEWATER).grids[0]
    assert _states(bluewater, "contract") == ["missing"] * 12  # ACME's governed contract is not Bluewater's
    assert _states(bluewater, "pricing") == ["candidate"] * 12  # a price list naming no client serves all
    assert _states(bluewater, "rebate") == ["."] * 12
    assert _states(bluewater, "salesforce") == ["governed"] * 12


def test_the_period_chooses_the_year_and_an_unknown_client_has_no_overview(world):
    grid = overview.client_overview(ACME, period=2024).grids[0]
    assert (grid.period_start, grid.period_end) == (dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    assert set(_states(grid, "contract")) == {"."}
    assert overview.client_overview("0015e00000Zz9ZzAAJ") is None


def test_the_index_lists_the_clients_of_the_needs_and_of_the_packets(world):
    found = overview.overview_index()
    assert found.run == world.run
    # Cascade and Summit: named by the Salesforce packet only (no needs): their own packets' year.
    assert [g.client_account_id for g in found.grids] == sorted([ACME, BLUEWATER, CASCADE, SUMMIT,
                                                                 "0015e00000Qn2RvAAJ"])
    assert {g.client_account_id: g.claims for g in found.grids}[ACME] == 120


def test_a_failed_latest_run_leaves_the_flags_of_the_last_succeeded_one(world):
    failed = w.run(status="failed", at=w.AT + dt.timedelta(hours=1))
    found = overview.overview_index()
    assert (found.run, found.latest_run) == (world.run, failed)


def test_the_number_of_queries_is_the_same_whatever_the_clients(world, tmp_path, olivia, arthur):
    with CaptureQueriesContext(connection) as few:
        overview.overview_index()
    for client in (CASCADE, SUMMIT):
        w.needs(world.run, client)
        w.flag(world.run, "rebate", client, dt.date(2025, 1, 1), dt.date(2025, 3, 31), ndc="00003089421")
    packet = contract_packet()
    packet.fields["packet_id"] = f"EVP-CONTRACT-{CASCADE}-2025"
    packet.fields["client_account_ids"] = [CASCADE]
    packet.rows = [[*row[:1], CASCADE, *row[2:]] for row in packet.rows]
    w.governed(tmp_path, olivia, arthur, packet, "cascade")
    with CaptureQueriesContext(connection) as more:
        found = overview.overview_index()
    assert _states(next(g for g in found.grids if g.client_account_id == CASCADE), "contract") == ["governed"] * 12
    assert len(more.captured_queries) == len(few.captured_queries) <= 6


# --- the pages ------------------------------------------------------------------------------------


def _signed_in(client, user):
    assert client.login(username=user.get_username(), password=PASSWORD)
    return client


def test_the_overview_page_shows_every_client_with_the_three_badges_and_the_run(client, world, cecilia):
    response = _signed_in(client, cecilia).get(reverse("flags:overview"))
    assert response.status_code == 200
    html = response.content.decode()
    for client_id in (ACME, BLUEWATER):
        assert f'id="grid-{client_id}"' in html
    for state in ("governed", "candidate", "missing"):
        assert f'data-state="{state}"' in html
    assert f"flag run #{world.run.pk}" in html and "Flags as of" in html
    assert f'href="{reverse("flags:missing-detail", args=[world.may.pk])}"' in html


def test_the_client_page_shows_its_grid_and_refuses_a_bad_period(client, world, audrey):
    _signed_in(client, audrey)
    page = client.get(reverse("flags:overview-client", args=[ACME]), {"period": "2025"})
    assert page.status_code == 200 and "ACME Manufacturing" in page.content.decode()
    bad = client.get(reverse("flags:overview-client", args=[ACME]), {"period": "last year"})
    assert bad.status_code == 400
    assert "period: expected a year (YYYY), got &#x27;last year&#x27;" in bad.content.decode()
    assert client.get(reverse("flags:overview-client", args=["0015e00000Zz9ZzAAJ"])).status_code == 404


def test_an_empty_console_says_what_comes_next(client, cecilia):
    html = _signed_in(client, cecilia).get(reverse("flags:overview")).content.decode()
    assert "No flag run yet" in html and "No client yet." in html


@pytest.mark.parametrize("persona", ["olivia", "arthur", "cecilia", "audrey", "adam"])
def test_every_evidence_reader_sees_the_overview(client, persona, request):
    user = request.getfixturevalue(persona)
    assert _signed_in(client, user).get(reverse("flags:overview")).status_code == 200


def test_the_outsider_and_the_anonymous_are_refused(client, oscar):
    assert client.get(reverse("flags:overview")).status_code == 302  # to the login page
    _signed_in(client, oscar)
    assert client.get(reverse("flags:overview")).status_code == 403
    assert client.get(reverse("flags:overview-client", args=[ACME])).status_code == 403


def test_domo_rows_naming_the_client_are_candidate_evidence_for_their_dates(world, received, olivia):
    from evidence.candidates.models import DomoCandidateRow, DomoCandidateSet

    registered = DomoCandidateSet.objects.create(
        manifest=received, dataset=received.datasets.first(), load_id=received.load_id, dataset_domo_id="domo-1",
        kind="contract", mapping={"client_account_id": "Account"}, mapping_sha256="0" * 64,
        silver_sha256="0" * 64, rows=2, client_account_ids=[SUMMIT], registered_by=olivia)
    DomoCandidateRow.objects.create(candidate_set=registered, row=1, values={}, client_account_id=SUMMIT,
                                    start_date=dt.date(2025, 1, 1), end_date=dt.date(2025, 6, 30))
    DomoCandidateRow.objects.create(candidate_set=registered, row=2, values={}, client_account_id="",
                                    start_date=dt.date(2025, 1, 1), end_date=dt.date(2025, 12, 31))
    summit = overview.client_overview(SUMMIT, period=2025).grids[0]
    assert _states(summit, "contract") == ["candidate"] * 6 + ["."] * 6
    assert _cell(summit, "contract", "2025-01").title == "candidate only: rows recovered from Domo"
    assert _states(overview.client_overview(CASCADE, period=2025).grids[0], "contract") == ["."] * 12
