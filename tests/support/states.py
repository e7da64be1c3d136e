"""Named test states built once per test process, restored in milliseconds afterwards.

The first time a test asks for a named state ("sample manifest", "two promoted versions") in this
process, `States.get` builds it the honest way (the real intake, the real services) and records what
the build added: the new rows of every model, the audit events it appended, the files it wrote to
the lake and the curated tables it created. Every later request for the same state, made from the
same starting point, puts those back instead of building again:

- rows go back with their ids (so ids inside rows, JSON and object ids stay consistent); foreign keys
  to rows that existed before the build (the personas) are followed by natural key (the username);
  sequences are moved past the restored ids;
- audit events are appended to the test's own chain through `console.chain` (seq, previous hash and
  time are those of this chain, everything else is the build's), so the chain verifies;
- lake files are copied byte for byte into this test's lake, paths re-pointed to it;
- curated tables (transactional tests) are recreated from a copy kept beside them, with their indexes
  (the row key) under their own names.

A snapshot is used only when the starting point matches the build's: the same settings (but the
lake), the same models holding rows (counted), the same lake files, no rows of the models the build
fills. Anything else, or a build that changed rows it found, is built the honest way again; so is
every state when LEAF_TEST_STATES=build is set (`LEAF_TEST_STATES=build pytest ...`).
LEAF_TEST_STATES_DEBUG=1 (with `-s`) prints, for each request, whether a snapshot was there for it.

What a snapshot does not see, so a state's build must not depend on it: what the test patched before
asking (monkeypatch, a frozen clock) and what the build did outside the database and the lake (the
messages it sent to the broker, the staging folder of the intake). A state named for each such
difference keeps them apart ("... (load task in-process)").
"""
from __future__ import annotations

import atexit
import hashlib
import itertools
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connections, models, transaction

AUDIT = "console.auditevent"
CURATED_PREFIX = "curated_"
SNAPSHOT_SCHEMA = "leaf_test_states"  # PostgreSQL: curated copies live in their own schema
SQLITE_COPY_PREFIX = "leafteststate_"  # curated copies: tables beside them (SQLite), in that schema (PostgreSQL)


def honest_only() -> bool:
    return os.environ.get("LEAF_TEST_STATES", "") == "build"


# --- what the database and the lake hold ---------------------------------------------------------------
def _models() -> list[type[models.Model]]:
    return [m for m in apps.get_models(include_auto_created=True) if m._meta.managed and not m._meta.proxy]


def _label(model) -> str:
    return model._meta.label_lower


def _counts() -> dict[str, int]:
    return {_label(m): m._default_manager.count() for m in _models()}


def _rows(model) -> dict[Any, dict]:
    names = [f.attname for f in model._meta.concrete_fields]
    return {row[model._meta.pk.attname]: row for row in model._default_manager.order_by().values(*names)}


def _digest(rows: dict) -> str:
    return hashlib.sha256(repr(sorted(rows.items(), key=lambda item: repr(item[0]))).encode()).hexdigest()


def _people() -> tuple:
    """Who has an account, in which groups: the personas a state is built beside."""
    user = apps.get_model(settings.AUTH_USER_MODEL)
    return tuple(user._default_manager.order_by("username").values_list("username", "groups__name"))


def _lake_root() -> Path:
    return Path(settings.LAKE_URL.removeprefix("file://"))


def _lake_files(root: Path) -> dict[str, tuple[int, int]]:
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def _settings_key() -> str:
    held = settings._wrapped
    values = {name: repr(getattr(held, name)) for name in dir(held) if name.isupper() and name != "LAKE_URL"}
    return hashlib.sha256(repr(sorted(values.items())).encode()).hexdigest()


def _repoint(value, old: str, new: str):
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_repoint(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: _repoint(v, old, new) for k, v in value.items()}
    return value


# --- the result a build returns: model instances are kept as references, fetched again -----------------
def _freeze(value):
    if isinstance(value, models.Model):
        return ("model", _label(type(value)), value.pk)
    if isinstance(value, tuple):
        return ("tuple", tuple(_freeze(v) for v in value))
    if isinstance(value, (str, int, float, bool, type(None))):
        return ("value", value)
    raise TypeError(f"a state returns model instances, tuples and plain values, not {type(value).__name__}")


def _thaw(frozen):
    kind, *rest = frozen
    if kind == "model":
        return apps.get_model(rest[0])._default_manager.get(pk=rest[1])
    if kind == "tuple":
        return tuple(_thaw(v) for v in rest[0])
    return rest[0]


class NotRestorable(Exception):
    """The build did something a snapshot cannot repeat exactly: it is built the honest way every time."""


@dataclass
class Snapshot:
    result: Any
    rows: dict[str, list[dict]] = field(default_factory=dict)
    outside: dict[tuple[str, str], dict[Any, tuple]] = field(default_factory=dict)  # (model, attname) -> natural keys
    audit: list[dict] = field(default_factory=list)
    lake_root: str = ""
    lake_copy: Path | None = None
    lake_files: list[str] = field(default_factory=list)
    curated: list[str] = field(default_factory=list)
    after: dict[str, Any] = field(default_factory=dict)  # model -> its new rows' lowest pk (older rows stay below)
    pinned: dict[str, str] = field(default_factory=dict)  # model -> digest of the rows new rows point at


# --- recording a build ------------------------------------------------------------------------------------
def _record(before_rows: dict, result, lake_before: dict, curated_before: set[str], copies: CuratedCopies) -> Snapshot:
    snapshot = Snapshot(result=_freeze(result))
    new_pks: dict[str, set] = {}
    for model in _models():
        label = _label(model)
        after = _rows(model)
        old = before_rows[label]
        if label == AUDIT:
            snapshot.audit = [after[k] for k in sorted(set(after) - set(old))]
            continue
        if {k: after.get(k) for k in old} != old:
            raise NotRestorable(f"the build changed or removed rows of {label} it found")
        added = [after[k] for k in after if k not in old]
        if added and old:
            if not all(isinstance(k, int) for k in after) or max(old) >= min(k for k in after if k not in old):
                raise NotRestorable(f"{label}: the build's rows are not all newer than the rows it found")
            snapshot.after[label] = min(k for k in after if k not in old)
        if added:
            snapshot.rows[label] = added
            new_pks[label] = {row[model._meta.pk.attname] for row in added}
    for label, rows in snapshot.rows.items():
        model = apps.get_model(label)
        for fk in (f for f in model._meta.concrete_fields if f.is_relation):
            target = fk.related_model
            for row in rows:
                value = row[fk.attname]
                if value is None or value in new_pks.get(_label(target), ()):
                    continue
                if hasattr(target, "natural_key"):
                    snapshot.outside.setdefault((label, fk.attname), {})[value] = _natural_key(target, value)
                else:  # a row the state starts from (a restored manifest): it must be the same row at restore
                    snapshot.pinned[_label(target)] = _digest(before_rows[_label(target)])
    for row in snapshot.audit:
        if row["actor_id"] is not None:
            snapshot.outside.setdefault((AUDIT, "actor_id"), {})[row["actor_id"]] = _natural_key(
                apps.get_model(settings.AUTH_USER_MODEL), row["actor_id"])
    root = _lake_root()
    snapshot.lake_root = str(root)
    lake_after = _lake_files(root)
    snapshot.lake_files = sorted(p for p, stat in lake_after.items() if lake_before.get(p) != stat)
    if snapshot.lake_files:
        snapshot.lake_copy = Path(tempfile.mkdtemp(prefix="lake-", dir=_copies_root()))
        for name in snapshot.lake_files:
            (snapshot.lake_copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / name, snapshot.lake_copy / name)
    snapshot.curated = sorted(set(copies.tables()) - curated_before)
    return snapshot


_COPIES_ROOT: list[Path] = []


def _copies_root() -> Path:
    """Where this process keeps its states' lake files; removed when the process ends."""
    if not _COPIES_ROOT:
        _COPIES_ROOT.append(Path(tempfile.mkdtemp(prefix="leaf-test-states-")))
        atexit.register(shutil.rmtree, _COPIES_ROOT[0], ignore_errors=True)
    return _COPIES_ROOT[0]


def _natural_key(model, pk) -> tuple:
    return tuple(model._default_manager.get(pk=pk).natural_key())


def _starts_alike(snapshot: Snapshot) -> bool:
    """At restore: the rows the build found that it points at are the same, and its ids are still the newest."""
    for label, digest in snapshot.pinned.items():
        if _digest(_rows(apps.get_model(label))) != digest:
            return False
    return not any(apps.get_model(label)._default_manager.filter(pk__gte=lowest).exists()
                   for label, lowest in snapshot.after.items())


# --- restoring it -----------------------------------------------------------------------------------------
def _resolve(snapshot: Snapshot, label: str, attname: str, value):
    keys = snapshot.outside.get((label, attname))
    if keys is None or value not in keys:
        return value
    model = apps.get_model(label)
    target = apps.get_model(settings.AUTH_USER_MODEL) if label == AUDIT else model._meta.get_field(attname).related_model
    return target._default_manager.get_by_natural_key(*keys[value]).pk


def _restore_rows(snapshot: Snapshot, old_root: str, new_root: str) -> None:
    for label, rows in snapshot.rows.items():
        model = apps.get_model(label)
        objects = []
        for row in rows:
            values = {name: _resolve(snapshot, label, name, _repoint(value, old_root, new_root))
                      for name, value in row.items()}
            objects.append(model(**values))
        model._default_manager.bulk_create(objects)
    _reset_sequences([apps.get_model(label) for label in snapshot.rows])


def _reset_sequences(models_: list) -> None:
    connection = connections["default"]
    if connection.vendor != "postgresql":
        return  # SQLite's AUTOINCREMENT moves past an explicit id by itself
    with connection.cursor() as cursor:
        for model in models_:
            pk = model._meta.pk
            if not isinstance(pk, models.AutoField):
                continue
            table = model._meta.db_table
            cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, pk.column])
            (sequence,) = cursor.fetchone()
            if sequence:  # never lowered: ids already handed out in this database stay behind it
                cursor.execute(f'SELECT setval(%s, GREATEST((SELECT max("{pk.column}") FROM "{table}"),'
                               f" (SELECT last_value FROM {sequence})))", [sequence])


def _restore_audit(snapshot: Snapshot, old_root: str, new_root: str) -> None:
    """Append the build's events to this test's chain, as audit_record would have (seq, link, time)."""
    from console import audit, chain, clock
    from console.models import AuditEvent

    if not snapshot.audit:
        return
    using = "default"
    audit._lock_chain(using)
    last = AuditEvent.objects.using(using).order_by("-seq").values_list("seq", "hash", "occurred_at").first()
    seq, prev_hash, previous_time = (last[0], last[1], last[2]) if last else (0, chain.GENESIS_HASH, None)
    for row in snapshot.audit:
        seq += 1
        reading = clock.now()
        occurred_at, clock_reading = reading, None
        if previous_time and reading < previous_time:
            occurred_at, clock_reading = previous_time, reading
        event = AuditEvent(
            seq=seq, occurred_at=occurred_at, clock_reading=clock_reading,
            actor_id=_resolve(snapshot, AUDIT, "actor_id", row["actor_id"]),
            actor_label=row["actor_label"], action=row["action"], object_type=row["object_type"],
            object_id=row["object_id"], before=_repoint(row["before"], old_root, new_root),
            after=_repoint(row["after"], old_root, new_root), correlation_id=row["correlation_id"],
            prev_hash=prev_hash,
        )
        event.hash = chain.link_hash(prev_hash, event.payload())
        event.save(using=using)
        prev_hash, previous_time = event.hash, occurred_at


def _restore_lake(snapshot: Snapshot, new_root: Path) -> None:
    for name in snapshot.lake_files:
        (new_root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(snapshot.lake_copy / name, new_root / name)


# --- the curated tables (outside Django's models) ------------------------------------------------------
class CuratedCopies:
    """Copies of curated tables kept beside them, on the curated connection (PostgreSQL or SQLite)."""

    def __init__(self):
        self.connection = connections["curated"]

    def _execute(self, sql: str, params=None) -> list:
        self.connection.ensure_connection()
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def tables(self) -> list[str]:
        if self.connection.vendor == "postgresql":
            rows = self._execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                                 " AND tablename LIKE 'curated\\_%'")
        else:
            rows = self._execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                 " AND name LIKE 'curated\\_%' ESCAPE '\\'")
        return [name for (name,) in rows]

    def _indexes(self, table: str) -> list[str]:
        """The statements that make `table`'s indexes (the row key), under their own names."""
        if self.connection.vendor == "postgresql":
            rows = self._execute("SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                                 " AND tablename = %s ORDER BY indexname", [table])
        else:
            rows = self._execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s"
                                 " AND sql IS NOT NULL ORDER BY name", [table])
        return [sql for (sql,) in rows]

    def save(self, names: list[str]) -> dict[str, tuple[str, list[str]]]:
        copies = {}
        with transaction.atomic(using="curated"):
            if self.connection.vendor == "postgresql":
                self._execute(f'CREATE SCHEMA IF NOT EXISTS "{SNAPSHOT_SCHEMA}"')
            for name in names:
                copy = f"{SQLITE_COPY_PREFIX}{next(_COPY_NUMBERS)}"
                if self.connection.vendor == "postgresql":
                    self._execute(f'CREATE TABLE "{SNAPSHOT_SCHEMA}"."{copy}" (LIKE "{name}" INCLUDING ALL EXCLUDING INDEXES)')
                    self._execute(f'INSERT INTO "{SNAPSHOT_SCHEMA}"."{copy}" SELECT * FROM "{name}"')
                else:
                    (ddl,) = self._execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = %s", [name])[0]
                    self._execute(ddl.replace(f'"{name}"', f'"{copy}"', 1))
                    self._execute(f'INSERT INTO "{copy}" SELECT * FROM "{name}"')
                copies[name] = (copy, self._indexes(name))
        return copies

    def restore(self, copies: dict[str, tuple[str, list[str]]]) -> None:
        with transaction.atomic(using="curated"):
            for name, (copy, indexes) in copies.items():
                if self.connection.vendor == "postgresql":
                    self._execute(f'CREATE TABLE "{name}" (LIKE "{SNAPSHOT_SCHEMA}"."{copy}" INCLUDING ALL)')
                    self._execute(f'INSERT INTO "{name}" SELECT * FROM "{SNAPSHOT_SCHEMA}"."{copy}"')
                else:
                    (ddl,) = self._execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = %s", [copy])[0]
                    self._execute(ddl.replace(f'"{copy}"', f'"{name}"', 1))
                    self._execute(f'INSERT INTO "{name}" SELECT * FROM "{copy}"')
                for statement in indexes:  # the table's own indexes, under their own names, built after its rows
                    self._execute(statement)


# --- the fixture's object ------------------------------------------------------------------------------
_SNAPSHOTS: dict[tuple, Snapshot | NotRestorable] = {}
_CURATED_COPIES: dict[int, dict[str, tuple[str, list[str]]]] = {}
_COPY_NUMBERS = itertools.count(1)


@dataclass
class States:
    curated: bool = False  # the test may create curated tables (transactional tests with the curated alias)
    built: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)

    def get(self, name: str, build: Callable[[], Any]):
        """The named state: built by `build` (the real services) the first time, restored afterwards."""
        copies = CuratedCopies() if self.curated else None
        curated_before = set(copies.tables()) if copies else set()
        if curated_before:
            return self._build_only(name, build)  # curated tables already there: build as usual
        counts = _counts()
        lake_before = _lake_files(_lake_root())
        key = (name, _settings_key(), tuple(sorted((k, v) for k, v in counts.items() if v)),
               tuple(sorted(lake_before.keys())), self.curated, _people())
        known = _SNAPSHOTS.get(key)
        alike = isinstance(known, Snapshot) and not honest_only() and _starts_alike(known)
        _debug(name, "new key" if known is None else known if isinstance(known, NotRestorable) else
               f"snapshot (starts alike: {alike})", key)
        if alike:
            return self._restore(name, known)
        if known is not None or honest_only():
            return self._build_only(name, build)
        before_rows = {_label(m): (_rows(m) if counts[_label(m)] else {}) for m in _models()}
        result = build()
        self.built.append(name)
        try:
            snapshot = _record(before_rows, result, lake_before, curated_before, copies or _NoCurated())
            if snapshot.curated:
                _CURATED_COPIES[id(snapshot)] = copies.save(snapshot.curated)
            _SNAPSHOTS[key] = snapshot
        except NotRestorable as reason:
            _SNAPSHOTS[key] = reason
        return result

    def _build_only(self, name: str, build: Callable[[], Any]):
        self.built.append(name)
        return build()

    def _restore(self, name: str, snapshot: Snapshot):
        new_root = _lake_root()
        with transaction.atomic():
            _restore_rows(snapshot, snapshot.lake_root, str(new_root))
            _restore_audit(snapshot, snapshot.lake_root, str(new_root))
        _restore_lake(snapshot, new_root)
        if snapshot.curated:
            CuratedCopies().restore(_CURATED_COPIES[id(snapshot)])
        self.restored.append(name)
        return _thaw(snapshot.result)


def _debug(name, what, key):
    if os.environ.get("LEAF_TEST_STATES_DEBUG"):
        import sys
        print(f"\n[states] {name}: {what} {hashlib.sha256(repr(key).encode()).hexdigest()[:8]} {key[2]}", file=sys.stderr)


class _NoCurated:
    def tables(self) -> list[str]:
        return []


# --- the roles every persona needs: console.services.roles_seed, replayed -----------------------------------
@dataclass
class _SeededRoles:
    actor_label: str
    groups: list[str]  # in the order roles_seed made them
    permissions: list[tuple[str, str, str]]  # (group, app label, codename)
    audit: list[dict]


_ROLES: list[_SeededRoles] = []


def seed_roles() -> None:
    """What console.services.roles_seed does from an empty start (no group yet), in a dozen queries.

    Nearly every test starts from an empty database and asks for its personas, so for their roles. The first
    time in this process roles_seed itself runs and what it made is kept: the role groups, their permissions
    (by app label and codename: a flush makes permissions again under new ids) and its audit events. Later, from
    the same empty start and under the same actor, the same rows go back and the same events are appended to
    this test's chain, as the named states do. Anything else (a group already there, another actor, events with
    a user as actor, LEAF_TEST_STATES=build) runs roles_seed itself.
    """
    from django.contrib.auth.models import Group, Permission

    from console import audit, context
    from console.models import AuditEvent
    from console.services import roles_seed

    _, actor_label = audit._actor_label(None, context.current())
    if honest_only() or Group.objects.exists():
        roles_seed()
        return
    known = _ROLES[0] if _ROLES else None
    if known is None or known.actor_label != actor_label:
        last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
        roles_seed()
        audit_rows = list(AuditEvent.objects.filter(seq__gt=last).order_by("seq").values())
        if known is None and all(row["actor_id"] is None for row in audit_rows):
            through = Group.permissions.through.objects.order_by("id")  # in the order roles_seed added them
            _ROLES.append(_SeededRoles(
                actor_label=actor_label,
                groups=list(Group.objects.order_by("id").values_list("name", flat=True)),
                permissions=list(through.values_list("group__name", "permission__content_type__app_label",
                                                     "permission__codename")),
                audit=audit_rows,
            ))
        return
    with transaction.atomic():
        groups = {group.name: group for group in Group.objects.bulk_create([Group(name=n) for n in known.groups])}
        ids = {(app, codename): pk for pk, app, codename in
               Permission.objects.values_list("id", "content_type__app_label", "codename")}
        Group.permissions.through.objects.bulk_create([
            Group.permissions.through(group_id=groups[group].pk, permission_id=ids[(app, codename)])
            for group, app, codename in known.permissions
        ])
        _restore_audit(Snapshot(result=None, audit=known.audit), "", "")
