"""A lake file that fails its hash check is reported, whoever was reading it.

Both backends raise LakeIntegrityError through `integrity_failed`: the read (an intake view, a promotion's
load, an export or a workbook build) fails as before, and every registered listener hears which file,
where, and what its bytes hash to now. The audit trail's listener (console.lake.audited, registered when
the apps are ready) records it as "lake.integrity_failed". The lake cannot import the audit module itself:
the audit trail anchors its head in the lake.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from console.lake.base import LakeIntegrityError

logger = logging.getLogger(__name__)
Listener = Callable[..., None]
_listeners: list[Listener] = []


def on_integrity_failure(listener: Listener) -> Listener:
    """Register `listener(lake_url=, path=, problem=, **details)`; registering one twice keeps one."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def integrity_failed(lake_url: str, path: str, problem: str, **details) -> LakeIntegrityError:
    """The error to raise for `path`, once every listener heard of it. A listener that fails never hides the
    error (the failure is logged)."""
    for listener in _listeners:
        try:
            listener(lake_url=lake_url, path=path, problem=problem, **details)
        except Exception:
            logger.exception("a lake integrity listener failed on %r (%s)", path, problem)
    return LakeIntegrityError(f"lake path {path!r}: {problem}")
