"""Crash points: the places where a test kills the promotion's process for real (catalogue item 12).

`crash_point(name)` does nothing unless settings.PROMOTION_CRASH_AT names that point (settings refuse it
outside DJANGO_ENV=test); then the process SIGKILLs itself, as a lost host would end it: no exception
handler, `finally` or atexit runs, and the database sees the connection drop. Points, in load order:

- curated.loaded          a version's rows are committed, not yet verified;
- curated.verified        a version is verified, no pointer moved;
- curated.pointer_moving  the pointers are updated inside their transaction, not committed;
- curated.pointer_moved   the pointers' transaction committed, nothing audited yet;
- promotion.before_finish the moves are audited, the request's finish (promoted) is not.
"""
from __future__ import annotations

import os
import signal

POINTS = ("curated.loaded", "curated.verified", "curated.pointer_moving", "curated.pointer_moved",
          "promotion.before_finish")


def crash_point(name: str) -> None:
    from django.conf import settings

    if settings.configured and getattr(settings, "PROMOTION_CRASH_AT", "") == name:
        os.kill(os.getpid(), signal.SIGKILL)
