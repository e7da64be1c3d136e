"""Rollback: pointing a curated dataset back at an earlier version is a request of its own kind, through
gates (manifest_complete, rollback_target), a second person's approval and the load guard; the load
task then moves the pointers back, audited."""
from __future__ import annotations

import time

import pytest

from console.models import AuditEvent
from promotion import curated, services, tasks
from promotion.models import PromotionRequest
from tests.promotion.conftest import (
    CURATED_DB, REBATES, approve, checked, dataset, promoted, second_manifest,
)

pytestmark = CURATED_DB


def table_rows(connection, key: str) -> int:
    current = curated.read_current(connection, key)
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{current.table}"')
        return cursor.fetchone()[0]


@pytest.fixture
def two_versions(manifest, tmp_path, olivia, arthur, curated_db, no_enqueue, states):
    """The rebate invoices promoted twice: v1 from `manifest`, then v2 (current) from a later export
    (built once per process, then restored: tests/support/states.py)."""

    def build():
        first = promoted(manifest, REBATES, olivia, arthur)
        later = second_manifest(tmp_path)
        second = promoted(later, REBATES, olivia, arthur)
        key = dataset(manifest, REBATES).domo_id
        assert dataset(later, REBATES).domo_id == key
        return key, first, second

    key, first, second = states.get("rebates promoted twice (load task in-process)", build)
    assert curated.read_current(curated_db, key).version == 2
    return key, first, second


def rollback(actor, key: str, version: int = 1) -> PromotionRequest:
    return services.promotion_rollback_request(actor=actor, dataset_key=key, version=version, enqueue=False)


def refusals():
    return AuditEvent.objects.filter(action="promotion.refused", after__attempt="rollback")


def test_a_rollback_request_names_the_target_its_manifest_and_the_version_it_saw(two_versions, olivia):
    key, first, _ = two_versions

    request = rollback(olivia, key)

    assert request.kind == "rollback" and request.state == "checking"
    assert (request.rollback_key, request.rollback_version, request.rollback_from_version) == (key, 1, 2)
    assert request.manifest == first.manifest
    assert list(request.datasets.values_list("domo_id", flat=True)) == [key]
    assert str(request) == f"rollback #{request.pk} of {key} to v1"
    event = AuditEvent.objects.get(action="promotion.requested", object_id=str(request.pk))
    assert event.after["kind"] == "rollback" and event.after["original_request"] == first.pk


def test_the_rollback_gates_pass_for_an_earlier_verified_version(two_versions, olivia):
    key, _, _ = two_versions

    request = checked(rollback(olivia, key))

    assert request.state == "ready"
    results = {r.gate: r for r in request.gate_results.filter(current=True)}
    assert set(results) == {"manifest_complete", "rollback_target"}
    assert {r.outcome for r in results.values()} == {"passed"}


@pytest.mark.catalogue(15, 50)
def test_an_approved_rollback_moves_the_pointer_back_and_readers_see_the_old_version(
    two_versions, olivia, arthur, curated_db
):
    key, first, _ = two_versions
    request = checked(rollback(olivia, key))

    approved_at = time.monotonic()
    approve(request, arthur)
    tasks.promotion_load(request.pk)

    request.refresh_from_db()
    assert request.state == "promoted", request.error
    assert curated.read_current(curated_db, key).version == 1
    assert time.monotonic() - approved_at < 60  # readers see v1 within a minute of the approval
    assert {v["version"]: v["state"] for v in curated.versions(curated_db, key)} == {1: "current", 2: "superseded"}
    assert table_rows(curated_db, key) == dataset(first.manifest, REBATES).silver_rows
    assert request.load_progress["datasets"][key] == {"version": 1, "from": 2}


def test_the_golden_packets_follow_their_dataset_back(two_versions, olivia, arthur, curated_db):
    key, first, _ = two_versions
    cards = list(dataset(first.manifest, REBATES).cards.exclude(golden_path=""))
    assert cards
    request = checked(rollback(olivia, key))
    approve(request, arthur)

    tasks.promotion_load(request.pk)

    for card in cards:
        golden = curated.golden_key(card.domo_id)
        current = curated.read_current(curated_db, golden)
        loaded = [v for v in curated.versions(curated_db, golden) if v["load_id"] == first.manifest.load_id]
        assert current.version == loaded[0]["version"] == 1, golden


def test_a_card_that_also_reads_another_dataset_keeps_its_golden_packet_and_says_why(
    two_versions, olivia, arthur, curated_db
):
    """The packet is Domo's output over all of a card's datasets: while the card's other dataset is not
    current at a version of the rollback's load, the packet stays, the gate passes with a note, and the
    audit of the rollback names it."""
    key, first, _ = two_versions
    card = dataset(first.manifest, REBATES).cards.exclude(golden_path="").order_by("pk").first()
    card.datasets.add(dataset(first.manifest))  # the claims: never promoted
    golden = curated.golden_key(card.domo_id)
    request = checked(rollback(olivia, key))

    gate = request.gate_results.get(current=True, gate="rollback_target")
    assert (request.state, gate.outcome) == ("ready", "passed")
    [note] = [d for d in gate.details if d.get("note")]
    assert f"card {card.domo_id} stays at v2" in note["what"] and "'PBM Claims 2025'" in note["what"]

    approve(request, arthur)
    tasks.promotion_load(request.pk)

    assert curated.read_current(curated_db, key).version == 1
    assert curated.read_current(curated_db, golden).version == 2
    event = AuditEvent.objects.get(action="promotion.rolled_back", object_id=str(request.pk))
    assert golden not in event.after["golden"] and "stays at v2" in event.after["golden_kept"][golden]


@pytest.mark.catalogue(15)
def test_the_audit_trail_holds_the_rollback_from_request_to_pointer_move(two_versions, olivia, arthur):
    key, _, _ = two_versions
    request = checked(rollback(olivia, key))
    approve(request, arthur)
    tasks.promotion_load(request.pk)

    actions = list(
        AuditEvent.objects.filter(object_type="promotion.promotionrequest", object_id=str(request.pk))
        .order_by("seq").values_list("action", flat=True)
    )
    assert actions == [
        "promotion.requested", "promotion.checked", "promotion.approved", "promotion.load_started",
        "promotion.rolled_back",
    ]
    moved = AuditEvent.objects.get(action="promotion.rolled_back")
    assert (moved.before["version"], moved.after["version"], moved.after["dataset_key"]) == (2, 1, key)


@pytest.mark.catalogue(15)
def test_the_requester_cannot_approve_their_own_rollback(two_versions, olivia):
    key, _, _ = two_versions
    from django.contrib.auth.models import Group

    from console import roles

    olivia.groups.add(Group.objects.get(name=roles.APPROVER))
    olivia = type(olivia).objects.get(pk=olivia.pk)
    request = checked(rollback(olivia, key))

    with pytest.raises(services.PromotionRefused, match="own request"):
        services.promotion_approve(actor=olivia, request=request, comment="mine, fine")

    request.refresh_from_db()
    assert request.state == "ready" and request.approved_by is None


@pytest.mark.parametrize("version, reason", [(2, "not earlier"), (3, "no version 3"), (0, "not a version")])
def test_a_rollback_to_a_version_that_is_not_earlier_or_unknown_is_refused_and_audited(
    two_versions, olivia, version, reason
):
    key, _, _ = two_versions

    with pytest.raises(services.PromotionRefused, match=reason):
        rollback(olivia, key, version)

    assert not PromotionRequest.objects.filter(kind="rollback").exists()
    refused = refusals().get()
    assert refused.actor == olivia and refused.object_id == key and reason in refused.after["reason"]


def test_a_golden_packet_is_not_rolled_back_on_its_own(two_versions, olivia, curated_db):
    key, first, _ = two_versions
    card = dataset(first.manifest, REBATES).cards.exclude(golden_path="").first()

    with pytest.raises(services.PromotionRefused, match="follow their datasets"):
        rollback(olivia, curated.golden_key(card.domo_id))
    assert refusals().count() == 1


def test_requesting_a_rollback_needs_the_request_permission(two_versions, oscar):
    key, _, _ = two_versions
    with pytest.raises(services.PromotionRefused, match="request_promotion"):
        rollback(oscar, key)
    assert refusals().get().actor == oscar


def test_an_approval_goes_stale_when_the_pointer_moves_after_the_check(two_versions, olivia, arthur, curated_db):
    key, _, _ = two_versions
    request = checked(rollback(olivia, key))
    curated.rollback_to(connection=curated_db, dataset_key=key, version=1)  # someone else moved it meanwhile

    with pytest.raises(services.PromotionRefused, match="rollback_target"):
        approve(request, arthur)

    request.refresh_from_db()
    assert request.state == "ready"
    assert AuditEvent.objects.filter(action="promotion.refused", after__attempt="approve").exists()


def test_a_pointer_moved_after_approval_stops_the_load(two_versions, olivia, arthur, curated_db):
    key, _, _ = two_versions
    request = approve(checked(rollback(olivia, key)), arthur)
    curated.rollback_to(connection=curated_db, dataset_key=key, version=1)  # someone else moved it meanwhile

    tasks.promotion_load(request.pk)

    request.refresh_from_db()
    assert request.state == "approved"
    refused = AuditEvent.objects.get(action="promotion.refused", after__attempt="load", object_id=str(request.pk))
    assert "rollback_target" in refused.after["reason"]


def test_a_crafted_load_message_for_an_unapproved_rollback_moves_nothing(two_versions, olivia, curated_db):
    key, _, _ = two_versions
    request = checked(rollback(olivia, key))

    tasks.promotion_load(request.pk)

    request.refresh_from_db()
    assert request.state == "ready"
    assert curated.read_current(curated_db, key).version == 2
    assert AuditEvent.objects.filter(action="promotion.refused", after__attempt="load",
                                     object_id=str(request.pk)).exists()


def test_a_version_whose_table_changed_fails_the_rollback_gate(two_versions, olivia, curated_db):
    key, _, _ = two_versions
    old = next(v for v in curated.versions(curated_db, key) if v["version"] == 1)
    with curated_db.cursor() as cursor:
        cursor.execute(f'DELETE FROM "{old["table_name"]}" WHERE "_row" = 0')

    request = checked(rollback(olivia, key))

    assert request.state == "blocked"
    gate = request.gate_results.get(current=True, gate="rollback_target")
    assert gate.outcome == "failed" and "re-verifies" in gate.details[0]["what"]
    assert gate.details[0]["link"].endswith(f"/curated/{key}/")


def test_a_table_changed_after_the_check_fails_the_rollback_load_and_stays_failed(
    two_versions, olivia, arthur, curated_db
):
    """Approval and the load guard re-run the gates without scanning whole tables (an approver does
    not wait for them); the load verifies every target before any pointer moves, and the version it
    finds changed is failed for good in the registry."""
    key, _, _ = two_versions
    request = checked(rollback(olivia, key))
    old = next(v for v in curated.versions(curated_db, key) if v["version"] == 1)
    with curated_db.cursor() as cursor:
        cursor.execute(f'DELETE FROM "{old["table_name"]}" WHERE "_row" = 0')

    approve(request, arthur)
    tasks.promotion_load(request.pk)

    request.refresh_from_db()
    assert request.state == "failed" and "checksum" in request.error
    assert curated.read_current(curated_db, key).version == 2
    assert {v["version"]: v["state"] for v in curated.versions(curated_db, key)}[1] == curated.State.FAILED
    assert AuditEvent.objects.filter(action="promotion.load_failed", object_id=str(request.pk)).exists()


def test_the_admin_shows_a_rollback_read_only_and_approves_it_through_the_service(
    two_versions, olivia, arthur, client
):
    from django.contrib.auth.models import Permission

    key, _, _ = two_versions
    request = checked(rollback(olivia, key))
    arthur.is_staff = True
    arthur.save()
    arthur.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_promotionrequest", "change_promotionrequest"])
    )
    client.force_login(arthur)
    url = f"/admin/promotion/promotionrequest/{request.pk}/change/"

    page = client.get(url).content.decode()
    assert "Rollback" in page and key in page and 'name="rollback_version"' not in page

    client.post(url, {"decision": "approve", "comment": "v2 double counts rebates", "rollback_version": "2"})

    request.refresh_from_db()
    assert request.state == "approved" and request.approved_by == arthur and request.rollback_version == 1
    assert AuditEvent.objects.get(action="promotion.approved", object_id=str(request.pk)).actor == arthur
