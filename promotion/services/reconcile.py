"""The audit trail of the curated pointers: every move the curated store made is recorded in the trail as
"curated.pointer_moved", exactly once, so that what readers see live and what the trail says always agree.

The pointers live in the curated store and the trail in the console's database, which may be two databases:
no transaction holds both. A move therefore commits with a row of `curated_moves` (its outbox, in the
move's own transaction), and this reconciliation copies each move the trail does not hold yet into it,
then marks the row. It runs right after every load's and rollback's moves, when a worker starts, in the
periodic sweeper, and from `manage.py curated_reconcile`, so a process killed between a move and its audit
row (catalogue item 12) leaves the trail short only until the next of those. Idempotent: a move already in
the trail (recorded by a run killed before it marked the row) is only marked.
"""
from __future__ import annotations

from django.db import connections, router, transaction

from console.audit import audit_record
from console.models import AuditEvent

from ._common import CURATED_TYPE, curated_reader

MOVED = "curated.pointer_moved"


def _in_trail(move: dict) -> bool:
    return AuditEvent.objects.filter(action=MOVED, object_id=move["dataset_key"], after__move=move["id"],
                                     after__version=move["to_version"]).exists()


def curated_moves_audit(*, source: str) -> list[int]:
    """Record in the audit trail every pointer move it does not hold yet; returns the moves recorded now.
    `source` says who found them ("load", "rollback", "worker start-up", "sweeper", "command")."""
    from promotion import curated

    connection = curated_reader()
    using = router.db_for_write(AuditEvent)
    recorded = []
    for move in curated.pointer_moves(connection, unaudited=True):
        with transaction.atomic(using=using):
            if connections[using].vendor == "postgresql":
                # Two reconcilers (a load and a starting worker) never record one move twice.
                with connections[using].cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [MOVED])
            if not _in_trail(move):
                audit_record(
                    actor=None, action=MOVED, object_type=CURATED_TYPE, object_id=move["dataset_key"],
                    before={"version": move["from_version"]},
                    after={"version": move["to_version"], "move": move["id"], "ref": move["ref"],
                           "moved_at": str(move["moved_at"]), "recorded_by": source},
                )
                recorded.append(move["id"])
        curated.mark_move_audited(connection, move["id"])
    return recorded


def curated_trail_disagreements() -> dict[str, tuple[int | None, int | None]]:
    """{dataset key: (live version, the trail's last recorded version)} for every key where they differ."""
    from promotion import curated

    live = {row["dataset_key"]: row["version"] for row in curated.current_versions(curated_reader())}
    trail: dict[str, int | None] = {}
    for key, after in AuditEvent.objects.filter(action=MOVED).order_by("seq").values_list("object_id", "after"):
        trail[key] = after.get("version")
    return {key: (live.get(key), trail.get(key)) for key in set(live) | set(trail) if live.get(key) != trail.get(key)}
