"""Fault points: the places where a test kills or holds the promotion's process for real (catalogue items 6, 12).

`fault_point(name)` does nothing unless a test-only setting names that point (settings refuse both outside
DJANGO_ENV=test):
- PROMOTION_CRASH_AT: the process SIGKILLs itself, as a lost host would end it: no exception handler,
  `finally` or atexit runs, and the database sees the connection drop;
- PROMOTION_PAUSE_AT: the process sleeps PROMOTION_PAUSE_SECONDS there, so that a load is still under way
  when a test stops its worker, however fast the machine copies.

Points, in load order:

- curated.loaded          a version's rows are committed, not yet verified;
- curated.verified        a version is verified, no pointer moved;
- curated.pointer_moving  the pointers are updated inside their transaction, not committed;
- curated.pointer_moved   the pointers' transaction committed, nothing audited yet;
- promotion.before_finish the moves are audited, the request's finish (promoted) is not.
"""
from __future__ import annotations

import os
import signal
import time

POINTS = ("curated.loaded", "curated.verified", "curated.pointer_moving", "curated.pointer_moved",
          "promotion.before_finish")


def fault_point(name: str) -> None:
    from django.conf import settings

    if not settings.configured:
        return
    if getattr(settings, "PROMOTION_CRASH_AT", "") == name:
        os.kill(os.getpid(), signal.SIGKILL)
    if getattr(settings, "PROMOTION_PAUSE_AT", "") == name:
        time.sleep(settings.PROMOTION_PAUSE_SECONDS)
