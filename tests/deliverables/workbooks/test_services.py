"""Workbook deliverables (deliverables.workbooks.services): refusals (audited), a build over the sample's run stored
write-once in the lake under its hash, the same bytes and path when the same run is built again, and a stored file
that changed never handed out."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
from pathlib import Path

import openpyxl
import pytest

from console import clock
from console.lake import get_lake
from console.models import AuditEvent
from deliverables.choices import DELIVERABLE_TYPE, RunState
from deliverables.models import Deliverable
from deliverables.runs import services as runs
from deliverables.workbooks import services
from deliverables.workbooks.builder import build_workbook
from deliverables.workbooks.xlsx import xstring_decode
from tests.deliverables.runs.conftest import PERIOD
from tests.deliverables.workbooks.conftest import a_client, build, control_characters_in_name

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "curated"])


def _events(action: str, object_id: str | None = None) -> list[AuditEvent]:
    rows = AuditEvent.objects.filter(object_type=DELIVERABLE_TYPE, action=action)
    if object_id is not None:
        rows = rows.filter(object_id=object_id)
    return list(rows.order_by("seq"))


def _lake_file(path: str) -> Path:
    from django.conf import settings

    return Path(settings.LAKE_URL.removeprefix("file://")) / path


# --- refusals ------------------------------------------------------------------------------------------------
def test_a_reviewer_may_not_build_a_workbook(sample_run, cecilia):
    with pytest.raises(services.Forbidden, match="build_deliverable"):
        services.deliverable_start(actor=cecilia, run=sample_run, client=a_client(sample_run), enqueue=False)
    assert not Deliverable.objects.exists()
    [refused] = _events("deliverables.deliverable.refused")
    assert refused.actor_id == cecilia.pk and refused.after["run"] == sample_run.pk


def test_a_run_that_has_not_succeeded_has_no_workbook(contract_sample, olivia, var_dir):
    queued = runs.run_start(actor=olivia, period_start=PERIOD[0], period_end=PERIOD[1], enqueue=False)
    with pytest.raises(services.Refused, match=f"run #{queued.pk} is queued: only a succeeded run"):
        services.deliverable_start(actor=olivia, run=queued, client="001000000000000AAA", enqueue=False)
    assert not Deliverable.objects.exists() and _events("deliverables.deliverable.refused")


def test_a_client_the_run_did_not_calculate_is_refused_naming_it(sample_run, olivia):
    with pytest.raises(services.Refused) as refused:
        services.deliverable_start(actor=olivia, run=sample_run, client="001NOTACLIENT0000X", enqueue=False)
    message = str(refused.value)
    assert message.startswith("client: ") and "001NOTACLIENT0000X" in message
    assert a_client(sample_run) in message  # the clients it could have been
    assert not Deliverable.objects.exists()
    assert _events("deliverables.deliverable.refused")[0].after["client"] == "001NOTACLIENT0000X"


def test_a_kind_not_built_here_is_refused(sample_run, olivia):
    with pytest.raises(services.Refused, match="kind: 'poster' is not built here"):
        services.deliverable_start(actor=olivia, run=sample_run, client=a_client(sample_run),
                                   kind="poster", enqueue=False)


def test_a_second_build_of_the_same_run_client_and_kind_while_one_is_queued_is_refused_naming_it(sample_run, olivia,
                                                                                                adam):
    client = a_client(sample_run)
    queued = services.deliverable_start(actor=olivia, run=sample_run, client=client, enqueue=False)
    with pytest.raises(services.Refused, match=rf"deliverable #{queued.pk}, the client workbook \(xlsx\) of client "
                                               rf"{client} from run #{sample_run.pk}, is already queued: follow it"):
        services.deliverable_start(actor=adam, run=sample_run, client=client, enqueue=False)
    [refused] = _events("deliverables.deliverable.refused")
    assert refused.actor_id == adam.pk and refused.after["building"] == queued.pk
    # another kind of the same client is its own build; once the first is built, the workbook may be built again
    payload = services.deliverable_start(actor=olivia, run=sample_run, client=client, kind="dashboard_payload",
                                         enqueue=False)
    assert payload.pk != queued.pk
    assert services.deliverable_execute(deliverable_id=queued.pk, task_id="t").state == RunState.SUCCEEDED
    again = services.deliverable_start(actor=adam, run=sample_run, client=client, enqueue=False)
    assert again.state == "queued" and Deliverable.objects.filter(kind="workbook").count() == 2


# --- building ------------------------------------------------------------------------------------------------
def test_a_workbook_is_built_and_stored_write_once_under_its_hash(sample_run, olivia):
    client = a_client(sample_run)
    queued = services.deliverable_start(actor=olivia, run=sample_run, client=client, enqueue=False)
    assert queued.state == "queued" and queued.trace_id == queued.traceparent.split("-")[1]
    assert queued.trace_id == sample_run.trace_id  # the run's trace goes on
    assert [s["name"] for s in queued.progress["steps"]] == ["data", "sheets", "store"]

    done = services.deliverable_execute(deliverable_id=queued.pk, task_id="task-1", queue="runs")

    assert done.state == RunState.SUCCEEDED, done.error
    period = f"{PERIOD[0].isoformat()}_{PERIOD[1].isoformat()}"
    assert done.path == f"deliverables/{client}/{period}/{done.sha256}.xlsx"
    stored = get_lake().read(done.path)
    assert hashlib.sha256(stored).hexdigest() == done.sha256 and len(stored) == done.bytes
    assert get_lake().sha256(done.path) == done.sha256
    assert done.summary["sheets"][:3] == ["Summary", "Guarantees", "Rebates"]
    book = openpyxl.load_workbook(io.BytesIO(stored), read_only=True)
    assert book.sheetnames == done.summary["sheets"]
    assert all(done.summary["rows"][name] >= 1 for name in book.sheetnames)
    assert done.summary["client_name"] and len(done.builder_version) == 64
    assert [s["state"] for s in done.progress["steps"]] == ["done"] * 3
    assert done.task_id == "task-1" and done.attempts == 1 and done.worker_pid
    [built] = _events("deliverables.deliverable.built", str(done.pk))
    assert built.after["sha256"] == done.sha256 and built.after["path"] == done.path
    assert _events("deliverables.deliverable.queued", str(done.pk))[0].actor_id == olivia.pk
    assert _events("deliverables.deliverable.started", str(done.pk))


@pytest.mark.catalogue(37)
def test_a_built_workbook_reports_the_cells_that_held_control_characters(sample_run, olivia):
    client = a_client(sample_run)
    name = control_characters_in_name(client)
    done = build(olivia, sample_run, client)

    report = {"cells": 2, "columns": [["Summary", "Title", 1], ["Summary", "Client", 1]]}
    assert done.summary["control_characters"] == report
    [built] = _events("deliverables.deliverable.built", str(done.pk))
    assert built.after["control_characters"] == report
    assert "2 cells with control characters (written as Excel escapes)" in done.progress["steps"][1]["detail"]
    assert services.control_characters_report(done) == (
        "2 cells held control characters; they are written as Excel escapes (_xHHHH_) and read back exactly: "
        "Summary › Title (1), Summary › Client (1)")
    book = openpyxl.load_workbook(io.BytesIO(get_lake().read(done.path)), read_only=True)
    summary = [[xstring_decode(v) if isinstance(v, str) else v for v in row] for row in book["Summary"].values]
    assert ["Client", name] == summary[1][:2]  # nothing dropped: the exact name reads back


@pytest.mark.catalogue(37)
def test_a_workbook_without_control_characters_reports_none(sample_run, olivia):
    done = build(olivia, sample_run, a_client(sample_run))
    assert "control_characters" not in done.summary
    [built] = _events("deliverables.deliverable.built", str(done.pk))
    assert "control_characters" not in built.after
    assert services.control_characters_report(done) == ""
    assert "control characters" not in done.progress["steps"][1]["detail"]


def test_building_the_same_run_again_gives_the_same_bytes_at_the_same_path(sample_run, olivia, adam):
    client = a_client(sample_run)
    first = build(olivia, sample_run, client)
    again = build(adam, sample_run, client)
    assert again.pk != first.pk
    assert again.sha256 == first.sha256 and again.path == first.path and again.bytes == first.bytes
    assert first.summary["already_stored"] is False and again.summary["already_stored"] is True
    assert get_lake().list(f"deliverables/{client}/") == [first.path]


def test_a_rebuild_over_a_stored_file_that_changed_fails_naming_it(sample_run, olivia):
    client = a_client(sample_run)
    first = build(olivia, sample_run, client)
    stored = _lake_file(first.path)
    stored.chmod(0o644)
    content = bytearray(stored.read_bytes())
    content[-1] ^= 1
    stored.write_bytes(bytes(content))
    queued = services.deliverable_start(actor=olivia, run=sample_run, client=client, enqueue=False)
    again = services.deliverable_execute(deliverable_id=queued.pk, task_id="t-2")
    assert again.state == RunState.FAILED and not again.sha256
    assert first.path in again.error and "cannot be overwritten" in again.error
    assert _events("deliverables.deliverable.failed", str(again.pk))


def test_the_progress_names_the_sheet_being_written(sample_run, olivia, tmp_path):
    """The builder reports each sheet as it writes it, and the build's progress records what it reports."""
    deliverable = services.deliverable_start(actor=olivia, run=sample_run, client=a_client(sample_run),
                                             enqueue=False)
    deliverable = services.jobs.claim(services.DELIVERABLES, deliverable.pk, task_id="t", queue="runs")
    progress = services._Progress(deliverable)
    recorded = []

    def report(sheet: str, rows: int) -> None:
        progress.last = 0.0  # each report recorded (not at most once a second), and read back
        progress(sheet, rows)
        deliverable.refresh_from_db()
        recorded.append(deliverable.progress["steps"][1]["detail"])

    build_workbook(sample_run, deliverable.client_account_id, out=tmp_path / "w.xlsx", base_url="http://x",
                   progress=report)
    assert any(d.startswith("Summary: ") for d in recorded) and any(d.startswith("Provenance: ") for d in recorded)


def test_progress_is_recorded_at_most_once_a_second(sample_run, olivia):
    deliverable = services.deliverable_start(actor=olivia, run=sample_run, client=a_client(sample_run),
                                             enqueue=False)
    progress = services._Progress(deliverable)
    progress.last = 0.0
    deliverable = services.jobs.claim(services.DELIVERABLES, deliverable.pk, task_id="t", queue="runs")
    progress.deliverable = deliverable
    for rows in range(50):
        progress("Findings", rows)
    deliverable.refresh_from_db()
    assert deliverable.progress["steps"][1]["detail"] == "Findings: 0 rows"  # the first call only, within a second


def test_a_workbook_of_a_cancelled_build_is_not_stored(sample_run, olivia):
    queued = services.deliverable_start(actor=olivia, run=sample_run, client=a_client(sample_run), enqueue=False)
    Deliverable.objects.filter(pk=queued.pk).update(state=RunState.CANCELLED)
    assert services.deliverable_execute(deliverable_id=queued.pk, task_id="t") is None
    assert get_lake().list("deliverables/") == []


def test_the_beat_sweeper_fails_a_silent_build(sample_run, olivia, settings):
    from deliverables import tasks

    settings.RUN_ABANDONED_SECONDS = 1800
    now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    queued = services.deliverable_start(actor=olivia, run=sample_run, client=a_client(sample_run), enqueue=False)
    Deliverable.objects.filter(pk=queued.pk).update(state=RunState.RUNNING, attempts=1, worker_host="lost",
                                                    heartbeat_at=now - dt.timedelta(hours=1))
    with clock.frozen(now):
        assert queued.pk in tasks.runs_sweep.apply().get()
    queued.refresh_from_db()
    assert queued.state == RunState.FAILED and queued.error.startswith("abandoned: no heartbeat since ")
    assert _events("deliverables.deliverable.abandoned", str(queued.pk))


# --- reading back --------------------------------------------------------------------------------------------
def test_the_stored_file_is_read_back_with_its_hash_checked(sample_run, olivia):
    done = build(olivia, sample_run, a_client(sample_run))
    with services.deliverable_open(done) as stream:
        assert hashlib.sha256(stream.read()).hexdigest() == done.sha256
    assert services.download_name(done) == f"{done.client_account_id}-{done.period_label}-{done.sha256[:8]}.xlsx"


@pytest.mark.catalogue(17)
def test_a_tampered_stored_file_is_never_handed_out(sample_run, olivia):
    done = build(olivia, sample_run, a_client(sample_run))
    stored = _lake_file(done.path)
    stored.chmod(0o644)
    stored.write_bytes(stored.read_bytes() + b"tampered")
    with pytest.raises(services.DeliverableIntegrityError, match=f"its file {done.path} failed the lake's check"):
        services.deliverable_open(done)
    # The export's refusal is in the trail, naming the file (console.lake.integrity).
    assert AuditEvent.objects.filter(action="lake.integrity_failed", object_id=done.path).count() == 1


def test_a_file_replaced_with_its_lake_hash_too_is_still_refused(sample_run, olivia):
    """Who rewrites the file and its lake sidecar alike still does not get past the deliverable's own hash."""
    done = build(olivia, sample_run, a_client(sample_run))
    stored = _lake_file(done.path)
    other = bytearray(stored.read_bytes())
    other[-1] ^= 1  # one bit of the same number of bytes
    other = bytes(other)
    for path, content in ((stored, other), (stored.with_name(stored.name + ".sha256"),
                                            (hashlib.sha256(other).hexdigest() + "\n").encode())):
        path.chmod(0o644)
        path.write_bytes(content)
    with pytest.raises(services.DeliverableIntegrityError) as refused:
        services.deliverable_open(done)
    assert done.path in str(refused.value) and f"not the recorded {done.sha256}" in str(refused.value)


def test_a_missing_stored_file_is_refused_naming_it(sample_run, olivia):
    done = build(olivia, sample_run, a_client(sample_run))
    _lake_file(done.path).unlink()
    with pytest.raises(services.DeliverableIntegrityError, match="is missing from the lake"):
        services.deliverable_open(done)


def test_a_deliverable_not_built_has_no_file(sample_run, olivia):
    queued = services.deliverable_start(actor=olivia, run=sample_run, client=a_client(sample_run), enqueue=False)
    with pytest.raises(services.DeliverableUnavailable, match="is queued: it has no stored file"):
        services.deliverable_open(queued)


# --- one client's content only ---------------------------------------------------------------------------------
def test_a_workbook_names_no_other_clients_evidence_only_its_own_and_the_shared(sample_run, tmp_path):
    """A run over every client read every client's packets; a client's workbook (published to that client's
    consumers) lists in its Provenance only the revisions that speak for the client: its own contract and
    rebate packets, the Salesforce accounts naming it and the price list naming no client."""
    from deliverables.models import RunNumber

    clients = sorted(set(RunNumber.objects.filter(run=sample_run).values_list("client_account_id", flat=True)))
    assert len(clients) > 1
    read = {e["packet_id"] for e in sample_run.inputs["evidence"]}
    for client in clients:
        build_workbook(sample_run, client, out=tmp_path / f"{client}.xlsx", base_url="https://console.example")
        book = openpyxl.load_workbook(tmp_path / f"{client}.xlsx")
        text = [str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
        for other in clients:
            if other != client:
                assert not [t for t in text if other in t], (client, other)  # nowhere in any sheet
        listed = {r[1].value.split(" ", 1)[1].rsplit("#", 1)[0] for r in book["Provenance"].iter_rows(min_row=3)
                  if r[0].value == "Input: evidence"}
        assert listed == {p for p in read if client in p or p in ("EVP-SALESFORCE-2025", "EVP-PRICING-LEAF-MAC-2025")}
        assert {"EVP-SALESFORCE-2025", "EVP-PRICING-LEAF-MAC-2025"} <= listed, client
