"""The console's log lines: one event, one line, whatever text the event carries (ASVS 16.4.1).

A username, a file name or a cell value reaches the logs inside messages (a failed login logs the username
typed). Written as it is, a CR or LF in it would start a forged line, an ANSI escape would recolour or erase
the terminal, and a megabyte of text would drown the log. `OneLineFormatter` writes each record on one
line: a backslash, every C0 and C1 control character, DEL and the Unicode line and paragraph separators
are written as Python escapes (`\\n`, `\\x1b`, `\\u2028`); a message longer than `max_chars` is cut with
the count of what was cut; a traceback follows the message on the same line, its line breaks escaped
too (cut at `max_traceback_chars`). `RequestIdFilter` adds the request id (or the task's or command's
correlation id) of the work being done, so an error page's id finds its detail here.
"""
from __future__ import annotations

import logging
import re

from console import context

_UNSAFE = re.compile(r"[\\\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def one_line(text: str, max_chars: int) -> str:
    """`text` on one line, control characters escaped, cut to max_chars (before escaping) with what was cut."""
    cut = len(text) - max_chars
    if cut > 0:
        text = text[:max_chars]
    text = _UNSAFE.sub(_escape, text)
    return f"{text}…[{cut:,} more characters cut]" if cut > 0 else text


class OneLineFormatter(logging.Formatter):
    """A logging.Formatter whose every record is one line (see the module)."""

    def __init__(self, *args, max_chars: int = 4000, max_traceback_chars: int = 32_000, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_chars, self.max_traceback_chars = max_chars, max_traceback_chars

    def format(self, record: logging.LogRecord) -> str:
        record.message = one_line(record.getMessage(), self.max_chars)
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += " | " + one_line(record.exc_text, self.max_traceback_chars)
        if record.stack_info:
            line += " | " + one_line(self.formatStack(record.stack_info), self.max_traceback_chars)
        return line


class RequestIdFilter(logging.Filter):
    """Sets record.request_id: the correlation id of the request, task or command at work, else "-"."""

    def filter(self, record: logging.LogRecord) -> bool:
        work = context.current()
        record.request_id = one_line(work.correlation_id, 128) if work else "-"
        return True
