"""Intake of Leaf IQ exports: one path for the command, the upload page and the API.

`intake_create` records the run (and, for the worker, enqueues it after commit); `intake_execute`
does the work, in a worker or in the command's own process:

  validate → bronze (every received byte, write-once) → silver (typed Parquet for each dataset
  that passed its own checks) → golden reproduction → one transaction that records the manifest and
  its objects.

Each file is read once where it can be: the bronze copy runs on its own thread while validation checks
the export and gives validation the files' hashes, and validation's CSV check writes the typed Parquet
that silver publishes (evidence.intake.storage).

Lake writes happen before that transaction and are write-once and content-addressed, so a run
killed at any point leaves no manifest rows and no half-written file; a rerun writes the same
bytes again (no-ops) and finishes the job.
"""
from __future__ import annotations

import datetime
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction

from console import clock, context, errors, jobs
from console.audit import audit_record
from console.dispatch import send_after_commit
from console.lake import get_lake
from console.lake.base import LakeError
from evidence.calculations.analysis import calculations_analyze_manifest
from evidence.choices import IntakeStatus, ManifestStatus
from evidence.intake import silver, validation
from evidence.intake.objects import record_objects
from evidence.intake.reproduction import record_reproductions, reproduce_goldens
from evidence.intake.storage import BronzeCopy, BronzeReceipt, SilverStaging, silver_prefix, write_silver
from evidence.models import (
    INTAKE_JOBS,
    DataflowStep,
    GoldenReproduction,
    IntakeRun,
    ManifestFile,
    ManifestIssue,
    SourceManifest,
)

INTAKE_TASK = "evidence.tasks.intake_run"  # the name evidence.tasks registers
# Deliveries that may claim a run, as for promotion loads (promotion.services.MAX_LOAD_ATTEMPTS): a run whose
# worker died this often (an export that kills its process every time) fails instead of being taken over again.
MAX_INTAKE_ATTEMPTS = 3


class IntakeError(Exception):
    """Nothing could be received (the source is missing or unreadable)."""


def staging_root() -> Path:
    root = Path(settings.VAR_DIR) / "intake"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _run_json(run: IntakeRun) -> dict:
    return {"source": run.source, "original_name": run.original_name, "status": run.status}


# --- create ------------------------------------------------------------------------------------


@transaction.atomic
def intake_create(*, actor, source: str, original_name: str, staged_path: Path, enqueue: bool = True) -> IntakeRun:
    """Record an intake run for bytes already staged on local disk, and queue it for a worker."""
    run = IntakeRun.objects.create(
        source=source,
        original_name=original_name[:255],
        staged_path=str(staged_path),
        requested_by=actor if actor is not None and actor.is_authenticated else None,
    )
    event = audit_record(
        actor=actor, action="intake.queued", object_type="evidence.intakerun", object_id=str(run.pk),
        after=_run_json(run),
    )
    run.requested_by_label = event.actor_label  # the same name the audit trail gives the requester
    run.save(update_fields=["requested_by_label"])
    if enqueue:
        send_after_commit(INTAKE_TASK, IntakeRun, run.pk)
    return run


def stage_path(source: Path) -> Path:
    """Copy a folder or file a command was given into the staging area (links copied as links, never
    followed), so that its run can be retried whatever happens to the original."""
    target = Path(tempfile.mkdtemp(prefix="command-", dir=staging_root())) / source.name
    try:
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True)
        else:
            shutil.copyfile(source, target)
    except BaseException:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise
    return target


def stage_upload(chunks: Iterator[bytes], *, name: str) -> Path:
    """Copy an upload to the staging area, chunk by chunk (never the whole body in memory)."""
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=staging_root()))
    target = folder / (Path(name).name or "export.zip")
    try:
        with target.open("wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return target


# --- execute -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntakeOutcome:
    manifest: SourceManifest
    duplicate: bool  # the same load id and content had been received before


class IntakeHeld(jobs.Held):
    """Another worker beat on this running intake too recently to take it over: look again in `retry_in`.

    A task the broker redelivers while the first worker is alive (a long run), or moments after it
    died (its heartbeat still fresh), must not be dropped: the caller retries after the stale time.
    """


def intake_execute(*, run_id: int) -> IntakeOutcome | None:
    """Do the intake of one run. Returns None when the run is gone or final; raises IntakeHeld when
    another worker's heartbeat is too fresh to take the run over."""
    run = IntakeRun.objects.filter(pk=run_id).first()
    stale_after = datetime.timedelta(seconds=settings.INTAKE_STALE_SECONDS)
    if run is None or run.is_final:
        return None
    if run.attempts >= MAX_INTAKE_ATTEMPTS and jobs.stale(INTAKE_JOBS, run, stale_after):
        _give_up(run, stale_after)
        return None
    with context.bind(context.WorkContext(correlation_id=f"intake-{run.pk}", system_actor=_system_actor(run))):
        # The claim and its audit row commit together: every attempt that held the run is on the trail, also one
        # whose process died the moment after its claim.
        with transaction.atomic():
            claimed = run.claim(stale_after=stale_after)
            if claimed:
                audit_record(
                    actor=None, action="intake.started", object_type="evidence.intakerun", object_id=str(run.pk),
                    before={"status": IntakeStatus.QUEUED},
                    after={"status": IntakeStatus.RUNNING, "attempt": run.attempts},
                )
        if not claimed:
            if run.is_final:
                return None
            raise IntakeHeld(jobs.retry_in(INTAKE_JOBS, run, stale_after))
        try:
            outcome = _execute(run)
        except Exception as exc:  # recorded on the run for the operator, then re-raised for the worker
            # The console's own errors say what the operator must know; anything else may carry SQL or
            # secrets: the run says only where the log has it.
            reason = (f"{type(exc).__name__}: {exc}" if isinstance(exc, IntakeError | LakeError)
                      else errors.fault_message(errors.log_fault(f"intake run #{run.pk}", exc)))
            with transaction.atomic():
                run.refresh_from_db()
                if not run.is_final:
                    run.fail(reason)
                    audit_record(
                        actor=None, action="intake.failed", object_type="evidence.intakerun",
                        object_id=str(run.pk), before={"status": IntakeStatus.RUNNING},
                        after={"status": IntakeStatus.FAILED, "error": run.error},
                    )
            raise
    _discard_staged(run)
    return outcome


def _give_up(run: IntakeRun, stale_after: datetime.timedelta) -> None:
    """Fail a running intake whose worker was lost on each of its MAX_INTAKE_ATTEMPTS attempts (a compare-and-set
    on that attempt and the stale heartbeat: a worker that took it over or beat meanwhile keeps it)."""
    error = f"gave up after {run.attempts} attempts (each worker was lost mid-run)"
    with transaction.atomic():
        moved = (
            INTAKE_JOBS.rows(run.pk, attempt=run.attempts)
            .filter(heartbeat_at__lt=clock.now() - stale_after)
            .update(status=IntakeStatus.FAILED, error=error, finished_at=clock.now())
        )
        if moved:
            audit_record(
                actor=None, action="intake.failed", object_type="evidence.intakerun", object_id=str(run.pk),
                before={"status": IntakeStatus.RUNNING, "attempts": run.attempts},
                after={"status": IntakeStatus.FAILED, "error": error},
            )


def _system_actor(run: IntakeRun) -> str:
    current = context.current()
    return current.system_actor if current and current.system_actor else f"intake:{run.pk}"


def _execute(run: IntakeRun) -> IntakeOutcome:
    source = Path(run.staged_path)
    if not source.exists():
        raise IntakeError(f"{source}: nothing to receive (the staged export is gone)")
    lake = get_lake()
    work = staging_root() / f"run-{run.pk}"
    if work.exists():
        shutil.rmtree(work)  # a previous attempt's extraction: start clean
    work.mkdir(parents=True)
    is_archive = source.is_file()
    copy = BronzeCopy(lake, run, source if is_archive else None)
    staging = SilverStaging(run, work)
    try:
        run.report("validating", 5)
        report = validation.validate_export(
            source, limits=archive_limits(), staging_dir=(work / "export") if is_archive else None,
            on_identity=copy.on_identity, stage_for=staging.stage_for, max_field_bytes=settings.INTAKE_MAX_FIELD_BYTES,
        )
        root = report.root
        run.report("checking for an earlier receipt", 30)
        existing = _existing(report)
        if existing is not None:
            return _finish_duplicate(run, existing)
        issues = list(report.issues)
        status = report.status
        conflict = _load_id_conflict(report)
        if conflict:
            issues.append(conflict)
            status = ManifestStatus.INVALID
        run.report("writing bronze", 40)
        bronze = copy.finish(report, root)
        existing = _existing(report, bronze)  # an export without a usable identity is known by what arrived
        if existing is not None:
            return _finish_duplicate(run, existing)
        silver_outputs: dict[str, silver.SilverResult] = {}
        goldens = {}
        if status != ManifestStatus.INVALID and report.manifest is not None and root is not None:
            silver_outputs = write_silver(lake, run, report, root, staging)
            run.report("reproducing golden packets", 92)
            # The local Parquet files behind the silver just written.
            goldens = reproduce_goldens(
                report.manifest, root, {dataset_id: staging.local_path(dataset_id) for dataset_id in silver_outputs}
            )
        run.report("recording", 95)
        try:
            manifest = _record(run, report, issues, status, bronze, silver_outputs, root, goldens)
        except IntegrityError:
            # Another run recorded the same load id and content while this one worked.
            existing = _existing(report, bronze)
            if existing is None:
                raise
            return _finish_duplicate(run, existing)
        # After the receipt commits, not inside it: an analyzer failure must never lose a receipt, and
        # what is left unanalyzed is picked up by `reanalyze_calculations` (it has no current analysis).
        calculations_analyze_manifest(manifest=manifest)
        return IntakeOutcome(manifest=manifest, duplicate=False)
    finally:
        copy.abandon()  # a duplicate's or a failed run's copy stops before its files go
        staging.discard()
        shutil.rmtree(work, ignore_errors=True)


def _discard_staged(run: IntakeRun) -> None:
    discard_staged(run.staged_path)


def discard_staged(staged_path: str) -> None:
    """Bronze holds every received byte now: the staged copy under var/intake can go."""
    staged = Path(staged_path)
    folder = staged.parent
    if folder.parent == staging_root() and folder.name.startswith(("upload-", "command-")):
        shutil.rmtree(folder, ignore_errors=True)


def archive_limits() -> validation.ArchiveLimits:
    return validation.ArchiveLimits(
        max_members=settings.INTAKE_ARCHIVE_MAX_MEMBERS,
        max_total_bytes=settings.INTAKE_ARCHIVE_MAX_BYTES,
        max_ratio=settings.INTAKE_ARCHIVE_MAX_RATIO,
    )


def _identity(report: validation.ValidationReport, bronze: BronzeReceipt | None = None) -> tuple[str, str] | None:
    """The (load id, content hash) a receipt is recorded under, and a repeat is known by: the manifest's
    load id and hash; without a manifest hash (no manifest, a refused archive), the hash of what arrived
    that names its bronze folder. None until that is known."""
    sha256 = report.manifest_sha256 or (bronze.prefix.rsplit("/", 1)[-1] if bronze is not None else None)
    load_id = report.load_id or ""
    if len(load_id) > SourceManifest._meta.get_field("load_id").max_length:
        load_id = ""  # not a load id at all (its BAD_LOAD_ID issue quotes it): the content alone names it
    return (load_id, sha256) if sha256 else None


def _existing(report: validation.ValidationReport, bronze: BronzeReceipt | None = None) -> SourceManifest | None:
    """The first receipt of this export, whatever its verdict (complete, invalid, unknown format...)."""
    identity = _identity(report, bronze)
    if identity is None:
        return None
    load_id, sha256 = identity
    return SourceManifest.objects.filter(load_id=load_id, manifest_sha256=sha256).first()


def _load_id_conflict(report: validation.ValidationReport) -> validation.Issue | None:
    if not report.load_id or not report.manifest_sha256:
        return None
    other = (
        SourceManifest.objects.filter(load_id=report.load_id)
        .exclude(manifest_sha256=report.manifest_sha256)
        .order_by("id")
        .first()
    )
    if other is None:
        return None
    return validation.issue(
        validation.LOAD_ID_CONFLICT,
        f"load id {report.load_id} was received before (manifest #{other.pk}, sha256 {other.manifest_sha256[:12]}…) "
        "with other content; this export is kept in bronze but cannot be used",
        file="manifest.json", field="load_id",
    )


@transaction.atomic
def _finish_duplicate(run: IntakeRun, existing: SourceManifest) -> IntakeOutcome:
    run.refresh_from_db()
    run.succeed(existing)
    audit_record(
        actor=None, action="intake.duplicate", object_type="evidence.intakerun", object_id=str(run.pk),
        before={"status": IntakeStatus.RUNNING},
        after={
            "status": IntakeStatus.SUCCEEDED, "manifest": existing.pk, "load_id": existing.load_id,
            "verdict": existing.status, "repeat_of_intake_run": existing.intake_run_id,
        },
    )
    return IntakeOutcome(manifest=existing, duplicate=True)


# --- record ------------------------------------------------------------------------------------


@transaction.atomic
def _record(run, report, issues, status, bronze: BronzeReceipt, silver_outputs, root, goldens) -> SourceManifest:
    run.refresh_from_db()
    manifest_obj = report.manifest
    load_id, manifest_sha256 = _identity(report, bronze)
    manifest = SourceManifest.objects.create(
        load_id=load_id,
        manifest_sha256=manifest_sha256,
        status=status,
        claimed_status=report.claimed_status or "",
        # What the manifest claims, read even from a broken one (the manifest page shows it beside the issues).
        exported_at=(report.claims or {}).get("exported_at"),
        domo_instance=(report.claims or {}).get("domo_instance", ""),
        exporter=(report.claims or {}).get("exporter", ""),
        missing=[{"kind": m.kind, "id": m.id, "reason": m.reason} for m in manifest_obj.missing] if manifest_obj else [],
        bronze_prefix=bronze.prefix,
        silver_prefix=silver_prefix(report) if silver_outputs else "",
        received_at=run.queued_at,
        received_by=run.requested_by,
        intake_run=run,
    )
    ordered = sorted(issues, key=validation.Issue.sort_key)
    ManifestIssue.objects.bulk_create(
        ManifestIssue(
            manifest=manifest, position=position, code=i.code, severity=i.severity, file=i.file or "",
            object=i.object or "", field=i.field or "", row=i.row, column=i.column or "", message=i.message,
        )
        for position, i in enumerate(ordered)
    )
    listed = {f.path: f for f in manifest_obj.files} if manifest_obj else {}
    ManifestFile.objects.bulk_create(
        ManifestFile(
            manifest=manifest, path=path,
            listed_sha256=listed[path].sha256 if path in listed else "",
            listed_bytes=listed[path].bytes if path in listed else None,
            sha256=bronze.files.get(path, ("", None, ""))[0],
            bytes=bronze.files.get(path, ("", None, ""))[1],
            bronze_path=bronze.files.get(path, ("", None, ""))[2],
        )
        for path in sorted(set(listed) | set(bronze.files))
    )
    steps = reproductions = 0
    if manifest_obj is not None and root is not None:
        cards = record_objects(manifest, manifest_obj, root, silver_outputs)
        record_reproductions(cards, goldens)
        steps = DataflowStep.objects.filter(dataflow__manifest=manifest).count()
        reproductions = GoldenReproduction.objects.filter(card__manifest=manifest).count()
    run.succeed(manifest)
    audit_record(
        actor=None, action="intake.finished", object_type="evidence.sourcemanifest", object_id=str(manifest.pk),
        after={
            "intake_run": run.pk, "load_id": manifest.load_id, "manifest_sha256": manifest.manifest_sha256,
            "status": manifest.status, "claimed_status": manifest.claimed_status,
            "issues": len(ordered), "bronze": manifest.bronze_prefix, "silver": manifest.silver_prefix,
            # The rows the recording wrote in bulk, besides the issues.
            "files": manifest.files.count(), "dataflow_steps": steps, "reproductions": reproductions,
        },
    )
    return manifest


# --- sweeper -----------------------------------------------------------------------------------


def intake_sweep_abandoned(*, older_than: datetime.timedelta) -> list[int]:
    """Fail running intakes whose heartbeat stopped long ago (their task will not come back)."""
    cutoff = clock.now() - older_than
    error = f"abandoned: no heartbeat since before {cutoff:%Y-%m-%d %H:%M:%S} UTC (worker lost)"

    def fail(run: IntakeRun, last_beat) -> None:
        IntakeRun.objects.filter(pk=run.pk).update(status=IntakeStatus.FAILED, error=error, finished_at=clock.now())
        audit_record(
            actor=None, action="intake.failed", object_type="evidence.intakerun", object_id=str(run.pk),
            before={"status": IntakeStatus.RUNNING}, after={"status": IntakeStatus.FAILED, "error": error},
        )

    return jobs.sweep(INTAKE_JOBS, cutoff, fail)
