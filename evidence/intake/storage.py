"""Bronze and silver: what an intake writes to the lake, write-once and content-addressed.

Bronze keeps every received byte under `bronze/leafiq/<load_id>/<manifest sha256>/` (the export's
files, the archive as received, one receipt per run); silver holds typed Parquet and normalized
metadata for each dataset that passed its own checks. Both are written before the intake records
anything in the database, so a run killed midway leaves only whole files that a rerun rewrites as
no-ops.

Each byte is read once where it can be: BronzeCopy copies the export to bronze on a thread of its
own while validation checks it, and hands validation the hash of each file it copied; SilverStaging
gives validation's CSV check a ParquetStage per dataset, so the typed Parquet is written from the
same parse (evidence.intake.silver). Where that cannot be (no usable identity yet, a stage spoiled),
the same functions read the files again, with the same result.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from console.lake import Lake
from evidence.intake import leafiq, silver, validation
from evidence.intake.validation.archive import file_sha256, regular_files, tree_sha256
from evidence.models import IntakeRun

BRONZE_ROOT = "bronze/leafiq"
SILVER_ROOT = "silver/leafiq"
UNIDENTIFIED = "_unidentified"


# --- bronze ------------------------------------------------------------------------------------

def bronze_prefix(report: validation.ValidationReport, archive: Path | None, root: Path | None) -> str:
    if report.load_id and report.manifest_sha256 and validation.load_id_problem(report.load_id) is None:
        return bronze_prefix_of(report)
    # No usable identity: file it under the hash of what arrived.
    fingerprint = file_sha256(archive)[0] if archive else tree_sha256(root) if root else "empty"
    return f"{BRONZE_ROOT}/{UNIDENTIFIED}/{fingerprint}"


@dataclass(frozen=True)
class BronzeReceipt:
    prefix: str
    files: dict[str, tuple[str, int, str]]  # export path → (sha256, bytes, lake path)


class BronzeError(Exception):
    """The bronze copy failed (the lake refused a write, or a file could not be read midway)."""


class BronzeCopy:
    """An export copied to bronze on a thread of its own, file by file, as validation reads it.

    It is validation's on_identity hook: once the manifest gives a usable load id and hash, the copy
    begins under that prefix and validation takes each file's SHA-256 and size from it (Digests)
    instead of reading the file a second time. finish() waits for the copy and writes the receipt;
    an export without a usable identity is copied then, under the hash of what arrived. abandon()
    stops a copy the intake no longer needs (a duplicate, an error).
    """

    def __init__(self, lake: Lake, run: IntakeRun, archive: Path | None):
        self.lake, self.run, self.archive = lake, run, archive
        self.prefix: str | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._received: Future | None = None
        self._files: dict[str, tuple[str, Future]] = {}  # export path -> (lake path, its put)

    def on_identity(self, root: Path, load_id: str | None, manifest_sha256: str | None) -> BronzeCopy | None:
        if not (load_id and manifest_sha256) or validation.load_id_problem(load_id) is not None:
            return None
        self._begin(root, f"{BRONZE_ROOT}/{load_id}/{manifest_sha256}")
        return self

    def digest(self, path: str) -> tuple[str, int]:
        """(sha256, size) of the export's file `path` as copied; OSError if it could not be opened."""
        if path not in self._files:
            raise FileNotFoundError(2, "not among the files copied to bronze", path)
        put = self._files[path][1].result()
        if isinstance(put, OSError):
            raise put
        return put.sha256, put.size

    def finish(self, report, root: Path | None) -> BronzeReceipt:
        if self._pool is None:
            self._begin(root, bronze_prefix(report, self.archive, root))
        try:
            received = []
            if self._received is not None:
                put = self._result(self._received)
                received.append({"path": put.path, "sha256": put.sha256, "bytes": put.size})
            files = {}
            for relative, (target, future) in self._files.items():
                put = self._result(future)
                files[relative] = (put.sha256, put.size, target)
        finally:
            self.abandon()
        return _receipt(self.lake, self.run, report, self.prefix, received, files)

    def abandon(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _begin(self, root: Path | None, prefix: str) -> None:
        self.prefix = prefix
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bronze")
        if self.archive is not None:
            self._received = self._pool.submit(
                self._put, f"{prefix}/received/{_safe_name(self.run.original_name)}", self.archive)
        for relative in regular_files(root) if root is not None else ():
            target = f"{prefix}/files/{relative}"
            self._files[relative] = (target, self._pool.submit(self._put, target, root / relative))

    def _put(self, target: str, source: Path):
        try:
            handle = source.open("rb")
        except OSError as exc:
            return exc  # validation reports the file as unreadable; finish() fails the intake
        with handle:
            try:
                return self.lake.put(target, handle)
            except OSError as exc:  # not validation's business: the intake fails with it
                raise BronzeError(f"{source.name}: the copy to {target} failed: {exc}") from exc

    @staticmethod
    def _result(future: Future):
        put = future.result()
        if isinstance(put, OSError):
            raise BronzeError(f"{put.filename}: cannot be read: {put.strerror}")
        return put


def _receipt(lake: Lake, run: IntakeRun, report, prefix: str, received: list, files: dict) -> BronzeReceipt:
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
    lake.put(f"{prefix}/receipts/run-{run.pk}.json", canonical_json(receipt))
    return BronzeReceipt(prefix=prefix, files=files)


def _safe_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in Path(name).name)
    return cleaned.lstrip(".") or "export.zip"


def canonical_json(data) -> bytes:
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


class SilverStaging:
    """Validation's stage_for hook: a ParquetStage per dataset in the intake's work folder, fed by the CSV
    check (`<work>/<dataset id>.parquet`, the local copy golden reproduction reads)."""

    def __init__(self, run: IntakeRun, work: Path):
        self.run, self.work = run, work
        self.stages: dict[str, silver.ParquetStage] = {}

    def stage_for(self, dataset_id: str, columns: Sequence[leafiq.Column]) -> silver.ParquetStage:
        stage = silver.ParquetStage(
            self.local_path(dataset_id), [silver.Column(c.name, c.type) for c in columns],
            on_rows=lambda rows, at=self.run.progress: self.run.report(f"checking dataset {dataset_id[:8]}… ({rows:,} rows)", at),
        )
        self.stages[dataset_id] = stage
        return stage

    def local_path(self, dataset_id: str) -> Path:
        return self.work / f"{dataset_id}.parquet"

    def take(self, dataset_id: str) -> silver.SilverResult | None:
        """The dataset's Parquet as staged during validation; None if it was not (or its stage spoiled)."""
        stage = self.stages.pop(dataset_id, None)
        return stage.close() if stage is not None else None

    def discard(self) -> None:
        for stage in self.stages.values():
            stage.spoil("not needed: the dataset or the export did not pass")
        self.stages.clear()


def write_silver(lake: Lake, run: IntakeRun, report, root: Path, staging: SilverStaging) -> dict[str, silver.SilverResult]:
    """Typed Parquet for each dataset that passed its own checks, from its stage (or the CSV again); the
    result's path is the lake path, and the local copy stays at staging.local_path(dataset id)."""
    outputs: dict[str, silver.SilverResult] = {}
    entries = report.manifest.datasets
    try:
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
            stage = f"silver {index}/{len(entries)}: {metadata.name}"
            result = staging.take(entry.id) or silver.csv_to_parquet(
                data, columns, staging.local_path(entry.id),
                on_rows=lambda rows, stage=stage, at=run.progress: run.report(f"{stage} ({rows:,} rows)", at),
                max_field_bytes=settings.INTAKE_MAX_FIELD_BYTES,
            )
            target = f"{silver_prefix(report)}/datasets/{entry.id}/data.parquet"
            with result.path.open("rb") as handle:
                lake.put(target, handle)
            lake.put(f"{silver_prefix(report)}/datasets/{entry.id}/metadata.json", canonical_json({
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
    finally:
        staging.discard()
    return outputs
