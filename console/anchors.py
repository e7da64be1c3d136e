"""Anchors of the audit chain: its head (seq, hash, time) written to the write-once lake.

The lake is beyond the reach of the database's owners, so events up to an anchor cannot be cut off
the trail's tail unnoticed; the events after the last anchor can, and are counted and shown. The
head is anchored when a decision commits (`console.audit.DECISION_ACTIONS`) and by the periodic
verification (beat). The verifier itself is `console.audit.audit_verify_chain`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass

from django.db import router

from console import chain, clock
from console.lake import LakeError, get_lake
from console.models import AuditEvent

logger = logging.getLogger(__name__)

HEADS_PREFIX = "audit/heads"


@dataclass(frozen=True)
class RecordedHead:
    seq: int
    hash: str
    occurred_at: str
    path: str


def head_path(seq: int, occurred_at: str) -> str:
    return f"{HEADS_PREFIX}/{occurred_at[:10]}/{seq:012d}.json"


def put_head(lake, seq: int, hash_: str, occurred_at: str) -> str:
    """Write one head; the same head twice is a no-op (the lake is write-once, content-checked)."""
    path = head_path(seq, occurred_at)
    head = {"seq": seq, "hash": hash_, "occurred_at": occurred_at}
    lake.put(path, (chain.canonical_json(head) + "\n").encode())
    return path


def _read_head(lake, path: str) -> RecordedHead:
    data = json.loads(lake.read(path))
    return RecordedHead(seq=int(data["seq"]), hash=data["hash"], occurred_at=data["occurred_at"], path=path)


def recorded_heads(lake) -> list[RecordedHead]:
    return [_read_head(lake, path) for path in lake.list(HEADS_PREFIX)]


def latest_head(lake) -> RecordedHead | None:
    """The anchor with the highest seq (its name holds the seq: one file read, not one per head)."""
    paths = lake.list(HEADS_PREFIX)
    if not paths:
        return None
    return _read_head(lake, max(paths, key=_head_seq))


def _head_seq(path: str) -> int:
    # String slicing, not PurePosixPath: called for every anchor (thousands) on every trail page.
    return int(path.rpartition("/")[2].partition(".")[0])


def anchor_head(*, using: str | None = None) -> str | None:
    """Write the chain's newest committed event to the lake as an anchor; its path (None: empty trail).

    Not a verification: the next verification checks the chain up to this head against it.
    """
    using = using or router.db_for_read(AuditEvent)
    last = AuditEvent.objects.using(using).order_by("-seq").values_list("seq", "hash", "occurred_at").first()
    if last is None:
        return None
    return put_head(get_lake(), last[0], last[1], chain.isoformat_utc(last[2]))


def anchor_after_commit(using: str, action: str, seq: int) -> None:
    """Anchor the head once a decision is committed. A failure (the lake down) leaves the decision
    committed: it is logged, and the periodic verification anchors the head later."""
    try:
        path = anchor_head(using=using)
    except Exception:
        logger.exception(
            "could not anchor the audit head after %s (seq %s); the periodic verification will anchor it",
            action,
            seq,
        )
    else:
        logger.info("audit head anchored after %s (seq %s) at %s", action, seq, path)


# --- what is not anchored yet ------------------------------------------------------------------------


@dataclass(frozen=True)
class Unanchored:
    """The events after the last anchor: what could still be cut off the tail unnoticed."""

    count: int
    anchor_seq: int | None  # the newest head in the lake (None: none yet)
    anchor_occurred_at: str | None
    oldest_at: str | None  # the first event after it

    def describe(self) -> str:
        """E.g. "3 events after the last anchor at 2026-12-05 19:00:00 UTC (seq 41), oldest 12 min old",
        "5 events and no anchor in the lake yet, oldest 2 h 5 min old"."""
        events = {0: "no events", 1: "1 event"}.get(self.count, f"{self.count} events")
        if self.anchor_seq is None:
            text = f"{events} and no anchor in the lake yet"
        else:
            at = f"{self.anchor_occurred_at[:19].replace('T', ' ')} UTC (seq {self.anchor_seq})"
            text = f"{events} after the last anchor at {at}"
        if not self.count:
            return text
        oldest = dt.datetime.fromisoformat(self.oldest_at)
        return f"{text}, oldest {age_text(clock.now() - oldest)} old"


def age_text(age: dt.timedelta) -> str:
    seconds = max(int(age.total_seconds()), 0)
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60} min" if minutes % 60 else f"{hours} h"
    return f"{hours // 24} d {hours % 24} h"


@dataclass(frozen=True)
class AnchorStatus:
    """What the trail page shows without recomputing the chain: the unanchored tail, and whether
    the table still holds the last anchor's event (a cut tail, or one cut and refilled, does not)."""

    unanchored: Unanchored | None  # None: the lake could not be read
    table_end: int | None
    anchor_matches: bool | None = None  # the event at the anchor's seq has the anchored hash
    lake_error: str = ""

    @property
    def missing(self) -> tuple[int, int] | None:
        """The seqs from the table's end to the last anchor, when the table ends before it."""
        anchor = self.unanchored.anchor_seq if self.unanchored else None
        if anchor is None or (self.table_end or 0) >= anchor:
            return None
        return (self.table_end or 0) + 1, anchor

    @property
    def replaced(self) -> bool:
        """The table reaches the last anchor, but not with the anchored event."""
        return self.anchor_matches is False and self.missing is None


def anchor_status() -> AnchorStatus:
    """The newest anchor against the table: two index reads and one lake listing."""
    events = AuditEvent.objects.using(router.db_for_read(AuditEvent))
    table_end = events.order_by("-seq").values_list("seq", flat=True).first()
    try:
        head = latest_head(get_lake())
    except (LakeError, OSError, ValueError) as error:
        logger.warning("audit anchors unreadable: %s", error)
        return AnchorStatus(unanchored=None, table_end=table_end, lake_error=type(error).__name__)
    anchor_seq = head.seq if head else 0
    # The anchored event and the first one after it, in one index range read.
    rows = events.filter(seq__gte=anchor_seq).order_by("seq").values_list("seq", "hash", "occurred_at")[:2]
    anchored = next((row for row in rows if row[0] == anchor_seq), None)
    first = next((row for row in rows if row[0] > anchor_seq), None)
    unanchored = Unanchored(
        count=(table_end - first[0] + 1) if first else 0,
        anchor_seq=head.seq if head else None,
        anchor_occurred_at=head.occurred_at if head else None,
        oldest_at=chain.isoformat_utc(first[2]) if first else None,
    )
    matches = (anchored is not None and anchored[1] == head.hash) if head else None
    return AnchorStatus(unanchored=unanchored, table_end=table_end, anchor_matches=matches)
