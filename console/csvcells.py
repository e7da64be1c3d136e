"""CSV cells a spreadsheet cannot take for formulas, and CSV lines made one at a time for streamed downloads.

A cell that starts with `=`, `+`, `-`, `@`, a tab, a carriage return or a NUL is prefixed with `'` (a spreadsheet
would otherwise run it as a formula: the text may come from an export or an attacker). Used by the downloads of a
number's contributing rows and of a run's findings.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\x00")


def safe_cell(value) -> str:
    """A cell as text, with a leading ' where a spreadsheet would take it for a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_line() -> Callable[[Iterable], str]:
    """A function that turns one row's cells into one CSV line (safe_cell on each), reusing one buffer: what a
    streamed CSV download yields line by line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: Iterable) -> str:
        buffer.seek(0)
        buffer.truncate(0)
        writer.writerow([safe_cell(c) for c in cells])
        return buffer.getvalue()

    return line
