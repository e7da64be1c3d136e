"""Registering a received Domo dataset as candidate evidence of a kind (evidence-packets-v1, "The three
classes"): its columns mapped onto the kind's record columns, every row typed as a record of the kind and kept
with where it came from (the manifest's load id, the dataset's Domo id, the row number in the dataset).

  checks (silver, kind, mapping) → unchanged? (the same dataset, kind and mapping: nothing stored, nothing
  audited) → the silver file opened through the lake (verified against its SHA-256, before any transaction)
  → one transaction: the set, its rows in batches, the audit event. Any bad value refuses the whole
  registration (every bad value located: file, dataset, row, Domo column, record column); nothing is kept.

Candidate, always: nothing here or anywhere makes a registration governed (there is no verify for it; the
packet verification service takes packet revisions only). Governed evidence comes only from packets.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import BinaryIO

import pyarrow.parquet as pq
from django.db import IntegrityError, transaction

from console.audit import audit_record
from console.lake import get_lake
from console.lake.base import LakeError
from evidence.candidates import mapping as mapper
from evidence.candidates.models import DomoCandidateRow, DomoCandidateSet
from evidence.flags.services import flags_moved
from evidence.models import DomoDataset
from evidence.packets.model import COLUMNS, CONTRACT, KINDS, PRICING, REBATE, RECORD_TYPES, SALESFORCE, Record

REGISTERED, UNCHANGED = "registered", "unchanged"
AUDIT_ACTION = "evidence.candidate.registered"
OBJECT_TYPE = "evidence.domocandidateset"
BATCH_ROWS = 10_000  # rows read from silver and written per bulk insert
MAX_LISTED = 20  # bad values listed per record column; the rest are counted in one more issue
PRICE_LIST_CHARS = 255  # DomoCandidateRow.price_list
CLIENT_COLUMN = {CONTRACT: "client_account_id", REBATE: "client_account_id", SALESFORCE: "account_id"}


@dataclass(frozen=True)
class CandidateIssue:
    """One reason a registration is refused, located: the silver file, the dataset, the record column (field),
    and for a value its row and Domo column."""

    file: str
    object: str
    field: str
    message: str
    row: int | None = None
    column: str = ""

    def text(self) -> str:
        where = [self.file or "(no silver file)", self.object]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column!r}")
        where.append(f"field {self.field}" if self.field else "")
        return f"{', '.join(w for w in where if w)}: {self.message}"

    def as_dict(self) -> dict:
        return asdict(self)


class CandidateRefused(Exception):
    """The registration is refused as a whole; `issues` says every reason, located."""

    def __init__(self, issues: list[CandidateIssue]):
        self.issues = issues
        shown = "; ".join(issue.text() for issue in issues[:5])
        more = f" (and {len(issues) - 5} more)" if len(issues) > 5 else ""
        super().__init__(f"not registered: {shown}{more}")


@dataclass(frozen=True)
class RegisterOutcome:
    candidate_set: DomoCandidateSet  # the set registered, or for `unchanged` the earlier one
    status: str  # REGISTERED or UNCHANGED


def mapping_proposal(dataset: DomoDataset, kind: str) -> list[mapper.Proposed]:
    """The proposed mapping of the dataset's columns onto the kind's record columns (ValueError: unknown kind)."""
    return mapper.propose(kind, dataset_columns(dataset))


def dataset_columns(dataset: DomoDataset) -> list[str]:
    return [column["name"] for column in dataset.schema or [] if isinstance(column, dict) and "name" in column]


def mapping_sha256(kind: str, mapping: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps([kind, mapping], separators=(",", ":")).encode()).hexdigest()


def candidate_register(*, actor, dataset: DomoDataset, kind: str, mapping: dict[str, str],
                       note: str = "") -> RegisterOutcome:
    """Register the dataset's silver rows as candidate evidence of `kind` under `mapping` ({record column: Domo
    column or ""}); CandidateRefused with every issue located, or `unchanged` for a registration already made."""
    where = {"file": dataset.silver_path, "object": f"dataset {dataset.domo_id} ({dataset.name})"}
    full = _checked_mapping(dataset, kind, mapping, where)
    digest = mapping_sha256(kind, full)
    earlier = DomoCandidateSet.objects.filter(dataset=dataset, kind=kind, mapping_sha256=digest).first()
    if earlier is not None:
        return RegisterOutcome(earlier, UNCHANGED)
    handle = _open_silver(dataset, where)
    try:
        candidate_set = _record(actor, dataset, kind, full, digest, note.strip(), handle, where)
    except IntegrityError:
        # The same registration committed meanwhile (the unique dataset + kind + mapping).
        earlier = DomoCandidateSet.objects.filter(dataset=dataset, kind=kind, mapping_sha256=digest).first()
        if earlier is None:
            raise
        return RegisterOutcome(earlier, UNCHANGED)
    finally:
        handle.close()
    return RegisterOutcome(candidate_set, REGISTERED)


def _checked_mapping(dataset: DomoDataset, kind: str, mapping, where: dict) -> dict[str, str]:
    if kind not in KINDS:
        raise CandidateRefused([CandidateIssue(**where, field="kind",
                                               message=f"{kind!r} is not an evidence kind ({', '.join(KINDS)})")])
    issues = []
    if not dataset.silver_path:
        issues.append(CandidateIssue(**where, field="", message="the dataset has no silver data (it did not pass "
                                     "its intake checks): there are no typed rows to register"))
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise CandidateRefused([*issues, CandidateIssue(**where, field="mapping", message=(
            "the mapping is {record column: Domo column name or \"\"}"))])
    columns = set(dataset_columns(dataset))
    for field, domo in mapping.items():
        if field not in COLUMNS[kind]:
            issues.append(CandidateIssue(**where, field=field, message=(
                f"is not a {kind} record column ({', '.join(COLUMNS[kind])})")))
        elif domo and domo not in columns:
            issues.append(CandidateIssue(**where, field=field, column=domo, message=(
                f"Domo column {domo!r} is not in the dataset (its columns: {', '.join(sorted(columns))})")))
    for field in mapper.REQUIRED[kind]:
        if not mapping.get(field):
            issues.append(CandidateIssue(**where, field=field, message=(
                f"is required for {kind} evidence and is not mapped: map a Domo column onto {field}")))
    if issues:
        raise CandidateRefused(issues)
    return mapper.full_mapping(kind, mapping)


def _open_silver(dataset: DomoDataset, where: dict) -> BinaryIO:
    """The silver file, verified by the lake as it opens it (outside any transaction)."""
    lake = get_lake()
    try:
        if dataset.silver_sha256 and lake.sha256(dataset.silver_path) != dataset.silver_sha256:
            raise CandidateRefused([CandidateIssue(**where, field="", message=(
                "the silver file is not the one the intake recorded (its SHA-256 differs)"))])
        return lake.open(dataset.silver_path)
    except LakeError as exc:
        raise CandidateRefused([CandidateIssue(**where, field="", message=f"the silver file cannot be read: {exc}")]) \
            from None


@transaction.atomic
def _record(actor, dataset: DomoDataset, kind: str, full: dict[str, str], digest: str, note: str,
            handle: BinaryIO, where: dict) -> DomoCandidateSet:
    manifest = dataset.manifest
    candidate_set = DomoCandidateSet.objects.create(
        manifest=manifest, dataset=dataset, load_id=manifest.load_id, dataset_domo_id=dataset.domo_id, kind=kind,
        mapping=full, mapping_sha256=digest, silver_sha256=dataset.silver_sha256, rows=0, registered_by=actor,
        note=note,
    )
    issues: list[CandidateIssue] = []
    counted: dict[str, int] = {}
    clients: set[str] = set()
    rows = 0
    for batch in _rows(handle, kind, full, where, issues, counted):
        rows += len(batch)
        if issues:
            continue  # refused anyway: keep checking the rest, store nothing more
        objects = [_row_object(candidate_set, kind, *row) for row in batch]
        clients.update(o.client_account_id for o in objects if o.client_account_id and kind in CLIENT_COLUMN)
        DomoCandidateRow.objects.bulk_create(objects, batch_size=2000)
    for field, more in counted.items():
        issues.append(CandidateIssue(**where, field=field, column=full[field], message=(
            f"and {more} more values that do not parse (the first {MAX_LISTED} are listed)")))
    if issues:
        raise CandidateRefused(issues)  # rolls back the set and every row written
    candidate_set.rows = rows
    candidate_set.client_account_ids = sorted(clients)
    candidate_set.save(update_fields=["rows", "client_account_ids"])
    audit_record(actor=actor, action=AUDIT_ACTION, object_type=OBJECT_TYPE, object_id=str(candidate_set.pk),
                 before=None, after=summary(candidate_set))
    flags_moved(trigger="candidate.registered", ref=f"Domo {candidate_set.dataset_domo_id} as {kind}", actor=actor)
    return candidate_set


def summary(candidate_set: DomoCandidateSet) -> dict:
    """What the audit trail says of a registration."""
    return {"class": "candidate", "kind": candidate_set.kind, "dataset": candidate_set.dataset_domo_id,
            "load_id": candidate_set.load_id, "silver_sha256": candidate_set.silver_sha256,
            "mapping": candidate_set.mapping, "mapping_sha256": candidate_set.mapping_sha256,
            "rows": candidate_set.rows, "clients": len(candidate_set.client_account_ids),
            "client_account_ids": candidate_set.client_account_ids, "note": candidate_set.note or None}


def _rows(handle: BinaryIO, kind: str, full: dict[str, str], where: dict, issues: list[CandidateIssue],
          counted: dict[str, int]) -> Iterator[list[tuple[int, dict[str, str], Record | None]]]:
    """The dataset's rows in batches, as (row number from 1, {record column: packet text}, the typed record or
    None if a value is bad); bad values go to `issues` (the first MAX_LISTED per record column, the rest
    counted)."""
    mapped = {field: domo for field, domo in full.items() if domo}
    blanks = {field: mapper.unmapped(kind, field) for field in full if not full[field]}
    record_type = RECORD_TYPES[kind]
    parquet = pq.ParquetFile(handle)
    number = 0
    for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=sorted(set(mapped.values()))):
        data = batch.to_pydict()
        out = []
        for index in range(batch.num_rows):
            number += 1
            values, typed, clean = {}, dict(blanks), True
            for field, domo in mapped.items():
                text = values[field] = mapper.value_text(data[domo][index], field)
                try:
                    typed[field] = mapper.parse(kind, field, text)
                    if field == "price_list" and len(text) > PRICE_LIST_CHARS:
                        raise ValueError(f"is {len(text)} characters long; a price list name has at most "
                                         f"{PRICE_LIST_CHARS}")
                except ValueError as exc:
                    clean = False
                    _bad(issues, counted, CandidateIssue(**where, field=field, row=number, column=domo,
                                                         message=str(exc)))
            values.update((field, "") for field in blanks)
            out.append((number, {field: values[field] for field in full}, record_type(**typed) if clean else None))
        yield out


def _bad(issues: list[CandidateIssue], counted: dict[str, int], issue: CandidateIssue) -> None:
    listed = sum(1 for i in issues if i.field == issue.field and i.row is not None)
    if listed < MAX_LISTED:
        issues.append(issue)
    else:
        counted[issue.field] = counted.get(issue.field, 0) + 1


def _row_object(candidate_set: DomoCandidateSet, kind: str, number: int, values: dict[str, str],
                record: Record) -> DomoCandidateRow:
    start = end = None
    if kind == CONTRACT:
        start, end = record.period_start, record.period_end
    elif kind == PRICING:
        start, end = record.effective_date, record.end_date
    return DomoCandidateRow(
        candidate_set=candidate_set, row=number, values=values,
        client_account_id=getattr(record, CLIENT_COLUMN[kind]) if kind in CLIENT_COLUMN else "",
        price_list=getattr(record, "price_list", "") or "", ndc=getattr(record, "ndc", "") or "",
        quarter=getattr(record, "quarter", "") or "", start_date=start, end_date=end,
    )
