"""A computed flag (before it is stored) and its key. Plain module, no Django."""
from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from evidence.packets.authority import Seen


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while many small objects are made (tens of thousands of flags):
    they hold no cycles, and each collection would walk every object alive (the evidence too), over and over."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def flag_key(kind: str, client: str, period_start: dt.date | None, component: str = "", ndc: str = "",
             quarter: str = "") -> str:
    """SHA-256 of the flag's identity: kind, client, period (its start: year, month or quarter; none for a
    Salesforce flag), component, NDC, quarter."""
    identity = [kind, client, period_start.isoformat() if period_start else "", component, ndc, quarter]
    return hashlib.sha256(json.dumps(identity, separators=(",", ":")).encode()).hexdigest()


@dataclass(slots=True)
class Flag:
    """One need without governed coverage, at the flag's grain (see evidence.flags.models)."""

    kind: str
    client: str
    period_start: dt.date
    period_end: dt.date
    holds_back: list[str]
    reason: str
    candidate_exists: bool
    component: str = ""
    ndc: str = ""
    quarter: str = ""
    detail: dict = field(default_factory=dict)
    candidates: list[dict] = field(default_factory=list)
    key_period: dt.date | None = None  # what the key names as the period (None: the client alone)

    @property
    def key(self) -> str:
        return flag_key(self.kind, self.client, self.key_period, self.component, self.ndc, self.quarter)


def source_text(seen: Seen) -> str:
    """A candidate source as one sortable string (what the columnar tables carry)."""
    if seen.source == "packet":
        return f"packet:{seen.packet_id}#{seen.revision}:{seen.status}"
    return f"domo:{seen.load_id}/{seen.dataset_id}/{seen.row}"


@functools.lru_cache(maxsize=65536)
def source_json(text: str) -> dict:
    """A candidate source string back as the flag's `candidates` entry (cached: copy before changing it)."""
    if text.startswith("packet:"):
        rest, status = text[len("packet:"):].rsplit(":", 1)
        packet_id, revision = rest.rsplit("#", 1)
        return {"source": "packet", "packet_id": packet_id, "revision": int(revision), "status": status}
    load_id, dataset_id, row = text[len("domo:"):].rsplit("/", 2)
    return {"source": "domo", "load_id": load_id, "dataset_id": dataset_id, "row": int(row)}


def seen_json(seen: Seen) -> dict:
    return dict(source_json(source_text(seen)))  # a copy: source_json's answers are cached


def day_text(day: dt.date) -> str:
    return day.isoformat()


def span(first: dt.date, last: dt.date) -> str:
    return day_text(first) if first == last else f"{day_text(first)}…{day_text(last)}"
