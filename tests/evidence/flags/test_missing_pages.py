"""The missing-evidence pages: open flags grouped by client then kind, oldest first, by keyset pages; resolved
flags on their own tab (when, by which revision, how); a flag's page; filters; who may read them."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from evidence.flags import listing
from evidence.flags.models import FlagStatus, MissingEvidenceFlag
from tests.conftest import PASSWORD
from tests.evidence.flags import world as w
from tests.evidence.packets.builders import ACME, BLUEWATER, CASCADE

pytestmark = pytest.mark.django_db
D = dt.date


def _signed_in(client, user):
    assert client.login(username=user.get_username(), password=PASSWORD)
    return client


def _shown(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr data-flag="(\d+)"', html)]


@pytest.fixture
def world(tmp_path, olivia, arthur):
    return w.build(tmp_path, olivia, arthur)


def test_open_flags_are_grouped_by_client_then_kind_oldest_first(client, world, cecilia):
    later = w.flag(world.run, "contract", ACME, D(2025, 1, 1), D(2025, 12, 31), component="mail/brand",
                   raised=w.AT + dt.timedelta(days=2))
    earlier = w.flag(world.run, "contract", ACME, D(2025, 1, 1), D(2025, 12, 31), component="retail/brand",
                     raised=w.AT - dt.timedelta(days=2))
    html = _signed_in(client, cecilia).get(reverse("flags:missing-list")).content.decode()
    march = [flag.pk for flag in world.march]
    assert _shown(html) == [earlier.pk, later.pk, *march, world.may.pk, world.q2.pk, world.bluewater_contract.pk]
    heads = re.findall(r'<tr class="group-(client|kind)"><th[^>]*>(.*?)</th>', html)
    assert [(level, re.sub(r"<[^>]+>", "", text)) for level, text in heads] == [
        ("client", f"ACME Manufacturing {ACME}"), ("kind", "Contract"), ("kind", "Pricing"), ("kind", "Rebate"),
        ("client", f"Bluewater County Schools {BLUEWATER}"), ("kind", "Contract")]  # by governed name, id beside


def test_each_open_flag_shows_what_is_missing_what_it_holds_back_its_candidate_and_when(client, world, arthur):
    html = _signed_in(client, arthur).get(reverse("flags:missing-list"), {"kind": "pricing"}).content.decode()
    row = re.search(rf'<tr data-flag="{world.march[0].pk}".*?</tr>', html, re.DOTALL).group(0)
    assert "no governed pricing evidence" in row and "pricing_finding" in row
    assert 'class="badge badge-warn"' in row and "candidate" in row
    assert "NDC <span class=\"mono\">00093505601</span>" in row
    assert '2026-11-20</span> <span class="hour">09:00:00 UTC' in row
    assert _shown(html) == [*(flag.pk for flag in world.march), world.may.pk]


def test_the_month_filter_keeps_the_flags_overlapping_it(client, world, arthur):
    html = _signed_in(client, arthur).get(reverse("flags:missing-list"),
                                          {"client": ACME, "kind": "pricing", "month": "2025-03"}).content.decode()
    assert _shown(html) == [flag.pk for flag in world.march]


def test_a_bad_month_is_refused_naming_the_field(client, world, arthur):
    html = _signed_in(client, arthur).get(reverse("flags:missing-list"), {"month": "March"}).content.decode()
    assert "month: expected a month YYYY-MM, got &#x27;March&#x27;" in html
    assert _shown(html) == []


def test_resolved_flags_are_on_their_own_tab_newest_first_with_the_revision(client, world, arthur):
    first = w.resolve(world.q2, world.run, world.rebate, at=w.AT + dt.timedelta(days=1))
    second = w.resolve(world.may, world.run, world.contract, at=w.AT + dt.timedelta(days=3))
    _signed_in(client, arthur)
    open_html = client.get(reverse("flags:missing-list")).content.decode()
    assert first.pk not in _shown(open_html) and second.pk not in _shown(open_html)
    html = client.get(reverse("flags:missing-list"), {"tab": "resolved"}).content.decode()
    assert _shown(html) == [second.pk, first.pk]
    assert f'href="{reverse("packets:revision-detail", args=[world.rebate.packet_id, 1])}"' in html
    assert "Covered by a verified revision" in html and '2026-11-21</span> <span class="hour">09:00:00 UTC' in html
    assert 'data-tab="resolved" aria-current="page"' in html
    assert f'ACME Manufacturing <span class="mono muted">{ACME}</span>' in html  # the client by governed name


def test_open_flags_page_by_keyset_forward_and_back(client, world, arthur, monkeypatch):
    monkeypatch.setattr(listing, "PAGE_SIZE", 2)
    for i in range(3):
        w.flag(world.run, "salesforce", CASCADE, D(2025, 1, 1), D(2025, 12, 31), ndc=f"0000000000{i}",
               raised=w.AT + dt.timedelta(minutes=i))
    everything = list(MissingEvidenceFlag.objects.filter(status=FlagStatus.OPEN).order_by(
        "client_account_id", "kind", "first_raised_at", "id").values_list("pk", flat=True))
    _signed_in(client, arthur)
    url, seen, pages = reverse("flags:missing-list"), [], []
    query: dict = {}
    while True:
        html = client.get(url, query).content.decode()
        pages.append(query)
        seen += _shown(html)
        following = re.search(r'href="\?([^"]*after=[^"]*)" hx-get', html)
        if not following:
            break
        query = dict(pair.split("=", 1) for pair in following.group(1).replace("&amp;", "&").split("&"))
    assert seen == everything and len(everything) == 8 and len(pages) == 4
    back = re.search(r'href="\?([^"]*before=[^"]*)" hx-get', html).group(1).replace("&amp;", "&")
    previous = client.get(f"{url}?{back}").content.decode()
    assert _shown(previous) == everything[-4:-2]


def test_a_cursor_that_does_not_decode_shows_the_first_page(client, world, arthur):
    html = _signed_in(client, arthur).get(reverse("flags:missing-list"), {"after": "not-a-cursor"}).content.decode()
    assert _shown(html)[0] == world.march[0].pk


def test_the_flag_page_shows_every_field_the_run_and_the_client_overview(client, world, cecilia):
    html = _signed_in(client, cecilia).get(reverse("flags:missing-detail", args=[world.march[0].pk])).content.decode()
    assert "no governed pricing evidence" in html and "pricing_finding" in html
    assert f'flag run #{world.run.pk} (after <span title="curated.promoted">curated promoted</span> PBM Claims 2025 v1' in html
    assert "Contract Terms 2025" in html  # the candidate seen
    assert f'href="{reverse("flags:overview-client", args=[ACME])}?period=2025"' in html
    assert world.march[0].key in html


def test_the_flag_pages_say_what_is_held_back_its_detail_and_the_trigger_in_words(client, world, cecilia):
    found = w.flag(world.run, "rebate", ACME, D(2025, 7, 1), D(2025, 9, 30), ndc="00002771501",
                   detail={"quarter_packets": ["2025Q1"], "first_fill": "2025-07-03"})
    world.run.trigger = "packet.accepted"
    world.run.save(update_fields=["trigger"])
    signed_in = _signed_in(client, cecilia)
    html = signed_in.get(reverse("flags:missing-detail", args=[found.pk])).content.decode()
    assert '<dt>Holds back</dt><dd><span title="rebate_claim">rebate claim</span></dd>' in html
    assert '<dt title="quarter_packets">quarter packets</dt><dd>2025Q1</dd>' in html
    assert '<dt title="first_fill">first fill</dt><dd>2025-07-03</dd>' in html
    assert '(after <span title="packet.accepted">packet accepted</span>' in html and ">packet.accepted<" not in html
    listed = signed_in.get(reverse("flags:missing-list"), {"kind": "rebate"}).content.decode()
    row = re.search(rf'<tr data-flag="{found.pk}".*?</tr>', listed, re.DOTALL).group(0)
    assert '<span title="rebate_claim">rebate claim</span>' in row and ">rebate_claim<" not in row
    assert 'after <span title="packet.accepted">packet accepted</span>' in listed


def test_a_resolved_flag_page_names_the_revision_that_resolved_it(client, world, cecilia):
    w.resolve(world.q2, world.run, world.rebate, at=w.AT + dt.timedelta(days=1))
    html = _signed_in(client, cecilia).get(reverse("flags:missing-detail", args=[world.q2.pk])).content.decode()
    assert 'id="flag-status">resolved' in html
    assert f'id="resolved-by" href="{reverse("packets:revision-detail", args=[world.rebate.packet_id, 1])}"' in html


def test_an_unknown_flag_is_404(client, arthur, seeded_roles):
    assert _signed_in(client, arthur).get(reverse("flags:missing-detail", args=[999999])).status_code == 404


@pytest.mark.parametrize("persona", ["olivia", "arthur", "cecilia", "audrey", "ada"])
def test_every_evidence_reader_sees_the_flags(client, world, persona, request):
    _signed_in(client, request.getfixturevalue(persona))
    assert client.get(reverse("flags:missing-list")).status_code == 200
    assert client.get(reverse("flags:missing-detail", args=[world.may.pk])).status_code == 200


def test_the_outsider_is_refused_the_flags(client, world, oscar):
    _signed_in(client, oscar)
    assert client.get(reverse("flags:missing-list")).status_code == 403
    assert client.get(reverse("flags:missing-detail", args=[world.may.pk])).status_code == 403


def test_the_navigation_leads_to_the_overview_and_the_missing_evidence(client, world, cecilia):
    html = _signed_in(client, cecilia).get(reverse("flags:missing-list")).content.decode()
    nav = re.search(r'<nav aria-label="Main">.*?</nav>', html, re.DOTALL).group(0)
    group = re.search(r'<span class="nav-group"[^>]*aria-labelledby="nav-evidence">(.*?)</span>\s*(?=<span class="nav-group"|\{|$)',
                      nav, re.DOTALL)
    assert group, "no Evidence group in the navigation"
    assert f'<a href="{reverse("flags:overview")}" aria-label="Evidence overview" >Overview</a>' in group.group(1)
    assert (f'<a href="{reverse("flags:missing-list")}" aria-label="Missing evidence" aria-current="page">Missing</a>'
            in group.group(1))


def test_candidate_evidence_covering_only_part_of_a_need_reads_partial_never_none(client, world, cecilia):
    partial = w.flag(world.run, "pricing", ACME, D(2025, 9, 1), D(2025, 9, 30), ndc="00093505699",
                     reason="No governed price …; candidate pricing exists but does not cover all of it",
                     candidates=[{"source": "domo", "dataset": "MAC List 2025", "rows": 2}])
    signed_in = _signed_in(client, cecilia)
    listed = signed_in.get(reverse("flags:missing-list"), {"kind": "pricing"}).content.decode()
    row = re.search(rf'<tr data-flag="{partial.pk}".*?</tr>', listed, re.DOTALL).group(0)
    assert ">partial candidate</span>" in row and '<span class="muted">none</span>' not in row
    page = signed_in.get(reverse("flags:missing-detail", args=[partial.pk])).content.decode()
    assert ">partial candidate</span></h1>" in page and "MAC List 2025" in page
