"""What the console's configured log handler writes (settings.LOGGING's "console" handler), read in a test.

The handler keeps its formatter and filters (console.logs); only its stream is swapped for a buffer, so a test
reads the exact lines an operator's log would hold."""
from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator

from console.logs import OneLineFormatter


def console_handler() -> logging.Handler:
    found = [h for h in logging.getLogger().handlers if isinstance(h.formatter, OneLineFormatter)]
    assert len(found) == 1, f"the root logger has no one-line console handler: {logging.getLogger().handlers}"
    return found[0]


@contextlib.contextmanager
def log_lines() -> Iterator[io.StringIO]:
    handler = console_handler()
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)
