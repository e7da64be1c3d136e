"""Helpers of the promotion API tests (tests/promotion/test_api_*.py): who calls, what they post, what was
refused, and what waits in the broker.

The error rule those tests check (the pages' too): 400 names the fields and reached no service; a refusal
for who asks (a missing permission, or four eyes) is 403, one for when or what (state, manifest, gates, a
race) is 409, both with {"detail": reason} and both audited.
"""
from __future__ import annotations

import json
import os

import redis

from console.models import AuditEvent
from promotion import services
from promotion.models import PromotionRequest
from tests.promotion.conftest import dataset


def refusals(attempt: str):
    return AuditEvent.objects.filter(action="promotion.refused", after__attempt=attempt)


def as_user(client, user):
    client.force_login(user)
    return client


def post(client, url: str, body: dict | None = None):
    return client.post(url, body or {}, content_type="application/json")


def requested(actor, manifest, **options) -> PromotionRequest:
    """A request for the claims dataset, through the service."""
    return services.promotion_request(actor=actor, manifest=manifest, datasets=[dataset(manifest)], **options)


def act(client, user, promotion: PromotionRequest, action: str, body: dict | None = None):
    """POST /api/promotions/<id>/<action>/ as this user."""
    return post(as_user(client, user), f"/api/promotions/{promotion.pk}/{action}/", body)


def queued_tasks(queue: str) -> list[tuple[str, str]]:
    """(task name, args as sent) of the messages waiting in this test run's broker queue."""
    client = redis.Redis.from_url(os.environ["TEST_REDIS_URL"])
    found = []
    for raw in client.lrange(os.environ["CELERY_REDIS_KEY_PREFIX"] + queue, 0, -1):
        headers = json.loads(raw)["headers"]
        found.append((headers["task"], headers["argsrepr"]))
    return found
