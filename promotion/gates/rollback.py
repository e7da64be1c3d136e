"""The gates of a rollback: the target version's manifest is still complete, and the target itself
(`rollback_target`) is an earlier verified version whose table still matches the registry.

A rollback moves the pointer of one curated dataset back to a version loaded from `request.manifest`,
and the pointers of the golden packets of that dataset's cards back to the versions the same load
wrote beside it (golden packets follow their datasets; they are never rolled back on their own).

A card that also reads other datasets keeps its golden packet where it is unless each of those is
current at a version of the same load (golden.py): the gate says so in a note, and passes.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from evidence.models import DomoCard

from .base import Gate, GateRun, _verdict, detail, requested_datasets, table_scans
from .golden import golden_held_back


@dataclass(frozen=True)
class PointerMove:
    """One pointer a rollback moves: `key` from its `current` version back to `version` (its registry row)."""

    key: str
    version: int | None
    current: int | None
    state: str = ""
    rows: int | None = None
    checksum: str | None = None
    problem: str = ""
    note: str = ""  # why a golden packet stays where it is (the move is not needed)

    @property
    def needed(self) -> bool:
        return self.current != self.version

    def inputs(self) -> list:
        return [self.key, self.version, self.current, self.state, self.rows, self.checksum, self.problem, self.note]


def registry_link(key: str) -> str:
    return reverse("promotion:registry-versions", args=[key])


def _row(connection, key: str, version: int | None = None, *, load_id: str = "", manifest_sha256: str = ""):
    """A registry row of `key`: that version, or the newest verified one loaded by (load_id, manifest)."""
    from promotion import curated

    for row in curated.versions(connection, key):  # newest first
        if version is not None and row["version"] == version:
            return row
        if version is None and row["load_id"] == load_id and row["manifest_sha256"] == manifest_sha256 \
                and row["state"] in curated.VERIFIED_STATES:
            return row
    return None


def rollback_moves(request, connection) -> list[PointerMove]:
    """The pointer moves a rollback request stands for, each with the problem that forbids it (if any):
    the dataset's first, then its cards' golden packets. Reads the registry only."""
    from promotion import curated

    manifest = request.manifest
    key, target = request.rollback_key, request.rollback_version
    current = curated.read_current(connection, key)
    now = current.version if current else None
    row = _row(connection, key, target)
    problem = ""
    if row is None:
        problem = f"{key} has no version {target} in the curated registry"
    elif now is None:
        problem = f"{key} has no current version to roll back from"
    elif now != request.rollback_from_version:
        problem = (f"the current version of {key} moved from v{request.rollback_from_version} to v{now} since the "
                   "rollback was requested; request it again")
    elif target >= now:
        problem = f"v{target} is not earlier than the current version v{now}"
    elif row["state"] not in curated.VERIFIED_STATES or row["state"] == curated.State.CURRENT:
        problem = f"v{target} is {row['state']}, not a verified earlier version"
    elif (row["load_id"], row["manifest_sha256"]) != (manifest.load_id, manifest.manifest_sha256):
        problem = f"v{target} was not loaded from manifest {manifest.load_id}"
    moves = [PointerMove(key, target, now, *(_figures(row)), problem=problem)]
    datasets = requested_datasets(request)
    cards = (
        DomoCard.objects.filter(manifest=manifest, datasets__in=[d.pk for d in datasets])
        .exclude(golden_path="").distinct().order_by("pk")
    )
    requested = {d.pk for d in datasets}
    for card in cards.prefetch_related("datasets"):
        golden = curated.golden_key(card.domo_id)
        at = curated.read_current(connection, golden)
        at = at.version if at else None
        note = golden_held_back(card, requested, manifest, connection)
        if note:
            moves.append(PointerMove(golden, at, at, note=note))
            continue
        found = _row(connection, golden, load_id=manifest.load_id, manifest_sha256=manifest.manifest_sha256)
        problem = ""
        if found is None:
            problem = f"the golden packet of card {card.domo_id} loaded with v{target} is not in the curated registry"
        elif at is None:
            problem = f"{golden} has no current version to roll back from"
        elif found["version"] > at:
            problem = f"{golden} v{found['version']} is not earlier than its current version v{at}"
        moves.append(PointerMove(golden, found["version"] if found else None, at, *_figures(found), problem=problem))
    return moves


def _figures(row) -> tuple:
    return (row["state"], row["rows"], row["checksum"]) if row else ("", None, None)


class RollbackTarget(Gate):
    name, version, title = (
        "rollback_target",
        "1",
        "The target is an earlier verified version, its table still matches the registry, the pointer has not moved",
    )

    def run(self, request) -> GateRun:
        """The pointers and registry rows every time; the target tables' rows only when table scans are
        allowed (the check). The fingerprint holds the same inputs either way: a table whose rows fail
        blocks the request at its check, and a table changed after its check is caught by the load."""
        from promotion import curated
        from promotion.curated.aliases import curated_reader

        connection = curated_reader()
        details, notes, inputs = [], [], []
        for move in rollback_moves(request, connection):
            where, link = f"curated {move.key}", registry_link(move.key)
            problem = move.problem
            if not problem and move.needed and table_scans():
                try:
                    # A table changed since its load fails verification (and is marked failed).
                    curated.verify_version(connection=connection, dataset_key=move.key, version=move.version)
                except curated.CuratedError as exc:
                    problem = f"v{move.version} no longer re-verifies: {exc}"
            if problem:
                details.append(detail(problem, where, link, dataset_key=move.key, version=move.version))
            elif move.note:
                notes.append(detail(move.note, where, link, dataset_key=move.key, version=move.version, note=True))
            inputs.append([*move.inputs(), problem])
        verdict = _verdict(details, [request.rollback_key, request.rollback_version, request.rollback_from_version,
                                     inputs])
        return GateRun(verdict.outcome, details + notes, verdict.inputs_fingerprint)
