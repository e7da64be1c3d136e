"""Intake of Leaf IQ exports: one path for the command, the upload page and the API.

`intake_create` records the run (and, for the worker, enqueues it after commit); `intake_execute`
does the work, in a worker or in the command's own process:

  validate → bronze (every received byte, write-once) → silver (typed Parquet for each dataset
  that passed its own checks) → one transaction that records the manifest and its objects.

Lake writes happen before that transaction and are write-once and content-addressed, so a run
killed at any point leaves no manifest rows and no half-written file; a rerun writes the same
bytes again (no-ops) and finishes the job.
"""
from __future__ import annotations

import datetime
import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction

from console import context
from console.audit import audit_record
from console.lake import Lake, get_lake
from evidence import leafiq, silver, validation
from evidence.calculations import calculations_analyze_manifest
from evidence.reproduction import record_reproductions, reproduce_goldens
from evidence.choices import IntakeSource, IntakeStatus, ManifestStatus
from evidence.models import (
    BeastMode,
    DataflowStep,
    DirectoryEntry,
    DomoCard,
    DomoDataflow,
    DomoDataset,
    IntakeRun,
    ManifestFile,
    ManifestIssue,
    PdpPolicy,
    SourceManifest,
)

BRONZE_ROOT = "bronze/leafiq"
SILVER_ROOT = "silver/leafiq"
UNIDENTIFIED = "_unidentified"


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
        from evidence.tasks import intake_run

        run_id = run.pk
        transaction.on_commit(lambda: _enqueue(run_id, intake_run))
    return run


def _enqueue(run_id: int, task) -> None:
    result = task.apply_async(args=[run_id])
    IntakeRun.objects.filter(pk=run_id, task_id="").update(task_id=result.id)


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


def intake_execute(*, run_id: int) -> IntakeOutcome | None:
    """Do the intake of one run. Returns None when the run is gone, final, or held by another worker."""
    run = IntakeRun.objects.filter(pk=run_id).first()
    stale_after = datetime.timedelta(seconds=settings.INTAKE_STALE_SECONDS)
    if run is None or run.is_final or not run.claim(stale_after=stale_after):
        return None
    with context.bind(context.WorkContext(correlation_id=f"intake-{run.pk}", system_actor=_system_actor(run))):
        with transaction.atomic():
            audit_record(
                actor=None, action="intake.started", object_type="evidence.intakerun", object_id=str(run.pk),
                before={"status": IntakeStatus.QUEUED}, after={"status": IntakeStatus.RUNNING, "attempt": run.attempts},
            )
        try:
            outcome = _execute(run)
        except Exception as exc:  # recorded on the run for the operator, then re-raised for the logs
            with transaction.atomic():
                run.refresh_from_db()
                if not run.is_final:
                    run.fail(f"{type(exc).__name__}: {exc}")
                    audit_record(
                        actor=None, action="intake.failed", object_type="evidence.intakerun",
                        object_id=str(run.pk), before={"status": IntakeStatus.RUNNING},
                        after={"status": IntakeStatus.FAILED, "error": run.error},
                    )
            raise
    _discard_staged(run)
    return outcome


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
    try:
        run.report("validating", 5)
        is_archive = source.is_file()
        report = validation.validate_export(
            source, limits=archive_limits(), staging_dir=(work / "export") if is_archive else None
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
        bronze = _write_bronze(lake, run, report, source if is_archive else None, root)
        silver_outputs: dict[str, silver.SilverResult | str] = {}
        goldens = {}
        if status != ManifestStatus.INVALID and report.manifest is not None and root is not None:
            silver_outputs = _write_silver(lake, run, report, root, work)
            run.report("reproducing golden packets", 92)
            # The staged Parquet files _write_silver left in `work` are the silver just written.
            goldens = reproduce_goldens(
                report.manifest, root, {dataset_id: work / f"{dataset_id}.parquet" for dataset_id in silver_outputs}
            )
        run.report("recording", 95)
        try:
            manifest = _record(run, report, issues, status, bronze, silver_outputs, root, goldens)
        except IntegrityError:
            # Another run recorded the same load id and content while this one worked.
            existing = _existing(report)
            if existing is None:
                raise
            return _finish_duplicate(run, existing)
        # After the receipt commits, not inside it: an analyzer failure must never lose a receipt, and
        # what is left unanalyzed is picked up by `reanalyze_calculations` (it has no current analysis).
        calculations_analyze_manifest(manifest=manifest)
        return IntakeOutcome(manifest=manifest, duplicate=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _discard_staged(run: IntakeRun) -> None:
    """Bronze holds every received byte now: the staged copy under var/intake can go."""
    staged = Path(run.staged_path)
    folder = staged.parent
    if folder.parent == staging_root() and folder.name.startswith(("upload-", "command-")):
        shutil.rmtree(folder, ignore_errors=True)


def archive_limits() -> validation.ArchiveLimits:
    return validation.ArchiveLimits(
        max_members=settings.INTAKE_ARCHIVE_MAX_MEMBERS,
        max_total_bytes=settings.INTAKE_ARCHIVE_MAX_BYTES,
        max_ratio=settings.INTAKE_ARCHIVE_MAX_RATIO,
    )


def _existing(report: validation.ValidationReport) -> SourceManifest | None:
    if not report.load_id or not report.manifest_sha256:
        return None
    return SourceManifest.objects.filter(load_id=report.load_id, manifest_sha256=report.manifest_sha256).first()


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
        after={"status": IntakeStatus.SUCCEEDED, "manifest": existing.pk, "load_id": existing.load_id},
    )
    return IntakeOutcome(manifest=existing, duplicate=True)


# --- bronze ------------------------------------------------------------------------------------


def bronze_prefix(report: validation.ValidationReport, archive: Path | None, root: Path | None) -> str:
    if report.load_id and report.manifest_sha256 and validation.load_id_problem(report.load_id) is None:
        return bronze_prefix_of(report)
    # No usable identity: file it under the hash of what arrived.
    fingerprint = _sha_file(archive) if archive else _sha_tree(root) if root else "empty"
    return f"{BRONZE_ROOT}/{UNIDENTIFIED}/{fingerprint}"


def _sha_file(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _sha_tree(root: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    for path in _tree(root):
        digest.update(path.encode() + b"\0" + _sha_file(root / path).encode() + b"\n")
    return digest.hexdigest()


def _tree(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and not p.is_symlink()
    )


@dataclass(frozen=True)
class BronzeReceipt:
    prefix: str
    files: dict[str, tuple[str, int, str]]  # export path → (sha256, bytes, lake path)


def _write_bronze(lake: Lake, run: IntakeRun, report, archive: Path | None, root: Path | None) -> BronzeReceipt:
    prefix = bronze_prefix(report, archive, root)
    files: dict[str, tuple[str, int, str]] = {}
    received = []
    if archive is not None:
        target = f"{prefix}/received/{_safe_name(run.original_name)}"
        with archive.open("rb") as handle:
            put = lake.put(target, handle)
        received.append({"path": target, "sha256": put.sha256, "bytes": put.size})
    if root is not None:
        for relative in _tree(root):
            target = f"{prefix}/files/{relative}"
            with (root / relative).open("rb") as handle:
                put = lake.put(target, handle)
            files[relative] = (put.sha256, put.size, target)
    receipt = {
        "intake_run": run.pk,
        "received_at": run.queued_at.isoformat(),
        "received_by": run.requested_by_label,
        "source": run.source,
        "original_name": run.original_name,
        "received": received,
        "files": [{"path": p, "sha256": s, "bytes": b, "lake_path": t} for p, (s, b, t) in files.items()],
        "verdict": report.status,
    }
    lake.put(f"{prefix}/receipts/run-{run.pk}.json", _canonical(receipt))
    return BronzeReceipt(prefix=prefix, files=files)


def _safe_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in Path(name).name)
    return cleaned.lstrip(".") or "export.zip"


def _canonical(data) -> bytes:
    return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


# --- silver ------------------------------------------------------------------------------------


def bronze_prefix_of(report: validation.ValidationReport) -> str:
    """The bronze prefix of an export with a usable identity (every export that reaches silver has one)."""
    return f"{BRONZE_ROOT}/{report.load_id}/{report.manifest_sha256}"


def silver_prefix(report: validation.ValidationReport) -> str:
    return f"{SILVER_ROOT}/{report.load_id}/{report.manifest_sha256}"


def _dataset_passed(report: validation.ValidationReport, dataset_id: str) -> bool:
    return not any(
        i.status_class == validation.INVALID and i.severity == validation.ERROR
        for i in report.issues_of(f"dataset {dataset_id}")
    )


def _write_silver(lake: Lake, run: IntakeRun, report, root: Path, work: Path) -> dict[str, silver.SilverResult | str]:
    """Typed Parquet for each dataset that passed its own checks; the value is the lake path."""
    outputs: dict[str, silver.SilverResult | str] = {}
    entries = report.manifest.datasets
    for index, entry in enumerate(entries, start=1):
        run.report(f"silver {index}/{len(entries)}", 40 + int(50 * index / max(len(entries), 1)))
        data = root / entry.data
        if not data.is_file() or not _dataset_passed(report, entry.id):
            continue
        try:
            metadata = leafiq.read_dataset_metadata(root / entry.metadata, file=entry.metadata)
        except (leafiq.LeafIQFormatError, OSError):
            continue
        columns = [silver.Column(c.name, c.type) for c in metadata.columns]
        staged = work / f"{entry.id}.parquet"
        stage = f"silver {index}/{len(entries)}: {metadata.name}"
        result = silver.csv_to_parquet(
            data, columns, staged, on_rows=lambda rows, stage=stage, at=run.progress: run.report(f"{stage} ({rows:,} rows)", at)
        )
        target = f"{silver_prefix(report)}/datasets/{entry.id}/data.parquet"
        with staged.open("rb") as handle:
            lake.put(target, handle)
        lake.put(f"{silver_prefix(report)}/datasets/{entry.id}/metadata.json", _canonical({
            "dataset_id": entry.id,
            "name": metadata.name,
            "description": metadata.description,
            "api_shape": metadata.api,
            "declared_rows": metadata.row_count,
            "rows": result.rows,
            "schema": [{"name": c.name, "type": c.type} for c in metadata.columns],
            "arrow_schema": result.arrow_schema,
            "parquet_sha256": result.sha256,
            "source": {"file": entry.data, "bronze": f"{bronze_prefix_of(report)}/files/{entry.data}"},
            "load_id": report.load_id,
            "manifest_sha256": report.manifest_sha256,
        }))
        outputs[entry.id] = silver.SilverResult(
            path=Path(target), rows=result.rows, sha256=result.sha256, bytes=result.bytes,
            arrow_schema=result.arrow_schema,
        )
    return outputs


# --- record ------------------------------------------------------------------------------------


@transaction.atomic
def _record(run, report, issues, status, bronze: BronzeReceipt, silver_outputs, root, goldens) -> SourceManifest:
    run.refresh_from_db()
    manifest_obj = report.manifest
    manifest = SourceManifest.objects.create(
        load_id=report.load_id or "",
        manifest_sha256=report.manifest_sha256 or bronze.prefix.rsplit("/", 1)[-1],
        status=status,
        claimed_status=report.claimed_status or "",
        exported_at=manifest_obj.exported_at if manifest_obj else None,
        domo_instance=manifest_obj.domo_instance if manifest_obj else "",
        exporter=f"{manifest_obj.exporter_name} {manifest_obj.exporter_version}" if manifest_obj else "",
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
    if manifest_obj is not None and root is not None:
        cards = _record_objects(manifest, manifest_obj, root, silver_outputs)
        record_reproductions(cards, goldens)
    run.succeed(manifest)
    audit_record(
        actor=None, action="intake.finished", object_type="evidence.sourcemanifest", object_id=str(manifest.pk),
        after={
            "intake_run": run.pk, "load_id": manifest.load_id, "manifest_sha256": manifest.manifest_sha256,
            "status": manifest.status, "claimed_status": manifest.claimed_status,
            "issues": len(ordered), "bronze": manifest.bronze_prefix, "silver": manifest.silver_prefix,
        },
    )
    return manifest


def _read(reader, root: Path, relative: str | None):
    if not relative or not (root / relative).is_file():
        return None
    try:
        return reader(root / relative, file=relative)
    except (leafiq.LeafIQFormatError, OSError, ValueError):
        return None  # the validator reported it; the object is shown as absent


def _record_objects(manifest: SourceManifest, manifest_obj: leafiq.Manifest, root: Path, silver_outputs) -> dict[int, DomoCard]:
    """Record the Domo objects of the export; returns the cards by Domo id."""
    datasets: dict[str, DomoDataset] = {}
    cards: dict[int, DomoCard] = {}
    for entry in manifest_obj.datasets:
        metadata = _read(leafiq.read_dataset_metadata, root, entry.metadata)
        output = silver_outputs.get(entry.id)
        dataset = DomoDataset.objects.create(
            manifest=manifest, domo_id=entry.id,
            name=metadata.name if metadata else entry.id,
            description=(metadata.description or "") if metadata else "",
            api_shape=metadata.api if metadata else "",
            declared_rows=metadata.row_count if metadata else None,
            schema=[{"name": c.name, "type": c.type} for c in metadata.columns] if metadata else [],
            owner_name=(metadata.owner_name or "") if metadata else "",
            pdp_enabled=metadata.pdp_enabled if metadata else None,
            silver_path=str(output.path) if output else "",
            silver_sha256=output.sha256 if output else "",
            silver_rows=output.rows if output else None,
        )
        datasets[entry.id] = dataset
        for beast in metadata.beast_modes if metadata else ():
            _beast_mode(manifest, beast, dataset=dataset)
        for policy in _read(leafiq.read_policies, root, entry.policies) or ():
            PdpPolicy.objects.create(
                dataset=dataset, policy_id=policy.id, name=policy.name, type=policy.type,
                filters=[
                    {"column": f.column, "operator": f.operator, "values": list(f.values), "negated": f.negated,
                     "ignore_case": f.ignore_case, "dynamic": f.dynamic}
                    for f in policy.filters
                ],
                user_ids=list(policy.user_ids), group_ids=list(policy.group_ids), api_shape=policy.api,
            )
    for entry in manifest_obj.cards:
        card_def = _read(leafiq.read_card_definition, root, entry.definition)
        main = card_def.main if card_def else None
        card = DomoCard.objects.create(
            manifest=manifest, domo_id=entry.id, title=card_def.title if card_def else str(entry.id),
            datasource_ids=[d.id for d in card_def.datasources] if card_def else [],
            main=_subscription_json(main) if main else {},
            golden_path=entry.golden if entry.golden and (root / entry.golden).is_file() else "",
            golden_captured_at=entry.golden_captured_at,
        )
        cards[entry.id] = card
        if card_def:
            card.datasets.set([datasets[d.id] for d in card_def.datasources if d.id in datasets])
            for beast in card_def.beast_modes:
                _beast_mode(manifest, beast, card=card)
    for entry in manifest_obj.dataflows:
        flow = _read(leafiq.read_dataflow, root, entry.definition)
        if flow is None:
            continue
        dataflow = DomoDataflow.objects.create(
            manifest=manifest, domo_id=flow.id, name=flow.name, database_type=flow.database_type,
            input_ids=[i.dataset_id for i in flow.inputs], output_ids=[o.dataset_id for o in flow.outputs],
        )
        DataflowStep.objects.bulk_create(
            DataflowStep(
                dataflow=dataflow, position=position, action_type=action.type, name=action.name or "",
                sql=list(action.sql), expressions=list(action.expressions),
            )
            for position, action in enumerate(flow.actions)
        )
    for user in _read(leafiq.read_users, root, manifest_obj.users) or ():
        DirectoryEntry.objects.create(
            manifest=manifest, kind="user", domo_id=user.id, name=user.name or "", email=user.email or ""
        )
    for group in _read(leafiq.read_groups, root, manifest_obj.groups) or ():
        DirectoryEntry.objects.create(
            manifest=manifest, kind="group", domo_id=group.id, name=group.name or "", member_ids=list(group.user_ids)
        )
    return cards


def _beast_mode(manifest, beast: leafiq.BeastMode, *, card=None, dataset=None) -> BeastMode:
    return BeastMode.objects.create(
        manifest=manifest, card=card, dataset=dataset, scope="card" if card else "dataset",
        formula_id=beast.id, name=beast.name, formula=beast.formula, data_type=beast.data_type or "",
        status=beast.status or "", persisted_on_dataset=beast.persisted_on_datasource,
    )


def _subscription_json(sub: leafiq.Subscription) -> dict:
    def col(c):
        return {"column": c.column, "formula_id": c.formula_id, "aggregation": c.aggregation,
                "alias": c.alias, "mapping": c.mapping}

    return {
        "columns": [col(c) for c in sub.columns],
        "filters": [{"column": f.column, "formula_id": f.formula_id, "operator": f.operator,
                     "values": list(f.values), "negated": f.negated} for f in sub.filters],
        "group_by": [col(c) for c in sub.group_by],
        "order_by": [{"column": o.column, "formula_id": o.formula_id, "descending": o.descending} for o in sub.order_by],
        "date_grain": {"column": sub.date_grain.column, "grain": sub.date_grain.grain} if sub.date_grain else None,
    }



# --- sweeper -----------------------------------------------------------------------------------


def intake_sweep_abandoned(*, older_than: datetime.timedelta) -> list[int]:
    """Fail running intakes whose heartbeat stopped long ago (their task will not come back)."""
    from console import clock

    cutoff = clock.now() - older_than
    failed = []
    for run_id in IntakeRun.objects.filter(status=IntakeStatus.RUNNING, heartbeat_at__lt=cutoff).values_list("pk", flat=True):
        with transaction.atomic():
            # Compare-and-set: a worker that beats in the meantime keeps its run.
            error = f"abandoned: no heartbeat since before {cutoff:%Y-%m-%d %H:%M:%S} UTC (worker lost)"
            if not IntakeRun.objects.filter(pk=run_id, status=IntakeStatus.RUNNING, heartbeat_at__lt=cutoff).update(
                status=IntakeStatus.FAILED, error=error, finished_at=clock.now()
            ):
                continue
            audit_record(
                actor=None, action="intake.failed", object_type="evidence.intakerun", object_id=str(run_id),
                before={"status": IntakeStatus.RUNNING}, after={"status": IntakeStatus.FAILED, "error": error},
            )
            failed.append(run_id)
    return failed
