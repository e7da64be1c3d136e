"""The contract-guarantee conclusion: a governed contract for the client must govern every day of the
reporting period and hold, on each of those days, a terms row for every component asked about (one
component, or for the combined conclusion every component that has claims in the period).

Nothing stands in for a missing day or component: not another component's rates, not an earlier
period's contract, not another client's row, not a candidate row.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from itertools import pairwise

from evidence.packets.authority.decision import Component, Decision, Missing, Question, Seen, Used, conclude
from evidence.packets.authority.governance import (
    ONE_DAY,
    Governance,
    candidate_revisions,
    days,
    named,
    runs,
    seen_domo,
    seen_revision,
    used,
)
from evidence.packets.authority.inputs import Evidence, Revision
from evidence.packets.model import CONTRACT, ContractTerm, Record


def component_text(component: Component) -> str:
    return f"{component[0]} {component[1]}"


def terms_in_force(records: Iterable[Record], client: str, day: dt.date,
                   component: Component | None = None) -> list[ContractTerm]:
    """The client's terms rows in force on the day (for one component, when given); channel and drug class
    compare case-insensitively."""
    return [
        t for t in records
        if isinstance(t, ContractTerm) and t.client_account_id == client and t.period_start <= day <= t.period_end
        and (component is None or (t.channel.lower(), t.drug_class.lower()) == component)
    ]


class CandidateTerms:
    """The client's candidate terms rows (from packets not governed, and from Domo), gathered once per
    decision so that asking day by day does not walk all the evidence again."""

    def __init__(self, evidence: Evidence, client: str) -> None:
        self.rows: list[tuple[Seen, ContractTerm, dt.date, dt.date]] = []  # the row, and its packet's period
        for revision in candidate_revisions(evidence, CONTRACT, client):
            for term in revision.records:
                if term.client_account_id == client:
                    self.rows.append((seen_revision(revision), term, revision.period_start, revision.period_end))
        for row in evidence.domo_of_kind(CONTRACT):
            if row.record.client_account_id == client:
                self.rows.append((seen_domo(row), row.record, row.record.period_start, row.record.period_end))
        self.client = client

    def on(self, day: dt.date, component: Component | None = None) -> list[tuple[Seen, ContractTerm]]:
        """The candidate rows in force on the day (for the component, when given)."""
        return [
            (seen, term) for seen, term, start, end in self.rows
            if start <= day <= end and terms_in_force((term,), self.client, day, component)
        ]


def contract_gap(governance: Governance, governing: list[Revision], holding: list[Revision],
                 component: Component | None, day: dt.date) -> str:
    """Why no single governed contract holds the client's terms (for the component) on the day."""
    what = f"for {component_text(component)}" if component else "for the client"
    if len(holding) > 1:
        return (f"governed contracts {' and '.join(named(p) for p in holding)} both hold terms {what} "
                "and neither supersedes the other")
    if not governing:
        return f"no governed contract packet for the client covers these days{governance.superseded_note(day)}"
    return f"the governed contract {' and '.join(named(p) for p in governing)} has no terms row {what} in force"


def _spans(start: dt.date, end: dt.date, governance: Governance, candidate_terms: CandidateTerms,
           client: str) -> list[tuple[dt.date, dt.date]]:
    """The period cut where anything a day's answer reads can change: a governed packet's period or its
    supersession, a terms row's period (governed or candidate), a candidate row's packet period. Within a span
    every day gets the same answer, so a year is asked a handful of times, not 365."""
    cuts = {start, end + ONE_DAY}

    def cut(first: dt.date, last: dt.date) -> None:
        cuts.add(first)
        if last < dt.date.max:
            cuts.add(last + ONE_DAY)

    for packet in governance.packets:
        cut(packet.period_start, packet.period_end)
        for term in packet.records:
            if isinstance(term, ContractTerm) and term.client_account_id == client:
                cut(term.period_start, term.period_end)
    cuts.update(governance.superseded_from.values())
    for _, term, first, last in candidate_terms.rows:
        cut(first, last)
        cut(term.period_start, term.period_end)
    bounds = sorted(day for day in cuts if start <= day <= end + ONE_DAY)
    return [(first, following - ONE_DAY) for first, following in pairwise(bounds)]


def decide_contract(question: Question, evidence: Evidence) -> Decision:
    client = question.client
    needs = (question.component,) if question.component else question.components
    governance = Governance(evidence, CONTRACT, client)
    candidate_terms = CandidateTerms(evidence, client)
    used_: set[Used] = set()
    seen: set[Seen] = set()
    marks: dict[Component, list[tuple[dt.date, tuple[str, bool]]]] = {c: [] for c in needs}
    for first, last in _spans(question.period_start, question.period_end, governance, candidate_terms, client):
        # Nothing the answer depends on changes within a span: asked on its first day, it holds for every day.
        governing = governance.governing(first)
        for component in needs:
            candidates = candidate_terms.on(first, component)
            seen.update(s for s, _ in candidates)
            holding = [p for p in governing if terms_in_force(p.records, client, first, component)]
            if len(holding) == 1:
                used_.add(used(holding[0]))
                continue
            reason = contract_gap(governance, governing, holding, component, first)
            marks[component].extend((day, (reason, bool(candidates))) for day in days(first, last))
    missing = [
        Missing(kind=CONTRACT, client=client, reason=reason, candidate_exists=candidate, start=start, end=end,
                component=component)
        for component in needs
        for start, end, (reason, candidate) in runs(marks[component])
    ]
    return conclude(question, used=used_, seen=seen, missing=missing)
