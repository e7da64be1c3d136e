"""The rebate conclusion (or a rebate-backed claim) and the client scope.

Rebate: governed invoices matching client, quarter and NDC exactly, from rebate packets that govern the
invoice's quarter: the packet's period holds the whole quarter, and no governed packet supersedes it by the
quarter's first day (a superseding rebate packet replaces the quarters from its start). The invoice's own
date does not decide it: an invoice comes after its quarter, often after the packet's period (the format
allows it). Invoices for the client and quarter but another NDC are a partial match: not concluded, and
said so. The same invoice and NDC in two governed packets that do not supersede one another would be
counted twice: a conflict.

Client scope: a governed Salesforce account row for the client's account id, in a packet that speaks for
the client and that no governed packet supersedes (scope is about the accounts as they stand now, not a
period). Never indicative: Domo's copy of the accounts decides nobody's access.
"""
from __future__ import annotations

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
from evidence.packets.model import REBATE, SALESFORCE, Account, RebateInvoice, quarter_bounds


def _invoices(records, client: str, quarter: str) -> list[RebateInvoice]:
    return [
        r for r in records
        if isinstance(r, RebateInvoice) and r.client_account_id == client and r.quarter == quarter
    ]


def _governs_quarter(governance: Governance, packet: Revision, quarter: str) -> bool:
    first, last = quarter_bounds(quarter)
    return governance.governs(packet, first) and packet.holds(last)


def _holds_quarter(packet: Revision, quarter: str) -> bool:
    first, last = quarter_bounds(quarter)
    return packet.holds(first) and packet.holds(last)


def decide_rebate(question: Question, evidence: Evidence) -> Decision:
    client, quarter, ndc = question.client, question.quarter, question.ndc
    governance = Governance(evidence, REBATE, client)
    in_quarter = [
        (p, r) for p in governance.packets if _governs_quarter(governance, p, quarter)
        for r in p.invoices_of(client, quarter)
    ]
    exact = [(p, r) for p, r in in_quarter if r.ndc == ndc]
    candidates = [
        seen_revision(p) for p in candidate_revisions(evidence, REBATE, client)
        if _holds_quarter(p, quarter) and any(r.ndc == ndc for r in p.invoices_of(client, quarter))
    ] + [
        seen_domo(d) for d in evidence.domo_of_kind(REBATE)
        if any(r.ndc == ndc for r in _invoices((d.record,), client, quarter))
    ]
    seen: set[Seen] = set(candidates)
    used_: set[Used] = {used(p) for p, _ in exact}
    holders: dict[str, set[str]] = {}
    for packet, invoice in exact:
        holders.setdefault(invoice.invoice_id, set()).add(named(packet))
    twice = {invoice_id: packets for invoice_id, packets in holders.items() if len(packets) > 1}
    reason = ""
    if twice:
        reason = "; ".join(f"invoice {i} for NDC {ndc} is in governed packets {' and '.join(sorted(p))}, "
                           "neither superseding the other" for i, p in sorted(twice.items()))
    elif not exact and in_quarter:
        others = sorted({named(p) for p, _ in in_quarter})
        reason = (f"governed invoices for the client in {quarter} ({', '.join(others)}) hold no invoice for NDC {ndc}: "
                  "a rebate is concluded only from invoices matching client, quarter and NDC exactly")
    elif not exact:
        reason = f"no governed rebate invoice for the client in {quarter} for NDC {ndc}"
    missing = []
    if reason:
        missing.append(Missing(kind=REBATE, client=client, reason=reason, candidate_exists=bool(candidates),
                               ndc=ndc, quarter=quarter))
    return conclude(question, used=used_, seen=seen, missing=missing)


def _accounts(records, client: str) -> list[Account]:
    return [r for r in records if isinstance(r, Account) and r.account_id == client]


def decide_scope(question: Question, evidence: Evidence) -> Decision:
    client = question.client
    governance = Governance(evidence, SALESFORCE, client)
    current = [p for p in governance.packets if p.packet_id not in governance.superseded_from]
    holding = [p for p in current if _accounts(p.records, client)]
    seen: set[Seen] = {seen_revision(p) for p in candidate_revisions(evidence, SALESFORCE, client)
                       if _accounts(p.records, client)}
    seen.update(seen_domo(d) for d in evidence.domo_of_kind(SALESFORCE) if _accounts((d.record,), client))
    missing = []
    if not holding:
        superseded = sorted(named(p) for p in governance.packets if p.packet_id in governance.superseded_from
                            and _accounts(p.records, client))
        reason = "no governed Salesforce account row for the client's account id"
        if superseded:
            reason += f" ({', '.join(superseded)} held one but is superseded)"
        missing.append(Missing(kind=SALESFORCE, client=client, reason=reason, candidate_exists=bool(seen)))
    return conclude(question, used={used(p) for p in holding}, seen=seen, missing=missing,
                    indicative_allowed=False)
