"""Fixtures of the audit trail's tests."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from django.db import connection

from console import clock
from console.audit import audit_record

# Before every time the trail's tests pin the clock to: time never runs backwards along the chain,
# so events recorded at today's time would hold the pinned events that follow them at today's time.
SEEDED_AT = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.timezone.utc)

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL only: triggers, advisory locks and privileged sessions",
)


@pytest.fixture
def seeded_roles(db):
    """The roles, seeded (and their events recorded) at SEEDED_AT."""
    from console.services import roles_seed

    with clock.frozen(SEEDED_AT):
        roles_seed()


@pytest.fixture
def personas_at():
    """Personas are created (and their creation audited) at SEEDED_AT too, before the pinned events."""
    return SEEDED_AT


@pytest.fixture
def lake(settings, tmp_path):
    """A lake of this test's own: heads recorded by one test must not meet another test's chain."""
    from console.lake import get_lake

    settings.LAKE_URL = str(tmp_path / "lake")
    return get_lake()


@pytest.fixture
def record_events():
    """record_events(n, **fields): append n events as the system, each a distinct action."""

    def record(count: int, **fields):
        return [
            audit_record(
                actor=fields.get("actor"),
                action=fields.get("action", f"test.step_{index}"),
                object_type=fields.get("object_type", "test.object"),
                object_id=fields.get("object_id", str(index)),
                before=fields.get("before"),
                after=fields.get("after", {"index": index}),
                correlation_id=fields.get("correlation_id"),
            )
            for index in range(count)
        ]

    return record


@contextlib.contextmanager
def bypassing_triggers():
    """A cursor on which the append-only triggers do not fire, as a superuser's session could do."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        try:
            yield cursor
        finally:
            if connection.vendor == "postgresql":
                cursor.execute("SET session_replication_role = DEFAULT")
