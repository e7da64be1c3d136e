"""Which governed revision governs a day: revision order within a packet, supersession between packets.

- Within a packet_id, the latest *verified* revision (highest revision number, not withdrawn) is the
  packet; earlier revisions, verified or not, are never used. A later revision received but not yet
  verified leaves the verified one in force (it is candidate evidence until it is verified), and a
  withdrawn latest revision hands the packet back to the latest verified one before it.
- A governed packet naming another in `supersedes` replaces it from its own period's start, for the
  clients it speaks for: from that day on the superseded packet governs nothing for them, even on
  days the superseding packet does not cover (those days are then missing, never filled by the old
  terms). Only governed packets supersede: candidate evidence never authorizes, and never takes
  authority away either; it is shown beside the output.
- Two governed packets that govern the same day for the same question without one superseding the
  other are a conflict: neither is used, and the conflict is what is missing.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from evidence.packets.authority.decision import Seen, Used
from evidence.packets.authority.inputs import CANDIDATE, GOVERNED, DomoRow, Evidence, Revision

ONE_DAY = dt.timedelta(days=1)


def latest_governed(revisions: Iterable[Revision]) -> list[Revision]:
    """The governed revision of each packet_id: its latest verified, not withdrawn, revision."""
    latest: dict[str, Revision] = {}
    for revision in revisions:
        if revision.evidence_class != GOVERNED:
            continue
        held = latest.get(revision.packet_id)
        if held is None or revision.revision > held.revision:
            latest[revision.packet_id] = revision
    return sorted(latest.values(), key=lambda r: r.packet_id)


class Governance:
    """The governed packets of one kind that speak for one client, and which of them govern each day."""

    def __init__(self, evidence: Evidence, kind: str, client: str) -> None:
        self.kind = kind
        self.client = client
        self.packets = [r for r in latest_governed(evidence.of_kind(kind)) if r.speaks_for(client)]
        # packet_id -> the first day a governed packet speaking for the client replaces it
        self.superseded_from: dict[str, dt.date] = {}
        for packet in self.packets:
            old = packet.supersedes
            if old and old != packet.packet_id:
                held = self.superseded_from.get(old)
                self.superseded_from[old] = min(held, packet.period_start) if held else packet.period_start

    def governs(self, packet: Revision, day: dt.date) -> bool:
        replaced = self.superseded_from.get(packet.packet_id)
        return packet.holds(day) and (replaced is None or day < replaced)

    def window(self, packet: Revision) -> tuple[dt.date, dt.date] | None:
        """The days the governed packet governs for the client: its period, cut at its supersession (None: none)."""
        end = packet.period_end
        replaced = self.superseded_from.get(packet.packet_id)
        if replaced is not None:
            end = min(end, replaced - ONE_DAY)
        return (packet.period_start, end) if packet.period_start <= end else None

    def governing(self, day: dt.date) -> list[Revision]:
        return [p for p in self.packets if self.governs(p, day)]

    def superseded_note(self, day: dt.date) -> str:
        """Names the packets of the client that would hold the day but are superseded on it ('' if none)."""
        names = [f"{p.packet_id} (superseded from {self.superseded_from[p.packet_id].isoformat()})"
                 for p in self.packets if p.holds(day) and not self.governs(p, day)]
        return f"; {', '.join(names)} no longer governs it" if names else ""


def candidate_revisions(evidence: Evidence, kind: str, client: str) -> list[Revision]:
    """The revisions of a kind speaking for the client that are candidate: received but not verified, or
    withdrawn."""
    return [r for r in evidence.of_kind(kind) if r.evidence_class == CANDIDATE and r.speaks_for(client)]


def seen_revision(revision: Revision) -> Seen:
    return Seen(kind=revision.kind, source="packet", packet_id=revision.packet_id, revision=revision.revision,
                sha256=revision.sha256, status=revision.status)


def used(revision: Revision) -> Used:
    return Used(packet_id=revision.packet_id, revision=revision.revision, sha256=revision.sha256, kind=revision.kind)


def seen_domo(row: DomoRow) -> Seen:
    return Seen(kind=row.kind, source="domo", load_id=row.load_id, dataset_id=row.dataset_id, row=row.row)


def named(revision: Revision) -> str:
    return f"{revision.packet_id} (revision {revision.revision})"


def days(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    day = start
    while day <= end:
        yield day
        day += ONE_DAY


def runs(marks: list[tuple[dt.date, object]]) -> list[tuple[dt.date, dt.date, object]]:
    """Consecutive days (in order) carrying the same mark, as (first day, last day, mark)."""
    out: list[tuple[dt.date, dt.date, object]] = []
    for day, mark in marks:
        if out and out[-1][2] == mark and out[-1][1] + ONE_DAY == day:
            out[-1] = (out[-1][0], day, mark)
        else:
            out.append((day, day, mark))
    return out
