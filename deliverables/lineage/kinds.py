"""What each kind of work reports in its lineage events: its job name, input and output datasets, and facets.

- calculation run: inputs the claims dataset version (rows, checksum, the promotion's gate results as
  data-quality assertions), every evidence packet revision handed over (version = revision, with its sha256 and
  class) and the Domo rows used as candidate evidence; outputs the run's numbers and its findings artifact; facets
  the calculation's SQL and source hash, the run's parameters and the evidence revisions;
- reconciliation: inputs the run's numbers (the class counts as assertions) and the golden packet (sha256);
  output the reconciliation's result artifact;
- deliverable build: inputs the run's numbers and findings; output the file in the lake (sha256, bytes);
- publication: input the deliverable's file (the publication gates as assertions); output the published file.

The names join the graph: a run's outputs are the inputs of its reconciliations and deliverables, a deliverable's
file the input of its publication. START carries what is known when the work is claimed; COMPLETE everything.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from deliverables.choices import DIFFERING, PublicationState
from deliverables.lineage.events import (
    DetailsFacet,
    DetailsJobFacet,
    dataset,
    emit,
    error_facet,
    facet,
)
from deliverables.models import CalculationRun, Deliverable, Publication, Reconciliation

log = logging.getLogger("deliverables.lineage")


@dataclass
class Lineage:
    """One event's job name, datasets and facets."""

    job: str
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    run_facets: dict = field(default_factory=dict)
    job_facets: dict = field(default_factory=dict)


def numbers_dataset(run: CalculationRun, **extra):
    """The numbers a run stored (deliverables.RunNumber of the run): one dataset per run."""
    return dataset(f"deliverables/runs/{run.pk}/numbers", version=run.result_sha256 or None, **extra)


def lake_file(path: str, sha256: str, **extra):
    return dataset(path, lake=True, version=sha256 or None, sha256=sha256 or None, **extra)


# --- calculation runs ----------------------------------------------------------------------------------------------
def gate_assertions(request_id: int | None) -> list[dict]:
    """The gate results the approver of the claims' promotion saw, as data-quality assertions."""
    if not request_id:
        return []
    from promotion.models import GateResult, PromotionRequest

    request = PromotionRequest.objects.filter(pk=request_id).first()
    if request is None:
        return []
    seen = {g["id"]: g for g in request.approved_gate_results or []}
    results = GateResult.objects.filter(pk__in=seen) if seen else GateResult.objects.filter(request=request,
                                                                                             current=True)
    return [{"assertion": r.gate, "success": r.outcome == "passed", "name": f"{r.gate} v{r.version}",
             "actual": r.outcome, "expected": "passed", "severity": "error",
             "params": {"promotion_request": request.pk, "inputs_fingerprint": r.inputs_fingerprint}}
            for r in sorted(results, key=lambda r: r.gate)]


def _calculation(run: CalculationRun) -> tuple[dict, str]:
    from deliverables.calculations import definitions
    from deliverables.runs.compute import calculation_versions

    versions = (run.inputs or {}).get("calculations") or calculation_versions()
    sql = "\n".join(f"-- {name} (sha256 {versions.get(name, '')})\n{definitions.DEFINITIONS[name].strip()}\n"
                    for name in sorted(definitions.DEFINITIONS))
    return versions, sql


def run_lineage(run: CalculationRun, complete: bool) -> Lineage:
    from openlineage.client.facet_v2 import source_code_job

    inputs = run.inputs or {}
    claims = inputs.get("claims") or {}
    key = claims.get("dataset_key") or run.dataset_key
    lineage = Lineage(job=f"deliverables.run.{run.client_account_id or 'all-clients'}")
    lineage.inputs.append(dataset(
        f"curated/{key}", version=str(claims["version"]) if claims.get("version") else None, rows=claims.get("rows"),
        checksum=claims.get("checksum"),
        details={k: claims[k] for k in ("name", "table", "load_id", "manifest_sha256", "promotion_request", "target")
                 if claims.get(k) not in (None, "")},
        assertions=gate_assertions(claims.get("promotion_request"))))
    revisions = inputs.get("evidence") or []
    for rev in revisions:
        lineage.inputs.append(dataset(f"evidence/{rev['kind']}/{rev['packet_id']}", version=str(rev["revision"]),
                                      sha256=rev["sha256"], details={"class": rev["class"], "status": rev["status"]}))
    for row in inputs.get("domo") or []:
        lineage.inputs.append(dataset(f"domo/{row['kind']}/{row['dataset_id']}", version=row["load_id"]))
    if complete:
        lineage.outputs = [
            numbers_dataset(run, output=True, rows=(run.summary or {}).get("numbers"),
                            details={"inputs_sha256": run.inputs_sha256}),
            lake_file(run.findings_path, run.findings_sha256, output=True, rows=run.findings_count),
        ]
    lineage.run_facets["leafConsole_parameters"] = facet(DetailsFacet, details={
        "client": run.client_account_id, "period": [run.period_start.isoformat(), run.period_end.isoformat()],
        "dataset": run.dataset_key, "engine": run.engine})
    if revisions:
        lineage.run_facets["leafConsole_evidence"] = facet(DetailsFacet, details={
            "revisions": revisions, "classes": _count(r["class"] for r in revisions)})
    versions, sql = _calculation(run)
    lineage.job_facets["sourceCode"] = facet(source_code_job.SourceCodeJobFacet, language="sql", sourceCode=sql)
    lineage.job_facets["leafConsole_calculation"] = facet(DetailsJobFacet, details={
        "version": run.calculation_version or versions.get("all"), "definitions": versions})
    return lineage


def _count(values) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


# --- reconciliations -----------------------------------------------------------------------------------------------
def class_assertions(summary: dict) -> list[dict]:
    """The reconciliation's class counts: a differing class holds when it is empty; the others are counted."""
    total = (summary or {}).get("total") or {}
    return [{"assertion": f"reconciliation.{name}", "success": not (name in DIFFERING and count),
             "actual": str(count), "expected": "0" if name in DIFFERING else None,
             "severity": "warn", "name": f"{name} rows"}
            for name, count in sorted(total.items())]


def reconciliation_lineage(recon: Reconciliation, complete: bool) -> Lineage:
    run = recon.run
    golden = recon.golden or {}
    lineage = Lineage(job=f"deliverables.reconciliation.{recon.subject_kind}.{recon.subject_id}")
    lineage.inputs.append(numbers_dataset(
        run, details={"output": recon.mapping.output, **({"rows": recon.backend.get("rows")} if recon.backend else {})},
        assertions=class_assertions(recon.summary) if complete else None))
    if golden.get("path"):
        lineage.inputs.append(lake_file(golden["path"], golden.get("sha256", ""), rows=golden.get("rows"),
                                        details={"source": golden.get("source"), "load_id": golden.get("load_id"),
                                                 "captured_at": golden.get("captured_at")}))
    if complete:
        lineage.outputs.append(lake_file(recon.artifact_path, recon.artifact_sha256, output=True, rows=recon.rows))
    lineage.run_facets["leafConsole_reconciliation"] = facet(DetailsFacet, details={
        "run": run.pk, "trigger": recon.trigger, "summary": {k: v for k, v in (recon.summary or {}).items()
                                                             if k != "seconds"}})
    lineage.job_facets["leafConsole_mapping"] = facet(DetailsJobFacet, details={
        "subject": recon.mapping.subject_name, "title": recon.mapping.title, "version": recon.mapping.version,
        "output": recon.mapping.output})
    return lineage


# --- deliverable builds --------------------------------------------------------------------------------------------
def deliverable_lineage(deliverable: Deliverable, complete: bool) -> Lineage:
    run = deliverable.run
    lineage = Lineage(job=f"deliverables.{deliverable.kind}.{deliverable.client_account_id}")
    lineage.inputs.append(numbers_dataset(run, details={"client": deliverable.client_account_id}))
    if run.findings_path:
        lineage.inputs.append(lake_file(run.findings_path, run.findings_sha256, rows=run.findings_count))
    if complete:
        lineage.outputs.append(lake_file(deliverable.path, deliverable.sha256, output=True, size=deliverable.bytes))
    lineage.run_facets["leafConsole_deliverable"] = facet(DetailsFacet, details={
        "run": run.pk, "client": deliverable.client_account_id,
        "period": [deliverable.period_start.isoformat(), deliverable.period_end.isoformat()],
        **({"sheets": (deliverable.summary or {}).get("sheets"), "rows": (deliverable.summary or {}).get("rows")}
           if complete else {})})
    if deliverable.builder_version:
        lineage.job_facets["leafConsole_builder"] = facet(DetailsJobFacet, details={
            "version": deliverable.builder_version})
    return lineage


KINDS = {
    CalculationRun._meta.label_lower: run_lineage,
    Reconciliation._meta.label_lower: reconciliation_lineage,
    Deliverable._meta.label_lower: deliverable_lineage,
}


def job_event(event_type: str, job, *, error: str = "") -> None:
    """The lineage event of a queued job (deliverables.jobs): START when claimed, COMPLETE once its success is
    committed, FAIL (with the error) when it fails. Never raises: lineage does not decide the job."""
    build = KINDS.get(job._meta.label_lower)
    if build is None:
        return
    complete = event_type == "COMPLETE"
    try:
        lineage = build(job, complete)
        if error:
            lineage.run_facets["errorMessage"] = error_facet(error)
    except Exception:
        log.exception("lineage: the %s event of %s #%s could not be built trace_id=%s", event_type,
                      job._meta.label_lower, job.pk, getattr(job, "trace_id", ""))
        return
    emit(event_type, lineage.job, job, inputs=lineage.inputs, outputs=lineage.outputs,
         run_facets=lineage.run_facets, job_facets=lineage.job_facets)


# --- publications --------------------------------------------------------------------------------------------------
def gate_results(gates: list[dict]) -> list[dict]:
    """A publication's gates ({gate, passed, detail}) as data-quality assertions."""
    return [{"assertion": g.get("gate", ""), "success": bool(g.get("passed")), "name": g.get("gate", ""),
             "description": str(g.get("detail") or "") or None, "severity": "error"}
            for g in gates or []]


def lineage_publication(publication: Publication) -> None:
    """The lineage of a publication once published: START at its request, COMPLETE at its publication (one run),
    input the deliverable's file (the gates as assertions), output the published file. Call it after the commit
    that published it; nothing else is emitted for other states. Never raises."""
    if publication.state != PublicationState.PUBLISHED or not publication.path:
        return
    try:
        deliverable = publication.deliverable
        lineage = Lineage(job=f"deliverables.publication.{publication.client_account_id}.{publication.kind}")
        lineage.inputs.append(lake_file(deliverable.path, deliverable.sha256, size=deliverable.bytes,
                                        assertions=gate_results(publication.gates)))
        lineage.run_facets["leafConsole_publication"] = facet(DetailsFacet, details={
            "version": publication.version, "deliverable": deliverable.pk, "sha256": publication.sha256,
            "requested_by": publication.requested_by.get_username(),
            "decided_by": publication.decided_by.get_username() if publication.decided_by else None,
            "decision_comment": publication.decision_comment, "reconciliation": publication.reconciliation})
    except Exception:
        log.exception("lineage: the events of publication #%s could not be built", publication.pk)
        return
    emit("START", lineage.job, publication, inputs=lineage.inputs, run_facets=lineage.run_facets,
         event_time=publication.requested_at)
    emit("COMPLETE", lineage.job, publication, inputs=lineage.inputs,
         outputs=[lake_file(publication.path, publication.sha256, output=True, size=deliverable.bytes)],
         run_facets=lineage.run_facets, event_time=publication.published_at)
