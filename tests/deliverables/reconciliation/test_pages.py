"""Reconciliation pages: the takeover scoreboard (counts, filters, a bad filter said), a subject's page, the mapping
form (proposal, save, unchanged, refusal naming the field), one reconciliation's page (summary, differences with
their status, explained by a flaw), adjudication (approvers only; refusals on the page), retirement, and the browser
test: an approver adjudicates a card's open differences, the scoreboard shows it reconciled, a new reconciliation
keeps the verdicts."""
from __future__ import annotations

import html
import re

import pytest
from django.contrib.auth.models import Group

from deliverables.models import Adjudication, CardMapping, CardRetirement, Reconciliation
from deliverables.reconciliation import services
from deliverables.runs.selectors import money
from tests.conftest import login
from tests.deliverables.reconciliation.conftest import (
    BRAND_REBATE,
    GUARANTEE_FLOW,
    REBATE_PER_CLAIM,
    reconcile,
)
from tests.deliverables.runs.conftest import CURATED_DB

BLUEWATER = "Bluewater County Schools / 2025Q3"


def row_of(html: str, attribute: str, value: str) -> str:
    found = re.search(rf'<tr[^>]*{attribute}="{re.escape(value)}".*?</tr>', html, re.DOTALL)
    assert found, f"{attribute}={value}"
    return found.group(0)


def rows_with(html: str, attribute: str) -> dict[str, str]:
    return {m.group(1): m.group(0) for m in re.finditer(rf'<tr[^>]*{attribute}="([^"]*)".*?</tr>', html, re.DOTALL)}


def open_items(recon: Reconciliation):
    from deliverables.reconciliation.selectors import item_statuses

    return [s.item for s in item_statuses(recon) if s.is_open]


def accept_open(approver, recon: Reconciliation) -> int:
    """The approver accepts every open difference of the reconciliation (through the service); how many."""
    items = open_items(recon)
    for item in items:
        services.adjudicate(actor=approver, item=item, verdict="accepted", comment="Domo's figure was wrong")
    return len(items)


@CURATED_DB
def test_the_scoreboard_counts_states_filters_and_says_a_bad_filter(mapped, olivia, arthur, cecilia, client):
    brand, per_claim = mapped.subject(BRAND_REBATE), mapped.subject(REBATE_PER_CLAIM)
    brand_recon = reconcile(olivia, brand)
    accepted = accept_open(arthur, brand_recon)  # the sample's client without contract names: only in Domo
    assert accepted
    reconcile(olivia, per_claim)
    client.force_login(cecilia)  # the C-suite reads it

    page = client.get("/reconciliation/").content.decode()
    brand_row = row_of(page, "data-subject", brand.name)
    assert 'data-state="reconciled"' in brand_row and ">Reconciled<" in brand_row
    # its differences are no alarm: each is explained by a planted flaw or accepted, and the row says which
    explained = brand_recon.summary["explained"]
    assert explained and f"{explained} explained by a flaw, {accepted} accepted" in brand_row
    assert f'href="/reconciliation/{brand_recon.pk}/"' in brand_row and f"run #{mapped.run.pk}" in brand_row
    assert f"Domo {brand.id}" in brand_row and "v1" in brand_row
    per_claim_row = row_of(page, "data-subject", per_claim.name)
    assert 'data-state="open"' in per_claim_row and "Reconciled with open variances" in per_claim_row
    assert "Variance 1" in per_claim_row and "Only in Domo" in per_claim_row  # the classes in words
    assert "accepted</span>" not in per_claim_row  # nothing explained or accepted yet: no such line
    counts = dict(re.findall(r'data-state="(\w+)"><a[^>]*><strong class="count">(\d+)</strong>', page))
    rows = rows_with(page, "data-subject")
    assert int(counts["total"]) == len(rows) >= 4
    assert int(counts["reconciled"]) >= 1 and int(counts["open"]) >= 1
    assert sum(int(counts[s]) for s in ("not_mapped", "mapped", "open", "reconciled", "retired")) == len(rows)

    only_open = client.get("/reconciliation/?state=open").content.decode()
    assert per_claim.name in only_open and brand.name not in only_open
    load_id = mapped.sample.manifest.load_id
    in_export = client.get(f"/reconciliation/?manifest={load_id}").content.decode()
    assert set(rows_with(in_export, "data-subject")) == set(rows)

    bad = client.get("/reconciliation/?state=done&manifest=no-such-export")
    assert bad.status_code == 400
    text = bad.content.decode()
    assert "State: Select a valid choice. done is not one of the available choices." in text
    assert "Export (load id): Select a valid choice. no-such-export" in text
    assert 'data-subject="' not in text


@CURATED_DB
def test_a_subject_page_shows_golden_source_mapping_versions_reconciliations_and_who_may_act(
        mapped, olivia, arthur, audrey, client):
    brand = mapped.subject(BRAND_REBATE)
    recon = reconcile(olivia, brand)
    accept_open(arthur, recon)
    mapping = CardMapping.objects.get(subject_kind=brand.kind, subject_id=brand.id)
    url = f"/reconciliation/{brand.kind}/{brand.id}/"

    client.force_login(olivia)
    page = client.get(url).content.decode()
    assert 'data-state="reconciled"' in page
    assert recon.golden["sha256"] in page and mapped.sample.manifest.load_id in page
    assert f"Version {mapping.version}" in page and mapping.output in page
    for measure in mapping.measures:
        measure_row = row_of(page, "data-measure", measure["golden"])
        assert measure["backend"] in measure_row
        for flaw in measure["flaws"]:
            assert flaw["code"] in measure_row
    assert any(m["flaws"] for m in mapping.measures)
    versions = row_of(page, "data-version", "1")
    assert "olivia" in versions and "shipped" in versions
    reconciliation_row = row_of(page, "data-reconciliation", str(recon.pk))
    assert f"run #{mapped.run.pk}" in reconciliation_row and "Succeeded" in reconciliation_row
    assert 'id="reconcile-button"' in page and "Edit mapping" in page and 'id="retire-button"' not in page
    assert 'id="audit-link"' not in page  # operators do not read the audit trail

    client.force_login(arthur)
    page = client.get(url).content.decode()
    assert 'id="retire-button"' in page and 'id="reconcile-button"' not in page and 'id="map-link"' not in page

    client.force_login(audrey)
    page = client.get(url).content.decode()
    audit = f"/audit/?object_type=deliverables.cardmapping&amp;object_id=card:{brand.id}"
    assert audit in page
    assert client.get(audit.replace("&amp;", "&")).status_code == 200

    assert client.get("/reconciliation/card/999999999/").status_code == 404
    assert client.get(f"/reconciliation/widget/{brand.id}/").status_code == 404


@CURATED_DB
def test_the_mapping_form_proposes_by_names_saves_a_version_says_unchanged_and_names_a_refused_field(
        mapped, olivia, cecilia, client):
    brand = mapped.subject(BRAND_REBATE)
    url = f"/reconciliation/{brand.kind}/{brand.id}/map/"
    client.force_login(cecilia)
    assert client.get(url).status_code == 403

    client.force_login(olivia)
    page = client.get(url).content.decode()
    current = CardMapping.objects.get(subject_kind=brand.kind, subject_id=brand.id)
    assert "the current mapping&#x27;s values (v1)" in page or "current mapping's values (v1)" in page
    form = _form_values(page)
    assert form["output"] == current.output

    # Saving the same values: unchanged.
    response = client.post(url, form, follow=True)
    assert response.redirect_chain[-1][0] == f"/reconciliation/{brand.kind}/{brand.id}/"
    assert "mapping unchanged (still v1)" in response.content.decode()

    # A wider tolerance on the first measure: version 2, audited, shown on the subject page.
    index = next(i for i in range(50) if form.get(f"c{i}-role") == "measure")
    changed = {**form, f"c{index}-abs": "0.05"}
    response = client.post(url, changed, follow=True)
    assert "mapping v2 saved" in response.content.decode()
    v2 = CardMapping.objects.get(subject_kind=brand.kind, subject_id=brand.id, version=2)
    assert v2.created_by == olivia and any(m["abs_tolerance"] == "0.05" for m in v2.measures)

    # A measure onto a backend key: refused naming the measure and the field; nothing saved.
    wrong = {**form, f"c{index}-backend": current.keys[0]["backend"]}
    response = client.post(url, wrong)
    assert response.status_code == 409
    text = response.content.decode()
    assert re.search(rf"measure \d \({re.escape(form[f'c{index}-column'])}\): backend measure", text.replace("&#x27;", "'"))
    assert CardMapping.objects.filter(subject_kind=brand.kind, subject_id=brand.id).count() == 2

    # A note past its 4,000 characters: 400, the field named at the top (linked to it) and beside it; nothing saved.
    response = client.post(url, {**form, "note": "n" * 4001})
    assert response.status_code == 400
    text = response.content.decode()
    assert '<a href="#id_note">Note</a>: Ensure this value has at most 4000 characters (it has 4001).' in text
    assert 'id="id_note_error">Ensure this value has at most 4000' in text
    # A tolerance the API would refuse is refused here too (the service holds the limits).
    response = client.post(url, {**form, f"c{index}-abs": "1E+30"})
    assert response.status_code == 409 and "&#x27;1E+30&#x27; has more than 30 digits" in response.content.decode()
    assert CardMapping.objects.filter(subject_kind=brand.kind, subject_id=brand.id).count() == 2

    # Another output re-proposes by names (GET ?output=), and a bad one is said.
    other = next(name for name in services.outputs.OUTPUTS if name != current.output)
    proposal = client.get(f"{url}?output={other}").content.decode()
    assert "proposal by the columns" in proposal and f'<option value="{other}" selected' in proposal
    bad = client.get(f"{url}?output=nope").content.decode()
    assert "output: &#x27;nope&#x27; is not a backend output" in bad


def _form_values(page: str) -> dict:
    """The mapping form's values as a browser would post them (selected options, checked boxes, inputs)."""
    form = page.split('id="mapping-form"', 1)[1].split("</form>", 1)[0]
    values: dict = {}
    for name, value in re.findall(r'<input type="(?:text|number|hidden)" name="([^"]+)"(?: value="([^"]*)")?', form):
        values[name] = html.unescape(value)
    for match in re.finditer(r'<input type="checkbox" name="([^"]+)"([^>]*)>', form):
        if "checked" in match.group(2):
            value = re.search(r'value="([^"]*)"', match.group(2))
            values.setdefault(match.group(1), [])
            if value:
                values[match.group(1)].append(value.group(1))
            else:
                values[match.group(1)] = "on"
    for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', form, re.DOTALL):
        selected = re.search(r'<option value="([^"]*)"[^>]*selected', body)
        values[name] = selected.group(1) if selected else ""
    for name, body in re.findall(r'<textarea name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.DOTALL):
        values[name] = html.unescape(body.strip())
    for i, column in enumerate(re.findall(r'<tr data-column="([^"]+)"', form)):
        values[f"c{i}-column"] = column  # for the test's messages only (the form ignores it)
    values.pop("csrfmiddlewaretoken", None)
    return values


@CURATED_DB
def test_a_reconciliation_page_shows_inputs_summary_and_explained_and_open_differences(
        mapped, olivia, cecilia, client):
    brand, per_claim = mapped.subject(BRAND_REBATE), mapped.subject(REBATE_PER_CLAIM)
    explained = reconcile(olivia, brand)
    open_one = reconcile(olivia, per_claim)
    client.force_login(cecilia)

    page = client.get(f"/reconciliation/{explained.pk}/?status=all").content.decode()
    assert f'href="/runs/{mapped.run.pk}/"' in page
    assert explained.golden["sha256"] in page and explained.artifact_sha256 in page
    assert "version 1 by olivia" in page
    total = row_of(page, "data-measure", "")
    for name, n in explained.summary["total"].items():
        assert f'data-class="{name}">{n}<' in total
    rows = rows_with(page, "data-item")
    item = explained.items.filter(explanation__isnull=False).first()
    assert item is not None
    row = rows[str(item.pk)]
    assert 'data-status="explained"' in row and item.explanation["code"] in row
    assert item.explanation["how"][:60].replace("'", "&#x27;") in row
    assert "Adjudicate" not in page  # a reviewer decides nothing

    page = client.get(f"/reconciliation/{open_one.pk}/").content.decode()
    rows = rows_with(page, "data-item")
    assert {i.pk for i in open_items(open_one)} == {int(pk) for pk in rows}
    bluewater = next(r for r in rows.values() if BLUEWATER in r and "Rebate Amount" in r)
    assert 'data-status="open"' in bluewater and 'data-class="variance"' in bluewater and "0.00" in bluewater
    assert client.get(f"/reconciliation/{open_one.pk}/?status=bogus").status_code == 200  # shows the open ones


@CURATED_DB
def test_only_an_approver_adjudicates_with_a_comment_and_a_mapper_approver_is_refused_on_the_page(
        mapped, olivia, arthur, adam, client):
    per_claim = mapped.subject(REBATE_PER_CLAIM)
    recon = reconcile(olivia, per_claim)
    item = next(i for i in open_items(recon) if i.item_class == "variance")
    url = f"/reconciliation/items/{item.pk}/adjudicate/"
    decision = {f"i{item.pk}-verdict": "accepted", f"i{item.pk}-comment": "Domo billed the Q3 invoices twice"}

    # The operator who mapped it sees no form and is refused: not an approver.
    client.force_login(olivia)
    assert "Adjudicate</button>" not in client.get(f"/reconciliation/{recon.pk}/").content.decode()
    refused = client.post(url, decision)
    assert refused.status_code == 403
    assert "adjudicating a variance needs the approver&#x27;s permission" in refused.content.decode()
    in_place = client.post(url, decision, HTTP_HX_REQUEST="true")  # htmx swaps the row: the reason shows in it
    assert in_place.status_code == 200 and in_place.content.decode().strip().startswith("<tr")
    assert "Refused: adjudicating a variance needs the approver&#x27;s permission" in in_place.content.decode()

    # An approver who also mapped the card (four eyes): 403 with the service's reason on the page.
    adam.groups.add(Group.objects.get(name="approver"))
    mapping = CardMapping.objects.get(subject_kind=per_claim.kind, subject_id=per_claim.id)
    services.mapping_save(actor=adam, kind=per_claim.kind, subject_id=per_claim.id, output=mapping.output,
                          keys=mapping.keys, measures=[{**m, "flaws": [f["fingerprint"] for f in m["flaws"]]}
                                                       for m in mapping.measures], note="adam's version")
    client.force_login(adam)
    refused = client.post(url, decision)
    assert refused.status_code == 403
    assert "adam mapped this card: four eyes, another approver adjudicates its variances" in refused.content.decode()

    # An approver without a comment: refused next to the row, nothing kept.
    client.force_login(arthur)
    page = client.get(f"/reconciliation/{recon.pk}/").content.decode()
    assert f'action="/reconciliation/items/{item.pk}/adjudicate/"' in page
    refused = client.post(url, {**decision, f"i{item.pk}-comment": "  "})
    assert refused.status_code == 409
    assert "comment: say why" in refused.content.decode()
    refused = client.post(url, {**decision, f"i{item.pk}-verdict": ""})
    assert refused.status_code == 409
    assert "verdict: &#x27;&#x27; is not one of accepted, backend_defect, investigating" in refused.content.decode()
    assert not Adjudication.objects.exists()

    done = client.post(url, decision, follow=True)
    assert "accepted recorded" in done.content.decode()
    again = client.post(url, {**decision, f"i{item.pk}-verdict": "investigating"}, HTTP_HX_REQUEST="true")
    row = again.content.decode()
    assert 'data-status="investigating"' in row and "Change verdict" in row
    decision_kept = client.post(url, decision, HTTP_HX_REQUEST="true")
    assert 'data-status="accepted"' in decision_kept.content.decode()
    page = client.get(f"/reconciliation/{recon.pk}/?status=all").content.decode()
    row = rows_with(page, "data-item")[str(item.pk)]
    assert 'data-status="accepted"' in row and "by arthur" in row and "Domo billed the Q3 invoices twice" in row
    assert set(Adjudication.objects.values_list("verdict", "decided_by__username")) == {
        ("accepted", "arthur"), ("investigating", "arthur")}


@CURATED_DB
def test_reconcile_now_queues_one_and_retire_is_refused_until_reconciled(mapped, olivia, arthur, client):
    per_claim, brand = mapped.subject(REBATE_PER_CLAIM), mapped.subject(BRAND_REBATE)
    client.force_login(olivia)
    response = client.post(f"/reconciliation/{per_claim.kind}/{per_claim.id}/reconcile/", follow=True)
    recon = Reconciliation.objects.get(subject_kind=per_claim.kind, subject_id=per_claim.id)
    assert response.redirect_chain[-1][0] == f"/reconciliation/{recon.pk}/"
    text = response.content.decode()
    assert "queued; this page follows it" in text and f'hx-get="/reconciliation/{recon.pk}/progress/?state=queued"' in text
    assert recon.state == "queued" and recon.requested_by == olivia and recon.run == mapped.run
    cancelled = client.post(f"/reconciliation/{recon.pk}/cancel/", follow=True)
    assert "cancelled" in cancelled.content.decode()

    client.force_login(arthur)
    assert client.post(f"/reconciliation/{per_claim.kind}/{per_claim.id}/reconcile/").status_code == 403
    refused = client.post(f"/reconciliation/{per_claim.kind}/{per_claim.id}/retire/", {"comment": "done"})
    assert refused.status_code == 409
    assert "only a reconciled card" in refused.content.decode()
    accept_open(arthur, reconcile(olivia, brand))
    response = client.post(f"/reconciliation/{brand.kind}/{brand.id}/retire/", {"comment": "backend in use"},
                           follow=True)
    assert "retired: the backend output is the one to use" in response.content.decode()
    assert CardRetirement.objects.get().retired_by == arthur
    board = client.get("/reconciliation/?state=retired").content.decode()
    assert brand.name in board and per_claim.name not in board


@pytest.mark.browser
@CURATED_DB
def test_browser_an_approver_adjudicates_the_card_turns_reconciled_and_a_new_reconciliation_keeps_it(
        mapped, olivia, arthur, page, live_server):
    per_claim = mapped.subject(REBATE_PER_CLAIM)
    first = reconcile(olivia, per_claim)
    to_accept = open_items(first)
    assert any(BLUEWATER in i.key_label and i.measure == "Rebate Amount" for i in to_accept)
    assert any(i.item_class == "only_domo" for i in to_accept)

    login(page, "arthur")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/reconciliation/")
    card_row = page.locator(f'tr[data-subject="{per_claim.name}"]')
    assert card_row.get_attribute("data-state") == "open"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280  # no sideways scrolling at 1280 px
    page.screenshot(path="/tmp/reconui-scoreboard-1280.png", full_page=True)
    card_row.get_by_role("link", name=f"#{first.pk}").click()
    page.wait_for_url(f"**/reconciliation/{first.pk}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    page.screenshot(path="/tmp/reconui-open-1280.png", full_page=True)
    # A verdict without a comment: the row says why, in place.
    row = page.locator(f'tr[data-item="{to_accept[0].pk}"]')
    row.locator("select").select_option("accepted")
    row.get_by_role("button", name="Adjudicate").click()  # the browser asks for the required comment first
    assert page.locator(f'tr[data-item="{to_accept[0].pk}"] .refusal').count() == 0
    row.locator('input[name$="-comment"]').fill("   ")
    row.get_by_role("button", name="Adjudicate").click()
    page.locator(f'tr[data-item="{to_accept[0].pk}"] .refusal', has_text="comment: say why").wait_for()
    for item in to_accept:  # each verdict swaps its row in place (htmx)
        row = page.locator(f'tr[data-item="{item.pk}"]')
        row.locator("select").select_option("accepted")
        row.locator('input[name$="-comment"]').fill(f"Domo's figure for {item.key_label} was wrong")
        row.get_by_role("button", name="Adjudicate").click()
        page.locator(f'tr[data-item="{item.pk}"][data-status="accepted"]').wait_for()
        assert "by arthur" in page.locator(f'tr[data-item="{item.pk}"]').inner_text()
    assert page.locator('tr[data-status="open"]').count() == 0
    page.reload()
    page.get_by_text("No open difference.").wait_for()
    page.screenshot(path="/tmp/reconui-detail-1280.png", full_page=True)

    page.get_by_role("link", name="Scoreboard", exact=True).click()
    assert page.locator(f'tr[data-subject="{per_claim.name}"]').get_attribute("data-state") == "reconciled"

    # The operator reconciles again from the subject page; the worker's part runs here, in-process.
    page.context.clear_cookies()
    login(page, "olivia")
    page.goto(f"/reconciliation/{per_claim.kind}/{per_claim.id}/")
    page.get_by_role("button", name="Reconcile now").click()
    page.wait_for_url(re.compile(r"/reconciliation/\d+/$"))
    second = Reconciliation.objects.exclude(pk=first.pk).get(subject_kind=per_claim.kind, subject_id=per_claim.id)
    assert page.locator("#recon-state").inner_text() == "Queued"
    assert services.reconciliation_execute(reconciliation_id=second.pk, task_id="browser-test").state == "succeeded"
    page.locator("#recon-state-head", has_text="Succeeded").wait_for()  # the poll reloads the finished page
    page.get_by_text("No open difference.").wait_for()
    page.goto(f"/reconciliation/{second.pk}/?status=all")
    for item in to_accept:
        kept = page.locator("tr[data-item]", has_text=item.key_label).filter(has_text=item.measure)
        assert kept.first.get_attribute("data-status") == "accepted", item.key_label
        assert "by arthur" in kept.first.inner_text()
    page.set_viewport_size({"width": 1920, "height": 1000})
    page.goto("/reconciliation/")
    page.select_option("#id_state", "reconciled")
    page.get_by_role("button", name="Filter").click()  # htmx swaps the rows and pushes the URL
    page.wait_for_url("**/reconciliation/?*state=reconciled*")
    assert page.locator("tr[data-subject]").count() == 1
    assert page.locator(f'tr[data-subject="{per_claim.name}"]').get_attribute("data-state") == "reconciled"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1920
    page.screenshot(path="/tmp/reconui-scoreboard-1920.png", full_page=True)
    page.goto(f"/reconciliation/{per_claim.kind}/{per_claim.id}/")
    assert page.locator("#subject-state").get_attribute("data-state") == "reconciled"
    page.screenshot(path="/tmp/reconui-subject-1920.png", full_page=True)
    page.get_by_role("link", name="Edit mapping").click()
    page.wait_for_url(f"**/reconciliation/{per_claim.kind}/{per_claim.id}/map/")
    assert page.locator('tr[data-column="Rebate Amount"] select[name$="-role"]').input_value() == "measure"
    page.screenshot(path="/tmp/reconui-map-1920.png", full_page=True)


@CURATED_DB
def test_a_difference_whose_value_changed_is_open_again_and_shows_the_earlier_verdict(
        mapped, olivia, arthur, client):
    per_claim = mapped.subject(REBATE_PER_CLAIM)
    first = reconcile(olivia, per_claim)
    accepted = {i.locator: i for i in open_items(first)}
    accept_open(arthur, first)

    # The operator compares Domo's Rebate Amount with another backend field: the backend values change.
    client.force_login(olivia)
    url = f"/reconciliation/{per_claim.kind}/{per_claim.id}/map/"
    form = _form_values(client.get(url).content.decode())
    index = next(i for i in range(50) if form.get(f"c{i}-column") == "Rebate Amount")
    response = client.post(url, {**form, f"c{index}-backend": "guaranteed_rebates"}, follow=True)
    assert "mapping v2 saved" in response.content.decode()
    second = reconcile(olivia, per_claim)

    client.force_login(arthur)
    page = client.get(f"/reconciliation/{second.pk}/").content.decode()
    reopened = [i for i in open_items(second) if i.locator in accepted]
    assert reopened, "a difference accepted under other values"
    for item in reopened:
        row = rows_with(page, "data-item")[str(item.pk)]
        before = accepted[item.locator]
        assert 'data-status="open"' in row
        assert ("earlier: accepted: domo was wrong by arthur on" in row
                and f"when the values were {money(before.backend_value) or '—'} / {money(before.golden_value) or '—'}"
                in row), row
        assert "Adjudicate</button>" in row


@CURATED_DB
def test_a_dataflow_and_a_card_without_golden_rows_have_their_pages(mapped, olivia, client):
    flow = mapped.subject(GUARANTEE_FLOW)
    client.force_login(olivia)
    page = client.get(f"/reconciliation/{flow.kind}/{flow.id}/").content.decode()
    assert "Domo DataFlow" in page and "dataflow output of export" in page and "Version 1" in page
    form = client.get(f"/reconciliation/{flow.kind}/{flow.id}/map/").content.decode()
    assert 'id="mapping-form"' in form and "current mapping" in form

    board = client.get("/reconciliation/?state=not_mapped").content.decode()
    without = [s for s in services.sources.subjects() if not s.has_golden]
    assert without, "the sample has a card without golden rows"
    row = row_of(board, "data-subject", without[0].name)
    assert "no golden rows" in row
    subject_page = client.get(f"/reconciliation/{without[0].kind}/{without[0].id}/").content.decode()
    assert "holds its golden.csv" in subject_page and "Not mapped yet." in subject_page
    response = client.get(f"/reconciliation/{without[0].kind}/{without[0].id}/map/")
    assert response.status_code == 409
    assert "The golden rows cannot be read" in response.content.decode()
    refused = client.post(f"/reconciliation/{without[0].kind}/{without[0].id}/reconcile/")
    assert refused.status_code == 409 and "is not mapped: map it to a backend output first" in refused.content.decode()


@CURATED_DB
def test_an_unmapped_card_is_mapped_from_the_proposal_and_shows_mapped_on_the_scoreboard(
        mapped, olivia, client):
    from deliverables.reconciliation.selectors import scoreboard

    rows, _ = scoreboard(state="not_mapped")
    card = next(r for r in rows if r.has_golden and r.kind == "card")
    url = f"/reconciliation/{card.kind}/{card.id}/map/"
    client.force_login(olivia)
    subject_page = client.get(f"/reconciliation/{card.kind}/{card.id}/").content.decode()
    assert f'href="{url}">Map</a>' in subject_page and 'id="reconcile-button"' not in subject_page

    page = client.get(url).content.decode()
    assert "This is a proposal by the columns" in page
    form = _form_values(page)
    keys = [i for i in range(50) if form.get(f"c{i}-role") == "key"]
    assert keys and any(form.get(f"c{i}-role") == "measure" for i in range(50))

    # Every key set to ignore: refused, naming what is missing; nothing saved.
    refused = client.post(url, {**form, **{f"c{i}-role": "ignore" for i in keys}})
    assert refused.status_code == 409
    assert "keys: map at least one key" in refused.content.decode()
    assert not CardMapping.objects.filter(subject_kind=card.kind, subject_id=card.id).exists()

    response = client.post(url, form, follow=True)
    assert f"{card.title}: mapping v1 saved." in response.content.decode().replace("&#x27;", "'")
    saved = CardMapping.objects.get(subject_kind=card.kind, subject_id=card.id)
    assert saved.created_by == olivia and saved.source == "console" and saved.version == 1
    board = client.get("/reconciliation/?state=mapped").content.decode()
    assert 'data-state="mapped"' in row_of(board, "data-subject", f"{card.kind}:{card.id}")


@CURATED_DB
def test_the_differences_page_in_key_order_forward_and_back(mapped, olivia, cecilia, client, monkeypatch):
    from deliverables.reconciliation import views

    recon = reconcile(olivia, mapped.subject(REBATE_PER_CLAIM))
    every = list(recon.items.order_by("position").values_list("pk", flat=True))
    assert len(every) > 2
    monkeypatch.setattr(views, "ITEMS_SHOWN", 2)  # the page size, so that the sample's differences fill pages
    client.force_login(cecilia)
    seen, url, pages = [], f"/reconciliation/{recon.pk}/?status=all", []
    while url:
        page = client.get(url).content.decode()
        shown = [int(pk) for pk in rows_with(page, "data-item")]
        assert 0 < len(shown) <= 2
        seen += shown
        pages.append((url, shown))
        found = re.search(r'href="(\?[^"]*)"[^>]*rel="next"', page)
        url = f"/reconciliation/{recon.pk}/" + html.unescape(found.group(1)) if found else None
    assert seen == every  # each difference once, in key order
    last = client.get(pages[-1][0]).content.decode()
    assert f"{len(every)} in all" in last
    back = re.search(r'href="(\?[^"]*)"[^>]*rel="prev"', last)
    assert back
    earlier = client.get(f"/reconciliation/{recon.pk}/" + html.unescape(back.group(1))).content.decode()
    assert [int(pk) for pk in rows_with(earlier, "data-item")] == pages[-2][1]
