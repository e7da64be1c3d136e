"""Bronze and silver: what an intake writes to the lake, write-once and content-addressed.

Bronze keeps every received byte under `bronze/leafiq/<load_id>/<manifest sha256>/` (the export's
files, the archive as received, one receipt per run); silver holds typed Parquet and normalized
metadata for each dataset that passed its own checks. Both are written before the intake records
anything in the database, so a run killed midway leaves only whole files that a rerun rewrites as
no-ops.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from console.lake import Lake
from evidence.intake import leafiq, silver, validation
from evidence.models import IntakeRun

BRONZE_ROOT = "bronze/leafiq"
SILVER_ROOT = "silver/leafiq"
UNIDENTIFIED = "_unidentified"


# --- bronze ------------------------------------------------------------------------------------

def bronze_prefix(report: validation.ValidationReport, archive: Path | None, root: Path | None) -> str:
    if report.load_id and report.manifest_sha256 and validation.load_id_problem(report.load_id) is None:
        return bronze_prefix_of(report)
    # No usable identity: file it under the hash of what arrived.
    fingerprint = _sha_file(archive) if archive else _sha_tree(root) if root else "empty"
    return f"{BRONZE_ROOT}/{UNIDENTIFIED}/{fingerprint}"


def _sha_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _sha_tree(root: Path) -> str:
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


def write_bronze(lake: Lake, run: IntakeRun, report, archive: Path | None, root: Path | None) -> BronzeReceipt:
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


def write_silver(lake: Lake, run: IntakeRun, report, root: Path, work: Path) -> dict[str, silver.SilverResult | str]:
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
    return outputs
