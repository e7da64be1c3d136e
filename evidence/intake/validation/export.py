"""validate_export, the entry point: a folder, or a zip extracted safely, checked manifest first, then
every file and object the manifest names (_ExportCheck), into one ValidationReport."""
from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from evidence.intake import leafiq
from evidence.intake.csvfields import DEFAULT_MAX_FIELD_BYTES
from evidence.intake.validation.archive import (
    DEFAULT_LIMITS,
    FILE,
    LINK,
    SPECIAL,
    ArchiveLimits,
    _export_root,
    file_sha256,
    safe_extract,
    tree_entries,
)
from evidence.intake.validation.csvcheck import Stage, check_csv
from evidence.intake.validation.issues import (
    ARCHIVE_UNSAFE,
    DANGLING_REFERENCE,
    DECLARED_PARTIAL,
    DUPLICATE_ID,
    FILE_MISSING,
    HASH_MISMATCH,
    MANIFEST_UNREADABLE,
    OBJECT_INVALID,
    SIZE_MISMATCH,
    UNKNOWN_FORMAT,
    UNLISTED_FILE,
    UNSAFE_PATH,
    Issue,
    ValidationReport,
    export_status,
    issue,
)
from evidence.intake.validation.manifest import (
    MANIFEST,
    MAX_MANIFEST_BYTES,
    _check_manifest,
    _ManifestContent,
)


# --- entry point ---------------------------------------------------------------------------------
class Digests(Protocol):
    """Who else reads every file of the export (the intake's bronze copy) and can say what it read."""

    def digest(self, path: str) -> tuple[str, int]:
        """The SHA-256 and size of the export's file `path`; OSError if it cannot be read."""


# (export root, load id, manifest sha256) -> a Digests, or None to hash the files here.
OnIdentity = Callable[[Path, str | None, str | None], Digests | None]
# (dataset id, its columns) -> the silver stage its typed batches go to, or None.
StageFor = Callable[[str, Sequence[leafiq.Column]], Stage | None]


def validate_export(source: Path, *, limits: ArchiveLimits = DEFAULT_LIMITS, staging_dir: Path | None = None,
                    on_identity: OnIdentity | None = None, stage_for: StageFor | None = None,
                    max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES) -> ValidationReport:
    """Validate an export folder, or a .zip of one (extracted under staging_dir, kept; or a temporary folder).

    Two hooks let the intake read each byte once: on_identity is called as soon as the manifest is
    read, and what it returns gives each listed file's hash instead of a second read here (the bronze
    copy, on its own thread); stage_for gives a dataset's silver stage, fed by the CSV check."""
    source = Path(source)
    hooks = {"on_identity": on_identity, "stage_for": stage_for, "max_field_bytes": max_field_bytes}
    if source.is_dir():
        return _validate_folder(source, root_kept=True, **hooks)
    if not source.is_file():
        return _report([issue(MANIFEST_UNREADABLE, f"no export folder or archive at {source}")])
    if not zipfile.is_zipfile(source):
        return _report([issue(ARCHIVE_UNSAFE, "not a folder and not a zip archive", file=source.name)])
    if staging_dir is not None:
        problems = safe_extract(source, staging_dir, limits)
        if problems:
            return _report(problems)
        return _validate_folder(_export_root(staging_dir), root_kept=True, **hooks)
    with tempfile.TemporaryDirectory(prefix="leafiq-") as temporary:
        staging = Path(temporary) / "export"
        problems = safe_extract(source, staging, limits)
        if problems:
            return _report(problems)
        return _validate_folder(_export_root(staging), root_kept=False, **hooks)


def _report(issues: list[Issue], *, manifest_sha256: str | None = None, claimed: str | None = None,
            load_id: str | None = None, manifest: leafiq.Manifest | None = None,
            root: Path | None = None, claims: dict | None = None) -> ValidationReport:
    ordered = tuple(dict.fromkeys(sorted(issues, key=Issue.sort_key)))
    return ValidationReport(
        status=export_status(ordered), claimed_status=claimed, load_id=load_id,
        manifest_sha256=manifest_sha256, manifest=manifest, issues=ordered, root=root, claims=claims,
    )


def _validate_folder(root: Path, *, root_kept: bool, on_identity: OnIdentity | None,
                     stage_for: StageFor | None, max_field_bytes: int) -> ValidationReport:
    check = _ExportCheck(root, on_identity=on_identity, stage_for=stage_for, max_field_bytes=max_field_bytes)
    check.run()
    content = check.content
    return _report(
        check.issues, manifest_sha256=check.manifest_sha256, claimed=content.claimed_status,
        load_id=content.load_id, manifest=content.manifest, root=root if root_kept else None, claims=content.claims,
    )


# --- the export ----------------------------------------------------------------------------------
_UNREADABLE = object()  # read_manifest's answer when there is no JSON value to check (null is one)


class _ExportCheck:
    """One validation of one export folder; collects issues, never raises on what the folder holds."""

    def __init__(self, root: Path, *, on_identity: OnIdentity | None = None, stage_for: StageFor | None = None,
                 max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES):
        self.root = root
        self.max_field_bytes = max_field_bytes
        self.on_identity = on_identity
        self.stage_for = stage_for
        self.digests: Digests | None = None
        self.to_hash: list[tuple[leafiq.ManifestFile, str | None]] = []  # listed files whose hash is checked last
        self.issues: list[Issue] = []
        self.manifest_sha256: str | None = None
        self.content = _ManifestContent()
        self.linked: set[str] = set()  # paths reported as links or special files by the walk
        self.present: set[str] = set()  # listed files found as regular files

    def add(self, code: str, message: str, **where) -> None:
        self.issues.append(issue(code, message, **where))

    def run(self) -> None:
        data = self.read_manifest()
        if data is _UNREADABLE:
            return
        self.content, issues = _check_manifest(data)
        self.issues.extend(issues)
        if any(i.code == UNKNOWN_FORMAT for i in issues):
            return
        if self.on_identity is not None:
            self.digests = self.on_identity(self.root, self.content.load_id, self.manifest_sha256)
        self.walk()
        self.check_files()
        objects = _Objects()
        self.check_directory(objects)
        self.check_datasets(objects)
        self.check_cards(objects)
        self.check_dataflows(objects)
        self.check_policy_references(objects)
        self.declared_partial()
        self.check_hashes()

    # manifest.json
    def read_manifest(self) -> Any:
        path = self.root / MANIFEST
        try:
            info = path.lstat()
        except FileNotFoundError:
            self.add(MANIFEST_UNREADABLE, "the export has no manifest.json at its root", file=MANIFEST)
            return _UNREADABLE
        except OSError as exc:
            self.add(MANIFEST_UNREADABLE, f"cannot be read: {exc.strerror}", file=MANIFEST)
            return _UNREADABLE
        if not stat.S_ISREG(info.st_mode):
            self.add(MANIFEST_UNREADABLE, "is not a regular file (a link, a folder or a device)", file=MANIFEST)
            return _UNREADABLE
        if info.st_size > MAX_MANIFEST_BYTES:
            self.add(MANIFEST_UNREADABLE, f"{info.st_size} bytes, over the limit of {MAX_MANIFEST_BYTES}", file=MANIFEST)
            return _UNREADABLE
        try:
            raw = path.read_bytes()
        except OSError as exc:
            self.add(MANIFEST_UNREADABLE, f"cannot be read: {exc.strerror}", file=MANIFEST)
            return _UNREADABLE
        self.manifest_sha256 = hashlib.sha256(raw).hexdigest()
        try:
            return leafiq.parse_json(raw, file=MANIFEST)
        except leafiq.LeafIQFormatError as exc:
            self.add(MANIFEST_UNREADABLE, exc.message, file=MANIFEST)
            return _UNREADABLE

    # files
    def walk(self) -> None:
        """Links and special files anywhere under the root; regular files the manifest does not list."""
        listed = set(self.content.files) | {path for path, _, _ in self.content.referenced}
        for relative, kind in tree_entries(self.root):
            if kind == LINK:
                self.linked.add(relative)
                self.add(UNSAFE_PATH, "is a symbolic link", file=relative)
            elif kind == SPECIAL:
                self.linked.add(relative)
                self.add(UNSAFE_PATH, "is not a regular file (a device, socket or pipe)", file=relative)
            elif kind == FILE and relative != MANIFEST and relative not in listed:
                self.add(UNLISTED_FILE, "is not listed in the manifest", file=relative)

    def usable(self, path: str) -> bool:
        """Whether path may be opened: safe, reached through no link, and present as a regular file."""
        if path in self.content.unsafe_paths:
            return False
        segments = path.split("/")
        if any("/".join(segments[:i]) in self.linked for i in range(1, len(segments) + 1)):
            return False
        try:
            return stat.S_ISREG((self.root / path).lstat().st_mode)
        except OSError:
            return False

    def check_files(self) -> None:
        owners = {path: object for path, _, object in reversed(self.content.referenced)}
        for entry in self.content.files.values():
            full = self.root / entry.path
            object = owners.get(entry.path)
            if not self.usable(entry.path):
                if full.is_dir() and not full.is_symlink():
                    self.add(FILE_MISSING, "is a folder, not a file", file=entry.path, object=object)
                elif not os.path.lexists(full):
                    self.add(FILE_MISSING, "is listed in the manifest but absent", file=entry.path, object=object)
                continue
            try:
                full.open("rb").close()
            except OSError as exc:
                self.add(FILE_MISSING, f"cannot be read: {exc.strerror}", file=entry.path, object=object)
                continue
            self.present.add(entry.path)
            self.to_hash.append((entry, object))

    def check_hashes(self) -> None:
        """Each present listed file's size and hash against the manifest. Last, so that the bronze copy
        (Digests) has read the big files while the objects and CSVs were checked."""
        for entry, object in self.to_hash:
            try:
                digest, size = self.digests.digest(entry.path) if self.digests else file_sha256(self.root / entry.path)
            except OSError as exc:
                self.add(FILE_MISSING, f"cannot be read: {exc.strerror}", file=entry.path, object=object)
                continue
            if size != entry.bytes:
                self.add(SIZE_MISMATCH, f"has {size} bytes, the manifest says {entry.bytes}", file=entry.path,
                         object=object)
            if digest != entry.sha256:
                self.add(HASH_MISMATCH, f"SHA-256 is {digest}, the manifest says {entry.sha256}", file=entry.path,
                         object=object)

    def readable(self, path: str | None) -> bool:
        """An object file to read: a present regular file (listed or not; listing problems are reported)."""
        return path is not None and (path in self.present or (path not in self.content.files and self.usable(path)))

    def read(self, path: str, reader, object: str):
        try:
            return reader(self.root / path, file=path)
        except leafiq.LeafIQFormatError as exc:
            # The reader names what it read ("card"); the manifest's entry names which one ("card 1250219488").
            named = object if not exc.object or exc.object == object.split(" ", 1)[0] else exc.object
            self.add(OBJECT_INVALID, exc.message, file=path, object=named, field=exc.field)
        except RecursionError:
            self.add(OBJECT_INVALID, "nested too deeply to read", file=path, object=object)
        return None

    # objects
    def check_directory(self, objects: _Objects) -> None:
        for path, reader, ids, noun in ((self.content.users, leafiq.read_users, objects.user_ids, "user"),
                                        (self.content.groups, leafiq.read_groups, objects.group_ids, "group")):
            if path is None:
                continue
            objects.directory.add(noun)
            if not self.readable(path):
                continue
            entries = self.read(path, reader, "directory") or ()
            for index, entry in enumerate(entries):
                if entry.id in ids:
                    self.add(DUPLICATE_ID, f"{noun} {entry.id} appears twice", file=path,
                             object=f"{noun} {entry.id}", field=f"[{index}]")
                ids.add(entry.id)

    def check_datasets(self, objects: _Objects) -> None:
        for entry in self.content.datasets:
            object = f"dataset {entry.id}"
            metadata = self.read(entry.metadata, leafiq.read_dataset_metadata, object) \
                if self.readable(entry.metadata) else None
            if metadata is not None and metadata.id != entry.id:
                self.add(OBJECT_INVALID, f"metadata is of dataset {metadata.id}, the manifest says {entry.id}",
                         file=entry.metadata, object=object, field="id")
                metadata = None
            if metadata is not None:
                objects.beast_modes[entry.id] = {mode.id: mode for mode in metadata.beast_modes}
            if self.readable(entry.data):
                stage = self.stage_for(entry.id, metadata.columns) if self.stage_for and metadata else None
                self.issues.extend(check_csv(
                    self.root / entry.data, file=entry.data, object=object,
                    columns=metadata.columns if metadata else None,
                    expected_rows=metadata.row_count if metadata else None, stage=stage,
                    max_field_bytes=self.max_field_bytes,
                ))
            if entry.policies and self.readable(entry.policies):
                policies = self.read(entry.policies, leafiq.read_policies, object) or ()
                seen: set[int] = set()
                for index, policy in enumerate(policies):
                    if policy.id in seen:
                        self.add(DUPLICATE_ID, f"policy {policy.id} appears twice", file=entry.policies,
                                 object=f"policy {policy.id}", field=f"[{index}]")
                    seen.add(policy.id)
                    objects.policies.append((entry.policies, policy))

    def check_cards(self, objects: _Objects) -> None:
        datasets = self.content.dataset_ids
        for entry in self.content.cards:
            object = f"card {entry.id}"
            if not self.readable(entry.definition):
                continue
            card = self.read(entry.definition, leafiq.read_card_definition, object)
            if card is None:
                continue
            if card.id != entry.id:
                self.add(OBJECT_INVALID, f"definition is of card {card.id}, the manifest says {entry.id}",
                         file=entry.definition, object=object, field="id")
                continue
            for index, source in enumerate(card.datasources):
                if source.id not in datasets:
                    self.add(DANGLING_REFERENCE, f"reads dataset {source.id}, which the export does not hold",
                             file=entry.definition, object=object, field=f"datasources[{index}].dataSourceId")
            held = {mode.id: mode for mode in card.beast_modes if mode.origin != "dataset_deleted"}
            for source in card.datasources:
                held.update(objects.beast_modes.get(source.id, {}))
            deleted = {mode.id for mode in card.beast_modes if mode.origin == "dataset_deleted"}
            for formula_id, field in card.formula_references():
                if formula_id in held:
                    continue
                why = "that was deleted from its dataset" if formula_id in deleted else "that the export does not hold"
                self.add(DANGLING_REFERENCE, f"uses beast mode {formula_id} {why}",
                         file=entry.definition, object=object, field=field)
            if entry.golden and self.readable(entry.golden):
                self.issues.extend(check_csv(
                    self.root / entry.golden, file=entry.golden, object=object,
                    header=_golden_header(card, held), max_field_bytes=self.max_field_bytes,
                ))

    def check_dataflows(self, objects: _Objects) -> None:
        for entry in self.content.dataflows:
            object = f"dataflow {entry.id}"
            if not self.readable(entry.definition):
                continue
            dataflow = self.read(entry.definition, leafiq.read_dataflow, object)
            if dataflow is None:
                continue
            if dataflow.id != entry.id:
                self.add(OBJECT_INVALID, f"definition is of dataflow {dataflow.id}, the manifest says {entry.id}",
                         file=entry.definition, object=object, field="id")
                continue
            for key, endpoints in (("inputs", dataflow.inputs), ("outputs", dataflow.outputs)):
                for index, endpoint in enumerate(endpoints):
                    if endpoint.dataset_id not in self.content.dataset_ids:
                        self.add(DANGLING_REFERENCE,
                                 f"{key[:-1]} dataset {endpoint.dataset_id} is not in the export",
                                 file=entry.definition, object=object, field=f"{key}[{index}].dataSourceId")

    def check_policy_references(self, objects: _Objects) -> None:
        for path, policy in objects.policies:
            for noun, key, ids, known in (("user", "users", policy.user_ids, objects.user_ids),
                                          ("group", "groups", policy.group_ids, objects.group_ids)):
                unknown = sorted(set(ids) - known)
                if not unknown:
                    continue
                shown = ", ".join(str(i) for i in unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
                held = "the export's directory does not hold" if noun in objects.directory else \
                    "the export has no directory of"
                self.add(DANGLING_REFERENCE, f"names {noun} id(s) {shown}, which {held} {noun}s",
                         file=path, object=f"policy {policy.id}", field=key)

    def declared_partial(self) -> None:
        if self.content.claimed_status != "partial":
            return
        for index, missing in enumerate(self.content.missing):
            self.add(DECLARED_PARTIAL, f"the exporter could not capture {missing.kind} {missing.id}: {missing.reason}",
                     file=MANIFEST, object=f"{missing.kind} {missing.id}", field=f"missing[{index}]")
        if not self.content.missing:
            self.add(DECLARED_PARTIAL, "the exporter declared the export partial", file=MANIFEST, field="status")


class _Objects:
    """What the export holds, gathered while reading it, for the reference checks."""

    def __init__(self) -> None:
        self.user_ids: set[int] = set()
        self.group_ids: set[int] = set()
        self.directory: set[str] = set()  # "user", "group": the directory files the manifest names
        self.beast_modes: dict[str, dict[str, leafiq.BeastMode]] = {}  # dataset id -> its saved beast modes
        self.policies: list[tuple[str, leafiq.Policy]] = []


def _golden_header(card: leafiq.CardDefinition, beast_modes: dict[str, leafiq.BeastMode]) -> list[str] | None:
    """golden.csv's header: each main column's alias, or its column (or beast mode) name; None if unknown."""
    main = card.main
    if main is None or not main.columns:
        return None
    header = []
    for column in main.columns:
        label = column.label or (beast_modes[column.formula_id].name if column.formula_id in beast_modes else None)
        if label is None:
            return None
        header.append(label)
    return header
