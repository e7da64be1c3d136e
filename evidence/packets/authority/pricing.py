"""The pricing audit finding for one claim (client, NDC, fill date): the contract decides which price list
applies, and a price row on that list must be in force on the fill date.

Two steps, each governed or not:
1. the price list: the `price_list` of the client's terms in the governed contract in force on the fill
   date (of the claim's component when the caller gives it; otherwise the client's terms must agree on
   one list). Without it the finding cannot be authorized, whatever price rows exist.
2. the price: a governed price row on that list for the NDC, in force on the fill date, in a pricing
   packet governing that date. A gap between two rows is missing; two governed rows with different
   prices are a conflict.
Indicative when each step that is not governed has candidate evidence (candidate terms naming one list;
a candidate price row on it), not concluded otherwise.
"""
from __future__ import annotations

import datetime as dt

from evidence.packets.authority.contract import CandidateTerms, component_text, contract_gap, terms_in_force
from evidence.packets.authority.decision import Decision, Missing, Question, Seen, Used, conclude
from evidence.packets.authority.governance import (
    Governance,
    candidate_revisions,
    named,
    seen_domo,
    seen_revision,
    used,
)
from evidence.packets.authority.inputs import Evidence, Revision
from evidence.packets.model import CONTRACT, PRICING, PriceRow


def _price_list(question: Question, evidence: Evidence, used_: set[Used],
                seen: set[Seen]) -> tuple[str | None, Missing | None]:
    """The claim's price list and, when the governed contract does not settle it, what is missing."""
    client, day, component = question.client, question.fill_date, question.component
    governance = Governance(evidence, CONTRACT, client)
    governing = governance.governing(day)
    lists: dict[str, list[Revision]] = {}
    for packet in governing:
        for term in terms_in_force(packet.records, client, day, component):
            if term.price_list:
                lists.setdefault(term.price_list, []).append(packet)
    candidates = CandidateTerms(evidence, client).on(day, component)
    seen.update(s for s, _ in candidates)
    if len(lists) == 1:
        ((price_list, packets),) = lists.items()
        used_.update(used(p) for p in packets)
        return price_list, None
    candidate_lists = {t.price_list for _, t in candidates if t.price_list}
    price_list = next(iter(candidate_lists)) if not lists and len(candidate_lists) == 1 else None
    what = f"for {component_text(component)}" if component else "for the client"
    if lists:
        named_lists = "; ".join(f"{name}: {', '.join(named(p) for p in packets)}"
                                for name, packets in sorted(lists.items()))
        reason = (f"the governed contract terms {what} name several price lists on the fill date ({named_lists})"
                  + ("" if component else "; the claim's component decides which"))
    else:
        holding = [p for p in governing if terms_in_force(p.records, client, day, component)]
        if holding:
            reason = f"the governed contract {' and '.join(named(p) for p in holding)} names no price list {what}"
        else:
            reason = contract_gap(governance, governing, holding, component, day)
        reason += ", so the claim's price list is not known"
    missing = Missing(kind=CONTRACT, client=client, reason=reason, candidate_exists=price_list is not None,
                      start=day, end=day, component=component, ndc=question.ndc)
    return price_list, missing


def _rows(records, price_list: str, ndc: str) -> list[PriceRow]:
    return [r for r in records if isinstance(r, PriceRow) and r.price_list == price_list and r.ndc == ndc]


def _gap(governance: Governance, price_list: str, ndc: str, day: dt.date) -> str:
    """Why no governed price row is in force: the rows around the date, and packets that stop short of it."""
    reason = f"no governed price row for NDC {ndc} on price list {price_list} is in force on {day.isoformat()}"
    rows = [(p, r) for p in governance.packets for r in _rows(p.records, price_list, ndc)]
    before = [r for _, r in rows if r.end_date is not None and r.end_date < day]
    after = [r for _, r in rows if r.effective_date > day]
    if before and after:
        last, first = max(before, key=lambda r: r.end_date), min(after, key=lambda r: r.effective_date)
        reason += (f": the row effective {last.effective_date.isoformat()} ends {last.end_date.isoformat()} "
                   f"and the next is effective from {first.effective_date.isoformat()}")
    elif before:
        reason += f": the last row ends {max(r.end_date for r in before).isoformat()}"
    elif after:
        reason += f": the first row is effective from {min(r.effective_date for r in after).isoformat()}"
    stopped = sorted({named(p) for p, r in rows if r.in_force(day) and not p.holds(day)})
    if stopped:
        reason += f"; the period of {', '.join(stopped)} does not hold the date"
    return reason + governance.superseded_note(day)


def _price(question: Question, evidence: Evidence, price_list: str, used_: set[Used],
           seen: set[Seen]) -> Missing | None:
    client, day, ndc = question.client, question.fill_date, question.ndc
    governance = Governance(evidence, PRICING, client)
    rows = [(p, r) for p in governance.governing(day) for r in _rows(p.records, price_list, ndc) if r.in_force(day)]
    candidates = [
        seen_revision(p) for p in candidate_revisions(evidence, PRICING, client) if p.holds(day)
        and any(r.in_force(day) for r in _rows(p.records, price_list, ndc))
    ] + [
        seen_domo(d) for d in evidence.domo_of_kind(PRICING)
        if any(r.in_force(day) for r in _rows((d.record,), price_list, ndc))
    ]
    seen.update(candidates)
    prices = {r.mac_unit_price for _, r in rows}
    if len(prices) == 1:
        used_.update(used(p) for p, _ in rows)
        return None
    if prices:
        listed = "; ".join(f"{r.mac_unit_price} in {named(p)}" for p, r in sorted(rows, key=lambda pr: pr[0].packet_id))
        reason = (f"governed price rows for NDC {ndc} on price list {price_list} disagree on {day.isoformat()} "
                  f"({listed})")
    else:
        reason = _gap(governance, price_list, ndc, day)
    return Missing(kind=PRICING, client=client, reason=reason, candidate_exists=bool(candidates), start=day, end=day,
                   component=question.component, ndc=ndc, price_list=price_list)


def decide_pricing(question: Question, evidence: Evidence) -> Decision:
    used_: set[Used] = set()
    seen: set[Seen] = set()
    price_list, list_missing = _price_list(question, evidence, used_, seen)
    missing = [list_missing] if list_missing else []
    if price_list is not None:
        price_missing = _price(question, evidence, price_list, used_, seen)
        if price_missing:
            missing.append(price_missing)
    return conclude(question, used=used_, seen=seen, missing=missing)
