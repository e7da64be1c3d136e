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
import re
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.conf import settings
from django.db import transaction

from console import clock
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
    SubjectKind,
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
from deliverables.reconciliation.engine import KeySpec, Mapping, MeasureSpec, ReconciliationError

log = logging.getLogger("deliverables.reconciliation")

TASK = "deliverables.tasks.reconciliation_execute"
QUEUE = "runs"
MAP_PERMISSION = "console.build_deliverable"
DECIDE_PERMISSION = "console.approve_promotion"  # adjudicate and retire: the approvers
STEPS = ("golden", "backend", "compare", "explain", "store")
ARTIFACT_PREFIX = "reconciliations"
KEY_KINDS = ("text", "date", "integer", "decimal")
RECONCILIATIONS = jobs.JobKind(model=Reconciliation, object_type=RECONCILIATION_TYPE,
                               prefix="deliverables.reconciliation", label="reconciliation", steps=STEPS,
                               queue=QUEUE, log=log)


class Refused(ValueError):
    """A request that cannot be done as asked (the message says which field and why)."""


class Forbidden(Refused):
    """Who asks may not do it (HTTP 403)."""


def _refuse(actor, action: str, object_type: str, object_id: str, reason: str, *, forbidden: bool = False,
            details: dict | None = None):
    with transaction.atomic():
        audit_record(actor=actor, action=action, object_type=object_type, object_id=object_id,
                     after={"reason": reason, **(details or {})})
    raise (Forbidden if forbidden else Refused)(reason)


# --- mappings ------------------------------------------------------------------------------------------------
def current_mapping(kind: str, subject_id: str) -> CardMapping | None:
    return CardMapping.objects.filter(subject_kind=kind, subject_id=str(subject_id)).order_by("-version").first()


def _decimal(text, where: str) -> str | None:
    if text is None or str(text).strip() == "":
        return None
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise Refused(f"{where}: {text!r} is not a decimal number") from None
    if not value.is_finite() or value < 0:
        raise Refused(f"{where}: {text!r} must be zero or more")
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


def clean_mapping(subject: sources.Subject, golden_columns: list[str], output_name: str, keys: list[dict],
                  measures: list[dict], available_flaws: dict[str, dict]) -> tuple[list[dict], list[dict]]:
    """The mapping's keys and measures, checked against the golden columns and the backend output; Refused names
    the field at fault."""
    output = outputs.OUTPUTS.get(output_name)
    if output is None:
        raise Refused(f"output: {output_name!r} is not a backend output (one of {', '.join(outputs.OUTPUTS)})")
    if not keys:
        raise Refused("keys: map at least one key (the columns that identify a row on both sides)")
    if not measures:
        raise Refused("measures: map at least one measure")
    clean_keys, clean_measures, seen = [], [], set()
    for i, key in enumerate(keys, 1):
        golden, backend = str(key.get("golden") or "").strip(), str(key.get("backend") or "").strip()
        where = f"key {i} ({golden or 'no golden column'})"
        if golden not in golden_columns:
            raise Refused(f"{where}: golden column {golden!r} is not in {subject.title}'s golden rows "
                          f"({', '.join(golden_columns)})")
        if output.column(backend) is None or backend not in {c.name for c in output.keys}:
            raise Refused(f"{where}: backend key {backend!r} is not a key of {output.name} "
                          f"({', '.join(c.name for c in output.keys)})")
        kind = str(key.get("kind") or output.column(backend).kind)
        if kind not in KEY_KINDS:
            raise Refused(f"{where}: kind {kind!r} is not one of {', '.join(KEY_KINDS)}")
        if golden in seen:
            raise Refused(f"{where}: golden column {golden!r} is mapped twice")
        seen.add(golden)
        clean_keys.append({"name": golden, "golden": golden, "backend": backend, "kind": kind,
                           "casefold": bool(key.get("casefold"))})
    for i, measure in enumerate(measures, 1):
        golden, backend = str(measure.get("golden") or "").strip(), str(measure.get("backend") or "").strip()
        where = f"measure {i} ({golden or 'no golden column'})"
        if golden not in golden_columns:
            raise Refused(f"{where}: golden column {golden!r} is not in {subject.title}'s golden rows "
                          f"({', '.join(golden_columns)})")
        if backend not in {c.name for c in output.measures}:
            raise Refused(f"{where}: backend measure {backend!r} is not a measure of {output.name} "
                          f"({', '.join(c.name for c in output.measures)})")
        if golden in seen:
            raise Refused(f"{where}: golden column {golden!r} is mapped twice")
        seen.add(golden)
        try:
            scale = int(measure.get("scale", output.column(backend).scale))
        except (TypeError, ValueError):
            raise Refused(f"{where}: scale {measure.get('scale')!r} is not a whole number") from None
        if not 0 <= scale <= 18:
            raise Refused(f"{where}: scale {scale} must be 0 to 18 decimal places")
        flaws = []
        for fingerprint in measure.get("flaws") or []:
            fingerprint = fingerprint.get("fingerprint") if isinstance(fingerprint, dict) else str(fingerprint)
            if fingerprint not in available_flaws:
                raise Refused(f"{where}: flaw {fingerprint!r} is not recorded on {subject.title} in its export")
            flaws.append(available_flaws[fingerprint])
        clean_measures.append({
            "name": golden, "golden": golden, "backend": backend, "scale": scale,
            "abs_tolerance": _decimal(measure.get("abs_tolerance"), f"{where}: absolute tolerance"),
            "rel_tolerance": _decimal(measure.get("rel_tolerance"), f"{where}: relative tolerance"),
            "flaws": sorted(flaws, key=lambda f: f["fingerprint"])})
    return clean_keys, clean_measures


def engine_mapping(mapping: CardMapping) -> Mapping:
    return Mapping(
        name=f"{mapping.subject_kind}:{mapping.subject_id}",
        keys=tuple(KeySpec(k["name"], k["backend"], k["golden"], k["kind"], k["casefold"]) for k in mapping.keys),
        measures=tuple(MeasureSpec(m["name"], m["backend"], m["golden"], m["scale"],
                                   Decimal(m["abs_tolerance"]) if m["abs_tolerance"] is not None else None,
                                   Decimal(m["rel_tolerance"]) if m["rel_tolerance"] is not None else None)
                       for m in mapping.measures))


def _mapping_json(mapping: CardMapping | None) -> dict | None:
    if mapping is None:
        return None
    return {"version": mapping.version, "output": mapping.output, "golden_dataset": mapping.golden_dataset,
            "keys": mapping.keys, "measures": mapping.measures, "note": mapping.note}


def mapping_save(*, actor, kind: str, subject_id: str, output: str, keys: list[dict], measures: list[dict],
                 note: str = "", golden_dataset: str = "", source: str = "console") -> tuple[CardMapping, bool]:
    """A new version of the subject's mapping (audited, with the previous version as `before`); (mapping, False)
    when it is the same as the current version."""
    object_id = f"{kind}:{subject_id}"
    if not actor.has_perm(MAP_PERMISSION):
        _refuse(actor, "deliverables.mapping.refused", MAPPING_TYPE, object_id,
                "mapping a card needs the build_deliverable permission", forbidden=True)
    subject = sources.subject(kind, subject_id)
    if subject is None:
        _refuse(actor, "deliverables.mapping.refused", MAPPING_TYPE, object_id,
                f"{kind} {subject_id}: not in any received export")
    try:
        golden = sources.golden(kind, subject_id, golden_dataset)
        available = {f["fingerprint"]: f for f in (sources.flaw_json(flaw) for flaw in golden.flaws)}
        clean_keys, clean_measures = clean_mapping(subject, golden.columns, output, keys, measures, available)
    except (Refused, sources.SourceError) as refusal:
        _refuse(actor, "deliverables.mapping.refused", MAPPING_TYPE, object_id, str(refusal),
                details={"output": output})
    with transaction.atomic():
        current = (CardMapping.objects.select_for_update().filter(subject_kind=kind, subject_id=str(subject_id))
                   .order_by("-version").first())
        proposed = {"output": output, "golden_dataset": golden.dataset, "keys": clean_keys,
                    "measures": clean_measures, "note": note.strip()}
        if current is not None and all(getattr(current, k) == v for k, v in proposed.items()):
            return current, False
        mapping = CardMapping.objects.create(
            subject_kind=kind, subject_id=str(subject_id), title=subject.title[:255],
            version=(current.version + 1) if current else 1, created_by=actor, source=source, **proposed)
        audit_record(actor=actor, action="deliverables.mapping.saved", object_type=MAPPING_TYPE,
                     object_id=object_id, before=_mapping_json(current), after=_mapping_json(mapping))
    return mapping, True


_SYNONYMS = {
    "client account": "client_name", "client": "client_name", "client name": "client_name",
    "account": "client_name", "client account id": "client_account_id", "brand/generic": "drug_class",
    "rebate amount": "rebates_received", "rebates": "rebates_received", "awp amount": "awp", "awp": "awp",
    "est. brand rebates": "guaranteed_rebates", "guaranteed discount": "guaranteed_discount",
    "guaranteed discount (17%)": "guaranteed_discount", "actual discount": "actual_discount",
    "effective discount rate": "effective_rate", "avg effective discount": "effective_rate",
    "claims": "claims", "claim count": "claims", "guaranteed fees": "guaranteed_fees",
    "dispensing fees paid": "fees_paid", "dispensing fee paid": "fees_paid",
}


def _words(text: str) -> set[str]:
    return {w.rstrip("s") for w in re.split(r"[^a-z0-9]+", text.casefold()) if w}


def _closest(column: str, candidates: list[outputs.Column]) -> outputs.Column | None:
    named = _SYNONYMS.get(column.strip().casefold())
    for c in candidates:
        if c.name == named:
            return c
    scored = sorted(((len(_words(column) & (_words(c.name) | _words(c.label))), -i, c)
                     for i, c in enumerate(candidates)), key=lambda t: (t[0], t[1]), reverse=True)
    return scored[0][2] if scored and scored[0][0] > 0 else None


def mapping_proposal(kind: str, subject_id: str, output_name: str = "", golden_dataset: str = "") -> dict:
    """A mapping proposed by names: the golden columns matched to an output's keys and measures (the output with
    the most matches unless one is given), tolerances of one cent, the flaws recorded on each column."""
    golden = sources.golden(kind, subject_id, golden_dataset)
    key_columns = set(_golden_keys(golden))
    best = None
    for output in ([outputs.OUTPUTS[output_name]] if output_name in outputs.OUTPUTS else outputs.OUTPUTS.values()):
        keys, measures = [], []
        for column in golden.columns:
            if column in key_columns:
                match = _closest(column, list(output.keys))
                if match:
                    keys.append({"golden": column, "backend": match.name, "kind": match.kind,
                                 "casefold": match.kind == "text"})
            else:
                match = _closest(column, list(output.measures))
                if match:
                    measures.append({"golden": column, "backend": match.name, "scale": match.scale,
                                     "abs_tolerance": "0.01" if match.scale == 2 else None, "rel_tolerance": None,
                                     "flaws": sources.flaws_for_column(golden, column)})
        score = (len(keys) == len(key_columns), len(keys) + len(measures))
        if best is None or score > best[0]:
            best = (score, {"output": output.name, "keys": keys, "measures": measures})
    return {**best[1], "golden_columns": golden.columns, "golden_dataset": golden.dataset,
            "flaws": [sources.flaw_json(f) for f in golden.flaws]}


def _golden_keys(golden: sources.Golden) -> list[str]:
    """The golden columns that identify a row: a card's groupBy columns (by header), a DataFlow output's text
    and date columns."""
    import pyarrow as pa

    if golden.subject.kind == SubjectKind.CARD:
        from evidence.models import DomoCard

        card = DomoCard.objects.filter(domo_id=int(golden.subject.id), manifest=golden.manifest).first()
        main = (card.main or {}) if card else {}
        grouped = {(g.get("column"), g.get("formula_id")) for g in main.get("group_by") or []}
        found = [golden.columns[i] for i, c in enumerate(main.get("columns") or [])
                 if i < len(golden.columns) and (c.get("column"), c.get("formula_id")) in grouped]
        return found or golden.columns[:1]
    return [f.name for f in golden.table.schema
            if pa.types.is_string(f.type) or pa.types.is_date(f.type) or pa.types.is_timestamp(f.type)]


# --- start ---------------------------------------------------------------------------------------------------
def latest_run() -> CalculationRun | None:
    """The newest succeeded run over every client: what a reconciliation compares by default."""
    return CalculationRun.objects.filter(state=RunState.SUCCEEDED, client_account_id="").order_by("-pk").first()


def reconciliation_start(*, actor, kind: str, subject_id: str, run: CalculationRun | None = None,
                         trigger: str = Trigger.MANUAL, enqueue: bool = True, traceparent: str = "") -> Reconciliation:
    """A queued reconciliation of the subject's current mapping against `run` (default: the newest succeeded run
    over every client), sent to the queue after commit. Refused (audited) without a mapping or a run."""
    from deliverables.runs.services import traceparent_for

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
    trace = traceparent_for(traceparent or run.traceparent)
    with transaction.atomic():
        recon = Reconciliation.objects.create(
            mapping=mapping, run=run, subject_kind=kind, subject_id=str(subject_id), trigger=trigger,
            requested_by=actor, traceparent=trace, trace_id=trace.split("-")[1], queue=QUEUE,
            progress={"step": "queued", "steps": [{"name": s, "state": "pending"} for s in STEPS]})
        audit_record(actor=actor if trigger == Trigger.MANUAL else None, action="deliverables.reconciliation.queued",
                     object_type=RECONCILIATION_TYPE, object_id=str(recon.pk),
                     after={"subject": object_id, "mapping_version": mapping.version, "run": run.pk,
                            "trigger": trigger, "requested_by": actor.get_username(), "traceparent": trace})
        if enqueue:
            send_after_commit(TASK, Reconciliation, recon.pk)
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
        jobs.fail(RECONCILIATIONS, recon, f"{type(exc).__name__}: {exc}")
        raise
    recon.refresh_from_db()
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


@dataclass
class _Found:
    golden: sources.Golden
    backend: dict
    table: str


def _reconcile_and_store(recon: Reconciliation) -> None:
    import duckdb

    from deliverables.reconciliation.engine import q, reconcile
    from deliverables.runs.services import write_artifact

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
            result = reconcile(con, "backend", "golden", spec, table="result")
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
            path, sha = write_artifact(reader, folder, ARTIFACT_PREFIX)
    finally:
        con.close()
    summary = {**result.summary, "explained": explained, "rows": result.rows,
               "seconds": {k: round(v, 3) for k, v in timings.items()}}
    with transaction.atomic():
        locked = Reconciliation.objects.select_for_update().get(pk=recon.pk)
        if locked.state != RunState.RUNNING or locked.attempts != recon.attempts:
            raise jobs.JobLost(f"reconciliation #{recon.pk} is no longer held by this worker")
        ReconciliationItem.objects.filter(reconciliation=recon).delete()
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
                            "artifact_sha256": sha, "total": result.summary["total"], "explained": explained})
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
    if state.state != "reconciled":
        _refuse(actor, "deliverables.retirement.refused", MAPPING_TYPE, object_id,
                f"{state.title} is {state.state_label.lower()}: only a reconciled card (every difference matched, "
                "within tolerance, explained or accepted) can be retired")
    with transaction.atomic():
        retirement, created = CardRetirement.objects.get_or_create(
            subject_kind=kind, subject_id=str(subject_id),
            defaults={"reconciliation": state.reconciliation, "retired_by": actor, "comment": comment.strip()})
        if not created:
            _refuse(actor, "deliverables.retirement.refused", MAPPING_TYPE, object_id,
                    f"{state.title} is already retired")
        audit_record(actor=actor, action="deliverables.card.retired", object_type=MAPPING_TYPE, object_id=object_id,
                     before={"state": state.state}, after={"state": "retired", "reconciliation": state.reconciliation.pk,
                                                           "comment": comment.strip()})
    return retirement


# --- shipped mappings ----------------------------------------------------------------------------------------
SHIPPED = Path(__file__).resolve().parent / "samples" / "leafiq-sample.json"


@dataclass
class Shipped:
    title: str
    outcome: str  # saved | kept (a mapping exists) | absent (not in any export) | refused
    detail: str = ""


def mappings_load(*, actor, path: Path | str = SHIPPED) -> list[Shipped]:
    """Load mappings shipped as data (the sample export's, by default): each subject found by kind and title, each
    flaw by code on the golden column; a subject that already has a mapping is kept as it is."""
    where = str(path)
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as bad:
        raise Refused(f"{where}: cannot be read as JSON: {bad}") from None
    if not isinstance(document, dict) or not isinstance(document.get("mappings"), list):
        raise Refused(f"{where}: expected an object with a `mappings` list")
    by_title = {(s.kind, s.title): s for s in sources.subjects()}
    done = []
    for index, entry in enumerate(document["mappings"], 1):
        title = str(entry.get("title") or "")
        kind = str(entry.get("kind") or SubjectKind.CARD)
        subject = by_title.get((kind, title))
        if subject is None:
            done.append(Shipped(title, "absent", f"{where}: mapping {index}: no {kind} titled {title!r} received"))
            continue
        if current_mapping(subject.kind, subject.id) is not None:
            done.append(Shipped(title, "kept"))
            continue
        try:
            golden = sources.golden(subject.kind, subject.id, entry.get("golden_dataset") or "")
            measures = []
            for measure in entry.get("measures") or []:
                codes = set(measure.get("flaws") or [])
                flaws = [f["fingerprint"] for f in sources.flaws_for_column(golden, str(measure.get("golden")))
                         if f["code"] in codes]
                measures.append({**measure, "flaws": flaws})
            mapping_save(actor=actor, kind=subject.kind, subject_id=subject.id, output=str(entry.get("output")),
                         keys=entry.get("keys") or [], measures=measures, note=str(entry.get("note") or ""),
                         golden_dataset=golden.dataset, source="shipped")
        except (Refused, sources.SourceError) as refusal:
            done.append(Shipped(title, "refused", f"{where}: mapping {index} ({title}): {refusal}"))
            continue
        done.append(Shipped(title, "saved"))
    return done
