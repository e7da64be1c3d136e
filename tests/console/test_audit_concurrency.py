"""Concurrent appends leave one unbroken chain: no fork, no gap."""

import threading
from itertools import pairwise

from django.db import connections

from console.audit import audit_record, audit_verify_chain
from console.models import AuditEvent
from tests.console.conftest import postgresql_only

WRITERS = 8
EVENTS_EACH = 25


def append_many(writer: int, start: threading.Barrier, errors: list) -> None:
    try:
        start.wait()
        for index in range(EVENTS_EACH):
            audit_record(
                actor=None, action="test.concurrent", object_type="test.writer", object_id=f"{writer}-{index}"
            )
    except Exception as exc:  # reported by the test, not lost in the thread
        errors.append(exc)
    finally:
        connections.close_all()  # this thread's own connection


@postgresql_only
def test_concurrent_writers_on_separate_connections_build_one_chain(transactional_db, lake):
    start, errors = threading.Barrier(WRITERS), []
    threads = [
        threading.Thread(target=append_many, args=(writer, start, errors)) for writer in range(WRITERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    total = WRITERS * EVENTS_EACH
    events = list(AuditEvent.objects.order_by("seq").values_list("seq", "prev_hash", "hash", "occurred_at"))
    assert [seq for seq, *_ in events] == list(range(1, total + 1))  # no gap, no duplicate
    assert all(prev == before[2] for before, (_, prev, _h, _t) in pairwise(events))  # each links to the last
    assert all(before[3] <= after[3] for before, after in pairwise(events))  # time never runs backwards
    assert AuditEvent.objects.filter(action="test.concurrent").values("object_id").distinct().count() == total
    assert audit_verify_chain(audit=False).ok
