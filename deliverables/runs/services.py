"""Calculation runs: start one (a queued row, audited, sent to the `runs` queue after commit), execute it (claimed
by one worker, taken over after a lost worker, with progress and a heartbeat), cancel it, and sweep the runs
gone silent.

Executing, step by step (each recorded in `progress` with its time):
1. inputs: the claims dataset promoted into a backend contract (deliverables.runs.inputs.claims_input, which
   refuses a migration-only one), its silver Parquet copied from the lake (the registry verified it against
   the table by checksum when it was loaded);
2. evidence: the clients with claims in scope, the authority module's evidence for each, the engine's tables;
3. calculate: the definitions, on DuckDB or pushed down into the curated PostgreSQL database;
4. decide: every number's decision and provenance (deliverables.runs.compute);
5. store: the findings artifact written once in the lake under its SHA-256, then, in ONE transaction, the
   numbers, the run's exact inputs, its result hash and `succeeded`: a run killed before that shows no number.

A redelivered task (the worker was killed) finds the run `running`: once its heartbeat is older than
RUN_STALE_SECONDS it takes the run over (attempts + 1, audited) and computes again from the start; a heartbeat
still fresh means another worker holds it (RunHeld: the task looks again later). The beat sweeper fails runs
silent for RUN_ABANDONED_SECONDS. Whoever no longer holds the run (cancelled, swept, taken over) stores nothing.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import time
from pathlib import Path

from django.conf import settings
from django.db import transaction

from console import clock, errors
from console.audit import audit_record
from console.dispatch import send_after_commit
from deliverables import jobs
from deliverables.choices import RUN_ACTIVE, RUN_TYPE, Engine, RunState
from deliverables.jobs import JobHeld as RunHeld  # noqa: F401 (the task catches services.RunHeld)
from deliverables.jobs import JobLost as RunLost
from deliverables.jobs import traceparent_for, write_artifact
from deliverables.models import CalculationRun, RunNumber
from deliverables.runs.inputs import RunRefused

log = logging.getLogger("deliverables.runs")  # every line names the run and its trace id

RUN_TASK = "deliverables.tasks.run_execute"
RUN_QUEUE = "runs"
IN_PROCESS = "in-process"  # the queue a run computed by the process that started it records (no worker, no message)
START_PERMISSION = "console.build_deliverable"
MAX_ATTEMPTS = jobs.MAX_ATTEMPTS
STEPS = ("inputs", "evidence", "calculate", "decide", "store")
CLIENT_ID = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")
FINDINGS_PREFIX = "runs/findings"
EVIDENCE_PREFIX = "runs/evidence"  # the evidence tables a run calculated with (re-derivation reads them)


class RunForbidden(RunRefused):
    """Who asks may not start runs (HTTP 403)."""


# --- start ---------------------------------------------------------------------------------------------------
def _refused(actor, reason: str, *, forbidden: bool = False, details: dict | None = None):
    with transaction.atomic():
        audit_record(actor=actor, action="deliverables.run.refused", object_type=RUN_TYPE, object_id="",
                     after={"reason": reason, **(details or {})})
    raise (RunForbidden if forbidden else RunRefused)(reason)


def run_start(*, actor, period_start: dt.date, period_end: dt.date, client: str = "", dataset: str = "",
              traceparent: str = "", enqueue: bool = True) -> CalculationRun:
    """A queued run for the client (blank: every client) and period, sent to the `runs` queue after commit.

    Refused (RunRefused, audited): a period that ends before it starts, a client id that is not a Salesforce
    account id, claims that are not promoted into a backend contract (the message says which and why)."""
    from deliverables.runs.inputs import claims_input
    from promotion.curated.aliases import curated_reader

    asked = {"client": client, "period": [str(period_start), str(period_end)], "dataset": dataset}
    if not actor.has_perm(START_PERMISSION):
        _refused(actor, "starting a calculation run needs the build_deliverable permission", forbidden=True,
                 details=asked)
    if period_start > period_end:
        _refused(actor, f"period: {period_start} is after {period_end}", details=asked)
    if client and not CLIENT_ID.match(client):
        _refused(actor, f"client: {client!r} is not a Salesforce account id (15 or 18 letters and digits)",
                 details=asked)
    try:
        claims = claims_input(curated_reader(), dataset)
    except RunRefused as refusal:
        _refused(actor, str(refusal), details=asked)
    trace = traceparent_for(traceparent)
    with transaction.atomic():
        run = CalculationRun.objects.create(
            client_account_id=client, period_start=period_start, period_end=period_end,
            dataset_key=dataset or claims.dataset_key, requested_by=actor, traceparent=trace,
            trace_id=trace.split("-")[1], queue=RUN_QUEUE,
            progress={"step": "queued", "steps": [{"name": s, "state": "pending"} for s in STEPS]})
        audit_record(actor=actor, action="deliverables.run.queued", object_type=RUN_TYPE, object_id=str(run.pk),
                     after={**asked, "dataset": run.dataset_key, "state": run.state, "traceparent": trace})
        if enqueue:
            send_after_commit(RUN_TASK, CalculationRun, run.pk)
    log.info("run #%s queued for %s trace_id=%s traceparent=%s", run.pk, run.scope_label, run.trace_id, trace)
    return run


def run_cancel(*, actor, run: CalculationRun) -> CalculationRun:
    """Cancel a queued or running run (its worker stops at its next step and stores nothing)."""
    if not (actor.has_perm(START_PERMISSION) and (actor.pk == run.requested_by_id or actor.is_superuser
                                                    or actor.has_perm("console.approve_promotion"))):
        _refused(actor, f"run #{run.pk}: only who started it (or an approver) may cancel it", forbidden=True,
                 details={"run": run.pk})
    with transaction.atomic():
        before = run.state
        moved = CalculationRun.objects.filter(pk=run.pk, state__in=RUN_ACTIVE).update(
            state=RunState.CANCELLED, finished_at=clock.now(), cancelled_by=actor)
        if not moved:
            run.refresh_from_db()
            _refused(actor, f"run #{run.pk} is {run.state}: only a queued or running run can be cancelled",
                     details={"run": run.pk})
        audit_record(actor=actor, action="deliverables.run.cancelled", object_type=RUN_TYPE, object_id=str(run.pk),
                     before={"state": before}, after={"state": RunState.CANCELLED})
    run.refresh_from_db()
    jobs.cancelled(RUNS, run)
    return run


# --- execute -------------------------------------------------------------------------------------------------
RUNS = jobs.JobKind(model=CalculationRun, object_type=RUN_TYPE, prefix="deliverables.run", label="run",
                    steps=STEPS, queue=RUN_QUEUE, log=log)


def _step(run: CalculationRun, name: str, state: str, detail: str = "") -> None:
    jobs.step(RUNS, run, name, state, detail)


def _fail(run: CalculationRun, error: str) -> None:
    jobs.fail(RUNS, run, error)


def _sha256(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def _engine_for() -> str:
    """CALCULATION_ENGINE, or for "auto" the curated store's: pushed down when it is PostgreSQL."""
    from django.db import connections

    from promotion.curated.aliases import curated_is_default

    choice = settings.CALCULATION_ENGINE
    if choice in (Engine.DUCKDB, Engine.POSTGRES):
        return choice
    vendor = connections["default" if curated_is_default() else "curated"].vendor
    return Engine.POSTGRES if vendor == "postgresql" else Engine.DUCKDB


def run_execute(*, run_id: int, task_id: str = "", queue: str = "") -> CalculationRun | None:
    """Claim the run and compute it; None when it is gone, final, or no longer ours."""
    run = jobs.claim(RUNS, run_id, task_id=task_id, queue=queue)
    if run is None:
        return None
    log.info("run #%s claimed by %s pid %s on queue %s (attempt %s, task %s) trace_id=%s traceparent=%s", run.pk,
             run.worker_host, run.worker_pid, run.queue, run.attempts, run.task_id, run.trace_id, run.traceparent)
    try:
        _compute_and_store(run)
    except RunLost:
        return None
    except Exception as exc:  # a refusal, bad input, or a fault: the run fails, saying why
        _fail(run, str(exc) if isinstance(exc, RunRefused) else f"{type(exc).__name__}: {exc}"
              if isinstance(exc, ValueError) else errors.fault_message(errors.log_fault(f"run #{run.pk}", exc)))
        if not isinstance(exc, (RunRefused, ValueError)):  # bad input is permanent; a fault is logged too
            raise
    run.refresh_from_db()
    jobs.completed(RUNS, run)
    if run.state == RunState.SUCCEEDED:
        _reconcile_mapped(run)
    return run


def run_execute_in_process(*, run_id: int, by: str) -> CalculationRun:
    """Compute here a run started without enqueueing (run_start(enqueue=False)), recording what really ran it:
    queue `in-process`, task `<by>:<run id>` (never a worker's task: none was sent). The run as it ends; a fault
    is raised once the run has recorded it."""
    run_execute(run_id=run_id, task_id=f"{by}:{run_id}", queue=IN_PROCESS)
    return CalculationRun.objects.get(pk=run_id)


def _reconcile_mapped(run: CalculationRun) -> None:
    """A new run re-reconciles every mapped card (queued; a failure to queue them does not undo the run)."""
    from deliverables.reconciliation.services import reconcile_after_run

    try:
        started = reconcile_after_run(run)
    except Exception:  # the run stands; the cards stay as they were, and the log says why
        log.exception("run #%s: the mapped cards could not be queued for reconciliation trace_id=%s", run.pk,
                      run.trace_id)
        return
    if started:
        log.info("run #%s: %s reconciliation(s) queued trace_id=%s", run.pk, len(started), run.trace_id)


def _compute_and_store(run: CalculationRun) -> None:
    from deliverables.calculations import engine
    from deliverables.runs import compute, engines
    from deliverables.runs.inputs import claims_input, evidence_tables
    from evidence.flags.services import claims_sources
    from promotion.curated.aliases import curated_reader

    timings: dict[str, float] = {}
    period = (run.period_start, run.period_end)
    scope = engine.Scope(client=run.client_account_id or None, period=period)
    started = time.perf_counter()
    _step(run, "inputs", "running")
    claims = claims_input(curated_reader(), run.dataset_key)
    kind = _engine_for()
    version = {"dataset_key": claims.dataset_key, "version": claims.version, "rows": claims.rows,
               "checksum": claims.checksum, "load_id": claims.load_id, "manifest_sha256": claims.manifest_sha256,
               "columns": claims.columns}
    folder = Path(settings.VAR_DIR) / "runs"
    folder.mkdir(parents=True, exist_ok=True)
    with claims_sources([version]) as sources, jobs.Heartbeat(RUNS, run):
        parquet = sources[0].path
        timings["inputs"] = time.perf_counter() - started
        _step(run, "inputs", "done", f"{claims.name} v{claims.version}, {claims.rows} rows")
        con = engine.connect(memory_limit=settings.RUN_DUCKDB_MEMORY, temp_directory=str(folder),
                             threads=getattr(settings, "RUN_DUCKDB_THREADS", None))
        try:
            mark = time.perf_counter()
            _step(run, "evidence", "running")
            clients = engines.clients_in_scope_duckdb(con, parquet, claims.columns, scope)
            tables = evidence_tables(clients, period)
            timings["evidence"] = time.perf_counter() - mark
            no_claims = "" if clients else _no_claims(run, f"{claims.name} v{claims.version}")
            _step(run, "evidence", "done", no_claims or f"{len(clients)} client(s), {tables.terms.num_rows} terms rows")
            mark = time.perf_counter()
            _step(run, "calculate", "running")
            if kind == Engine.POSTGRES:
                calculated = engines.on_postgres(con, claims, tables, scope)
            else:
                calculated = engines.on_duckdb(con, parquet, tables, scope)
            timings["calculate"] = time.perf_counter() - mark
            _step(run, "calculate", "done")
            mark = time.perf_counter()
            _step(run, "decide", "running")
            computed = compute.calculate(con, calculated, evidence=tables.evidence, period=period,
                                         dataset_label=f"{claims.name} v{claims.version}",
                                         write_findings=findings_writer(folder))
            timings["decide"] = time.perf_counter() - mark
            _step(run, "decide", "done", f"{len(computed.numbers)} numbers, {computed.findings} findings")
            mark = time.perf_counter()
            _step(run, "store", "running")
            path, sha = computed.written  # the findings artifact, written as decide hashed them
            stored_tables = {}
            for relation in ("terms", "prices", "invoices"):
                table_path, table_sha = write_artifact(getattr(tables, relation), folder, EVIDENCE_PREFIX)
                stored_tables[relation] = {"path": table_path, "sha256": table_sha,
                                           "rows": getattr(tables, relation).num_rows}
        finally:
            con.close()
    versions = compute.calculation_versions()
    inputs = {
        "claims": claims.as_json(),
        "evidence": tables.revisions(),
        "domo": tables.domo_rows(),
        "evidence_tables": {**stored_tables, "conflicts": tables.conflicts},
        "calculations": versions,
        "parameters": {"client": run.client_account_id, "period": [str(p) for p in period],
                       "dataset": run.dataset_key, "engine": kind},
    }
    _store(run, computed, inputs, versions, kind, path, sha, timings, mark, no_claims)


def _no_claims(run: CalculationRun, dataset: str) -> str:
    """What a run whose scope holds no claim says (it succeeds with no number; an unknown client id is one)."""
    whose = f"client {run.client_account_id}" if run.client_account_id else "any client"
    return f"no claims for {whose} from {run.period_start} to {run.period_end} in {dataset}"


ARTIFACT_ROW_GROUP = jobs.ARTIFACT_ROW_GROUP


def findings_writer(folder: Path):
    """What compute.calculate hands the decided findings to, in their order: one Parquet file, written once in
    the lake under its SHA-256, a row group at a time (millions of findings are never all in Python's memory)."""
    return lambda reader: write_artifact(reader, folder, FINDINGS_PREFIX)


def _store(run, computed, inputs, versions, kind, path, sha, timings, mark, no_claims: str = "") -> None:
    with transaction.atomic():
        locked = CalculationRun.objects.select_for_update().get(pk=run.pk)
        if locked.state != RunState.RUNNING or locked.attempts != run.attempts:
            raise RunLost(f"run #{run.pk} is no longer held by this worker")
        replaced, _ = RunNumber.objects.filter(run=run).delete()
        RunNumber.objects.bulk_create([
            RunNumber(run=run, key=n.key, kind=n.kind, client_account_id=n.client, label=n.label[:255],
                      calculation=n.calculation, calculation_version=versions.get(n.calculation, versions["all"]),
                      period_start=n.period_start, period_end=n.period_end, decision=n.decision, amount=n.amount,
                      indicative_amount=n.indicative_amount, figures=n.figures, evidence=n.evidence,
                      dataset_key=inputs["claims"]["dataset_key"], dataset_version=inputs["claims"]["version"],
                      relation=n.relation, predicate=n.predicate, row_count=n.row_count,
                      rows_checksum=n.rows_checksum, position=position)
            for position, n in enumerate(computed.numbers)
        ], batch_size=500)
        timings["store"] = time.perf_counter() - mark
        summary = {"numbers": len(computed.numbers), "findings": computed.findings, "counts": computed.counts,
                   "seconds": {k: round(v, 3) for k, v in timings.items()}, **({"no_claims": no_claims} if no_claims else {})}
        CalculationRun.objects.filter(pk=run.pk).update(
            state=RunState.SUCCEEDED, finished_at=clock.now(), heartbeat_at=clock.now(), engine=kind,
            calculation_version=versions["all"], inputs=inputs, inputs_sha256=_sha256(inputs),
            result_sha256=computed.result_sha256, findings_path=path, findings_sha256=sha,
            findings_count=computed.findings, summary=summary, progress=jobs.done_steps(run))
        audit_record(actor=None, action="deliverables.run.succeeded", object_type=RUN_TYPE, object_id=str(run.pk),
                     before={"state": RunState.RUNNING},
                     after={"state": RunState.SUCCEEDED, "result_sha256": computed.result_sha256,
                            "inputs_sha256": _sha256(inputs), "numbers": len(computed.numbers),
                            "findings": computed.findings, "findings_sha256": sha, "numbers_replaced": replaced})
    log.info("run #%s succeeded: %s numbers, %s findings, result %s trace_id=%s", run.pk, len(computed.numbers),
             computed.findings, computed.result_sha256, run.trace_id)


# --- sweep ---------------------------------------------------------------------------------------------------
def runs_sweep_stale(*, older_than: dt.timedelta | None = None) -> list[int]:
    """Fail running runs whose heartbeat is older than RUN_ABANDONED_SECONDS; returns their ids."""
    return jobs.sweep_stale(RUNS, older_than=older_than)


def record_findings_download(*, actor, run: CalculationRun, filters: dict) -> None:
    """The findings CSV handed to a person (claim-level data leaving the console): who, which run, which filters."""
    with transaction.atomic():
        audit_record(actor=actor, action="deliverables.run.findings_downloaded", object_type=RUN_TYPE,
                     object_id=str(run.pk), after={"filters": {k: str(v) for k, v in filters.items() if v},
                                                   "result_sha256": run.result_sha256})
