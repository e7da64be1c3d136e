"""What the provenance page and its API twin show of one number, and the audited re-derivation.

`number_detail(run, number)` is one plain dict (links as site paths) both render, its `answers` the six questions
(deliverables.provenance.answers); `number_rederive(actor=..., run=..., number=...)` re-derives the number's rows
(rows.rederive) and writes the audit row "deliverables.number.rederived" (it changes nothing else). Reading needs
console.view_provenance; re-deriving is an operator's act (console.build_deliverable), kept off the page.
"""
from __future__ import annotations

from django.db import transaction
from django.urls import reverse

from console.audit import audit_record
from deliverables.choices import RUN_TYPE, Decision
from deliverables.models import CalculationRun
from deliverables.provenance import answers, rows
from deliverables.runs.compute import AMOUNT_FIGURES  # the run withholds them for a number not concluded
from evidence.packets.selectors import account_names

VIEW_PERMISSION = "console.view_provenance"
REDERIVE_PERMISSION = "console.build_deliverable"
NUMBER_TYPE = "deliverables.runnumber"


def number_links(run: CalculationRun, key: str) -> dict:
    return {
        "self": reverse("run-number", args=[run.pk, key]),
        "rows": reverse("run-number-rows", args=[run.pk, key]),
        "rows_csv": reverse("run-number-rows-csv", args=[run.pk, key]),
        "rederive": reverse("run-number-rederive", args=[run.pk, key]),
        "run": answers.site_path("runs:run-detail", run.pk) or f"/runs/{run.pk}/",
        "api": reverse("api-run-number", args=[run.pk, key]),
        "api_rows": reverse("api-run-number-rows", args=[run.pk, key]),
        "api_rederive": reverse("api-run-number-rederive", args=[run.pk, key]),
    }


def _flags(entries: list[dict]) -> dict:
    """flag key -> the newest missing-evidence flag of that key, for the entries that name one (one query)."""
    from evidence.flags.models import MissingEvidenceFlag

    keys = {entry.get("flag_key") for entry in entries} - {None, ""}
    found = {}
    for flag in MissingEvidenceFlag.objects.filter(key__in=keys).order_by("pk"):
        found[flag.key] = flag  # the newest wins
    return found


def _revision_link(packet_id: str | None, revision: int | None) -> str:
    from evidence.packets.models import EvidencePacket

    if not packet_id:
        return ""
    packet = EvidencePacket.objects.filter(packet_id=packet_id).only("pk").first()
    if packet is None:
        return ""
    if revision:
        return answers.site_path("packets:revision-detail", packet.pk, revision)
    return answers.site_path("packets:packet-detail", packet.pk)


def _source(text: str) -> dict:
    """An evidence row's source as the run wrote it: "<packet id>#<revision>" (linked) or a Domo row."""
    packet_id, _, revision = text.rpartition("#")
    url = _revision_link(packet_id, int(revision)) if packet_id and revision.isdigit() else ""
    return {"source": text, "url": url}


def _component_text(component) -> str | None:
    if isinstance(component, dict):
        return " ".join(str(v) for v in (component.get("channel"), component.get("drug_class")) if v) or None
    return component or None


def _member_entries(run: CalculationRun, evidence: dict) -> dict[str, dict]:
    """flag key -> the missing entry that names it in one of the numbers a total adds up (a savings total lists
    only its numbers' flag keys; their own entries say what each is). Empty for any other number."""
    if not evidence.get("numbers") or all(entry.get("kind") for entry in evidence.get("missing", [])):
        return {}
    found = {}
    for member in (run.numbers.filter(key__in=evidence["numbers"]).order_by("position", "pk")
                   .values_list("evidence", flat=True)):
        for entry in (member or {}).get("missing", []):
            if entry.get("flag_key"):
                found.setdefault(entry["flag_key"], entry)
    return found


def _missing(entry: dict, flags: dict, members: dict[str, dict]) -> dict:
    flag = flags.get(entry.get("flag_key") or "")
    if not entry.get("kind"):  # a total's entry names only its flag: described as its number describes it
        entry = {**members.get(entry.get("flag_key") or "", {}), **entry}
    what = entry.get("kind") or "evidence"
    parts = [p for p in (_component_text(entry.get("component")), entry.get("ndc") and f"NDC {entry['ndc']}", entry.get("quarter"),
                         entry.get("price_list") and f"price list {entry['price_list']}") if p]
    period = entry.get("period")
    if period:
        parts.append(f"{period.get('start')} to {period.get('end')}")
    elif entry.get("date"):
        parts.append(str(entry["date"]))
    return {**entry, "what": f"{what} evidence" + (f" ({', '.join(map(str, parts))})" if parts else ""),
            "reason": entry.get("reason") or (flag.reason if flag else "no governed evidence covers it"),
            "flag_url": answers.site_path("flags:missing-detail", flag.pk) if flag else ""}


def _ordered_figures(number) -> dict:
    """The figures in the calculation's column order (the JSON column keeps them in its own order), without the
    amount figures of a number that is not concluded."""
    from deliverables.calculations.definitions import COLUMNS

    figures = number.figures or {}
    if number.decision == Decision.NOT_CONCLUDED:
        figures = {name: value for name, value in figures.items() if name not in AMOUNT_FIGURES}
    order = {name: i for i, name in enumerate(COLUMNS.get(number.calculation, ()))}
    return dict(sorted(figures.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))


def number_detail(run: CalculationRun, number, *, with_answers: bool = True) -> dict:
    """Everything the page shows of `number`, as plain data (the API answers it as JSON); without the six answers
    for the pages that show only the number's rows or its re-derivation."""
    inputs = run.inputs or {}
    claims = inputs.get("claims", {})
    evidence = number.evidence or {}
    decision = number.decision
    request_id = claims.get("promotion_request")
    flags, members = _flags(evidence.get("missing", [])), _member_entries(run, evidence)
    detail = {
        "key": number.key,
        "label": number.label,
        "kind": number.kind,
        "client_account_id": number.client_account_id,
        "client_name": account_names().get(number.client_account_id, ""),
        "period": [rows.text_of(number.period_start), rows.text_of(number.period_end)],
        "decision": decision,
        # Only an authorized number has an amount; an indicative one is labelled; a number not concluded has none.
        "amount": rows.text_of(number.amount) if decision == Decision.AUTHORIZED else None,
        "indicative_amount": rows.text_of(number.indicative_amount) if decision == Decision.INDICATIVE else None,
        "figures": _ordered_figures(number),
        "figures_withheld": sorted(set(number.figures or {}) & set(AMOUNT_FIGURES))
        if decision == Decision.NOT_CONCLUDED else [],
        "missing": [_missing(m, flags, members) for m in evidence.get("missing", [])],
        "dataset": {"name": claims.get("name", ""), "key": number.dataset_key or claims.get("dataset_key", ""),
                    "version": number.dataset_version or claims.get("version"), "rows": claims.get("rows"),
                    "checksum": claims.get("checksum", ""), "load_id": claims.get("load_id", ""),
                    "promotion_request": request_id,
                    "promotion_url": answers.site_path("promotion:request-detail", request_id) if request_id else ""},
        "relation": number.relation,
        "predicate": number.predicate,
        "row_count": int(number.row_count),
        "rows_checksum": number.rows_checksum,
        "calculation": number.calculation,
        "calculation_version": number.calculation_version,
        "evidence_used": [{**u, "url": _revision_link(u.get("packet_id"), u.get("revision"))}
                          for u in evidence.get("used", [])],
        "evidence_seen": [{**s, "url": _revision_link(s.get("packet_id"), s.get("revision"))}
                          for s in evidence.get("seen", [])],
        "evidence_sources": [_source(text) for text in evidence.get("sources", [])],
        "numbers": evidence.get("numbers", []),
        "run": {"id": run.pk, "state": run.state, "engine": run.engine, "queue": run.queue,
                "worker_host": run.worker_host, "worker_pid": run.worker_pid, "task_id": run.task_id,
                "trace_id": run.trace_id, "traceparent": run.traceparent, "inputs_sha256": run.inputs_sha256,
                "result_sha256": run.result_sha256, "scope": run.scope_label},
        "links": number_links(run, number.key),
    }
    if with_answers:
        detail["answers"] = answers.six_answers(run, number, detail)
    return detail


def number_rederive(*, actor, run: CalculationRun, number) -> dict:
    """Re-derive the rows of `number` (rows.rederive) and audit that it was done and what it found."""
    result = rows.rederive(run, number)
    with transaction.atomic():
        audit_record(actor=actor, action="deliverables.number.rederived", object_type=RUN_TYPE,
                     object_id=str(run.pk),
                     after={"key": number.key, "matches": result["matches"], "stored": result["stored"],
                            "derived": result["derived"], "difference": result["difference"],
                            "differences": result["differences"]})
    return result


def record_rows_download(*, actor, run: CalculationRun, number) -> None:
    """A number's contributing rows handed to a person as CSV (source rows leaving the console): who, which number,
    how many rows and their stored checksum."""
    with transaction.atomic():
        audit_record(actor=actor, action="deliverables.number.rows_downloaded", object_type=RUN_TYPE,
                     object_id=str(run.pk), after={"key": number.key, "rows": number.row_count,
                                                   "rows_checksum": number.rows_checksum})
