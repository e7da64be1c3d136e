"""The six questions an executive asks of a number, answered as plain data (the provenance page and its API twin
render the same dict):

1. rows: which source rows (count, dataset version, checksum, the rows page and CSV);
2. formulas: the calculation (name, version hash, the arithmetic in words) and each Domo card or DataFlow whose
   mapped backend output holds this kind of number, with its Beast Mode formulas (or steps) and the calculation
   flaws recorded on them;
3. evidence: the contract, pricing, rebate and Salesforce revisions behind the decision, governed or candidate,
   with their sha256;
4. missing: each missing piece and what it holds back, and the candidate-only evidence;
5. production: the run's queue, worker, task and trace, its findings artifact and the deliverables built from it;
6. publications: every publication of the number's client built from this run, and the consumer reads of them.

Reads only: nothing here changes anything.
"""
from __future__ import annotations

from django.db.models import Count, Max, Q
from django.urls import NoReverseMatch, reverse

from deliverables.choices import Decision, RunState
from deliverables.models import (
    CalculationRun,
    CardMapping,
    CardRetirement,
    ConsumerRead,
    Deliverable,
    Publication,
)
from deliverables.provenance.words import arithmetic
from evidence.choices import PacketKind

KIND_LABELS = dict(PacketKind.choices)
APPROVED_STATES = ("published", "superseded", "retracted")


def site_path(name: str, *args) -> str:
    """The path of a named page, or "" when that page is not mounted."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def _who(user) -> str:
    return user.get_username() if user is not None else ""


# --- 1. rows ---------------------------------------------------------------------------------------------------
def rows_answer(detail: dict) -> dict:
    dataset = detail["dataset"]
    return {"count": detail["row_count"], "checksum": detail["rows_checksum"], "relation": detail["relation"],
            "predicate": detail["predicate"], "of_numbers": detail["relation"] == "numbers",
            "dataset_name": dataset["name"], "dataset_key": dataset["key"], "dataset_version": dataset["version"],
            "dataset_rows": dataset["rows"], "dataset_checksum": dataset["checksum"],
            "promotion_request": dataset["promotion_request"], "promotion_url": dataset["promotion_url"],
            "rows_url": detail["links"]["rows"], "rows_csv": detail["links"]["rows_csv"]}


# --- 2. formulas -----------------------------------------------------------------------------------------------
def _flaw(flaw) -> dict:
    url = site_path("evidence:calculation-flaws", flaw.manifest_id)
    return {"code": flaw.code, "severity": flaw.severity, "message": flaw.message, "snippet": flaw.snippet,
            "suggestion": flaw.suggestion, "url": f"{url}?code={flaw.code}" if url else ""}


def _card_formulas(subject_id: str, golden_names: list[str]) -> tuple[str, list[dict]]:
    """The card's page and the Beast Modes (saved on the card or on its datasets) its mapped golden columns show,
    from the newest export that is not invalid, each with the flaws the formula analysis recorded on it."""
    from evidence.choices import ManifestStatus
    from evidence.models import BeastMode, DomoCard

    if not subject_id.isdigit():
        return "", []
    card = (DomoCard.objects.filter(domo_id=int(subject_id)).exclude(manifest__status=ManifestStatus.INVALID)
            .order_by("-manifest__received_at", "-pk").first())
    if card is None:
        return "", []
    modes = (BeastMode.objects.filter(Q(card=card) | Q(dataset__in=card.datasets.all()), name__in=golden_names)
             .prefetch_related("analyses__flaws").order_by("name", "pk"))
    formulas: dict[tuple[str, str], dict] = {}  # a formula saved on the card and on its dataset is shown once
    for mode in modes:
        entry = formulas.setdefault((mode.name, mode.formula), {"kind": "Beast Mode", "name": mode.name,
                                                                "formula": mode.formula, "flaws": []})
        for flaw in (f for a in mode.analyses.all() for f in a.flaws.all()):
            if all((flaw.code, flaw.message) != (known["code"], known["message"]) for known in entry["flaws"]):
                entry["flaws"].append(_flaw(flaw))
    return site_path("evidence:card-detail", card.pk), list(formulas.values())


def _dataflow_formulas(subject_id: str) -> tuple[str, list[dict]]:
    """The DataFlow's page and those of its steps on which the formula analysis recorded flaws."""
    from evidence.choices import ManifestStatus
    from evidence.models import CalculationAnalysis, DomoDataflow

    if not subject_id.isdigit():
        return "", []
    flow = (DomoDataflow.objects.filter(domo_id=int(subject_id)).exclude(manifest__status=ManifestStatus.INVALID)
            .order_by("-manifest__received_at", "-pk").first())
    if flow is None:
        return "", []
    analyses = (CalculationAnalysis.objects.filter(dataflow_step__dataflow=flow, flaws__isnull=False).distinct()
                .select_related("dataflow_step").prefetch_related("flaws").order_by("dataflow_step__position", "part"))
    formulas = [{"kind": "DataFlow step", "name": f"step {a.dataflow_step.position} {a.dataflow_step.name}".rstrip(),
                 "formula": a.formula, "flaws": [_flaw(f) for f in a.flaws.all()]} for a in analyses]
    return site_path("evidence:dataflow-detail", flow.pk), formulas


def replaced_cards(kind: str) -> list[dict]:
    """The Domo cards and DataFlows whose (latest) mapping compares a backend output holding numbers of `kind`."""
    from deliverables.reconciliation.outputs import OUTPUTS, outputs_holding

    names = outputs_holding(kind)
    latest: dict[tuple[str, str], CardMapping] = {}
    for mapping in CardMapping.objects.filter(output__in=names).order_by("subject_kind", "subject_id", "-version"):
        latest.setdefault((mapping.subject_kind, mapping.subject_id), mapping)
    retired = set(CardRetirement.objects.values_list("subject_kind", "subject_id"))
    cards = []
    for (subject_kind, subject_id), mapping in sorted(latest.items(), key=lambda i: (i[1].title.casefold(), i[0])):
        if subject_kind == "card":
            url, formulas = _card_formulas(subject_id, [m.get("golden", "") for m in mapping.measures or []])
        else:
            url, formulas = _dataflow_formulas(subject_id)
        cards.append({"kind": subject_kind, "id": subject_id, "title": mapping.title, "url": url,
                      "mapping_version": mapping.version, "output": mapping.output,
                      "output_label": OUTPUTS[mapping.output].label if mapping.output in OUTPUTS else mapping.output,
                      "retired": (subject_kind, subject_id) in retired,
                      "measures": [m.get("golden") or m.get("name", "") for m in mapping.measures or []],
                      "formulas": formulas})
    return cards


def formulas_answer(number) -> dict:
    name, words = arithmetic(number.calculation)
    return {"calculation": number.calculation, "name": name, "version": number.calculation_version,
            "arithmetic": words, "cards": replaced_cards(number.kind)}


# --- 3. evidence -----------------------------------------------------------------------------------------------
def _revision(entry: dict, klass: str, url: str) -> dict:
    packet = entry.get("packet_id")
    return {"kind": entry.get("kind") or "", "kind_label": KIND_LABELS.get(entry.get("kind"), entry.get("kind") or ""),
            "evidence_class": klass, "source": "packet" if packet else (entry.get("source") or "domo"),
            "packet_id": packet, "revision": entry.get("revision"), "sha256": entry.get("sha256"),
            "status": entry.get("status") or ("verified" if klass == "governed" else ""),
            "dataset_id": entry.get("dataset_id"), "row": entry.get("row"), "url": url}


def evidence_answer(detail: dict) -> dict:
    revisions = [_revision(u, "governed", u["url"]) for u in detail["evidence_used"]]
    revisions += [_revision(s, "candidate", s["url"]) for s in detail["evidence_seen"]]
    return {"revisions": revisions, "sources": detail["evidence_sources"]}


# --- 4. missing or candidate-only ------------------------------------------------------------------------------
def _holds_back(decision: str, withheld: list[str]) -> str:
    if decision == Decision.NOT_CONCLUDED:
        what = f" ({', '.join(withheld)})" if withheld else ""
        return f"the number's amount{what}: it is not concluded, and shows no number, until this is governed"
    if decision == Decision.INDICATIVE:
        return "a conclusion: the number stays indicative (calculated on candidate evidence) until this is governed"
    return ""


def missing_answer(detail: dict) -> dict:
    decision = detail["decision"]
    items = [{"what": m["what"], "reason": m["reason"], "kind": m.get("kind") or "",
              "candidate_exists": bool(m.get("candidate_exists")), "flag_key": m.get("flag_key") or "",
              "flag_url": m.get("flag_url") or "", "holds_back": _holds_back(decision, detail["figures_withheld"])}
             for m in detail["missing"]]
    candidates = [_revision(s, "candidate", s["url"]) for s in detail["evidence_seen"]]
    return {"decision": decision, "concluded": decision != Decision.NOT_CONCLUDED, "items": items,
            "candidate_only": candidates, "withheld": detail["figures_withheld"]}


# --- 5. queue, worker, task, trace and artifact ----------------------------------------------------------------
def production_answer(run: CalculationRun, client: str) -> dict:
    """The run that produced the number and the client's deliverables built from it (a run over every client has
    every client's: another client's are never named on this client's number)."""
    built = Deliverable.objects.filter(run=run, client_account_id=client).order_by("pk")
    return {"run": run.pk, "run_url": site_path("runs:run-detail", run.pk), "state": run.state,
            "queue": run.queue, "worker_host": run.worker_host, "worker_pid": run.worker_pid, "task_id": run.task_id,
            "trace_id": run.trace_id, "traceparent": run.traceparent, "requested_by": _who(run.requested_by),
            "finished_at": run.finished_at, "engine": run.engine,
            "calculation_version": run.calculation_version, "inputs_sha256": run.inputs_sha256,
            "result_sha256": run.result_sha256,
            "findings": {"path": run.findings_path, "sha256": run.findings_sha256, "count": run.findings_count},
            "deliverables": [{"id": d.pk, "kind": d.kind, "kind_label": d.get_kind_display(), "state": d.state,
                              "client_account_id": d.client_account_id, "sha256": d.sha256, "path": d.path,
                              "finished_at": d.finished_at,
                              "url": site_path("deliverables:deliverable-detail", d.pk)}
                             for d in built if d.state == RunState.SUCCEEDED]}


# --- 6. publications -------------------------------------------------------------------------------------------
def publications_answer(run: CalculationRun, client: str) -> dict:
    publications = list(Publication.objects.filter(client_account_id=client, deliverable__run=run)
                        .select_related("requested_by", "decided_by", "retracted_by").order_by("kind", "-pk"))
    reads: dict[int, list[dict]] = {}
    for row in (ConsumerRead.objects.filter(publication__in=publications)
                .values("publication_id", "token__name", "token__prefix")
                .annotate(reads=Count("id"), last_read=Max("at")).order_by("publication_id", "token__name")):
        reads.setdefault(row["publication_id"], []).append(
            {"token": row["token__name"] or "(no token)", "prefix": row["token__prefix"] or "",
             "reads": row["reads"], "last_read": row["last_read"]})
    return {"client_account_id": client, "publications": [
        {"id": p.pk, "kind": p.kind, "kind_label": p.get_kind_display(), "version": p.version, "state": p.state,
         "state_label": p.get_state_display(), "deliverable": p.deliverable_id, "sha256": p.sha256,
         "requested_by": _who(p.requested_by), "requested_at": p.requested_at,
         "decided_by": _who(p.decided_by), "approved": p.state in APPROVED_STATES, "decided_at": p.decided_at,
         "published_at": p.published_at, "retracted_by": _who(p.retracted_by),
         "retraction_reason": p.retraction_reason, "reads": reads.get(p.pk, []),
         "read_count": sum(r["reads"] for r in reads.get(p.pk, []))} for p in publications]}


def six_answers(run: CalculationRun, number, detail: dict) -> dict:
    """The six answers of `number` (detail: services.number_detail's plain data, which this builds on)."""
    return {"rows": rows_answer(detail), "formulas": formulas_answer(number), "evidence": evidence_answer(detail),
            "missing": missing_answer(detail), "production": production_answer(run, number.client_account_id),
            "publications": publications_answer(run, number.client_account_id)}
