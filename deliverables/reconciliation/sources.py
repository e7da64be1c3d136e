"""What a reconciliation compares with: the Domo subjects (cards, DataFlows) of the received exports, their golden
rows and the calculation flaws recorded on them.

- A card's golden rows are its golden.csv as received in bronze, read back from the lake and checked against the
  sha256 the intake recorded (a changed byte is refused); every column is text, as Domo showed it.
- A DataFlow's golden rows are its output dataset's silver Parquet (typed), checked against its recorded sha256.
- The export used is the newest one holding the subject's golden rows whose verdict is not `invalid` (an invalid
  export's files are not trusted; a partial export's received files are).
- Flaws: those the formula analysis recorded in that export on the card's beast modes (by the golden column's
  name), on the steps of the DataFlow that outputs the card's dataset, or on the DataFlow's own steps; each with
  the stable fingerprint the promotion gates use.
"""
from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from django.db.models import Q

from console.lake import get_lake
from console.lake.base import LakeIntegrityError
from deliverables.choices import SubjectKind
from evidence.choices import ManifestStatus
from evidence.models import CalculationFlaw, DomoCard, DomoDataflow, DomoDataset, ManifestFile, SourceManifest


class SourceError(ValueError):
    """The golden rows cannot be used (the message names the export, file and why)."""


@dataclass(frozen=True)
class Subject:
    kind: str
    id: str
    title: str
    manifests: tuple[int, ...] = ()  # every export it appears in, oldest first
    has_golden: bool = False
    outputs: tuple[dict, ...] = ()  # a DataFlow's output datasets: [{id, name}]

    @property
    def name(self) -> str:
        """Part of every fingerprint: the card or DataFlow, never a mapping version."""
        return f"{self.kind}:{self.id}"


@dataclass
class Golden:
    subject: Subject
    manifest: SourceManifest
    source: str  # "golden.csv" | "dataflow output"
    path: str  # in the lake
    sha256: str
    table: pa.Table
    captured_at: str = ""
    dataset: str = ""  # a DataFlow's output dataset (Domo id)
    flaws: list[CalculationFlaw] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return list(self.table.column_names)

    def as_json(self) -> dict:
        return {"source": self.source, "manifest": self.manifest.pk, "load_id": self.manifest.load_id,
                "path": self.path, "sha256": self.sha256, "rows": self.table.num_rows,
                "captured_at": self.captured_at, "dataset": self.dataset, "columns": self.columns}


def subjects() -> list[Subject]:
    """Every card and DataFlow of the received exports, once each (the newest export's title), by title."""
    found: dict[tuple[str, str], dict] = {}
    for manifest_id, domo_id, title, golden in (DomoCard.objects.order_by("manifest_id", "pk")
                                                .values_list("manifest_id", "domo_id", "title", "golden_path")):
        entry = found.setdefault((SubjectKind.CARD, str(domo_id)), {"manifests": [], "golden": False})
        entry["title"] = title
        entry["manifests"].append(manifest_id)
        entry["golden"] = entry["golden"] or bool(golden)
    names = dict(DomoDataset.objects.values_list("domo_id", "name"))
    for manifest_id, domo_id, title, outputs in (DomoDataflow.objects.order_by("manifest_id", "pk")
                                                 .values_list("manifest_id", "domo_id", "name", "output_ids")):
        entry = found.setdefault((SubjectKind.DATAFLOW, str(domo_id)), {"manifests": [], "golden": False})
        entry["title"] = title
        entry["manifests"].append(manifest_id)
        entry["outputs"] = tuple({"id": o, "name": names.get(o, o)} for o in outputs or [])
        entry["golden"] = entry["golden"] or bool(outputs)
    return sorted((Subject(kind, sid, e["title"], tuple(dict.fromkeys(e["manifests"])), e["golden"],
                           e.get("outputs", ())) for (kind, sid), e in found.items()),
                  key=lambda s: (s.title.casefold(), s.kind, s.id))


def subject(kind: str, subject_id: str) -> Subject | None:
    return next((s for s in subjects() if s.kind == kind and s.id == str(subject_id)), None)


def _usable_manifests():
    return SourceManifest.objects.exclude(status=ManifestStatus.INVALID).order_by("-received_at", "-pk")


def _read_verified(path: str, expected: str, where: str, suffix: str) -> Path:
    """A local temporary copy of a lake file whose sha256 is `expected` (SourceError otherwise)."""
    digest = hashlib.sha256()
    handle = tempfile.NamedTemporaryFile(suffix=suffix, delete=False)  # noqa: SIM115 (closed below, removed by caller)
    try:
        with get_lake().open(path) as stream, handle:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
                handle.write(chunk)
    except FileNotFoundError as missing:
        Path(handle.name).unlink(missing_ok=True)
        raise SourceError(f"{where}: {path} is not in the lake") from missing
    except LakeIntegrityError as changed:
        Path(handle.name).unlink(missing_ok=True)
        raise SourceError(f"{where}: {changed}: the file changed after it was received; it is not compared"
                          ) from changed
    if digest.hexdigest() != expected:
        Path(handle.name).unlink(missing_ok=True)
        raise SourceError(f"{where}: {path} has sha256 {digest.hexdigest()}, the export recorded {expected}: "
                          "the file changed after it was received; it is not compared")
    return Path(handle.name)


def golden(kind: str, subject_id: str, dataset: str = "") -> Golden:
    """The subject's golden rows from the newest usable export (SourceError when there are none)."""
    from evidence.golden.comparison import read_golden

    found = subject(kind, subject_id)
    if found is None:
        raise SourceError(f"{kind} {subject_id}: not in any received export")
    if kind == SubjectKind.CARD:
        card = (DomoCard.objects.filter(domo_id=int(subject_id), manifest__in=_usable_manifests())
                .exclude(golden_path="").select_related("manifest").order_by("-manifest__received_at", "-pk").first())
        if card is None:
            raise SourceError(f"card {subject_id} ({found.title}): no export that is not invalid holds its golden.csv")
        received = ManifestFile.objects.filter(manifest=card.manifest, path=card.golden_path).first()
        where = f"export {card.manifest.load_id}, card {subject_id} ({found.title}), file {card.golden_path}"
        if received is None or not received.bronze_path or not received.sha256:
            raise SourceError(f"{where}: the golden.csv was not received")
        local = _read_verified(received.bronze_path, received.sha256, where, ".csv")
        try:
            header, rows = read_golden(local)
        finally:
            local.unlink(missing_ok=True)
        if len(set(header)) != len(header):
            raise SourceError(f"{where}: the header repeats a column name: {header}")
        table = pa.table({name: pa.array([row[i] if i < len(row) else None for row in rows], pa.string())
                          for i, name in enumerate(header)})
        domo_ids = set(card.datasets.values_list("domo_id", flat=True))
        flows = [f.pk for f in card.manifest.dataflows.all() if domo_ids & set(f.output_ids or [])]
        flaws = list(CalculationFlaw.objects.filter(manifest=card.manifest).filter(
            Q(analysis__beast_mode__card=card) | Q(analysis__beast_mode__dataset__in=card.datasets.all())
            | Q(analysis__dataflow_step__dataflow__in=flows))
            .select_related("analysis__beast_mode", "analysis__dataflow_step__dataflow").order_by("pk"))
        return Golden(found, card.manifest, "golden.csv", received.bronze_path, received.sha256, table,
                      card.golden_captured_at.isoformat() if card.golden_captured_at else "", flaws=flaws)
    flow = (DomoDataflow.objects.filter(domo_id=int(subject_id), manifest__in=_usable_manifests())
            .select_related("manifest").order_by("-manifest__received_at", "-pk").first())
    if flow is None:
        raise SourceError(f"DataFlow {subject_id} ({found.title}): no export that is not invalid holds it")
    outputs = list(flow.output_ids or [])
    dataset = dataset or (outputs[0] if outputs else "")
    if dataset not in outputs:
        raise SourceError(f"DataFlow {subject_id} ({found.title}): {dataset!r} is not one of its outputs {outputs}")
    data = DomoDataset.objects.filter(manifest=flow.manifest, domo_id=dataset).first()
    where = f"export {flow.manifest.load_id}, DataFlow {subject_id} ({found.title}), output dataset {dataset}"
    if data is None or not data.silver_path or not data.silver_sha256:
        raise SourceError(f"{where}: the output dataset has no silver data in this export")
    local = _read_verified(data.silver_path, data.silver_sha256, where, ".parquet")
    try:
        table = pq.read_table(local)
    finally:
        local.unlink(missing_ok=True)
    flaws = list(CalculationFlaw.objects.filter(manifest=flow.manifest, analysis__dataflow_step__dataflow=flow)
                 .select_related("analysis__beast_mode", "analysis__dataflow_step__dataflow").order_by("pk"))
    return Golden(found, flow.manifest, "dataflow output", data.silver_path, data.silver_sha256, table,
                  dataset=dataset, flaws=flaws)


def flaw_json(flaw: CalculationFlaw) -> dict:
    """What a mapping and an explanation keep of a flaw: stable fingerprint, code, where, what."""
    from promotion.gates import flaw_fingerprint

    analysis = flaw.analysis
    if analysis.beast_mode_id is not None:
        where = f"beast mode {analysis.beast_mode.name!r}"
        formula = analysis.beast_mode.formula
    else:
        step = analysis.dataflow_step
        where = f"DataFlow {step.dataflow.name!r}, step {step.position} {step.name!r}".rstrip()
        formula = analysis.formula
    return {"fingerprint": flaw_fingerprint(flaw), "code": flaw.code, "where": where,
            "beast_mode": analysis.beast_mode.name if analysis.beast_mode_id is not None else "",
            "formula": formula[:2000], "snippet": flaw.snippet[:500], "message": flaw.message[:2000]}


def flaws_for_column(golden_rows: Golden, column: str) -> list[dict]:
    """The flaws that may explain a golden column: a card's flaws on the beast mode of that name, and the flaws of
    the DataFlow that outputs the card's dataset (or of the DataFlow itself) on any of its steps."""
    out = []
    for flaw in golden_rows.flaws:
        beast_mode = flaw.analysis.beast_mode
        if beast_mode is not None and beast_mode.name != column:
            continue
        out.append(flaw_json(flaw))
    return sorted({f["fingerprint"]: f for f in out}.values(), key=lambda f: (f["code"], f["fingerprint"]))
