"""The audit trail's export: exactly the filtered events, oldest first, as CSV or JSON Lines, streamed.

Every row carries its chain position (seq, prev_hash, hash), so a reader outside the console can check
each event against its hash, and the rows that follow each other in seq against each other. The first
line says how (VERIFY_TEXT), which events the excerpt stops at (the export's own event), and the
chain's last anchor in the lake; the export itself is an event of the trail, with its filters.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from django.http import StreamingHttpResponse

from console import anchors, chain, clock
from console.audit import TRAIL_OBJECT_TYPE, audit_record
from console.lake import LakeError, get_lake
from console.tables import AuditEventTable, csv_lines

EXPORT_FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}

# No commas or double quotes: the CSV's first line is this one cell, unquoted.
VERIFY_TEXT = (
    "each row: hash = sha256 hex of (prev_hash + canonical JSON of the hashed fields) in UTF-8;"
    " the hashed fields are seq occurred_at actor_id actor_label action object_type object_id before after"
    " correlation_id (and clock_reading when it is not empty) with seq and actor_id as integers or null and"
    " before and after as JSON values; canonical JSON = sorted keys and no spaces between items or after colons;"
    " non-ASCII kept as is. Rows n and n+1 link: prev_hash(n+1) = hash(n). The first event links to 64 zeros."
)
CSV_FORMULA_NOTE = (
    "CSV text cells starting with = + - @ tab or CR carry a leading ' against spreadsheet formulas: drop it"
    " before hashing."
)


def _last_anchor() -> dict[str, Any] | None:
    try:
        head = anchors.latest_head(get_lake())
    except (LakeError, OSError, ValueError):
        return None
    return None if head is None else {"seq": head.seq, "hash": head.hash, "occurred_at": head.occurred_at, "path": head.path}


def audit_trail_export(
    *, actor, queryset, filters: Mapping[str, Any], fmt: str = "csv", chunk_size: int = 2000
) -> Iterator[str]:
    """Record the export, then stream the matching events up to it, oldest first, as lines of `fmt`."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"no export format {fmt!r}")
    anchor = _last_anchor()  # lake I/O before the append's transaction, never inside it
    event = audit_record(
        actor=actor,
        action="audit.exported",
        object_type=TRAIL_OBJECT_TYPE,
        object_id="*",
        after={"format": fmt, "filters": dict(filters)},
    )
    # Events appended while the file streams are not part of it: the excerpt ends at its own record.
    events = queryset.filter(seq__lte=event.seq).order_by("seq").iterator(chunk_size=chunk_size)
    about = {
        "exported_at": chain.isoformat_utc(clock.now()),
        "export_event": {"seq": event.seq, "hash": event.hash},
        "filters": event.after["filters"],
        "last_anchor": anchor,
        "verify": VERIFY_TEXT,
    }
    if fmt == "jsonl":
        return _jsonl_lines(about, events)
    return _csv_lines(about, events)


def _csv_lines(about: dict[str, Any], events) -> Iterator[str]:
    anchor = about["last_anchor"]
    anchor_text = f"seq {anchor['seq']} hash {anchor['hash']}" if anchor else "none yet"
    first = (
        f"# LeafEnterprise audit trail excerpt exported {about['exported_at']}; up to the export's own event"
        f" seq {about['export_event']['seq']} hash {about['export_event']['hash']} (its after holds the filters);"
        f" last lake anchor {anchor_text}. To verify {VERIFY_TEXT} {CSV_FORMULA_NOTE}"
    )
    yield from csv_lines([[first]])
    yield from csv_lines(AuditEventTable.csv_rows(events))


def _jsonl_lines(about: dict[str, Any], events) -> Iterator[str]:
    yield chain.canonical_json({"audit_trail_excerpt": about}) + "\n"
    for event in events:
        row = {**event.payload(), "prev_hash": event.prev_hash, "hash": event.hash}
        yield json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n"


def audit_export_response(*, actor, filterset, fmt: str):
    """The export of a valid filterset's events as a download (the trail page's and the API's one answer)."""
    lines = audit_trail_export(actor=actor, queryset=filterset.qs, filters=filterset.active_filters(), fmt=fmt)
    filename = f"audit-trail-{clock.now():%Y%m%dT%H%M%SZ}.{fmt}"
    return StreamingHttpResponse(lines, content_type=EXPORT_FORMATS[fmt],
                                 headers={"Content-Disposition": f'attachment; filename="{filename}"'})
