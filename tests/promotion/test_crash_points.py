"""Crash between steps: the promotion's load runs in a process of its own, which kills itself (SIGKILL, no
handler runs) at one crash point (promotion.faults): after the load, after verification, inside the
pointers' transaction, after it committed and before any audit row, and before the request's finish.

After each, what readers see is all old or all new (every pointer of the request moves in one
transaction), and once the reconciliation a starting worker runs has run, the audit trail's last recorded
version of every pointer is the live one (the pointers live in the curated store, the trail in the
console's database: services.reconcile). The redelivered load then takes over and finishes: all new, the
trail agreeing, each pointer moved and recorded once.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings as django_settings

from console.models import AuditEvent
from promotion import curated, faults, services, tasks
from tests.promotion.conftest import CURATED_DB, REBATES, dataset
from tests.support.worker import ROOT, database_url_for_current_test_db

pytestmark = [CURATED_DB, pytest.mark.postgres_only, pytest.mark.worker, pytest.mark.catalogue(12)]

LOAD = "import django; django.setup(); from promotion import tasks; tasks.promotion_load({pk})"


def load_killed_at(point: str, request_pk: int) -> subprocess.CompletedProcess:
    """The load task's body in a fresh process against the test database and lake, set to die at `point`."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "console.settings",
           "DATABASE_URL": database_url_for_current_test_db(), "CONSOLE_VAR_DIR": str(django_settings.VAR_DIR),
           "LAKE_URL": str(django_settings.LAKE_URL), "PROMOTION_CRASH_AT": point}
    return subprocess.run([sys.executable, "-c", LOAD.format(pk=request_pk)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def pointer_keys(request) -> list[str]:
    """The dataset's key and its golden packets' keys: every pointer this promotion moves."""
    rebates = dataset(request.manifest, REBATES)
    cards = rebates.cards.exclude(golden_path="").order_by("pk")
    return [rebates.domo_id, *(curated.golden_key(card.domo_id) for card in cards)]


def live(connection, keys: list[str]) -> dict[str, int | None]:
    found = {key: curated.read_current(connection, key) for key in keys}
    return {key: current.version if current else None for key, current in found.items()}


def trail(keys: list[str]) -> dict[str, int | None]:
    """The version the audit trail last recorded for each pointer (None: it never recorded a move)."""
    said: dict[str, int | None] = dict.fromkeys(keys)
    for key, after in (AuditEvent.objects.filter(action="curated.pointer_moved", object_id__in=keys)
                       .order_by("seq").values_list("object_id", "after")):
        said[key] = after["version"]
    return said


def of_this_load(connection, key: str, version: int, load_id: str) -> bool:
    return next(v for v in curated.versions(connection, key) if v["version"] == version)["load_id"] == load_id


@pytest.mark.parametrize("point", faults.POINTS)
def test_a_load_killed_at_any_step_leaves_all_old_or_all_new_and_the_trail_says_what_is_live(
    point, approved_rebates, curated_db, no_enqueue, settings
):
    keys = pointer_keys(approved_rebates)
    assert len(keys) > 1  # a dataset and its golden packets
    load_id = approved_rebates.manifest.load_id

    killed = load_killed_at(point, approved_rebates.pk)

    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    approved_rebates.refresh_from_db()
    assert approved_rebates.state == "loading"  # its finish never ran
    after_kill = live(curated_db, keys)
    moved = point in ("curated.pointer_moved", "promotion.before_finish")
    if moved:  # all new
        assert all(version is not None and of_this_load(curated_db, key, version, load_id)
                   for key, version in after_kill.items()), after_kill
    else:  # all old (nothing was live before)
        assert set(after_kill.values()) == {None}
    if point == "curated.pointer_moved":
        assert set(trail(keys).values()) == {None}  # killed between the moves' commit and their audit rows

    services.curated_moves_audit(source="worker start-up")  # what a starting worker runs first

    assert trail(keys) == after_kill
    assert services.curated_trail_disagreements() == {}

    # The redelivered task finds the load's heartbeat stale, takes it over and finishes it.
    settings.PROMOTION_STALE_SECONDS = 1
    time.sleep(1.2)
    tasks.promotion_load(approved_rebates.pk)

    approved_rebates.refresh_from_db()
    assert approved_rebates.state == "promoted", approved_rebates.error
    assert approved_rebates.attempts == 2
    final = live(curated_db, keys)
    assert all(version is not None and of_this_load(curated_db, key, version, load_id) for key, version in final.items())
    assert trail(keys) == final
    assert services.curated_trail_disagreements() == {}
    moves = AuditEvent.objects.filter(action="curated.pointer_moved", object_id__in=keys)
    assert sorted(moves.values_list("object_id", flat=True)) == sorted(keys)  # each pointer moved, recorded once
    assert AuditEvent.objects.filter(action="promotion.promoted", object_id=str(approved_rebates.pk)).count() == 1


def test_a_starting_worker_records_the_moves_of_a_load_killed_before_their_audit_rows_then_finishes_it(
    no_enqueue, approved_rebates, curated_db
):
    """End to end with a real worker: the load dies right after its pointers' commit; a worker starting later
    records the moves in the trail before it takes work (worker_ready), then runs the load message the
    approval queued, which takes the dead load over and finishes it."""
    from tests.support.worker import Worker, wait_until

    keys = pointer_keys(approved_rebates)
    assert no_enqueue.sent() == [(approved_rebates.pk,)]  # the approval's load message, for the worker to come
    killed = load_killed_at("curated.pointer_moved", approved_rebates.pk)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    after_kill = live(curated_db, keys)
    assert None not in after_kill.values() and set(trail(keys).values()) == {None}

    worker = Worker(env={"PROMOTION_STALE_SECONDS": "1"}).start()
    try:
        wait_until(lambda: approved_rebates.__class__.objects.get(pk=approved_rebates.pk).is_final, timeout=90,
                   message="the worker to finish the dead load")
    finally:
        worker.stop()

    approved_rebates.refresh_from_db()
    assert approved_rebates.state == "promoted", (approved_rebates.error, worker.output()[-3000:])
    assert trail(keys) == live(curated_db, keys) == after_kill
    recorded_by = set(AuditEvent.objects.filter(action="curated.pointer_moved", object_id__in=keys)
                      .values_list("after__recorded_by", flat=True))
    assert recorded_by == {"worker start-up"}
    assert services.curated_trail_disagreements() == {}
