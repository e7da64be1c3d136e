"""The demo's claims promotion (run_console, evidence.samples.demo_claims) in-process on the configured database:
the sample claims are requested by the demo operator, checked, approved by the demo approver and loaded; a second
call changes nothing; a request an interrupted start left half-way is carried on, never requested twice."""
from __future__ import annotations

from django.contrib.auth import get_user_model

from console.models import AuditEvent
from console.services import demo_users_create
from evidence.samples.demo_claims import CLAIMS, demo_claims_promote
from promotion import curated, services
from promotion.models import PromotionRequest
from tests.promotion.conftest import CURATED_DB, dataset, disposition_all


@CURATED_DB
def test_the_demo_promotes_the_sample_claims_once_as_the_demo_users(manifest, curated_db, broker):
    demo_users_create()
    first = demo_claims_promote(load_id=manifest.load_id)

    claims = dataset(manifest, CLAIMS)
    assert (first.outcome, first.version, first.rows) == ("promoted", 1, claims.silver_rows)
    assert first.dispositioned > 0
    request = PromotionRequest.objects.get()
    assert (request.state, request.target) == ("promoted", "contract")
    assert (request.requested_by.username, request.approved_by.username) == ("adam.admin", "arthur.approver")
    assert curated.read_current(curated_db, claims.domo_id).version == 1
    assert AuditEvent.objects.filter(action="promotion.approved", object_id=str(request.pk)).count() == 1

    events = AuditEvent.objects.count()
    again = demo_claims_promote(load_id=manifest.load_id)
    assert (again.outcome, again.request_id, again.version) == ("unchanged", None, 1)
    assert PromotionRequest.objects.count() == 1 and AuditEvent.objects.count() == events
    assert again.line() == (f"Sample claims: {CLAIMS} already current from this export; curated version 1 "
                            f"({claims.silver_rows} rows)")


@CURATED_DB
def test_a_request_left_half_way_is_carried_on(manifest, curated_db, broker):
    users = {user.role: user.username for user in demo_users_create()}
    operator = get_user_model().objects.get(username=users["admin"])
    claims = dataset(manifest, CLAIMS)
    disposition_all(operator, manifest, [claims])
    left = services.promotion_request(actor=operator, manifest=manifest, datasets=[claims], target="contract",
                                      enqueue=False)

    done = demo_claims_promote(load_id=manifest.load_id)

    assert (done.outcome, done.request_id, done.dispositioned) == ("promoted", left.pk, 0)
    assert PromotionRequest.objects.count() == 1
