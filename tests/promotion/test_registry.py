"""The curated registry as operators read it: each dataset's current version with its load id, manifest,
requester, approver, rows, checksum and time, and the rollback that made a version current again."""
from __future__ import annotations

import datetime as dt

from console import clock
from promotion import curated, selectors, services, tasks
from tests.promotion.conftest import CURATED_DB, REBATES, approve, checked, dataset, promoted, second_manifest

pytestmark = CURATED_DB


def test_the_registry_is_empty_before_any_load(db, curated_db):
    assert selectors.registry_current() == []
    assert selectors.registry_versions("nothing-here") == []


def test_after_a_load_the_registry_shows_the_current_version_and_who_put_it_there(
    manifest, olivia, arthur, curated_db, no_enqueue
):
    request = promoted(manifest, REBATES, olivia, arthur)
    key = dataset(manifest, REBATES).domo_id

    rows = {row.dataset_key: row for row in selectors.registry_current()}

    row = rows[key]
    registered = curated.versions(curated_db, key)[0]
    assert (row.version, row.state, row.kind) == (1, "current", "dataset")
    assert (row.load_id, row.manifest) == (manifest.load_id, manifest)
    assert row.request == request and row.requested_by == olivia and row.approved_by == arthur
    assert row.rows == dataset(manifest, REBATES).silver_rows == registered["rows"]
    assert row.checksum == registered["checksum"] and len(row.checksum) > 0
    assert row.loaded_at is not None and row.loaded_at.tzinfo is not None
    assert row.rollback is None and not row.is_golden
    golden = [r for r in rows.values() if r.is_golden]
    assert golden and all(r.request == request and r.manifest == manifest for r in golden)


def test_the_curated_store_stamps_its_load_and_its_pointer_moves_with_the_consoles_clock(
    manifest, olivia, arthur, curated_db, no_enqueue
):
    at = dt.datetime(2031, 3, 4, 5, 6, 7, tzinfo=dt.UTC)  # years from the wall clock: a stamp from it would show
    with clock.frozen(at):
        request = promoted(manifest, REBATES, olivia, arthur)
    key = dataset(manifest, REBATES).domo_id

    [row] = [r for r in selectors.registry_current() if r.dataset_key == key]
    assert row.request == request and row.loaded_at == at
    moves = curated.pointer_moves(curated_db, dataset_key=key)
    assert moves and all((_when(m["moved_at"]), _when(m["audited_at"])) == (at, at) for m in moves), moves


def _when(value) -> dt.datetime:
    """A stored time as an aware UTC datetime (SQLite keeps ISO text, PostgreSQL may hand back a naive UTC one)."""
    value = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def test_every_version_of_a_dataset_names_its_own_manifest_and_request(
    manifest, tmp_path, olivia, arthur, curated_db, no_enqueue
):
    first = promoted(manifest, REBATES, olivia, arthur)
    later = second_manifest(tmp_path)
    second = promoted(later, REBATES, olivia, arthur)
    key = dataset(manifest, REBATES).domo_id

    versions = selectors.registry_versions(key)

    assert [(v.version, v.state, v.manifest, v.request) for v in versions] == [
        (2, "current", later, second), (1, "superseded", manifest, first)
    ]


def test_a_version_made_current_again_by_a_rollback_names_the_rollback_and_the_original(
    manifest, tmp_path, olivia, arthur, curated_db, no_enqueue
):
    first = promoted(manifest, REBATES, olivia, arthur)
    promoted(second_manifest(tmp_path), REBATES, olivia, arthur)
    key = dataset(manifest, REBATES).domo_id
    rollback = checked(services.promotion_rollback_request(actor=olivia, dataset_key=key, version=1, enqueue=False))
    approve(rollback, arthur)
    tasks.promotion_load(rollback.pk)

    row = next(r for r in selectors.registry_current() if r.dataset_key == key)

    assert (row.version, row.request, row.rollback) == (1, first, rollback)
    assert row.rolled_back_by == olivia and row.rollback_approved_by == arthur
    golden = [r for r in selectors.registry_current() if r.is_golden]
    assert golden and all(r.version == 1 and r.rollback == rollback for r in golden)
    assert selectors.registry_versions(key)[0].rollback is None  # v2, superseded, was not rolled back to


def test_a_version_a_later_promotion_made_current_again_names_no_rollback(
    manifest, tmp_path, olivia, arthur, curated_db, no_enqueue
):
    """v1 made current by a rollback, then v2 by a promotion (reusing its verified table), then v1 again by a
    promotion of its own load id and manifest: what made v1 current is that promotion, not the rollback."""
    promoted(manifest, REBATES, olivia, arthur)
    later = second_manifest(tmp_path)
    promoted(later, REBATES, olivia, arthur)
    key = dataset(manifest, REBATES).domo_id
    rollback = checked(services.promotion_rollback_request(actor=olivia, dataset_key=key, version=1, enqueue=False))
    approve(rollback, arthur)
    tasks.promotion_load(rollback.pk)
    assert next(r for r in selectors.registry_current() if r.dataset_key == key).rollback == rollback

    again_v2 = promoted(later, REBATES, olivia, arthur)
    again_v1 = promoted(manifest, REBATES, olivia, arthur)
    assert again_v2.load_progress["datasets"][key] == {"version": 2, "rows": again_v2.load_progress["datasets"][key]["rows"],
                                                       "reused": True}
    assert again_v1.load_progress["datasets"][key]["version"] == 1

    current = {r.dataset_key: r for r in selectors.registry_current()}
    assert (current[key].version, current[key].request, current[key].rollback) == (1, again_v1, None)
    assert current[key].rolled_back_by is None
    golden = [r for r in current.values() if r.is_golden]
    assert golden and all(r.version == 1 and r.rollback is None for r in golden)
    assert [(v.version, v.rollback) for v in selectors.registry_versions(key)] == [(2, None), (1, None)]


def test_a_rollback_after_the_promotion_that_reused_its_version_is_named_again(
    manifest, tmp_path, olivia, arthur, curated_db, no_enqueue
):
    """The latest event wins either way: a promotion back to v1, then v2 promoted, then a rollback to v1."""
    promoted(manifest, REBATES, olivia, arthur)
    later = second_manifest(tmp_path)
    promoted(later, REBATES, olivia, arthur)
    key = dataset(manifest, REBATES).domo_id
    promoted(manifest, REBATES, olivia, arthur)  # v1 current again, by a promotion
    promoted(later, REBATES, olivia, arthur)  # v2 current
    rollback = checked(services.promotion_rollback_request(actor=olivia, dataset_key=key, version=1, enqueue=False))
    approve(rollback, arthur)
    tasks.promotion_load(rollback.pk)
    rollback.refresh_from_db()
    assert rollback.state == "promoted", rollback.error

    row = next(r for r in selectors.registry_current() if r.dataset_key == key)
    assert (row.version, row.rollback) == (1, rollback)
