"""Promotion requests: who may ask, which manifests, the states, and the load guard on every path."""
from __future__ import annotations

import pytest

from console.models import AuditEvent
from promotion import services, tasks
from promotion.models import IllegalTransition, PromotionRequest
from tests.promotion.conftest import (
    CONTRACT_TERMS, CURATED_DB, REBATES, approve, checked, dataset, disposition_all, forced,
)


def refusals(attempt: str):
    return AuditEvent.objects.filter(action="promotion.refused", after__attempt=attempt)


# --- requesting ----------------------------------------------------------------------------------


def test_operator_requests_a_promotion_and_the_gates_are_enqueued_after_commit(
    manifest, olivia, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        request = services.promotion_request(actor=olivia, manifest=manifest, datasets=[dataset(manifest)])
    request.refresh_from_db()
    assert request.state == "checking"
    assert request.target == "migration"
    assert request.requested_by == olivia
    assert len(callbacks) == 1
    event = AuditEvent.objects.get(action="promotion.requested", object_id=str(request.pk))
    assert event.actor == olivia and event.after["datasets"] == [dataset(manifest).domo_id]


def test_a_partial_manifest_is_refused_at_request_time(partial_manifest, olivia):
    with pytest.raises(services.PromotionRefused, match="partial"):
        services.promotion_request(actor=olivia, manifest=partial_manifest, datasets=[dataset(partial_manifest)])
    assert not PromotionRequest.objects.exists()
    assert refusals("request").get().object_id == str(partial_manifest.pk)


def test_an_invalid_manifest_is_refused_at_request_time(invalid_manifest, olivia):
    with pytest.raises(services.PromotionRefused, match="invalid"):
        services.promotion_request(actor=olivia, manifest=invalid_manifest, datasets=list(invalid_manifest.datasets.all()))
    assert not PromotionRequest.objects.exists()
    assert refusals("request").count() == 1


def test_a_contract_target_needs_its_own_permission(manifest, olivia, adam):
    with pytest.raises(services.PromotionRefused, match="contract"):
        services.promotion_request(actor=olivia, manifest=manifest, datasets=[dataset(manifest)], target="contract")
    request = services.promotion_request(actor=adam, manifest=manifest, datasets=[dataset(manifest)], target="contract")
    assert request.target == "contract"


@pytest.mark.parametrize("persona", ["oscar", "arthur", "cecilia", "audrey"])
def test_only_requesters_may_request(manifest, persona, request):
    actor = request.getfixturevalue(persona)
    with pytest.raises(services.PromotionRefused):
        services.promotion_request(actor=actor, manifest=manifest, datasets=[dataset(manifest)])
    assert refusals("request").get().actor == actor


def test_datasets_of_another_manifest_are_refused(manifest, partial_manifest, olivia):
    with pytest.raises(services.PromotionRefused, match="do not belong"):
        services.promotion_request(actor=olivia, manifest=manifest, datasets=[dataset(partial_manifest)])


def test_a_request_needs_a_dataset(manifest, olivia):
    with pytest.raises(services.PromotionRefused, match="at least one"):
        services.promotion_request(actor=olivia, manifest=manifest, datasets=[])


# --- checking ------------------------------------------------------------------------------------


def test_the_check_blocks_a_request_with_undispositioned_flaws(manifest, olivia):
    request = checked(services.promotion_request(actor=olivia, manifest=manifest, datasets=[dataset(manifest)]))
    assert request.state == "blocked"
    failed = request.gate_results.get(current=True, outcome="failed")
    assert failed.gate == "calculation_flaws_dispositioned"


def test_the_check_task_runs_the_gates_of_a_checking_request(manifest, olivia):
    terms = dataset(manifest, CONTRACT_TERMS)
    request = services.promotion_request(actor=olivia, manifest=manifest, datasets=[terms])
    tasks.promotion_check_task(request.pk)
    request.refresh_from_db()
    assert request.state == "blocked" and request.checked_at is not None
    assert request.gate_results.filter(current=True).count() == 6


def test_the_check_leaves_a_request_that_is_no_longer_checking(ready_request):
    assert services.promotion_check(request_id=ready_request.pk) is None
    assert ready_request.gate_results.count() == 6


def test_a_recheck_replaces_the_current_results(ready_request, olivia):
    services.promotion_recheck(actor=olivia, request=ready_request, enqueue=False)
    request = checked(ready_request)
    assert request.state == "ready"
    assert request.gate_results.count() == 12
    assert request.gate_results.filter(current=True).count() == 6
    assert AuditEvent.objects.filter(action="promotion.recheck_requested").count() == 1


# --- states --------------------------------------------------------------------------------------


def test_state_methods_refuse_illegal_source_states(ready_request):
    with pytest.raises(IllegalTransition):
        ready_request.finish_check(passed=True)
    with pytest.raises(IllegalTransition):
        ready_request.finish_load()
    ready_request.refresh_from_db()
    assert ready_request.state == "ready"


def test_the_requester_cancels_and_it_is_audited(ready_request, olivia):
    services.promotion_cancel(actor=olivia, request=ready_request, reason="wrong datasets")
    assert ready_request.state == "cancelled" and ready_request.cancelled_by == olivia
    assert AuditEvent.objects.get(action="promotion.cancelled").after["reason"] == "wrong datasets"
    with pytest.raises(services.PromotionRefused):
        services.promotion_cancel(actor=olivia, request=ready_request, reason="again")


def test_a_cancellation_without_a_reason_is_refused_and_audited(ready_request, olivia):
    with pytest.raises(services.PromotionRefused, match="a cancellation needs a reason"):
        services.promotion_cancel(actor=olivia, request=ready_request, reason="   ")
    ready_request.refresh_from_db()
    assert ready_request.state == "ready" and ready_request.cancelled_by is None
    assert refusals("cancel").get().actor == olivia


def test_an_outsider_cannot_cancel(ready_request, oscar):
    with pytest.raises(services.PromotionRefused):
        services.promotion_cancel(actor=oscar, request=ready_request, reason="mine now")
    assert refusals("cancel").get().actor == oscar


# --- the load guard, on every path ----------------------------------------------------------------


def test_assert_loadable_refuses_a_partial_manifest_forced_into_approved(partial_manifest, olivia, arthur):
    request = forced(partial_manifest, requested_by=olivia, approved_by=arthur)
    with pytest.raises(services.PromotionRefused, match="partial"):
        services.promotion_assert_loadable(request)
    event = refusals("load").get()
    assert event.object_id == str(request.pk) and "partial" in event.after["reason"]


def test_a_crafted_load_message_for_a_partial_manifest_is_refused_and_audited(partial_manifest, olivia, arthur):
    request = forced(partial_manifest, requested_by=olivia, approved_by=arthur)
    tasks.promotion_load(request.pk)  # what a worker would run for a hand-written message
    assert not AuditEvent.objects.filter(action="promotion.load_started").exists()  # nothing was claimed
    event = refusals("load").get()
    assert event.actor_label.startswith("system:task:")
    assert event.after["manifest_status"] == "partial"
    request.refresh_from_db()
    assert (request.state, request.attempts, request.load_started_at) == ("approved", 0, None)


def test_a_crafted_load_message_for_an_invalid_manifest_is_refused_and_audited(invalid_manifest, olivia, arthur):
    request = forced(invalid_manifest, requested_by=olivia, approved_by=arthur,
                     datasets=list(invalid_manifest.datasets.all()))
    tasks.promotion_load(request.pk)
    assert "invalid" in refusals("load").get().after["reason"]


def test_assert_loadable_refuses_a_request_that_is_not_approved(ready_request):
    with pytest.raises(services.PromotionRefused, match="not approved"):
        services.promotion_assert_loadable(ready_request)
    assert refusals("load").count() == 1


def test_assert_loadable_refuses_an_approval_forged_in_the_database(manifest, olivia, arthur):
    request = forced(manifest, requested_by=olivia, approved_by=arthur)
    with pytest.raises(services.PromotionRefused):
        services.promotion_assert_loadable(request)


def test_the_load_task_stops_at_the_guard_and_claims_nothing(manifest, olivia, arthur):
    """An approval forged in the database never reaches the load: the guard refuses it (audited), nothing is
    claimed. (Past the guard, the task claims and loads: tests/promotion/test_load.py runs it end to end.)"""
    request = forced(manifest, requested_by=olivia, approved_by=arthur)
    tasks.promotion_load(request.pk)
    request.refresh_from_db()
    assert (request.state, request.attempts, request.load_started_at) == ("approved", 0, None)
    assert refusals("load").count() == 1
    assert not AuditEvent.objects.filter(action="promotion.load_started").exists()


def test_a_load_claims_an_approved_request_once(ready_request, arthur):
    services.promotion_approve(actor=arthur, request=ready_request, comment="ok")
    loading = services.promotion_load_start(request=ready_request)
    assert loading.state == "loading" and loading.load_started_at is not None
    with pytest.raises(services.PromotionRefused):
        services.promotion_load_start(request=ready_request)
    promoted = services.promotion_load_finish(request=loading)
    assert promoted.state == "promoted"
    events = AuditEvent.objects.filter(object_id=str(ready_request.pk)).order_by("seq")
    actions = list(events.values_list("action", flat=True))
    assert actions[-3:] == ["promotion.load_started", "promotion.refused", "promotion.promoted"]


def test_a_failed_load_records_its_error(ready_request, arthur):
    services.promotion_approve(actor=arthur, request=ready_request, comment="ok")
    loading = services.promotion_load_start(request=ready_request)
    failed = services.promotion_load_finish(request=loading, error="checksum mismatch")
    assert failed.state == "failed" and failed.error == "checksum mismatch"
    assert AuditEvent.objects.get(action="promotion.load_failed").after["error"] == "checksum mismatch"


def test_a_load_start_for_a_partial_manifest_is_refused(partial_manifest, olivia, arthur):
    request = forced(partial_manifest, requested_by=olivia, approved_by=arthur)
    with pytest.raises(services.PromotionRefused, match="partial"):
        services.promotion_load_start(request=request)
    request.refresh_from_db()
    assert request.state == "approved"


# --- the audit trail of a load ---------------------------------------------------------------------


@CURATED_DB
@pytest.mark.postgres_only  # the dataset's load lock is a PostgreSQL advisory lock
def test_every_step_of_a_load_interrupted_then_resumed_is_audited(manifest, olivia, arthur, curated_db, no_enqueue):
    import psycopg
    from django.db import connections

    rebates = dataset(manifest, REBATES)
    disposition_all(olivia, manifest, [rebates])
    request = checked(services.promotion_request(actor=olivia, manifest=manifest, datasets=[rebates], enqueue=False))
    approve(request, arthur)
    settings = connections["curated"].settings_dict
    with psycopg.connect(dbname=settings["NAME"], host=settings["HOST"], port=settings["PORT"] or 5432,
                         user=settings["USER"], password=settings.get("PASSWORD") or None, autocommit=True) as other:
        # Another session holds the dataset's load lock: a transient error for our load.
        other.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (f"curated:{rebates.domo_id}",))
        with pytest.raises(services.LoadInterrupted) as interrupted:
            services.load_requested_datasets(request=request)
    request.refresh_from_db()
    services.load_requested_datasets(request=request, resume_attempt=interrupted.value.attempt)

    actions = list(
        AuditEvent.objects.filter(object_type="promotion.promotionrequest", object_id=str(request.pk))
        .order_by("seq").values_list("action", flat=True)
    )
    assert actions == [
        "promotion.requested", "promotion.checked", "promotion.approved", "promotion.load_started",
        "promotion.load_interrupted", "promotion.load_resumed", "promotion.promoted",
    ]
    interrupted_event = AuditEvent.objects.get(action="promotion.load_interrupted")
    assert interrupted_event.after["attempt"] == 1 and interrupted_event.after["reason"].startswith("LoadBusy")
