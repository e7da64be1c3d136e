"""The promotion's bulk writes leave as many audited rows as rows changed: a re-check's QuerySet.update and
bulk_create of gate results, and a load's raw SQL into the curated store."""
from __future__ import annotations

import pytest

from console.models import AuditEvent
from promotion import curated, services
from promotion.models import GateResult
from tests.promotion.conftest import CLAIMS, CURATED_DB, checked, dataset, promoted

pytestmark = [pytest.mark.catalogue(18)]


def test_a_recheck_audits_every_gate_result_it_supersedes_and_creates(ready_request, olivia):
    first = set(GateResult.objects.filter(request=ready_request, current=True).values_list("pk", flat=True))
    assert first

    services.promotion_recheck(actor=olivia, request=ready_request, enqueue=False)
    checked(ready_request)

    event = AuditEvent.objects.filter(action="promotion.checked", object_id=str(ready_request.pk)).latest("seq")
    now_current = set(GateResult.objects.filter(request=ready_request, current=True).values_list("pk", flat=True))
    assert set(event.after["superseded"]) == first  # QuerySet.update: each row it changed, listed
    assert not GateResult.objects.filter(pk__in=first, current=True).exists()
    assert {gate["id"] for gate in event.after["gates"].values()} == now_current  # bulk_create: each row created
    assert len(now_current) == len(event.after["gates"]) and now_current.isdisjoint(first)


@CURATED_DB
def test_a_load_audits_the_rows_its_raw_sql_wrote_to_the_curated_store(
    manifest, olivia, arthur, curated_db, no_enqueue
):
    request = promoted(manifest, CLAIMS, olivia, arthur)

    event = AuditEvent.objects.get(action="promotion.promoted", object_id=str(request.pk))
    key = dataset(manifest, CLAIMS).domo_id
    loaded = event.after["datasets"][key]
    [version] = [v for v in curated.versions(curated_db, key) if v["version"] == loaded["version"]]
    with curated_db.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{version["table_name"]}"')
        (rows,) = cursor.fetchone()
    assert loaded["rows"] == rows == version["rows"] > 0
    assert curated.read_current(curated_db, key).version == loaded["version"]  # the version the event names is live
