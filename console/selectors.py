"""Reads of the audit trail that its filters offer and check: the actions that exist, the known actors."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db import connections, router

from console.models import AuditEvent

# Actors that are not users: what a label of the system or an unauthenticated visitor starts with.
SYSTEM_ACTOR_PREFIXES = ("system:command:", "system:task:", "anonymous")

# A loose index scan of console_audit_action_seq: one index probe per distinct action, so listing the
# few dozen actions costs the same at a thousand events as at a million (SELECT DISTINCT reads every row).
_DISTINCT_ACTIONS_SQL = """
WITH RECURSIVE actions(action) AS (
    (SELECT action FROM console_auditevent ORDER BY action LIMIT 1)
    UNION ALL
    SELECT (SELECT e.action FROM console_auditevent e WHERE e.action > actions.action ORDER BY e.action LIMIT 1)
    FROM actions WHERE actions.action IS NOT NULL
)
SELECT action FROM actions WHERE action IS NOT NULL
"""


def trail_actions() -> list[str]:
    """Every action the trail holds, sorted."""
    using = router.db_for_read(AuditEvent)
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_DISTINCT_ACTIONS_SQL)
            return [row[0] for row in cursor.fetchall()]
    return list(AuditEvent.objects.using(using).order_by("action").values_list("action", flat=True).distinct())


def actions_present(actions: Iterable[str]) -> set[str]:
    """Those of `actions` that at least one event has: one index probe each."""
    found = set()
    for action in set(actions):
        if AuditEvent.objects.filter(action=action).exists():
            found.add(action)
    return found


def actions_by_area(actions: Iterable[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Choices grouped by area, the part before the first dot: [("promotion", [("promotion.approved", "approved")])]."""
    areas: dict[str, list[tuple[str, str]]] = {}
    for action in sorted(actions):
        area, _dot, rest = action.partition(".")
        areas.setdefault(area, []).append((action, rest or action))
    return list(areas.items())


def known_actors() -> list[str]:
    """The actors a filter offers: every user's name, then the system's and anonymous visitors' prefixes."""
    names = get_user_model().objects.order_by("username").values_list("username", flat=True)
    return [*names, *SYSTEM_ACTOR_PREFIXES]
