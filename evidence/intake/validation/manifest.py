"""manifest.json: its checks, field by field, and the leafiq.Manifest built from a manifest that
passed them all (_check_manifest); load ids (load_id_problem)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from evidence.intake import leafiq
from evidence.intake.validation.archive import MIB, path_problem
from evidence.intake.validation.issues import (
    BAD_LOAD_ID,
    DUPLICATE_ID,
    INVALID,
    ISSUE_CODES,
    MANIFEST_SCHEMA,
    UNKNOWN_FORMAT,
    UNSAFE_PATH,
    Issue,
    issue,
)

MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 64 * MIB
# Matched with fullmatch: ASCII digits only, and no trailing newline slips through as "$" would let it.
LOAD_ID = re.compile(r"LIQ-([0-9]{4})([0-9]{2})([0-9]{2})-[0-9]{4}")
DATASET_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
SHA256 = re.compile(r"[0-9a-f]{64}")


def load_id_problem(load_id: str) -> str | None:
    match = LOAD_ID.fullmatch(load_id)
    if not match:
        return f"{load_id!r} does not match LIQ-YYYYMMDD-NNNN"
    try:
        date(*(int(part) for part in match.groups()))
    except ValueError:
        return f"{load_id!r} does not hold a real date"
    return None


@dataclass
class _ManifestCheck:
    """Reads a manifest's JSON value, noting each problem with the field it concerns."""

    issues: list[Issue]
    unsafe_paths: set[str]

    def add(self, code: str, field: str | None, message: str, *, file: str = MANIFEST, object: str | None = None):
        """An issue of the manifest; its object is the entry it concerns when known (a dataset, a card), else the
        manifest itself (the field says where in it)."""
        self.issues.append(issue(code, message, file=file, object=object or "manifest", field=field))

    def get(self, data: dict, key: str, where: str, kinds: tuple[type, ...], *, required: bool = True) -> Any:
        value = data.get(key)
        if value is None:
            if required:
                self.add(MANIFEST_SCHEMA, where, "required" if key not in data else "must not be null")
            return None
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            expected = " or ".join(_TYPE_NAMES[kind] for kind in kinds)
            self.add(MANIFEST_SCHEMA, where, f"expected {expected}, got {leafiq.json_kind(value)}")
            return None
        return value

    def path(self, data: dict, key: str, where: str, *, required: bool = True, object: str | None = None) -> str | None:
        value = self.get(data, key, where, (str,), required=required)
        if value is None:
            return None
        if problem := path_problem(value):
            self.add(UNSAFE_PATH, where, f"path {problem}", file=value, object=object)
            self.unsafe_paths.add(value)
            return None
        return value

    def timestamp(self, data: dict, key: str, where: str, *, required: bool = True) -> datetime | None:
        value = self.get(data, key, where, (str,), required=required)
        if value is None:
            return None
        try:
            return leafiq.parse_timestamp(value)
        except ValueError:
            self.add(MANIFEST_SCHEMA, where, f"{value!r} is not an ISO 8601 timestamp")
            return None

    def entries(self, data: dict, key: str) -> list[tuple[str, dict]]:
        items = self.get(data, key, key, (list,)) or []
        result = []
        for index, item in enumerate(items):
            where = f"{key}[{index}]"
            if isinstance(item, dict):
                result.append((where, item))
            else:
                self.add(MANIFEST_SCHEMA, where, f"expected an object, got {leafiq.json_kind(item)}")
        return result


_TYPE_NAMES = {str: "a string", int: "an integer", list: "a list", dict: "an object", bool: "a boolean"}


@dataclass
class _ManifestContent:
    """What the checks could read of a manifest, broken or not; entries with a bad id are left out."""

    claimed_status: str | None = None
    load_id: str | None = None
    files: dict[str, leafiq.ManifestFile] = field(default_factory=dict)
    datasets: list[leafiq.DatasetEntry] = field(default_factory=list)
    cards: list[leafiq.CardEntry] = field(default_factory=list)
    dataflows: list[leafiq.DataflowEntry] = field(default_factory=list)
    missing: list[leafiq.MissingObject] = field(default_factory=list)
    users: str | None = None
    groups: str | None = None
    referenced: list[tuple[str, str, str]] = field(default_factory=list)  # (path, field, object) of object files
    dataset_ids: set[str] = field(default_factory=set)
    unsafe_paths: set[str] = field(default_factory=set)  # named by the manifest, never to be opened
    manifest: leafiq.Manifest | None = None  # only when the manifest passed all its checks
    claims: dict = field(default_factory=dict)  # exported_at, domo_instance, exporter: as far as they could be read


def _check_manifest(data: Any) -> tuple[_ManifestContent, list[Issue]]:
    """What can be read of the manifest, and its issues."""
    issues: list[Issue] = []
    content = _ManifestContent()
    check = _ManifestCheck(issues, content.unsafe_paths)
    if not isinstance(data, dict):
        check.add(MANIFEST_SCHEMA, None, f"expected a JSON object, got {leafiq.json_kind(data)}")
        return content, issues
    format_ = check.get(data, "format", "format", (str,))
    if format_ is not None and format_ != leafiq.FORMAT:
        check.add(UNKNOWN_FORMAT, "format", f"format {format_!r} is not {leafiq.FORMAT!r}")
        return content, issues

    load_id = check.get(data, "load_id", "load_id", (str,))
    if load_id is not None:
        content.load_id = load_id
        if problem := load_id_problem(load_id):
            check.add(BAD_LOAD_ID, "load_id", problem)
    exported_at = check.timestamp(data, "exported_at", "exported_at")
    domo_instance = check.get(data, "domo_instance", "domo_instance", (str,))
    exporter = check.get(data, "exporter", "exporter", (dict,)) or {}
    exporter_name = check.get(exporter, "name", "exporter.name", (str,)) if exporter else None
    exporter_version = check.get(exporter, "version", "exporter.version", (str,)) if exporter else None
    status = check.get(data, "status", "status", (str,))
    if status is not None and status not in ("complete", "partial"):
        check.add(MANIFEST_SCHEMA, "status", f"{status!r} is not 'complete' or 'partial'")
        status = None
    content.claimed_status = status
    content.claims = {"exported_at": exported_at, "domo_instance": domo_instance or "",
                      "exporter": " ".join(p for p in (exporter_name, exporter_version) if p)}

    missing_raw = check.get(data, "missing", "missing", (list,), required=status == "partial") or []
    for index, item in enumerate(missing_raw):
        where = f"missing[{index}]"
        if not isinstance(item, dict):
            check.add(MANIFEST_SCHEMA, where, f"expected an object, got {leafiq.json_kind(item)}")
            continue
        kind = check.get(item, "kind", f"{where}.kind", (str,))
        if kind is not None and kind not in leafiq.MISSING_KINDS:
            check.add(MANIFEST_SCHEMA, f"{where}.kind", f"{kind!r} is not one of {', '.join(leafiq.MISSING_KINDS)}")
            kind = None
        object_id = check.get(item, "id", f"{where}.id", (str, int))
        reason = check.get(item, "reason", f"{where}.reason", (str,))
        if kind and object_id is not None and reason is not None:
            content.missing.append(leafiq.MissingObject(kind=kind, id=object_id, reason=reason))
    if status == "complete" and missing_raw:
        check.add(MANIFEST_SCHEMA, "missing", f"status is 'complete' but missing lists {len(missing_raw)} object(s)")
    if status == "partial" and not missing_raw:
        check.add(MANIFEST_SCHEMA, "missing", "status is 'partial' but missing lists nothing")

    for where, item in check.entries(data, "files"):
        path = check.path(item, "path", f"{where}.path")
        digest = check.get(item, "sha256", f"{where}.sha256", (str,))
        if digest is not None and not SHA256.fullmatch(digest):
            check.add(MANIFEST_SCHEMA, f"{where}.sha256", "expected 64 lowercase hexadecimal digits")
            digest = None
        size = check.get(item, "bytes", f"{where}.bytes", (int,))
        if size is not None and size < 0:
            check.add(MANIFEST_SCHEMA, f"{where}.bytes", "must not be negative")
            size = None
        if path == MANIFEST:
            check.add(MANIFEST_SCHEMA, f"{where}.path", "files must not list manifest.json itself")
        elif path is not None and path in content.files:
            check.add(DUPLICATE_ID, f"{where}.path", f"{path} is listed twice", file=path)
        elif path is not None and digest is not None and size is not None:
            content.files[path] = leafiq.ManifestFile(path=path, sha256=digest, bytes=size)

    def reference(item: dict, key: str, where: str, object: str, *, required: bool = True) -> str | None:
        path = check.path(item, key, f"{where}.{key}", required=required, object=object)
        if path is not None:
            content.referenced.append((path, f"{where}.{key}", object))
            if path not in content.files:
                check.add(MANIFEST_SCHEMA, f"{where}.{key}", f"{path} is not listed in files", object=object)
        return path

    for where, item in check.entries(data, "datasets"):
        dataset_id = check.get(item, "id", f"{where}.id", (str,))
        if dataset_id is not None and not DATASET_ID.fullmatch(dataset_id):
            check.add(MANIFEST_SCHEMA, f"{where}.id", f"{dataset_id!r} is not a DataSet UUID")
            dataset_id = None
        if dataset_id is not None and dataset_id in content.dataset_ids:
            check.add(DUPLICATE_ID, f"{where}.id", f"dataset {dataset_id} is listed twice", object=f"dataset {dataset_id}")
            continue
        object = f"dataset {dataset_id}" if dataset_id else where
        metadata = reference(item, "metadata", where, object)
        data_csv = reference(item, "data", where, object)
        policies = reference(item, "policies", where, object, required=False)
        if dataset_id is not None:
            content.dataset_ids.add(dataset_id)
            if metadata and data_csv:
                content.datasets.append(leafiq.DatasetEntry(dataset_id, metadata, data_csv, policies))

    card_ids: set[int] = set()
    for where, item in check.entries(data, "cards"):
        card_id = check.get(item, "id", f"{where}.id", (int,))
        if card_id is not None and card_id in card_ids:
            check.add(DUPLICATE_ID, f"{where}.id", f"card {card_id} is listed twice", object=f"card {card_id}")
            continue
        object = f"card {card_id}" if card_id is not None else where
        definition = reference(item, "definition", where, object)
        golden = reference(item, "golden", where, object, required=False)
        captured = check.timestamp(item, "golden_captured_at", f"{where}.golden_captured_at", required=golden is not None)
        if card_id is not None:
            card_ids.add(card_id)
            if definition:
                content.cards.append(leafiq.CardEntry(card_id, definition, golden, captured))

    dataflow_ids: set[int] = set()
    for where, item in check.entries(data, "dataflows"):
        dataflow_id = check.get(item, "id", f"{where}.id", (int,))
        if dataflow_id is not None and dataflow_id in dataflow_ids:
            check.add(DUPLICATE_ID, f"{where}.id", f"dataflow {dataflow_id} is listed twice",
                      object=f"dataflow {dataflow_id}")
            continue
        object = f"dataflow {dataflow_id}" if dataflow_id is not None else where
        definition = reference(item, "definition", where, object)
        if dataflow_id is not None:
            dataflow_ids.add(dataflow_id)
            if definition:
                content.dataflows.append(leafiq.DataflowEntry(dataflow_id, definition))

    directory = check.get(data, "directory", "directory", (dict,), required=False) or {}
    content.users = reference(directory, "users", "directory", "directory", required=False)
    content.groups = reference(directory, "groups", "directory", "directory", required=False)

    if not any(ISSUE_CODES[i.code].status_class == INVALID for i in issues):
        content.manifest = leafiq.Manifest(
            format=format_, load_id=load_id, exported_at=exported_at, domo_instance=domo_instance,
            exporter_name=exporter_name, exporter_version=exporter_version, status=status,
            missing=tuple(content.missing), files=tuple(content.files.values()),
            datasets=tuple(content.datasets), cards=tuple(content.cards), dataflows=tuple(content.dataflows),
            users=content.users, groups=content.groups,
        )
    return content, issues
