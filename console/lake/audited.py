"""The audit trail's listener to the lake: a file whose bytes no longer match their recorded SHA-256 is an
event of the trail ("lake.integrity_failed", object "lake file" = its path), in a transaction of its own.

Reads never run inside a transaction (house rule: no lake I/O while one is open); one that did and then
rolled back would take the event with it. Registered by `register()` once the apps are ready.
"""
from __future__ import annotations

from django.apps import apps
from django.db import transaction

from console.audit import audit_record
from console.lake.integrity import on_integrity_failure

ACTION = "lake.integrity_failed"
OBJECT_TYPE = "lake file"


def record_integrity_failure(*, lake_url: str, path: str, problem: str, **details) -> None:
    if not apps.ready:
        return
    with transaction.atomic():
        audit_record(actor=None, action=ACTION, object_type=OBJECT_TYPE, object_id=path,
                     after={"lake": lake_url, "problem": problem, **details})


def register() -> None:
    on_integrity_failure(record_integrity_failure)
