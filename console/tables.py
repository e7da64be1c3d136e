"""Column layouts of the console's lists and their CSV exports."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator

from django.utils.html import format_html_join

from console import chain
from console.diffs import ChangeKind, KeyChange, details_diff
from console.models import AuditEvent

# Spreadsheets run a cell that starts with one of these as a formula; an attempted username at
# the login form is attacker-controlled text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text_cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


class AuditEventTable:
    """The audit trail's columns. The CSV keeps this order; it holds everything needed to recompute the chain."""

    # clock_reading last (empty unless the clock lagged), so the earlier columns keep their places.
    csv_columns = (*chain.HASHED_FIELDS, "prev_hash", "hash", *chain.OPTIONAL_HASHED_FIELDS)
    _text_columns = frozenset({"actor_label", "action", "object_type", "object_id", "correlation_id"})

    @staticmethod
    def display_rows(events: Iterable[AuditEvent]) -> list[dict]:
        """What the trail page shows of each event, formatted here once (times in UTC, whatever the zone)."""
        return [
            {
                "seq": event.seq,
                "occurred_at_iso": event.occurred_at.astimezone(dt.timezone.utc).isoformat(),
                "occurred_at_text": f"{event.occurred_at.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC",
                "clock_reading_text": None
                if event.clock_reading is None
                else f"{event.clock_reading.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M:%S.%f} UTC",
                "actor": event.actor_label,
                "is_user": event.actor_id is not None,
                "action": event.action,
                "object_type": event.object_type,
                "object_id": event.object_id,
                "before": None
                if event.before is None
                else json.dumps(event.before, indent=2, sort_keys=True),
                "after": None if event.after is None else json.dumps(event.after, indent=2, sort_keys=True),
                "changes": (changes := details_diff(event.before, event.after)),
                "diff_html": AuditEventTable.diff_html(changes),
                "correlation_id": event.correlation_id,
                "hash": event.hash,
            }
            for event in events
        ]

    @staticmethod
    def diff_html(changes: list[KeyChange]) -> str:
        """The diff of one event as table rows (built here, not in the template: 50 rows of it per page)."""
        # reviewed-safe: a constant format string; every value (keys, JSON of before/after) goes in escaped.
        return format_html_join(
            "",
            '<tr class="diff-{}"><td class="mono">{}</td><td>{}</td><td class="mono">{}</td><td class="mono">{}</td></tr>',
            (
                (
                    change.kind.value,
                    change.key or "(value)",
                    change.kind.value,
                    "" if change.kind == ChangeKind.ADDED else chain.canonical_json(change.before),
                    "" if change.kind == ChangeKind.REMOVED else chain.canonical_json(change.after),
                )
                for change in changes
            ),
        )

    @classmethod
    def csv_row(cls, event: AuditEvent) -> list[str]:
        values = {"clock_reading": None, **event.payload(), "prev_hash": event.prev_hash, "hash": event.hash}
        row = []
        for column in cls.csv_columns:
            value = values[column]
            if column in ("before", "after"):
                row.append(chain.canonical_json(value))
            elif column in cls._text_columns:
                row.append(_text_cell(value))
            else:
                row.append("" if value is None else str(value))
        return row

    @classmethod
    def csv_rows(cls, events: Iterable[AuditEvent]) -> Iterator[list[str]]:
        yield list(cls.csv_columns)
        for event in events:
            yield cls.csv_row(event)


class _Echo:
    """A file-like object whose write() hands the line back, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[list[str]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow(row)
