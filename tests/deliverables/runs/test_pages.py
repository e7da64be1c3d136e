"""Runs pages: the list and its filters, a succeeded run's page (badges, not-concluded numbers without an amount,
provenance links, the comparison with the earlier run), the Start run form and its refusals, cancel."""
from __future__ import annotations

import io
import re

import pytest
from django.utils.html import escape

from console.models import AuditEvent
from deliverables.choices import FindingKind
from deliverables.models import CalculationRun, RunNumber
from deliverables.runs import services as runs
from deliverables.runs.selectors import FINDING_SHORT, money, number_url
from evidence.packets.models import AccountRow
from evidence.samples.export import write_sample_export
from promotion.choices import PromotionTarget
from tests.deliverables.runs.conftest import CURATED_DB, LATER, PERIOD, ROWS, execute, promote
from tests.promotion.conftest import ingest


def start(actor, **options) -> CalculationRun:
    return runs.run_start(actor=actor, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=False, **options)


def governed_names() -> dict[str, str]:
    return dict(AccountRow.objects.filter(revision__status="accepted").values_list("account_id", "account_name"))


def succeeded_run_page(olivia, client, path: str = "") -> tuple[CalculationRun, str]:
    """A run over every client, executed, and its page (or one of its fragments) as olivia sees it."""
    run = execute(start(olivia))
    client.force_login(olivia)
    return run, client.get(f"/runs/{run.pk}/{path}").content.decode()


def row_of(html: str, key: str) -> str:
    found = re.search(rf'<tr data-key="{re.escape(key)}".*?</tr>', html, re.DOTALL)
    assert found, key
    return found.group(0)


@CURATED_DB
def test_the_runs_list_filters_by_state_and_client(contract_sample, olivia, client):
    client_id = contract_sample.client_of(contract_sample.evidence.packets[0][0])
    everyone = execute(start(olivia))
    one = start(olivia, client=client_id)
    client.force_login(olivia)

    page = client.get("/runs/").content.decode()
    assert f'data-run="{everyone.pk}"' in page and f'data-run="{one.pk}"' in page
    assert everyone.result_sha256[:12] in page
    assert '<option value="" selected>Any</option>' in page  # the state filter left empty reads "Any"

    succeeded = client.get("/runs/?state=succeeded").content.decode()
    assert f'data-run="{everyone.pk}"' in succeeded and f'data-run="{one.pk}"' not in succeeded

    for_client = client.get(f"/runs/?client={client_id}").content.decode()
    assert f'data-run="{one.pk}"' in for_client and f'data-run="{everyone.pk}"' not in for_client
    name = AccountRow.objects.filter(revision__status="accepted", account_id=client_id).values_list(
        "account_name", flat=True).first()
    assert name  # the client's run under its governed name, its id beside it
    assert f'{escape(name)} <span class="mono muted">{client_id}</span>' in for_client

    outside = client.get("/runs/?period_from=2030-01-01").content.decode()
    assert "No run matches these filters." in outside


@CURATED_DB
def test_a_succeeded_run_page_shows_decisions_and_never_an_amount_not_concluded(contract_sample, olivia, client):
    run = execute(start(olivia))
    client.force_login(olivia)

    page = client.get(f"/runs/{run.pk}/").content.decode()

    assert re.search(r'class="badge badge-ok"[^>]*>Succeeded<', page)
    # each client's results under its governed Salesforce name, its id beside it
    named = governed_names()
    clients = set(RunNumber.objects.filter(run=run).values_list("client_account_id", flat=True))
    assert clients & set(named)
    for client_id in clients & set(named):
        assert (f'<h3 id="client-{client_id}">{escape(named[client_id])} <span class="mono muted">{client_id}</span>'
                in page)
        # and the Build form offers it by name
        assert f'<option value="{client_id}">{escape(named[client_id])} ({client_id})</option>' in page
    assert run.result_sha256 in page
    assert 'class="badge badge-ok">Authorized' in page and 'class="badge badge-warn">Indicative' in page
    not_concluded = RunNumber.objects.filter(run=run, decision="not_concluded")
    assert not_concluded.exists()
    for number in not_concluded:
        row = row_of(page, number.key)
        assert "not concluded" in row
        assert not re.search(r"\d,?\d*\.\d\d", row.split('class="num"', 1)[1].split("<ul", 1)[0]), row
        for missing in number.evidence["missing"]:
            if "reason" in missing:
                assert missing["reason"].split("'")[0][:40] in row.replace("&#x27;", "'")
        assert number_url(run.pk, number.key) in row
    authorized = RunNumber.objects.filter(run=run, decision="authorized").first()
    row = row_of(page, authorized.key)
    assert money(authorized.amount) in row and number_url(run.pk, authorized.key) in row
    # The findings section: the first page read from the Parquet artifact, each linking to its provenance.
    assert 'data-finding="finding:' in page
    first = re.search(r'data-finding="(finding:[^"]+)"', page).group(1)
    assert number_url(run.pk, first) in page


def glance_row(html: str, client_id: str) -> str:
    table = re.search(r'<table class="run-glance">.*?</table>', html, re.DOTALL)
    assert table, "no results at a glance"
    found = re.search(rf'<tr data-client="{re.escape(client_id)}">.*?</tr>', table.group(0), re.DOTALL)
    assert found, client_id
    return found.group(0)


@CURATED_DB
def test_the_results_at_a_glance_give_each_clients_savings_by_decision(contract_sample, olivia, client):
    run, page = succeeded_run_page(olivia, client)

    named = governed_names()
    numbers = RunNumber.objects.filter(run=run)
    clients = set(numbers.values_list("client_account_id", flat=True))
    waiting_somewhere = False
    for client_id in clients:
        row = glance_row(page, client_id)
        assert f'href="#client-{client_id}"' in row  # to the client's own results below
        if client_id in named:
            assert escape(named[client_id]) in row
        cells = dict(re.findall(r'<td[^>]*data-decision="([a-z_]+)">(.*?)</td>', row, re.DOTALL))
        for decision, amount in (("authorized", "amount"), ("indicative", "indicative_amount")):
            savings = numbers.get(client_account_id=client_id, kind="savings", decision=decision)
            assert f'<a href="{number_url(run.pk, savings.key)}">{money(getattr(savings, amount))}</a>' in cells[decision]
            counted = numbers.filter(client_account_id=client_id, decision=decision).exclude(kind="savings").count()
            assert f"{counted} number" in cells[decision]
        waiting = numbers.filter(client_account_id=client_id, decision="not_concluded").exclude(kind="savings")
        if waiting.exists():
            waiting_somewhere = True
            savings = numbers.get(client_account_id=client_id, kind="savings", decision="not_concluded")
            assert number_url(run.pk, savings.key) in cells["not_concluded"]
            assert f"{waiting.count()} number" in cells["not_concluded"] and "for evidence" in cells["not_concluded"]
            flags = len(savings.evidence["missing"])
            assert (f"{flags} missing-evidence flag" in cells["not_concluded"]) == bool(flags)
            assert not re.search(r"\d\.\d\d", cells["not_concluded"])  # never an amount
        else:
            assert "none" in cells["not_concluded"]
    assert waiting_somewhere  # the sample has a client whose numbers wait for evidence


@CURATED_DB
def test_the_findings_show_the_client_by_name_and_the_kind_in_words(contract_sample, olivia, client):
    _, page = succeeded_run_page(olivia, client, "findings/")

    named = governed_names()
    rows = re.findall(r'<tr data-finding="finding:([a-z_]+):.*?</tr>', page, re.DOTALL)
    assert rows
    shown = re.findall(r'<tr data-finding="finding:([a-z_]+):[^"]*".*?<td data-kind="\1" title="([^"]+)">([^<]+)</td>'
                       r'\s*<td>(.*?)</td>', page, re.DOTALL)
    assert len(shown) == len(rows)
    for kind, full, short, who in shown:
        assert (short, full) == (FINDING_SHORT[kind], escape(dict(FindingKind.choices)[kind]))  # words, not codes
        if "title=" in who:  # a governed name, its id as the title
            account = re.search(r'title="([^"]+)"', who).group(1)
            assert escape(named[account]) in who
        else:
            assert re.search(r'<span class="mono">[^<]+</span>', who)
    assert any("title=" in who for *_, who in shown)


@CURATED_DB
def test_a_second_run_of_the_same_scope_says_it_has_the_same_result(contract_sample, olivia, client):
    first = execute(start(olivia))
    second = execute(start(olivia))
    client.force_login(olivia)

    page = client.get(f"/runs/{second.pk}/").content.decode()

    assert f"Same result as <a href=\"/runs/{first.pk}/\">run #{first.pk}</a>" in page


@CURATED_DB
def test_the_findings_filter_by_kind_and_page_by_keyset(contract_sample, olivia, client):
    run = execute(start(olivia))
    client.force_login(olivia)

    page = client.get(f"/runs/{run.pk}/findings/?kind=duplicate").content.decode()
    kinds = set(re.findall(r'data-finding="finding:([a-z_]+):', page))
    assert kinds <= {"duplicate"}
    # the client is chosen by name among the run's clients; one the run does not have is said, not dropped
    named = governed_names()
    some = RunNumber.objects.filter(run=run).exclude(kind="savings").values_list("client_account_id", flat=True)[0]
    assert f'<option value="{some}">{escape(named[some])} ({some})</option>' in page
    own = client.get(f"/runs/{run.pk}/findings/?client={some}").content.decode()
    assert set(re.findall(r'data-finding="finding:[a-z_]+:([^"]+)"', own))
    assert all(f'title="{some}"' in row for row in re.findall(r'<tr data-finding=.*?</tr>', own, re.DOTALL))
    other = client.get(f"/runs/{run.pk}/findings/?client=0015e00000XXXXXXXX").content.decode()
    assert 'id="findings-filter-problem"' in other and "Client: Select a valid choice" in other
    assert "data-finding=" not in other and 'name="client"' in other  # the form stays to mend it
    everything = client.get(f"/runs/{run.pk}/findings/").content.decode()
    shown = re.findall(r'data-finding="([^"]+)"', everything)
    assert len(shown) == min(50, run.findings_count)
    if run.findings_count > 50:
        following = re.search(r'hx-get="([^"]+)"[^>]*rel="next"', everything).group(1).replace("&amp;", "&")
        second = re.findall(r'data-finding="([^"]+)"', client.get(following).content.decode())
        assert second and not set(second) & set(shown)
        assert len(shown) + len(second) == min(100, run.findings_count)


@CURATED_DB
def test_a_running_run_page_polls_and_a_final_one_does_not(contract_sample, olivia, client):
    queued = start(olivia)
    client.force_login(olivia)

    page = client.get(f"/runs/{queued.pk}/").content.decode()
    assert f'hx-get="/runs/{queued.pk}/progress/?state=queued"' in page and 'hx-trigger="every 2s"' in page
    assert 'id="cancel-button"' in page

    execute(queued)
    fragment = client.get(f"/runs/{queued.pk}/progress/?state=queued", HTTP_HX_REQUEST="true")
    assert fragment["HX-Refresh"] == "true"
    assert "hx-trigger" not in fragment.content.decode()


@CURATED_DB
def test_the_start_form_starts_a_run_and_follows_it(contract_sample, olivia, client):
    client.force_login(olivia)
    trace = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
    form = client.get("/runs/new/").content.decode()
    # the client field suggests the governed Salesforce accounts by name
    named = governed_names()
    assert named and 'list="known-clients"' in form
    for account_id, name in named.items():
        assert f'<option value="{account_id}">{escape(name)}</option>' in form

    answer = client.post("/runs/new/", {"period_start": "2025-01-01", "period_end": "2025-12-31"},
                         HTTP_TRACEPARENT=trace)

    run = CalculationRun.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/runs/{run.pk}/"
    assert run.state == "queued" and run.trace_id == "ab" * 16 and run.requested_by == olivia
    assert 'id="run-prefilled"' not in form  # no run yet: nothing to take the period from


@CURATED_DB
def test_the_start_form_takes_the_newest_runs_period_and_run_again_a_runs_whole_scope(contract_sample, olivia, client):
    import datetime as dt

    start(olivia)
    newest = runs.run_start(actor=olivia, period_start=dt.date(2025, 4, 1), period_end=dt.date(2025, 6, 30),
                            enqueue=False)
    client.force_login(olivia)

    form = client.get("/runs/new/").content.decode()

    assert 'name="period_start" value="2025-04-01"' in form and 'name="period_end" value="2025-06-30"' in form
    assert f'<a href="/runs/{newest.pk}/">run #{newest.pk}</a>' in form
    scoped = execute(start(olivia, client="0015e00000Qm7AcAAJ"))
    again = re.search(r'href="([^"]+)" id="run-again"', client.get(f"/runs/{scoped.pk}/").content.decode())
    form = client.get(again.group(1).replace("&amp;", "&")).content.decode()  # the same scope, filled in
    assert 'name="client" value="0015e00000Qm7AcAAJ"' in form and 'name="period_start" value="2025-01-01"' in form
    assert 'name="period_end" value="2025-12-31"' in form and 'id="run-prefilled"' not in form
    assert 'id="run-again"' not in client.get(f"/runs/{newest.pk}/").content.decode()  # still queued
    asked = client.get("/runs/new/?period_start=2024-01-01&period_end=2024-12-31").content.decode()
    assert 'name="period_start" value="2024-01-01"' in asked and 'id="run-prefilled"' not in asked  # a link's own


@CURATED_DB
def test_the_start_form_cancel_button_cancels_a_queued_run(contract_sample, olivia, client):
    run = start(olivia)
    client.force_login(olivia)

    answer = client.post(f"/runs/{run.pk}/cancel/")

    run.refresh_from_db()
    assert answer.status_code == 302 and run.state == "cancelled" and run.cancelled_by == olivia


@pytest.fixture
def migration_sample(tmp_path, states, adam, arthur, curated_db, no_enqueue, broker):
    def build():
        manifest = ingest(write_sample_export(tmp_path / "export", rows=ROWS, exported_at=LATER).path)
        promote(manifest, adam, arthur, target=PromotionTarget.MIGRATION)
        return manifest

    return states.get("runs: sample claims promoted for migration only", build)


@CURATED_DB
def test_the_start_form_shows_the_refusal_of_migration_only_claims(migration_sample, olivia, client):
    client.force_login(olivia)

    answer = client.post("/runs/new/", {"period_start": "2025-01-01", "period_end": "2025-12-31"})

    page = answer.content.decode()
    assert answer.status_code == 409
    assert "Refused:" in page and "promoted for migration and reconciliation only" in page
    assert not CalculationRun.objects.exists()


@pytest.mark.django_db
def test_the_start_form_is_forbidden_to_a_reviewer(cecilia, client):
    client.force_login(cecilia)

    assert client.get("/runs/new/").status_code == 403
    assert client.post("/runs/new/", {"period_start": "2025-01-01", "period_end": "2025-12-31"}).status_code == 403
    assert client.get("/runs/").status_code == 200


@pytest.mark.django_db
def test_the_start_form_names_a_period_that_ends_before_it_starts(olivia, client):
    client.force_login(olivia)

    answer = client.post("/runs/new/", {"period_start": "2025-12-31", "period_end": "2025-01-01"})

    assert answer.status_code == 400
    assert "The period ends (2025-01-01) before it starts (2025-12-31)." in answer.content.decode()


@CURATED_DB
def test_a_not_concluded_number_links_to_its_missing_evidence_flag(contract_sample, olivia, client):
    from django.core.management import call_command

    from evidence.flags.models import MissingEvidenceFlag

    call_command("recompute_evidence_flags", stdout=io.StringIO())
    run = execute(start(olivia))
    client.force_login(olivia)

    page = client.get(f"/runs/{run.pk}/").content.decode()

    linked = 0
    for number in RunNumber.objects.filter(run=run, decision="not_concluded"):
        row = row_of(page, number.key)
        for missing in number.evidence["missing"]:
            flag = MissingEvidenceFlag.objects.filter(key=missing.get("flag_key"), status="open").first()
            if flag:
                assert f'href="/evidence/missing/{flag.pk}/" class="flag-link"' in row
                linked += 1
    assert linked


@pytest.mark.browser
@pytest.mark.worker
@CURATED_DB
def test_in_a_browser_an_operator_starts_a_run_follows_it_opens_a_shortfalls_provenance_and_sees_what_is_not_concluded(
        contract_sample, celery_worker, olivia, page, live_server):
    from tests.conftest import login

    login(page, "olivia")
    page.goto("/runs/")
    page.get_by_role("link", name="Start a run").click()
    page.fill("#id_period_start", "2025-01-01")
    page.fill("#id_period_end", "2025-12-31")
    page.get_by_role("button", name="Start run").click()
    page.wait_for_url(re.compile(r".*/runs/\d+/$"))

    # The progress panel polls; once the run is final the page reloads with its results.
    page.locator('#run-state-head[data-state="succeeded"]').wait_for(timeout=120_000)
    run = CalculationRun.objects.get()
    assert run.state == "succeeded" and run.worker_pid
    assert page.locator("#run-progress").get_attribute("hx-trigger") is None
    assert page.locator('tr[data-decision="not_concluded"] .not-concluded').count() > 0
    assert page.locator("table.findings tbody tr").count() == min(50, run.findings_count)
    clients = set(RunNumber.objects.filter(run=run).values_list("client_account_id", flat=True))
    assert page.locator("table.run-glance tbody tr").count() == len(clients)  # the results at a glance

    # The findings, filtered on the page (in place) and downloaded as the page filters them.
    page.select_option("#id_kind", "mac")
    page.get_by_role("button", name="Filter").click()
    page.locator("#findings-matching").wait_for()
    matching = int(page.locator("#findings-matching").inner_text())
    assert matching > 0 and page.locator("table.findings tbody tr").count() == min(50, matching)
    with page.expect_download() as download:
        page.click("#findings-csv")
    found = [line for line in io.StringIO(download.value.path().read_text(encoding="utf-8")) if line.strip()]
    assert len(found) == 1 + matching and all(line.startswith("mac,") for line in found[1:])

    # A shortfall's provenance, from the run page: its rows, downloaded.
    shortfall = (RunNumber.objects.filter(run=run, kind="awp_guarantee", decision="authorized", amount__gt=0)
                 .order_by("-amount").first())
    assert shortfall is not None
    page.locator(f'tr[data-key="{shortfall.key}"] td a').first.click()
    page.wait_for_url(re.compile(rf".*/runs/{run.pk}/numbers/.+/$"))
    assert page.locator("#decision").inner_text() == "authorized"
    assert page.locator("#amount-value").inner_text() == money(shortfall.amount)  # as every page shows money
    assert page.locator("#row-count").inner_text() == str(shortfall.row_count)
    with page.expect_download() as download:
        page.click("#rows-csv")
    lines = [line for line in io.StringIO(download.value.path().read_text(encoding="utf-8")) if line.strip()]
    assert len(lines) == 1 + shortfall.row_count  # the header and every contributing row

    # A client without a governed contract (nor a candidate one, which would make its numbers indicative): its
    # guarantees are not concluded, the missing contract named, never a number.
    from evidence.models import PacketRevision

    contracted = {client for revision in PacketRevision.objects.filter(kind="contract")
                  for client in revision.packet.client_account_ids}
    without = sorted(set(RunNumber.objects.filter(run=run).values_list("client_account_id", flat=True)) - contracted)
    assert without, "the sample has a client without a contract packet"
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"/runs/{run.pk}/")
    # the reasons under "not concluded" (a savings line names dozens) wrap inside the table: no sideways scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert page.locator("ul.missing-reasons").first.evaluate("e => getComputedStyle(e).whiteSpace") == "normal"
    rows = page.locator(f'table.run-numbers[data-client="{without[0]}"][data-kind="awp_guarantee"] tbody tr')
    assert rows.count() > 0
    for index in range(rows.count()):
        row = rows.nth(index)
        assert row.get_attribute("data-decision") == "not_concluded"
        amount = row.locator("td.num").inner_text()
        assert "not concluded" in amount and "no governed contract" in amount
        assert not re.search(r"\d+\.\d\d", amount), amount  # never a number


@CURATED_DB
def test_home_shows_the_newest_run_over_every_clients_savings(contract_sample, olivia, cecilia, client):
    client.force_login(cecilia)
    assert 'id="no-latest-run"' in client.get("/").content.decode()  # nothing yet, and it says so
    execute(start(olivia))
    newest = execute(start(olivia))
    some_client = RunNumber.objects.filter(run=newest).values_list("client_account_id", flat=True).first()
    execute(start(olivia, client=some_client))  # newer, but one client's: not the takeover's figures

    home = client.get("/").content.decode()

    table = re.search(r'<table class="run-glance" id="latest-savings">.*?</table>', home, re.DOTALL).group(0)
    assert f'href="/runs/{newest.pk}/#results-glance"' in home
    savings = RunNumber.objects.filter(run=newest, kind="savings")
    clients = set(savings.values_list("client_account_id", flat=True))
    assert set(re.findall(r'<tr data-client="([^"]+)">', table)) == clients
    named = governed_names()
    for number in savings.exclude(decision="not_concluded"):
        amount = number.amount if number.decision == "authorized" else number.indicative_amount
        assert f'<a href="{number_url(newest.pk, number.key)}">{money(amount)}</a>' in table
    for client_id in clients & set(named):
        assert escape(named[client_id]) in table
    waiting = savings.filter(decision="not_concluded").exclude(figures__numbers="0").first()
    assert waiting is not None  # the sample has numbers waiting for evidence
    row = re.search(rf'<tr data-client="{waiting.client_account_id}">.*?</tr>', table, re.DOTALL).group(0)
    assert f"{waiting.figures['numbers']} number" in row and number_url(newest.pk, waiting.key) in row


@CURATED_DB
def test_the_findings_download_as_csv_filtered_as_the_page_with_exact_amounts(contract_sample, olivia, client, settings):
    import csv

    import pyarrow as pa
    import pyarrow.parquet as pq

    from console.lake import get_lake

    queued = start(olivia)
    client.force_login(olivia)
    refused = client.get(f"/runs/{queued.pk}/findings.csv")
    assert refused.status_code == 409 and "no findings yet" in refused.content.decode()
    run = execute(queued)
    stored = pq.read_table(pa.BufferReader(get_lake().read(run.findings_path))).to_pylist()

    answer = client.get(f"/runs/{run.pk}/findings.csv")

    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/csv")
    assert answer["Content-Disposition"] == f'attachment; filename="run-{run.pk}-findings.csv"'
    lines = list(csv.DictReader(io.StringIO(b"".join(answer.streaming_content).decode())))
    assert len(lines) == run.findings_count == len(stored)
    by_claim = {(f["kind"], f["claim_id"]): f for f in stored}
    for line in lines:
        finding = by_claim[(line["kind"], line["claim_id"])]
        for amount in ("paid", "allowed", "overpayment", "indicative_overpayment"):
            assert line[amount] == ("" if finding[amount] is None else str(finding[amount]))  # exact, as stored
        assert line["provenance_url"] == settings.CONSOLE_BASE_URL.rstrip("/") + number_url(
            run.pk, f"finding:{line['kind']}:{line['claim_id']}")
    assert [(line["kind"], line["client_account_id"], line["claim_id"]) for line in lines] == sorted(
        (f["kind"], f["client_account_id"], f["claim_id"]) for f in stored)  # the page's order

    page = client.get(f"/runs/{run.pk}/findings/?kind=mac").content.decode()
    link = re.search(r'href="([^"]+)" id="findings-csv"', page).group(1).replace("&amp;", "&")
    assert link == f"/runs/{run.pk}/findings.csv?kind=mac"  # the filters the page shows
    macs = list(csv.DictReader(io.StringIO(b"".join(client.get(link).streaming_content).decode())))
    assert macs and {line["kind"] for line in macs} == {"mac"}
    assert len(macs) == sum(1 for f in stored if f["kind"] == "mac")
    assert f'<span id="findings-matching">{len(macs)}</span> of {run.findings_count} match the filters' in page
    # Each download is on record with its filters (claim-level data leaving the console); the refused one is not.
    downloads = AuditEvent.objects.filter(action="deliverables.run.findings_downloaded").order_by("seq")
    assert [(e.actor_label, e.object_id, e.after["filters"]) for e in downloads] == [
        ("olivia", str(run.pk), {}), ("olivia", str(run.pk), {"kind": "mac"})]


@CURATED_DB
def test_a_missing_evidence_flag_lists_the_numbers_it_holds_back_in_the_newest_run(contract_sample, olivia, cecilia,
                                                                                   client):
    from evidence.flags.models import MissingEvidenceFlag
    from evidence.flags.services import flag_run_execute, request_flags_recompute

    flag_run = request_flags_recompute(trigger="test", enqueue=False)
    flag_run_execute(run_id=flag_run.pk, task_id="test")
    client.force_login(cecilia)
    flag = MissingEvidenceFlag.objects.filter(status="open").order_by("pk").first()
    assert 'id="held-none"' in client.get(f"/evidence/missing/{flag.pk}/").content.decode()  # no run yet
    run = execute(start(olivia))
    waiting = RunNumber.objects.filter(run=run, decision="not_concluded").exclude(kind="savings")
    held = {n.key for n in waiting for m in n.evidence["missing"] if m.get("flag_key")}
    number = next(n for n in waiting if any(m.get("flag_key") for m in n.evidence["missing"]))
    flag = MissingEvidenceFlag.objects.get(key=next(m["flag_key"] for m in number.evidence["missing"]
                                                    if m.get("flag_key")), status="open")

    page = client.get(f"/evidence/missing/{flag.pk}/").content.decode()

    listed = re.search(r'<ul id="held-numbers">(.*?)</ul>', page, re.DOTALL).group(1)
    assert f'<a href="{number_url(run.pk, number.key)}">{escape(number.label)}</a>' in listed
    keys = {m.group(1) for m in re.finditer(rf'href="/runs/{run.pk}/numbers/([^/"]+)/"', listed)}
    assert keys <= held | {f"savings:{flag.client_account_id}:not_concluded"}  # only what names this flag
    assert f'href="/runs/{run.pk}/"' in page
    assert "[&#x27;" not in page and "{&#x27;" not in page  # the detail in words, not Python
    body = client.get(f"/api/evidence/missing/{flag.pk}/").json()["held_back_numbers"]  # the API twin
    assert body["run"] == run.pk and {n["key"] for n in body["numbers"]} == {m.group(1) for m in re.finditer(
        rf'href="/runs/{run.pk}/numbers/([^/"]+)/"', listed)}
    assert number_url(run.pk, number.key) in {n["provenance_url"] for n in body["numbers"]}
