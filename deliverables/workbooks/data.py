"""What a client's workbook shows, read from a succeeded calculation run (the database and the lake) into a
WorkbookData for deliverables.workbooks.builder. Only what the run recorded is read, so the same run gives the
same data (and the same workbook bytes) later: the client's name comes from the governed Salesforce revisions
the run's inputs name, and a missing-evidence flag a number names only by its key is described by the flag's
identity (kind, period, component, NDC, quarter: what its key is the hash of), never by its reason text, which
is recomputed as evidence arrives. Of the evidence revisions the run read, only the client's are shown
(client_evidence): a workbook is published to its client's consumers, and never names another client's packets."""
from __future__ import annotations

from django.urls import NoReverseMatch, reverse

from deliverables.choices import RunState
from deliverables.models import CalculationRun, RunNumber
from deliverables.workbooks.model import NumberLine, RunFacts, WorkbookData
from deliverables.workbooks.xlsx import WorkbookError


def _numbers_path(run_id: int) -> str:
    try:
        return reverse("run-number", args=[run_id, "KEY"]).rsplit("KEY/", 1)[0]
    except NoReverseMatch:
        return f"/runs/{run_id}/numbers/"


def _client_name(run: CalculationRun, client: str) -> str:
    """The account name in the governed Salesforce revisions the run read (the latest revision wins)."""
    from evidence.packets.models import AccountRow

    governed = [(r.get("packet_id"), r.get("revision")) for r in (run.inputs or {}).get("evidence") or []
                if r.get("kind") == "salesforce" and r.get("class") == "governed"]
    names = []
    for packet_id, revision in governed:
        rows = AccountRow.objects.filter(account_id=client, revision__claimed_packet_id=packet_id,
                                         revision__revision=revision).order_by("row")
        names.extend(rows.values_list("revision__revision", "account_name"))
    return max(names)[1] if names else ""


def client_evidence(run: CalculationRun, client: str) -> list[dict]:
    """The evidence revisions the run read (CalculationRun.inputs['evidence'], in its order) that speak for
    `client`: its own packets, the Salesforce accounts naming it, a price list naming no client
    (evidence.packets.selectors.speaks_for). A run over every client read every client's packets; another
    client's are never shown in this client's deliverables."""
    from evidence.packets.models import EvidencePacket
    from evidence.packets.selectors import speaks_for

    revisions = (run.inputs or {}).get("evidence") or []
    packets = {p.packet_id: p for p in EvidencePacket.objects.filter(
        packet_id__in=sorted({str(r.get("packet_id")) for r in revisions}))}
    return [r for r in revisions if r.get("packet_id") in packets and speaks_for(packets[r["packet_id"]], client)]


def _flag_texts(keys) -> dict[str, str]:
    """flag key -> what is missing, in words, from the flag's identity."""
    from evidence.flags.models import MissingEvidenceFlag

    keys = sorted(k for k in keys if k)
    texts: dict[str, str] = {}
    for key, kind, start, end, component, ndc, quarter in (
            MissingEvidenceFlag.objects.filter(key__in=keys).order_by("key", "pk")
            .values_list("key", "kind", "period_start", "period_end", "component", "ndc", "quarter")):
        if key in texts:
            continue
        what = ", ".join(filter(None, [f"component {component}" if component else "",
                                       f"NDC {ndc}" if ndc else "", f"quarter {quarter}" if quarter else ""]))
        texts[key] = (f"no governed {kind} evidence" + (f" for {what}" if what else "")
                      + f", {start.isoformat()} to {end.isoformat()}")
    return texts


def workbook_data(run: CalculationRun, client_account_id: str) -> WorkbookData:
    """The client's numbers and findings of `run`; refused (WorkbookError) for a run that has not succeeded or a
    client the run did not calculate."""
    from deliverables.runs.selectors import findings_file

    if run.state != RunState.SUCCEEDED:
        raise WorkbookError(f"run #{run.pk} is {run.state}: only a succeeded run has a workbook")
    if not client_account_id:
        raise WorkbookError(f"run #{run.pk}: a workbook is for one client; name it")
    if run.client_account_id and run.client_account_id != client_account_id:
        raise WorkbookError(f"run #{run.pk} calculated client {run.client_account_id}, not {client_account_id}")
    numbers = list(RunNumber.objects.filter(run=run, client_account_id=client_account_id).order_by("position", "pk"))
    if not numbers:
        raise WorkbookError(f"run #{run.pk} has no number for client {client_account_id}")
    flags = _flag_texts({m.get("flag_key") for n in numbers for m in (n.evidence or {}).get("missing") or []})
    lines = [NumberLine(
        key=n.key, kind=n.kind, label=n.label, decision=n.decision, figures=n.figures or {},
        evidence=n.evidence or {}, amount=n.amount, indicative_amount=n.indicative_amount,
        period_start=n.period_start, period_end=n.period_end, calculation=n.calculation,
        calculation_version=n.calculation_version, dataset_key=n.dataset_key, dataset_version=n.dataset_version,
        row_count=n.row_count, rows_checksum=n.rows_checksum) for n in numbers]
    facts = RunFacts(
        run_id=run.pk, state=run.state, finished_at=run.finished_at, client_scope=run.client_account_id,
        engine=run.engine, calculation_version=run.calculation_version,
        inputs={**(run.inputs or {}), "evidence": client_evidence(run, client_account_id)},
        inputs_sha256=run.inputs_sha256, result_sha256=run.result_sha256, findings_path=run.findings_path,
        findings_sha256=run.findings_sha256, findings_count=run.findings_count, queue=run.queue,
        worker_host=run.worker_host, worker_pid=run.worker_pid, task_id=run.task_id, trace_id=run.trace_id,
        traceparent=run.traceparent, requested_by=run.requested_by.get_username(), requested_at=run.requested_at,
        started_at=run.started_at, attempts=run.attempts)
    return WorkbookData(
        run=facts, client_account_id=client_account_id, period_start=run.period_start, period_end=run.period_end,
        numbers=lines, findings_file=findings_file(run) if run.findings_path else None,
        client_name=_client_name(run, client_account_id),
        flag_reasons=flags, numbers_path=_numbers_path(run.pk))
