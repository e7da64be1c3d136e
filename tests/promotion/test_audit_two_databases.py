"""The curated store is another database than the audit trail: no transaction spans both. A load's versions
are written invisible and its pointers moved on the curated side first; the request's end and its audit event
commit together on the console's side after. When that event cannot be written, the request is not recorded
promoted, and the sweeper's event names the versions that went live and the stage the load reached."""
from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection

from console.models import AuditEvent
from promotion import curated, services, tasks
from tests.promotion.conftest import CLAIMS, CURATED_DB, approve, checked, dataset, disposition_all

pytestmark = [CURATED_DB, pytest.mark.catalogue(22), pytest.mark.postgres_only]


@contextlib.contextmanager
def audit_refuses(action: str):
    """The console database refuses to insert events with this action (a trigger, dropped after)."""
    with connection.cursor() as cursor:
        cursor.execute("""
            CREATE FUNCTION test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'the audit store refuses %', NEW.action; END; $$""")
        cursor.execute(f"""
            CREATE TRIGGER test_refuse_audit BEFORE INSERT ON console_auditevent FOR EACH ROW
            WHEN (NEW.action = '{action}') EXECUTE FUNCTION test_refuse_audit()""")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER test_refuse_audit ON console_auditevent")
            cursor.execute("DROP FUNCTION test_refuse_audit()")


def test_a_load_whose_audit_fails_is_not_recorded_promoted_and_the_sweep_names_what_went_live(
    manifest, olivia, arthur, curated_db, no_enqueue
):
    chosen = dataset(manifest, CLAIMS)
    disposition_all(olivia, manifest, [chosen])
    request = checked(services.promotion_request(actor=olivia, manifest=manifest, datasets=[chosen], enqueue=False))
    approve(request, arthur)

    with audit_refuses("promotion.promoted"), pytest.raises(DatabaseError, match="the audit store refuses"):
        tasks.promotion_load(request.pk)

    request.refresh_from_db()
    assert request.state == "loading"  # the end and its event rolled back together
    assert not AuditEvent.objects.filter(action="promotion.promoted").exists()
    live = curated.read_current(curated_db, chosen.domo_id)  # the curated side committed on its own
    assert live is not None

    assert services.promotion_sweep_stale(older_than=timedelta(microseconds=1)) == [request.pk]

    event = AuditEvent.objects.get(action="promotion.load_failed", object_id=str(request.pk))
    assert event.after["stage"] == "promoted"
    assert event.after["datasets"][chosen.domo_id]["version"] == live.version
