"""Missing-evidence flags: request a recomputation (a queued FlagRun, sent to Celery after commit), run it
(claimed by one worker), and `flags_recompute(run)`, which reads the current claims and the evidence and
persists what is missing.

- The claims: every current version of the curated registry whose schema has the claims columns
  (evidence.flags.needs.CLAIMS_COLUMNS, compared case-insensitively), read from its silver Parquet in the lake
  (the version was verified equal to silver by checksum when it was loaded): its manifest by (load id, manifest
  hash), the manifest's dataset of that Domo id. The lake file is copied to a local temp file first, outside any
  transaction.
- The evidence: `evidence_for_clients(clients)` for the clients with claims (packet revisions of every class, and
  Domo candidate rows once that selector loads them).
- Persisting, in one transaction: ClientNeeds of the run; each computed flag whose key has an open flag updates
  it (last seen, reason, detail, candidates); a new key opens a flag (audited evidence.flag.raised); an open
  flag no longer computed is resolved (audited evidence.flag.resolved): `covered`, naming the verified revision
  decide() now uses for it (the latest verified of them), or `no_longer_needed` when the claims that needed it
  are gone.
"""
from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import connection, models, transaction

from console import chain, clock, errors
from console.audit import audit_record
from console.dispatch import send_after_commit
from evidence.flags import coverage, needs
from evidence.flags.computed import Flag
from evidence.flags.models import (
    ClientNeeds,
    FlagResolution,
    FlagRun,
    FlagRunStatus,
    FlagStatus,
    MissingEvidenceFlag,
)
from evidence.flags.resolution import covering_revision, needs_of

FLAG_TASK = "evidence.tasks.flags_recompute_run"
RUN_TYPE = "evidence.flagrun"
FLAG_TYPE = "evidence.missingevidenceflag"
STALE_SECONDS = 3600  # a running run older than this, redelivered to a worker, is taken over
# A queued run older than this is not coalesced into: its message may be lost (a flushed broker); a new run
# is queued beside it (it stays queued until a worker or the command takes it).
COALESCE_SECONDS = 300


# --- request ---------------------------------------------------------------------------------------------
def request_flags_recompute(*, trigger: str, ref: str = "", actor=None, enqueue: bool = True,
                            audited: bool = True) -> FlagRun:
    """A queued run of the flags (the one already queued and not started, when there is one: coalesced),
    sent to the worker after commit. Never called on a page view.

    Called inside the transaction of what moved the flags (a revision verified, a pointer moved), the run
    exists exactly when that change committed. `audited=False` for those triggers: their own audit event
    is the action; an explicit request (the API, the command) is audited as evidence.flag_run.queued."""
    from console import context

    with transaction.atomic():
        # Locking the queued run holds a worker's claim of it until this transaction commits, so the run
        # it coalesces into reads what this transaction changed.
        recent = clock.now() - datetime.timedelta(seconds=COALESCE_SECONDS)
        queued = (FlagRun.objects.select_for_update().filter(status=FlagRunStatus.QUEUED, queued_at__gte=recent)
                  .order_by("-id").first())
        if queued is not None:
            return queued
        user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
        work = context.current()
        label = user.get_username() if user else ((work.system_actor if work else None) or "system")
        run = FlagRun.objects.create(trigger=trigger[:64], trigger_ref=str(ref)[:255], requested_by=user,
                                     requested_by_label=label[:255])
        if audited:
            event = audit_record(actor=actor, action="evidence.flag_run.queued", object_type=RUN_TYPE,
                                 object_id=str(run.pk), after={"trigger": run.trigger, "ref": run.trigger_ref,
                                                               "status": run.status})
            FlagRun.objects.filter(pk=run.pk).update(requested_by_label=event.actor_label[:255])
            run.requested_by_label = event.actor_label[:255]
        if enqueue:
            send_after_commit(FLAG_TASK, FlagRun, run.pk)
    return run


def flags_moved(*, trigger: str, ref: str = "", actor=None) -> FlagRun:
    """For the services whose changes move the flags (a revision accepted, verified or withdrawn; a curated
    pointer moved): inside their transaction, a queued run sent once it commits."""
    return request_flags_recompute(trigger=trigger, ref=ref, actor=actor, audited=False)


def flag_run_execute(*, run_id: int, task_id: str = "", worker: str = "") -> FlagRun | None:
    """Claim the run (queued, or running but stale: a redelivery after a lost worker), recompute, and end it
    succeeded or failed (the error kept). None when it is gone, final, or held by a live worker."""
    now = clock.now()
    claimable = models.Q(status=FlagRunStatus.QUEUED) | models.Q(
        status=FlagRunStatus.RUNNING, started_at__lt=now - datetime.timedelta(seconds=STALE_SECONDS))
    claimed = FlagRun.objects.filter(claimable, pk=run_id).update(
        status=FlagRunStatus.RUNNING, started_at=now, attempts=models.F("attempts") + 1,
        worker=(worker or socket.gethostname())[:255], task_id=task_id[:64] or models.F("task_id"))
    if not claimed:
        return None
    run = FlagRun.objects.get(pk=run_id)
    try:
        summary = flags_recompute(run=run)
    except Exception as exc:
        FlagRun.objects.filter(pk=run_id, status=FlagRunStatus.RUNNING).update(
            status=FlagRunStatus.FAILED, finished_at=clock.now(),
            error=errors.fault_message(errors.log_fault(f"flag run #{run_id}", exc)))
        raise
    FlagRun.objects.filter(pk=run_id, status=FlagRunStatus.RUNNING).update(
        status=FlagRunStatus.SUCCEEDED, finished_at=clock.now(), summary=summary)
    run.refresh_from_db()
    return run


# --- the claims ------------------------------------------------------------------------------------------
def claims_versions(reader) -> list[dict]:
    """The current curated versions that are claims datasets, with their column mapping."""
    from promotion import curated

    found = []
    for version in curated.current_versions(reader):
        schema = curated.current_schema(reader, version["dataset_key"])
        if schema is None or schema[0] != version["version"]:
            continue
        columns = needs.claims_columns([column["name"] for column in schema[1]])
        if columns is not None:
            found.append({**version, "columns": columns})
    return found


@contextlib.contextmanager
def claims_sources(versions: list[dict]) -> Iterator[list[needs.ClaimsSource]]:
    """Each claims version's silver Parquet copied from the lake to a local temp file, as ClaimsSources."""
    from console.lake import get_lake, iter_chunks
    from evidence.models import DomoDataset

    folder = Path(settings.VAR_DIR) / "flags"
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    try:
        sources = []
        for version in versions:
            dataset = DomoDataset.objects.filter(
                manifest__load_id=version["load_id"], manifest__manifest_sha256=version["manifest_sha256"],
                domo_id=version["dataset_key"]).exclude(silver_path="").first()
            if dataset is None:
                raise needs.FlagInputError(
                    f"claims dataset {version['dataset_key']} v{version['version']}: no silver file of load "
                    f"{version['load_id']} is recorded for it")
            handle, name = tempfile.mkstemp(dir=folder, suffix=".parquet")
            paths.append(Path(name))
            with os.fdopen(handle, "wb") as out, get_lake().open(dataset.silver_path) as stream:
                for chunk in iter_chunks(stream):
                    out.write(chunk)
            sources.append(needs.ClaimsSource(
                dataset_key=version["dataset_key"], version=version["version"], path=Path(name),
                columns=version["columns"], rows=version["rows"], checksum=version["checksum"],
                load_id=version["load_id"], manifest_sha256=version["manifest_sha256"]))
        yield sources
    finally:
        for path in paths:
            path.unlink(missing_ok=True)


# --- recompute -------------------------------------------------------------------------------------------
def _inputs(sources: list[needs.ClaimsSource], evidence: dict) -> dict:
    from evidence.candidates.models import DomoCandidateSet

    revisions = sorted({(r.packet_id, r.revision, r.sha256, r.evidence_class, r.status)
                        for found in evidence.values() for r in found.revisions})
    return {
        "curated": [{"dataset_key": s.dataset_key, "version": s.version, "load_id": s.load_id,
                     "rows": s.rows, "checksum": str(s.checksum)} for s in sources],
        "revisions": [{"packet_id": p, "revision": n, "sha256": h, "class": c, "status": st}
                      for p, n, h, c, st in revisions],
        "domo": [{"set": pk, "kind": kind, "dataset": domo_id, "rows": rows} for pk, kind, domo_id, rows in
                 DomoCandidateSet.objects.order_by("pk").values_list("pk", "kind", "dataset_domo_id", "rows")],
    }


def _sha256(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def flags_recompute(*, run: FlagRun) -> dict:
    """Compute every flag from the current claims and evidence and persist them for `run`; returns the
    summary {raised, resolved, open, needs}."""
    from evidence.packets.selectors import evidence_for_clients
    from promotion.curated.aliases import curated_reader

    versions = claims_versions(curated_reader())
    with claims_sources(versions) as sources:
        con = needs.connect(temp_directory=str(Path(settings.VAR_DIR) / "flags"))
        try:
            needs.build_needs(con, sources)
            periods = needs.client_periods(con, sources)
            evidence = evidence_for_clients(sorted({p.client for p in periods}))
            flags = coverage.compute_flags(con, periods, evidence)
            computed = {f.key for f in flags}
            # Filtered here, not with key__in: the computed keys can be many more than a query's parameters.
            stale = [f for f in MissingEvidenceFlag.objects.filter(status=FlagStatus.OPEN) if f.key not in computed]
            present = needs_of(con, stale)
            resolutions = {flag.pk: _resolution(flag, present[flag.pk], evidence) for flag in stale}
            counts = con.execute("SELECT (SELECT count(*) FROM contract_needs), (SELECT count(*) FROM generic_needs), "
                                 "(SELECT count(*) FROM brand_needs)").fetchone()
        finally:
            con.close()
    inputs = _inputs(sources, evidence)
    needs_summary = {"clients": len({p.client for p in periods}), "client_periods": len(periods),
                     "contract": counts[0], "pricing": counts[1], "rebate": counts[2]}
    return _persist(run, periods, flags, resolutions, inputs, needs_summary)


def _resolution(flag: MissingEvidenceFlag, found: dict | None, evidence: dict) -> tuple[str, int | None, dict]:
    """How an open flag no longer computed ends: (resolution, covering revision id, detail); `found` is a need of
    the current claims at its grain, or None."""
    if found is None:
        return FlagResolution.NO_LONGER_NEEDED, None, {}
    revision = covering_revision(flag, found, evidence.get(flag.client_account_id))
    if revision is None:  # authorized now, with no revision to name: cannot be (decide uses one); kept honest
        return FlagResolution.NO_LONGER_NEEDED, None, {"note": "no covering revision found"}
    return FlagResolution.COVERED, revision, {"need": found}


@transaction.atomic
def _persist(run: FlagRun, periods, flags: list[Flag], resolutions: dict, inputs: dict, needs_summary: dict) -> dict:
    if connection.vendor == "postgresql":  # one run persists at a time (one open flag per key)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('evidence.flags'))")
    now = clock.now()
    ClientNeeds.objects.bulk_create([
        ClientNeeds(run=run, client_account_id=p.client, client_name=p.client_name[:255], period_start=p.period_start,
                    period_end=p.period_end, claims=p.claims, months=p.months, components=p.components,
                    generic_ndcs=p.generic_ndcs, brand_ndcs=p.brand_ndcs, sources=p.sources)
        for p in periods
    ], batch_size=1000)
    open_flags = {f.key: f for f in MissingEvidenceFlag.objects.select_for_update().filter(status=FlagStatus.OPEN)}
    raised = resolved = 0
    updates = []
    for flag in flags:
        held = open_flags.pop(flag.key, None)
        fields = {"holds_back": flag.holds_back, "reason": flag.reason, "detail": flag.detail,
                  "candidate_exists": flag.candidate_exists, "candidates": flag.candidates,
                  "period_start": flag.period_start, "period_end": flag.period_end}
        if held is not None:
            before = chain.json_safe({name: getattr(held, name) for name in fields})
            for name, value in fields.items():
                setattr(held, name, value)
            held.last_seen_run = run  # bookkeeping (console.audit_coverage.JOB_BOOKKEEPING)
            updates.append(held)
            after = chain.json_safe(fields)
            if after != before:  # one event per flag whose content changed
                audit_record(actor=None, action="evidence.flag.updated", object_type=FLAG_TYPE,
                             object_id=str(held.pk), before=before, after=after)
            continue
        created = MissingEvidenceFlag.objects.create(
            key=flag.key, kind=flag.kind, client_account_id=flag.client, component=flag.component, ndc=flag.ndc,
            quarter=flag.quarter, first_raised_at=now, raised_by_run=run, last_seen_run=run, **fields)
        audit_record(actor=None, action="evidence.flag.raised", object_type=FLAG_TYPE, object_id=str(created.pk),
                     after=_flag_json(created))
        raised += 1
    MissingEvidenceFlag.objects.bulk_update(
        updates, ["holds_back", "reason", "detail", "candidate_exists", "candidates", "period_start", "period_end",
                  "last_seen_run"], batch_size=1000)
    for held in open_flags.values():
        if held.pk not in resolutions:  # opened by a later run meanwhile: not ours to judge
            continue
        resolution, revision_id, detail = resolutions[held.pk]
        before = _flag_json(held)
        held.status, held.resolution, held.resolved_at = FlagStatus.RESOLVED, resolution, now
        held.resolved_by_run, held.resolved_by_revision_id = run, revision_id
        if detail:
            held.detail = {**held.detail, "resolution": detail}
        held.save(update_fields=["status", "resolution", "resolved_at", "resolved_by_run", "resolved_by_revision",
                                 "detail"])
        audit_record(actor=None, action="evidence.flag.resolved", object_type=FLAG_TYPE, object_id=str(held.pk),
                     before=before, after=_flag_json(held))
        resolved += 1
    summary = {"raised": raised, "resolved": resolved,
               "open": MissingEvidenceFlag.objects.filter(status=FlagStatus.OPEN).count(), "needs": needs_summary}
    FlagRun.objects.filter(pk=run.pk).update(inputs=inputs, inputs_sha256=_sha256(inputs), summary=summary)
    return summary


def _flag_json(flag: MissingEvidenceFlag) -> dict:
    return {"key": flag.key, "kind": flag.kind, "client": flag.client_account_id,
            "period": [flag.period_start.isoformat(), flag.period_end.isoformat()], "component": flag.component,
            "ndc": flag.ndc, "quarter": flag.quarter, "holds_back": flag.holds_back, "status": flag.status,
            "candidate_exists": flag.candidate_exists, "resolution": flag.resolution or None,
            "resolved_by_revision": flag.resolved_by_revision_id}
