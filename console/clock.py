"""The one clock. Everything that stamps a time asks `clock.now()`.

Tests and replays pin it with `clock.frozen(dt)` (or `clock.use(callable)`), so the same inputs
give the same outputs.
"""
from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator

UTC = dt.timezone.utc


def _system_now() -> dt.datetime:
    return dt.datetime.now(tz=UTC)


_source: Callable[[], dt.datetime] = _system_now


def now() -> dt.datetime:
    """The current time, timezone-aware, in UTC."""
    value = _source()
    if value.tzinfo is None:
        raise ValueError("the clock must return timezone-aware datetimes")
    return value.astimezone(UTC)


def today() -> dt.date:
    return now().date()


@contextlib.contextmanager
def use(source: Callable[[], dt.datetime]) -> Iterator[None]:
    global _source
    previous, _source = _source, source
    try:
        yield
    finally:
        _source = previous


def frozen(at: dt.datetime) -> contextlib.AbstractContextManager[None]:
    return use(lambda: at)
