"""A lake file that fails its hash check is an event of the audit trail, whoever was reading it.

Both backends raise LakeIntegrityError through `integrity_failed`: the read (an intake view, a promotion's
load, an export or a workbook build) fails as before, and the trail records which file, where, and what its
bytes hash to now ("lake.integrity_failed"), in a transaction of its own. Reads never run inside a
transaction (house rule: no lake I/O while one is open); one that did and then rolled back would take the
event with it.
"""
from __future__ import annotations

import logging

from console.lake.base import LakeIntegrityError

logger = logging.getLogger(__name__)
ACTION = "lake.integrity_failed"
OBJECT_TYPE = "lake file"


def integrity_failed(lake_url: str, path: str, problem: str, **details) -> LakeIntegrityError:
    """The error to raise for `path`, once the audit trail holds it. Recording never hides the error: if the
    trail cannot be written (no database configured, the database down), the failure is logged instead."""
    error = LakeIntegrityError(f"lake path {path!r}: {problem}")
    try:
        from django.apps import apps
        from django.db import transaction

        if not apps.ready:
            raise RuntimeError("Django is not set up")
        from console.audit import audit_record

        with transaction.atomic():
            audit_record(actor=None, action=ACTION, object_type=OBJECT_TYPE, object_id=path,
                         after={"lake": lake_url, "problem": problem, **details})
    except Exception:
        logger.exception("lake integrity failure of %r (%s) could not be recorded in the audit trail", path, problem)
    return error
