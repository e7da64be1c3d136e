"""Golden reconciliation: map a Domo card (or DataFlow output) onto a backend output, reconcile it against a
calculation run through the queue, explain variances by recorded flaws, adjudicate the rest (four eyes,
remembered by fingerprint), and retire a reconciled card. Every act is audited.

Executing a reconciliation, step by step (progress and heartbeat as calculation runs, deliverables.jobs):
1. golden: the subject's golden rows from the newest usable export, sha256 checked (sources.golden);
2. backend: the mapped output over the run's stored numbers (outputs.load);
3. compare: the engine (deliverables.reconciliation.engine), exact, in DuckDB;
4. explain: each variance on a measure whose mapping names a flaw recorded on the subject in that export is
   explained, and says how;
5. store: every classified row as a Parquet artifact in the lake (under its sha256), then in ONE transaction the
   differing rows, the summary and `succeeded`.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import transaction

from console import clock, errors
from console.audit import audit_record
from console.dispatch import send_after_commit
from deliverables import jobs
from deliverables.choices import (
    ADJUDICATION_TYPE,
    DIFFERING,
    MAPPING_TYPE,
    RECONCILIATION_TYPE,
    RUN_ACTIVE,
    ItemClass,
    RunState,
    Trigger,
    Verdict,
)
from deliverables.models import (
    Adjudication,
    CalculationRun,
    CardMapping,
    CardRetirement,
    Reconciliation,
    ReconciliationItem,
)
from deliverables.reconciliation import outputs, sources
from deliverables.reconciliation.engine import Mapping, ReconciliationError
from deliverables.reconciliation.mappings import (  # noqa: F401 (the package's services, in one place)
    MAP_PERMISSION,
    SHIPPED,
    Forbidden,
    Refused,
    current_mapping,
    engine_mapping,
    mapping_proposal,
    mapping_save,
    mappings_load,
)
from deliverables.reconciliation.mappings import refuse as _refuse

log = logging.getLogger("deliverables.reconciliation")

TASK = "deliverables.tasks.reconciliation_execute"
QUEUE = "runs"
DECIDE_PERMISSION = "console.approve_promotion"  # adjudicate and retire: the approvers
STEPS = ("golden", "backend", "compare", "explain", "store")
ARTIFACT_PREFIX = "reconciliations"
RECONCILIATIONS = jobs.JobKind(model=Reconciliation, object_type=RECONCILIATION_TYPE,
                               prefix="deliverables.reconciliation", label="reconciliation", steps=STEPS,
                               queue=QUEUE, log=log)


# --- start ---------------------------------------------------------------------------------------------------
def latest_run() -> CalculationRun | None:
    """The newest succeeded run over every client: what a reconciliation compares by default."""
    return CalculationRun.objects.filter(state=RunState.SUCCEEDED, client_account_id="").order_by("-pk").first()


def reconciliation_start(*, actor, kind: str, subject_id: str, run: CalculationRun | None = None,
                         trigger: str = Trigger.MANUAL, enqueue: bool = True, traceparent: str = "") -> Reconciliation:
    """A queued reconciliation of the subject's current mapping against `run` (default: the newest succeeded run
    over every client), sent to the queue after commit. Refused (audited) without a mapping or a run, and a manual
    one while a reconciliation of the same mapping version against the same run is queued or running (the message
    names it: follow that one; checked under the mapping's row lock, so two at once queue one)."""
    object_id = f"{kind}:{subject_id}"
    if trigger == Trigger.MANUAL and not actor.has_perm(MAP_PERMISSION):
        _refuse(actor, "deliverables.reconciliation.refused", RECONCILIATION_TYPE, object_id,
                "starting a reconciliation needs the build_deliverable permission", forbidden=True)
    mapping = current_mapping(kind, subject_id)
    if mapping is None:
        _refuse(actor, "deliverables.reconciliation.refused", RECONCILIATION_TYPE, object_id,
                f"{kind} {subject_id} is not mapped: map it to a backend output first")
    run = run or latest_run()
    if run is None or run.state != RunState.SUCCEEDED:
        _refuse(actor, "deliverables.reconciliation.refused", RECONCILIATION_TYPE, object_id,
                "no succeeded calculation run to reconcile against" if run is None else
                f"run #{run.pk} is {run.state}: only a succeeded run can be reconciled")
    trace = jobs.traceparent_for(traceparent or run.traceparent)
    with transaction.atomic():
        CardMapping.objects.select_for_update().filter(pk=mapping.pk).first()
        following = (Reconciliation.objects.filter(mapping=mapping, run=run, state__in=RUN_ACTIVE).order_by("pk")
                     .first() if trigger == Trigger.MANUAL else None)
        if following is None:
            recon = Reconciliation.objects.create(
                mapping=mapping, run=run, subject_kind=kind, subject_id=str(subject_id), trigger=trigger,
                requested_by=actor, traceparent=trace, trace_id=trace.split("-")[1], queue=QUEUE,
                progress={"step": "queued", "steps": [{"name": s, "state": "pending"} for s in STEPS]})
            audit_record(actor=actor if trigger == Trigger.MANUAL else None,
                         action="deliverables.reconciliation.queued", object_type=RECONCILIATION_TYPE,
                         object_id=str(recon.pk),
                         after={"subject": object_id, "mapping_version": mapping.version, "run": run.pk,
                                "trigger": trigger, "requested_by": actor.get_username(), "traceparent": trace})
            if enqueue:
                send_after_commit(TASK, Reconciliation, recon.pk)
    if following is not None:  # refused outside the transaction: its audit event is kept
        _refuse(actor, "deliverables.reconciliation.refused", RECONCILIATION_TYPE, object_id,
                f"reconciliation #{following.pk} of {object_id} (mapping v{mapping.version}) against run #{run.pk} "
                f"is already {following.state}: follow it",
                details={"mapping_version": mapping.version, "run": run.pk, "following": following.pk})
    log.info("reconciliation #%s of %s against run #%s queued (%s) trace_id=%s", recon.pk, object_id, run.pk,
             trigger, recon.trace_id)
    return recon


def reconcile_after_run(run: CalculationRun) -> list[Reconciliation]:
    """Re-reconcile every mapped subject against a run that just succeeded over every client (a client's own
    run holds only that client's rows: it is not compared with cards that show every client)."""
    if run.state != RunState.SUCCEEDED or run.client_account_id:
        return []
    started = []
    for kind, subject_id in (CardMapping.objects.order_by("subject_kind", "subject_id")
                             .values_list("subject_kind", "subject_id").distinct()):
        if Reconciliation.objects.filter(subject_kind=kind, subject_id=subject_id, run=run).exists():
            continue
        started.append(reconciliation_start(actor=run.requested_by, kind=kind, subject_id=subject_id, run=run,
                                            trigger=Trigger.AFTER_RUN))
    return started


# --- execute -------------------------------------------------------------------------------------------------
def reconciliation_execute(*, reconciliation_id: int, task_id: str = "", queue: str = "") -> Reconciliation | None:
    """Claim the reconciliation and do it; None when it is gone, final, or no longer ours."""
    recon = jobs.claim(RECONCILIATIONS, reconciliation_id, task_id=task_id, queue=queue)
    if recon is None:
        return None
    log.info("reconciliation #%s claimed by %s pid %s (attempt %s) trace_id=%s", recon.pk, recon.worker_host,
             recon.worker_pid, recon.attempts, recon.trace_id)
    try:
        _reconcile_and_store(recon)
    except jobs.JobLost:
        return None
    except (Refused, sources.SourceError, ReconciliationError) as bad:  # bad input: permanent, said plainly
        jobs.fail(RECONCILIATIONS, recon, str(bad))
    except Exception as exc:
        jobs.fail(RECONCILIATIONS, recon, errors.fault_message(errors.log_fault(f"reconciliation #{recon.pk}", exc)))
        raise
    recon.refresh_from_db()
    jobs.completed(RECONCILIATIONS, recon)
    return recon


def _sha256(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def _text(value) -> str:
    return "" if value is None else (format(value, "f") if isinstance(value, Decimal) else str(value))


def locator(subject_name: str, keys: dict, measure: str) -> str:
    """The place of a difference (card, keys, measure), whatever the values: where an earlier adjudication of
    the same place is found when a value changed."""
    return hashlib.sha256("|".join([subject_name, *(f"{k}={v}" for k, v in keys.items()), measure]).encode()
                          ).hexdigest()


def _reconcile_and_store(recon: Reconciliation) -> None:
    import duckdb

    from deliverables.reconciliation.engine import q, reconcile

    timings: dict[str, float] = {}
    mapping = recon.mapping
    spec = engine_mapping(mapping)
    folder = Path(settings.VAR_DIR) / "reconciliations"
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = '{settings.RUN_DUCKDB_MEMORY}'")
        con.execute(f"SET temp_directory = '{folder}'")
        with jobs.Heartbeat(RECONCILIATIONS, recon):
            mark = time.perf_counter()
            jobs.step(RECONCILIATIONS, recon, "golden", "running")
            golden = sources.golden(mapping.subject_kind, mapping.subject_id, mapping.golden_dataset)
            con.register("__golden_arrow", golden.table)
            con.execute("CREATE TEMP TABLE golden AS SELECT * FROM __golden_arrow")
            con.unregister("__golden_arrow")
            timings["golden"] = time.perf_counter() - mark
            jobs.step(RECONCILIATIONS, recon, "golden", "done",
                      f"{golden.table.num_rows} rows, export {golden.manifest.load_id}, sha256 {golden.sha256[:12]}")
            mark = time.perf_counter()
            jobs.step(RECONCILIATIONS, recon, "backend", "running")
            backend = outputs.load(con, recon.run, outputs.OUTPUTS[mapping.output], relation="backend")
            timings["backend"] = time.perf_counter() - mark
            jobs.step(RECONCILIATIONS, recon, "backend", "done", f"{backend['rows']} rows of {mapping.output}")
            mark = time.perf_counter()
            jobs.step(RECONCILIATIONS, recon, "compare", "running")
            result = reconcile(con, "backend", "golden", spec, table="result", ordered=False)
            timings["compare"] = time.perf_counter() - mark
            jobs.step(RECONCILIATIONS, recon, "compare", "done",
                      ", ".join(f"{n} {k}" for k, n in result.summary["total"].items() if n))
            mark = time.perf_counter()
            jobs.step(RECONCILIATIONS, recon, "explain", "running")
            decisions = _backend_decisions(con, spec)
            key_names = [k.name for k in spec.keys]
            rows = con.execute(
                f"SELECT {', '.join(f'CAST({q(k)} AS VARCHAR)' for k in key_names)}, measure, backend_value, "
                f"golden_value, difference, class, fingerprint FROM result WHERE class <> 'match' "
                f"ORDER BY {', '.join(q(k) for k in key_names)}, measure").fetchall()
            shown = _shown_keys(con, spec)
            items = _items(recon, mapping, golden, key_names, rows, decisions, shown)
            explained = sum(1 for i in items if i.explanation)
            timings["explain"] = time.perf_counter() - mark
            jobs.step(RECONCILIATIONS, recon, "explain", "done", f"{explained} variance(s) explained by a flaw")
            mark = time.perf_counter()
            jobs.step(RECONCILIATIONS, recon, "store", "running")
            reader = con.sql(f"SELECT * FROM result ORDER BY {', '.join(q(k) for k in key_names)}, measure"
                             ).to_arrow_reader(64 * 1024)
            path, sha = jobs.write_artifact(reader, folder, ARTIFACT_PREFIX)
    finally:
        con.close()
    summary = {**result.summary, "explained": explained, "rows": result.rows,
               "seconds": {k: round(v, 3) for k, v in timings.items()}}
    with transaction.atomic():
        locked = Reconciliation.objects.select_for_update().get(pk=recon.pk)
        if locked.state != RunState.RUNNING or locked.attempts != recon.attempts:
            raise jobs.JobLost(f"reconciliation #{recon.pk} is no longer held by this worker")
        replaced, _ = ReconciliationItem.objects.filter(reconciliation=recon).delete()
        ReconciliationItem.objects.bulk_create(items, batch_size=1000)
        timings["store"] = time.perf_counter() - mark
        summary["seconds"]["store"] = round(timings["store"], 3)
        Reconciliation.objects.filter(pk=recon.pk).update(
            state=RunState.SUCCEEDED, finished_at=clock.now(), heartbeat_at=clock.now(), manifest=golden.manifest,
            golden=golden.as_json(), backend={**backend, "run": recon.run_id, "sha256": _sha256(backend)},
            summary=summary, rows=result.rows, artifact_path=path, artifact_sha256=sha,
            progress=jobs.done_steps(recon))
        audit_record(actor=None, action="deliverables.reconciliation.succeeded", object_type=RECONCILIATION_TYPE,
                     object_id=str(recon.pk), before={"state": RunState.RUNNING},
                     after={"state": RunState.SUCCEEDED, "subject": mapping.subject_name, "run": recon.run_id,
                            "mapping_version": mapping.version, "golden_sha256": golden.sha256,
                            "artifact_sha256": sha, "total": result.summary["total"], "explained": explained,
                            "items": len(items), "items_replaced": replaced})
    log.info("reconciliation #%s succeeded: %s rows, %s trace_id=%s", recon.pk, result.rows, result.summary["total"],
             recon.trace_id)


def _backend_decisions(con, spec: Mapping) -> dict[tuple, str]:
    """The backend's decision per key, its keys normalised as the engine does for typed columns."""
    from deliverables.reconciliation.engine import q

    parts = []
    for key in spec.keys:
        col = q(key.backend_column)
        if key.kind == "text":
            text = f"NULLIF(TRIM(CAST({col} AS VARCHAR)), '')"
            parts.append(f"LOWER({text})" if key.casefold else text)
        elif key.kind == "date":
            parts.append(f"CAST(CAST({col} AS DATE) AS VARCHAR)")
        elif key.kind == "integer":
            parts.append(f"CAST(CAST({col} AS HUGEINT) AS VARCHAR)")
        else:
            parts.append(f"CAST(CAST({col} AS DECIMAL(38, {key.scale})) AS VARCHAR)")
    return {tuple(row[:-1]): row[-1] for row in
            con.execute(f"SELECT {', '.join(parts)}, decision FROM backend").fetchall()}


def _shown_keys(con, spec: Mapping) -> list[dict]:
    """Per case-folded text key, its normalised value -> the golden's own spelling (then the backend's), so that a
    page shows "ACME Manufacturing" where the comparison used "acme manufacturing"."""
    from deliverables.reconciliation.engine import q

    shown = []
    for key in spec.keys:
        names: dict = {}
        if key.kind == "text" and key.casefold:
            for relation, column in (("backend", key.backend_column), ("golden", key.golden_column)):
                text = f"NULLIF(TRIM(CAST({q(column)} AS VARCHAR)), '')"
                names.update(con.execute(f"SELECT LOWER({text}), MIN({text}) FROM {relation} GROUP BY 1").fetchall())
        shown.append(names)
    return shown


def _items(recon, mapping, golden, key_names, rows, decisions, shown) -> list[ReconciliationItem]:
    measures = {m["name"]: m for m in mapping.measures}
    recorded = {}
    for flaw in golden.flaws:
        data = sources.flaw_json(flaw)
        recorded[data["fingerprint"]] = {**data, "flaw_id": flaw.pk, "manifest": golden.manifest.pk}
    output = outputs.OUTPUTS[mapping.output]
    items = []
    for position, row in enumerate(rows):
        keys = dict(zip(key_names, row[:len(key_names)], strict=True))
        measure, b, g, d, klass, fingerprint = row[len(key_names):]
        explanation = None
        spec = measures[measure]
        if klass == ItemClass.VARIANCE:
            found = [recorded[f["fingerprint"]] for f in spec.get("flaws", []) if f["fingerprint"] in recorded]
            if found:
                flaw = found[0]
                column = output.column(spec["backend"])
                explanation = {
                    **flaw, "others": [f["fingerprint"] for f in found[1:]],
                    "how": (f"Domo's {measure!r} comes from {flaw['where']} ({flaw['code']}: {flaw['message']}); "
                            f"the backend's {column.label.lower() if column else spec['backend']} comes from "
                            f"{output.label.lower()}, run #{recon.run_id}, on the evidence its decision "
                            f"({decisions.get(tuple(keys.values()), 'no row')}) names.")}
        items.append(ReconciliationItem(
            reconciliation=recon, position=position, keys={k: (v if v is not None else "") for k, v in keys.items()},
            key_label=" / ".join("∅" if v is None else str(names.get(v, v))
                                 for v, names in zip(keys.values(), shown, strict=True))[:512], measure=measure,
            item_class=klass, backend_value=_text(b), golden_value=_text(g), difference=_text(d),
            backend_decision=decisions.get(tuple(keys.values()), "") if klass != ItemClass.ONLY_DOMO else "",
            fingerprint=fingerprint, locator=locator(mapping.subject_name, keys, measure), explanation=explanation))
    return items


def reconciliation_cancel(*, actor, reconciliation: Reconciliation) -> Reconciliation:
    """Cancel a queued or running reconciliation (who started it, or an approver)."""
    if not (actor.has_perm(MAP_PERMISSION) and (actor.pk == reconciliation.requested_by_id
                                                 or actor.has_perm(DECIDE_PERMISSION))):
        _refuse(actor, "deliverables.reconciliation.refused", RECONCILIATION_TYPE, str(reconciliation.pk),
                "only who started a reconciliation (or an approver) may cancel it", forbidden=True)
    with transaction.atomic():
        moved = Reconciliation.objects.filter(pk=reconciliation.pk, state__in=RUN_ACTIVE).update(
            state=RunState.CANCELLED, finished_at=clock.now(), cancelled_by=actor)
        if not moved:
            reconciliation.refresh_from_db()
            _refuse(actor, "deliverables.reconciliation.refused", RECONCILIATION_TYPE, str(reconciliation.pk),
                    f"reconciliation #{reconciliation.pk} is {reconciliation.state}: only a queued or running one "
                    "can be cancelled")
        audit_record(actor=actor, action="deliverables.reconciliation.cancelled", object_type=RECONCILIATION_TYPE,
                     object_id=str(reconciliation.pk), before={"state": reconciliation.state},
                     after={"state": RunState.CANCELLED})
    reconciliation.refresh_from_db()
    jobs.cancelled(RECONCILIATIONS, reconciliation)
    return reconciliation


def reconciliations_sweep_stale(*, older_than: dt.timedelta | None = None) -> list[int]:
    return jobs.sweep_stale(RECONCILIATIONS, older_than=older_than)


# --- adjudication and retirement -----------------------------------------------------------------------------
def _mappers(kind: str, subject_id: str) -> set[int]:
    return set(CardMapping.objects.filter(subject_kind=kind, subject_id=subject_id)
               .values_list("created_by_id", flat=True))


def adjudicate(*, actor, item: ReconciliationItem, verdict: str, comment: str) -> Adjudication:
    """An approver's verdict on a difference that no flaw explains; not by anyone who mapped the card (four eyes);
    a comment is required. Remembered by the difference's fingerprint."""
    recon = item.reconciliation
    object_id = f"{recon.subject_kind}:{recon.subject_id}"
    details = {"reconciliation": recon.pk, "item": item.position, "fingerprint": item.fingerprint,
               "verdict": verdict}
    if not actor.has_perm(DECIDE_PERMISSION):
        _refuse(actor, "deliverables.adjudication.refused", ADJUDICATION_TYPE, object_id,
                "adjudicating a variance needs the approver's permission (approve_promotion)", forbidden=True,
                details=details)
    if actor.pk in _mappers(recon.subject_kind, recon.subject_id):
        _refuse(actor, "deliverables.adjudication.refused", ADJUDICATION_TYPE, object_id,
                f"{actor.get_username()} mapped this card: four eyes, another approver adjudicates its variances",
                forbidden=True, details=details)
    if verdict not in Verdict.values:
        _refuse(actor, "deliverables.adjudication.refused", ADJUDICATION_TYPE, object_id,
                f"verdict: {verdict!r} is not one of {', '.join(Verdict.values)}", details=details)
    if not (comment or "").strip():
        _refuse(actor, "deliverables.adjudication.refused", ADJUDICATION_TYPE, object_id,
                "comment: say why (a verdict without a reason is not kept)", details=details)
    if item.item_class not in DIFFERING or item.explanation:
        _refuse(actor, "deliverables.adjudication.refused", ADJUDICATION_TYPE, object_id,
                f"{item.key_label} {item.measure} is {'explained by a flaw' if item.explanation else item.item_class}:"
                " only an unexplained difference is adjudicated", details=details)
    with transaction.atomic():
        earlier = (Adjudication.objects.filter(subject_kind=recon.subject_kind, subject_id=recon.subject_id,
                                               fingerprint=item.fingerprint).order_by("-decided_at", "-id").first())
        adjudication = Adjudication.objects.create(
            subject_kind=recon.subject_kind, subject_id=recon.subject_id, fingerprint=item.fingerprint,
            locator=item.locator, measure=item.measure, keys=item.keys, key_label=item.key_label,
            item_class=item.item_class, backend_value=item.backend_value, golden_value=item.golden_value,
            verdict=verdict, comment=comment.strip(), decided_by=actor, reconciliation=recon)
        audit_record(actor=actor, action="deliverables.adjudication.recorded", object_type=ADJUDICATION_TYPE,
                     object_id=str(adjudication.pk),
                     before={"verdict": earlier.verdict, "comment": earlier.comment,
                             "decided_by": earlier.decided_by.get_username()} if earlier else None,
                     after={"subject": object_id, "reconciliation": recon.pk, "keys": item.keys,
                            "measure": item.measure, "backend_value": item.backend_value,
                            "golden_value": item.golden_value, "fingerprint": item.fingerprint,
                            "verdict": verdict, "comment": comment.strip()})
    return adjudication


def retire(*, actor, kind: str, subject_id: str, comment: str = "") -> CardRetirement:
    """Mark a reconciled card retired (an approver who did not map it): the backend output is the one to use."""
    from deliverables.reconciliation.selectors import CardStateRow, card_state

    object_id = f"{kind}:{subject_id}"
    if not actor.has_perm(DECIDE_PERMISSION):
        _refuse(actor, "deliverables.retirement.refused", MAPPING_TYPE, object_id,
                "retiring a card needs the approver's permission (approve_promotion)", forbidden=True)
    if actor.pk in _mappers(kind, subject_id):
        _refuse(actor, "deliverables.retirement.refused", MAPPING_TYPE, object_id,
                f"{actor.get_username()} mapped this card: four eyes, another approver retires it", forbidden=True)
    state: CardStateRow = card_state(kind, subject_id)
    if state.retirement is not None:
        _refuse(actor, "deliverables.retirement.refused", MAPPING_TYPE, object_id,
                f"{state.title} is already retired (by {state.retirement.retired_by.get_username()})")
    if state.state != "reconciled":
        _refuse(actor, "deliverables.retirement.refused", MAPPING_TYPE, object_id,
                f"{state.title} is {state.state_label.lower()}: only a reconciled card (every difference matched, "
                "within tolerance, explained or accepted) can be retired")
    with transaction.atomic():
        retirement, created = CardRetirement.objects.get_or_create(
            subject_kind=kind, subject_id=str(subject_id),
            defaults={"reconciliation": state.reconciliation, "retired_by": actor, "comment": comment.strip()})
        if not created:  # retired meanwhile by another approver
            raise Refused(f"{state.title} is already retired")
        audit_record(actor=actor, action="deliverables.card.retired", object_type=MAPPING_TYPE, object_id=object_id,
                     before={"state": state.state}, after={"state": "retired", "reconciliation": state.reconciliation.pk,
                                                           "comment": comment.strip()})
    return retirement
