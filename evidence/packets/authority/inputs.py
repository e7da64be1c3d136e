"""What the authority rules are given: packet revisions (with their verification status) and candidate
rows recovered from Domo. The Django layer builds these from the database; the rules never read it.

A revision is `governed` only while it is verified and not withdrawn; a revision received but not yet
verified, or withdrawn, is `candidate`. Rows recovered from Domo are always `candidate` and carry where
they came from (load id, dataset id, row number).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

from evidence.packets.model import KINDS, PRICING, RECORD_TYPES, PacketHeader, RebateInvoice, Record

GOVERNED, CANDIDATE = "governed", "candidate"
# A revision's verification status; only VERIFIED is governed.
RECEIVED, VERIFIED, WITHDRAWN = "received", "verified", "withdrawn"
STATUSES = (RECEIVED, VERIFIED, WITHDRAWN)


def _check_records(kind: str, records: tuple[Record, ...]) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    expected = RECORD_TYPES[kind]
    for record in records:
        if not isinstance(record, expected):
            raise ValueError(f"a {kind} record must be a {expected.__name__}, not {type(record).__name__}")


@dataclass(frozen=True)
class Revision:
    """One received revision of an evidence packet, with its typed records and its verification status."""

    packet_id: str
    revision: int  # 1, 2, ... in the order the revisions were received
    sha256: str  # the packet's hash as received
    kind: str  # one of model.KINDS
    client_account_ids: tuple[str, ...]  # empty only for a pricing packet serving any client's price list
    period_start: dt.date
    period_end: dt.date
    supersedes: str | None  # a packet_id this one replaces from period_start
    status: str  # RECEIVED, VERIFIED or WITHDRAWN
    records: tuple[Record, ...] = ()

    def __post_init__(self) -> None:
        _check_records(self.kind, self.records)
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {', '.join(STATUSES)}")
        if self.period_start > self.period_end:
            raise ValueError(f"{self.packet_id} revision {self.revision}: period starts after it ends")

    @classmethod
    def from_header(cls, header: PacketHeader, *, revision: int, sha256: str, status: str,
                    records: tuple[Record, ...]) -> Revision:
        return cls(packet_id=header.packet_id, revision=revision, sha256=sha256, kind=header.kind,
                   client_account_ids=tuple(header.client_account_ids), period_start=header.period_start,
                   period_end=header.period_end, supersedes=header.supersedes, status=status,
                   records=tuple(records))

    @property
    def evidence_class(self) -> str:
        return GOVERNED if self.status == VERIFIED else CANDIDATE

    def speaks_for(self, client: str) -> bool:
        """Whether the packet speaks for the client (a pricing packet naming no clients serves any)."""
        return client in self.client_account_ids or (not self.client_account_ids and self.kind == PRICING)

    def holds(self, day: dt.date) -> bool:
        return self.period_start <= day <= self.period_end

    def invoices_of(self, client: str, quarter: str) -> tuple[RebateInvoice, ...]:
        """The revision's rebate invoices for the client and quarter, in record order (indexed once: a run asks
        for every client, quarter and NDC)."""
        return self._invoices_by_quarter.get((client, quarter), ())

    @cached_property
    def _invoices_by_quarter(self) -> dict[tuple[str, str], tuple[RebateInvoice, ...]]:
        index: dict[tuple[str, str], list[RebateInvoice]] = {}
        for record in self.records:
            if isinstance(record, RebateInvoice):
                index.setdefault((record.client_account_id, record.quarter), []).append(record)
        return {key: tuple(invoices) for key, invoices in index.items()}


@dataclass(frozen=True)
class DomoRow:
    """A row of a Domo dataset registered as candidate evidence of a kind, mapped onto the kind's record."""

    kind: str
    record: Record
    load_id: str
    dataset_id: str
    row: int  # the row number in the dataset, from 1

    def __post_init__(self) -> None:
        _check_records(self.kind, (self.record,))

    evidence_class = CANDIDATE


@dataclass(frozen=True)
class Evidence:
    """Everything the rules may look at for one decision: packet revisions of any class and Domo rows.

    The caller may hand over more than the decision needs (every revision of a kind, say); the rules
    pick what speaks for the client, the period and the question, and nothing else.
    """

    revisions: tuple[Revision, ...] = ()
    domo_rows: tuple[DomoRow, ...] = ()

    def __post_init__(self) -> None:
        seen: dict[tuple[str, int], str] = {}
        for revision in self.revisions:
            key = (revision.packet_id, revision.revision)
            if key in seen and seen[key] != revision.sha256:
                raise ValueError(f"{revision.packet_id} revision {revision.revision} is given twice, with two hashes")
            seen[key] = revision.sha256

    def of_kind(self, kind: str) -> tuple[Revision, ...]:
        return tuple(r for r in self.revisions if r.kind == kind)

    def domo_of_kind(self, kind: str) -> tuple[DomoRow, ...]:
        return tuple(r for r in self.domo_rows if r.kind == kind)
