"""Calculation flaws in the console: the flaws page and its API list (shared filters, keyset pages, who
may re-analyze), flaws inline on the card, dataset and DataFlow pages with their snippets marked in
escaped formula text, and the query counts of each page."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from console.models import AuditEvent
from evidence import views
from evidence.models import BeastMode, CalculationAnalysis, CalculationFlaw, DomoCard, SourceManifest
from tests.evidence import exports
from tests.evidence.conftest import HTML_FORMULA, ingest
from tests.evidence.test_intake_pages import SHELL

# One flaw (UNKNOWN_COLUMN on the back-quoted name) and HTML before, inside and after it.
MARKED_FORMULA = "CONCAT('<b>', SUM(`<script>alert(1)</script>`), '</b>')"
# A DataFlow statement with two flaws, one of them HTML.
MARKED_STATEMENT = "SELECT member AS pharmacy, SUM(paid) * 1.07 AS total, YEAR('<b>fill_date</b>') AS y FROM claims GROUP BY member"
ROLES = ["olivia", "arthur", "cecilia", "audrey", "adam"]


def flaws_url(manifest: SourceManifest) -> str:
    return f"/sources/{manifest.pk}/flaws/"


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return re.sub(r"\s+", " ", response.content.decode())


def page_ids(response) -> list[int]:
    assert response.status_code == 200
    return [flaw.pk for flaw in response.context["page"].items]


def api_ids(response) -> list[int]:
    assert response.status_code == 200, response.content[:300]
    return [item["id"] for item in response.json()["results"]]


def query_count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.fixture
def received_marked(db, tmp_path) -> SourceManifest:
    export = exports.Export()
    export.files[exports.CARD_DEFINITION]["definition"]["formulas"]["card"][0]["formula"] = MARKED_FORMULA
    export.files[exports.DATAFLOW_DEFINITION]["actions"][2]["selectStatement"] = MARKED_STATEMENT
    return ingest(export.write(tmp_path / "marked"))


# --- who may see and re-analyze --------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_login(client, received_sample):
    assert client.get("/api/calculation-flaws/").status_code == 401
    assert client.get(flaws_url(received_sample))["Location"].startswith("/login/")
    response = client.post(f"{flaws_url(received_sample)}reanalyze/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_outsiders_are_refused(client, oscar, received_sample):
    client.force_login(oscar)
    assert client.get(flaws_url(received_sample)).status_code == 403
    assert client.get("/api/calculation-flaws/").status_code == 403
    assert client.post(f"{flaws_url(received_sample)}reanalyze/").status_code == 403


@pytest.mark.parametrize("persona", ROLES)
def test_every_role_reads_the_flaws_page_and_api(client, request, persona, received_sample):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(flaws_url(received_sample)).status_code == 200
    assert client.get("/api/calculation-flaws/").status_code == 200


@pytest.mark.parametrize(
    ("persona", "shown"),
    [("olivia", True), ("adam", True), ("cecilia", False), ("arthur", False), ("audrey", False)],
)
def test_only_those_who_receive_exports_see_the_reanalyze_button(
    client, request, persona, shown, received_sample
):
    client.force_login(request.getfixturevalue(persona))
    assert ("Re-analyze every calculation" in text(client.get(flaws_url(received_sample)))) is shown


def test_a_reviewer_cannot_reanalyze(client, cecilia, received_sample):
    client.force_login(cecilia)
    before = list(CalculationAnalysis.objects.values_list("id", flat=True))
    assert client.post(f"{flaws_url(received_sample)}reanalyze/").status_code == 403
    assert list(CalculationAnalysis.objects.values_list("id", flat=True)) == before


def test_the_operator_reanalyzes_and_it_is_audited_under_her_name(client, olivia, received_sample):
    client.force_login(olivia)
    before = set(CalculationAnalysis.objects.values_list("id", flat=True))
    response = client.post(f"{flaws_url(received_sample)}reanalyze/", follow=True)
    assert response.redirect_chain == [(flaws_url(received_sample), 302)]
    after = set(CalculationAnalysis.objects.values_list("id", flat=True))
    assert len(after) == len(before) and after.isdisjoint(before)
    event = AuditEvent.objects.filter(action="calculations.analyzed").latest("seq")
    assert (event.actor_label, event.object_id, event.after["force"]) == (
        "olivia",
        str(received_sample.pk),
        True,
    )
    assert "Re-analyzed" in text(response) and "DataFlow step(s)" in text(response)


def test_reanalyzing_is_a_post(client, olivia, received_sample):
    client.force_login(olivia)
    assert client.get(f"{flaws_url(received_sample)}reanalyze/").status_code == 405


# --- the flaws page --------------------------------------------------------------------------------


def test_the_flaws_page_lists_every_flaw_with_its_object_code_snippet_and_suggestion(
    client, olivia, received_sample
):
    client.force_login(olivia)
    response = client.get(flaws_url(received_sample))
    assert len(page_ids(response)) == CalculationFlaw.objects.filter(manifest=received_sample).count()
    body = text(response)
    spend_tier = BeastMode.objects.filter(manifest=received_sample, name="Spend Tier").first()
    assert f'href="/sources/cards/{spend_tier.card_id}/#beast-{spend_tier.pk}"' in body
    assert "CASE on an aggregate" in body and "AGGREGATE_IN_CASE_CONDITION" in body
    assert '<code class="snippet">250000</code>' in body
    assert '<code class="suggestion">COUNT(DISTINCT `Claim ID`)</code>' in body
    summary = response.context["summary"]
    assert [(s, n) for s, _l, n in summary.severity_counts] == [
        (s, CalculationFlaw.objects.filter(manifest=received_sample, severity=s).count())
        for s in ("error", "warning")
    ]
    assert summary.pending == 0 and 'id="pending"' not in body


def test_a_dataflow_step_flaw_links_its_step(client, olivia, received_marked):
    client.force_login(olivia)
    flaw = CalculationFlaw.objects.get(manifest=received_marked, code="HARDCODED_ASSUMPTION", snippet="1.07")
    step = flaw.analysis.dataflow_step
    body = text(client.get(flaws_url(received_marked)))
    assert f'href="/sources/dataflows/{step.dataflow_id}/#step-{step.position}"' in body
    assert f'step {step.position + 1}</span> {step.name}<span class="muted">, statement 1</span>' in body


def test_a_dataflow_statement_shows_its_flaws_marked_in_escaped_sql(client, olivia, received_marked):
    client.force_login(olivia)
    body = client.get(f"/sources/dataflows/{received_marked.dataflows.get().pk}/").content.decode()
    assert '<mark class="flaw-mark flaw-warning" title="HARDCODED_ASSUMPTION">1.07</mark>' in body
    literal = escape("YEAR('<b>fill_date</b>')")
    assert f'<mark class="flaw-mark flaw-error" title="STRING_LITERAL_AS_COLUMN">{literal}</mark>' in body
    assert "<b>fill_date</b>" not in body


@pytest.mark.parametrize(
    "filters",
    [
        {"code": "HARDCODED_ASSUMPTION"},
        {"severity": "error"},
        {"code": "UNGUARDED_DIVISION", "severity": "warning"},
    ],
)
def test_flaw_filters_are_the_same_on_the_page_and_the_api(client, olivia, received_sample, filters):
    client.force_login(olivia)
    page = page_ids(client.get(flaws_url(received_sample), filters))
    api = api_ids(client.get("/api/calculation-flaws/", {"manifest": received_sample.pk, **filters}))
    expected = list(
        CalculationFlaw.objects.filter(manifest=received_sample, **filters)
        .order_by("id")
        .values_list("id", flat=True)
    )
    assert page == api == expected and expected


def test_the_page_shows_only_its_own_manifests_flaws(client, olivia, received_sample, received):
    client.force_login(olivia)
    ids = page_ids(client.get(flaws_url(received)))
    assert set(CalculationFlaw.objects.filter(pk__in=ids).values_list("manifest", flat=True)) == {received.pk}


def test_an_unknown_code_is_reported_not_ignored(client, olivia, received_sample):
    client.force_login(olivia)
    body = text(client.get(flaws_url(received_sample), {"code": "NOPE"}))
    assert 'role="alert"' in body and "Select a valid choice" in body
    assert client.get("/api/calculation-flaws/", {"code": "NOPE"}).status_code == 400


def test_filters_that_match_nothing_say_so(client, olivia, received_sample):
    client.force_login(olivia)
    assert "No flaw matches these filters." in text(
        client.get(flaws_url(received_sample), {"code": "WEEK_MODE"})
    )


def test_a_manifest_without_flaws_says_what_the_page_is_for(client, olivia, received_sample):
    CalculationFlaw.objects.filter(manifest=received_sample).delete()
    client.force_login(olivia)
    body = text(client.get(flaws_url(received_sample)))
    assert "No calculation flaw in this export." in body and "No flaw found." in body


def test_what_an_older_engine_analyzed_is_counted_as_pending(client, olivia, received_sample):
    CalculationAnalysis.objects.filter(
        pk=CalculationAnalysis.objects.filter(manifest=received_sample).first().pk
    ).update(engine_version="0")
    client.force_login(olivia)
    body = text(client.get(flaws_url(received_sample)))
    assert "1 beast mode or DataFlow step has no analysis by this engine version yet" in body


def test_the_flaws_page_pages_by_keyset_and_keeps_its_filters(client, olivia, received_sample, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 3)
    client.force_login(olivia)
    expected = list(
        CalculationFlaw.objects.filter(manifest=received_sample, severity="warning").values_list(
            "id", flat=True
        )
    )
    seen, url = [], f"{flaws_url(received_sample)}?severity=warning"
    while url:
        response = client.get(url if url.startswith("/") else flaws_url(received_sample) + url)
        seen += page_ids(response)
        url = response.context["next_url"]
        assert url is None or "severity=warning" in url
    assert seen == sorted(expected) and len(seen) > 3


def test_htmx_filtering_returns_only_the_results(client, olivia, received_sample):
    client.force_login(olivia)
    response = client.get(flaws_url(received_sample), {"severity": "error"}, headers={"HX-Request": "true"})
    body = text(response)
    assert "<h1>" not in body and "calc-flaw-list" in body and "summary" not in response.context


def test_the_manifest_page_counts_flaws_by_severity_and_links_the_flaws_page(client, olivia, received_sample):
    client.force_login(olivia)
    body = text(client.get(f"/sources/{received_sample.pk}/"))
    counts = body[body.index('id="flaw-counts"') :]
    errors = CalculationFlaw.objects.filter(manifest=received_sample, severity="error").count()
    assert f"{errors} errors" in counts and f'href="{flaws_url(received_sample)}"' in counts


# --- flaws inline, marked in escaped text ----------------------------------------------------------


def test_a_flaw_is_marked_in_the_formula_and_every_slice_is_escaped(client, olivia, received_marked):
    client.force_login(olivia)
    card = received_marked.cards.get(domo_id=exports.CARD)
    body = client.get(f"/sources/cards/{card.pk}/").content.decode()
    start = MARKED_FORMULA.index("`<script>")
    end = MARKED_FORMULA.index("`)") + 1
    expected = (
        f"<code>{escape(MARKED_FORMULA[:start])}"
        f'<mark class="flaw-mark flaw-error" title="UNKNOWN_COLUMN">{escape(MARKED_FORMULA[start:end])}</mark>'
        f"{escape(MARKED_FORMULA[end:])}</code>"
    )
    assert expected in body
    assert "<script>alert" not in body and "<b>" not in body
    assert '<code class="snippet">`&lt;script&gt;alert(1)&lt;/script&gt;`</code>' in body


def test_html_in_a_formula_stays_text_on_the_flaws_page(client, olivia, received_marked):
    client.force_login(olivia)
    body = client.get(flaws_url(received_marked)).content.decode()
    assert "<script>alert" not in body and "`&lt;script&gt;alert(1)&lt;/script&gt;`" in body


def test_overlapping_flaws_mark_the_html_formula_without_running_it(client, olivia, received):
    client.force_login(olivia)
    card = received.cards.get(domo_id=exports.CARD)
    body = client.get(f"/sources/cards/{card.pk}/").content.decode()
    assert "<b>high</b>" not in body and "<script>alert" not in body
    assert (
        '<mark class="flaw-mark flaw-warning" title="AGGREGATE_IN_CASE_CONDITION, HARDCODED_ASSUMPTION">10</mark>'
        in body
    )
    tail = HTML_FORMULA[HTML_FORMULA.index(" THEN") :]
    assert f'title="AGGREGATE_IN_CASE_CONDITION">{escape(tail)}</mark>' in body


def test_the_card_page_shows_each_beast_modes_level_columns_flaws_and_translations(
    client, olivia, received_sample
):
    client.force_login(olivia)
    card = DomoCard.objects.get(manifest=received_sample, title="Spend Tier by Client and Channel")
    body = text(client.get(f"/sources/cards/{card.pk}/"))
    assert "Aggregate level" in body and "Card value" in body and "<code>Ingredient Cost Paid</code>" in body
    assert "Hard-coded assumption" in body and "no flaw" in body  # Spend Tier, then Cost per Unit
    details = body[body.index('<details class="translations">') : body.index("</details>")]
    places = [details.index(f"<dt>{target} ") for target in ("tsql", "postgres", "sqlite", "duckdb")]
    assert places == sorted(places)  # in the targets' order, not the JSON column's


def test_the_dataset_page_shows_its_beast_modes_analyses(client, olivia, received_sample):
    client.force_login(olivia)
    dataset = received_sample.datasets.get(name="PBM Claims 2025")
    body = text(client.get(f"/sources/datasets/{dataset.pk}/"))
    assert "Aggregate of a row-level ratio" in body and "COUNT of an id without DISTINCT" in body
    assert (
        '<mark class="flaw-mark flaw-warning" title="COUNT_NOT_DISTINCT_ON_ID">COUNT(`Claim ID`)</mark>'
        in body
    )


def test_the_dataflow_page_shows_each_statement_and_expression_analyzed(client, olivia, received_sample):
    client.force_login(olivia)
    for flow in received_sample.dataflows.all():
        body = text(client.get(f"/sources/dataflows/{flow.pk}/"))
        analyses = CalculationAnalysis.objects.filter(dataflow_step__dataflow=flow)
        assert analyses.exists()
        for analysis in analyses:
            assert f'id="analysis-{analysis.pk}"' in body
    magic = received_sample.dataflows.get(database_type="MAGIC")
    assert "Row level" in text(client.get(f"/sources/dataflows/{magic.pk}/"))


def test_an_object_not_yet_analyzed_says_so_and_shows_its_text(client, olivia, received):
    CalculationAnalysis.objects.filter(manifest=received).delete()
    client.force_login(olivia)
    card = received.cards.get(domo_id=exports.CARD)
    body = text(client.get(f"/sources/cards/{card.pk}/"))
    assert "Not analyzed yet" in body and escape(HTML_FORMULA) in body and "<mark" not in body
    flow = received.dataflows.get()
    body = text(client.get(f"/sources/dataflows/{flow.pk}/"))
    assert "Not analyzed yet" in body and "CREATE INDEX m ON claims (member)" in body


# --- the API list ----------------------------------------------------------------------------------


def test_the_api_names_each_flaws_object(client, olivia, received_sample):
    client.force_login(olivia)
    results = client.get(
        "/api/calculation-flaws/", {"manifest": received_sample.pk, "page_size": 500}
    ).json()["results"]
    on_card = next(r for r in results if r["card"] is not None)
    beast = BeastMode.objects.get(pk=on_card["beast_mode"])
    assert (on_card["card"], on_card["dataset"], on_card["dataflow"]) == (beast.card_id, None, None)
    assert (
        on_card["engine_version"]
        and on_card["title"]
        and on_card["used_as"] in {"card_value", "card_dimension"}
    )
    flaw = CalculationFlaw.objects.get(pk=on_card["id"])
    assert (on_card["snippet"], on_card["start"], on_card["end"]) == (flaw.snippet, flaw.start, flaw.end)
    assert all(set(r) >= {"code", "severity", "snippet", "message", "suggestion"} for r in results)


def test_the_api_names_a_dataflow_steps_flaw_by_its_flow_step_and_part(client, olivia, received_marked):
    client.force_login(olivia)
    response = client.get(
        "/api/calculation-flaws/", {"manifest": received_marked.pk, "code": "HARDCODED_ASSUMPTION"}
    )
    (item,) = [r for r in response.json()["results"] if r["snippet"] == "1.07"]
    step = received_marked.dataflows.get().steps.get(action_type="GenerateTableAction")
    assert (item["beast_mode"], item["card"], item["dataset"]) == (None, None, None)
    assert (item["dataflow"], item["step_position"], item["part"]) == (step.dataflow_id, step.position, 0)
    assert item["used_as"] == "dataflow" and MARKED_STATEMENT[item["start"] : item["end"]] == "1.07"


def test_the_flaws_page_of_an_unknown_manifest_is_404(client, olivia, db):
    client.force_login(olivia)
    assert client.get("/sources/999/flaws/").status_code == 404
    assert client.post("/sources/999/flaws/reanalyze/").status_code == 404


# --- query counts ----------------------------------------------------------------------------------

# the page's own queries on top of the shell (tests/evidence/test_intake_pages.py)
PAGE_QUERIES = {
    "flaws": 5,  # manifest, one keyset page, severity counts, beast modes and steps left to analyze
    "flaws-fragment": 2 - 1,  # manifest, one keyset page; no layout, so not the header's groups
    "card": 6,  # card, beast modes, their analyses, their flaws, datasets, the golden packet's bronze path
    "dataset": 9,  # dataset, policies, dataflows, directory, beast modes, their analyses, their flaws, cards,
    # its registrations as candidate evidence
    "dataflow": 5,  # dataflow, datasets in and out, steps, their analyses, their flaws
    "manifest": 10,
}


def sample_urls(manifest: SourceManifest) -> dict[str, str]:
    return {
        "flaws": flaws_url(manifest),
        "card": f"/sources/cards/{manifest.cards.get(title='Brand Rebate Estimate').pk}/",
        "dataset": f"/sources/datasets/{manifest.datasets.get(name='PBM Claims 2025').pk}/",
        "dataflow": f"/sources/dataflows/{manifest.dataflows.get(database_type='MYSQL').pk}/",
        "manifest": f"/sources/{manifest.pk}/",
    }


@pytest.mark.parametrize("name", sorted(PAGE_QUERIES))
def test_page_query_counts_are_locked(client, olivia, received_sample, name, django_assert_num_queries):
    client.force_login(olivia)
    url = sample_urls(received_sample)[name.removesuffix("-fragment")]
    headers = {"HX-Request": "true"} if name.endswith("-fragment") else {}
    client.get(url, headers=headers)
    with django_assert_num_queries(SHELL + PAGE_QUERIES[name]):
        assert client.get(url, headers=headers).status_code == 200


def test_query_counts_do_not_grow_with_the_objects_on_a_page(client, olivia, received_sample):
    client.force_login(olivia)
    small = {  # one beast mode, one expression a step: against four beast modes and many statements
        "card": f"/sources/cards/{received_sample.cards.get(title='Contract Period by Client').pk}/",
        "dataflow": f"/sources/dataflows/{received_sample.dataflows.get(database_type='MAGIC').pk}/",
    }
    large = sample_urls(received_sample)
    for name, url in small.items():
        client.get(url)
        assert query_count(client, url) == query_count(client, large[name]), name


def test_the_api_list_costs_the_same_whatever_it_returns(client, olivia, received_sample, received):
    client.force_login(olivia)
    client.get("/api/calculation-flaws/")
    few = query_count(client, f"/api/calculation-flaws/?manifest={received.pk}")
    many = query_count(client, "/api/calculation-flaws/?page_size=500")
    assert few == many
