"""Which needs have no governed coverage, as flags. Plain module, no Django: give it the needs (a DuckDB
connection holding evidence.flags.needs' tables, and the client periods) and each client's authority Evidence.

Contract and Salesforce needs are few (a client's components per year; one per client): decide() answers each.
Pricing and rebate needs are many: evidence.flags.columnar answers them in DuckDB, the same way decide() would;
here they are grouped at the flag's grain (pricing: client, generic NDC, month; rebate: client, brand NDC,
quarter) and given a reason a person reads.
"""
from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence

import duckdb

from evidence.flags import columnar
from evidence.flags.computed import Flag, gc_paused, seen_json, source_json, source_text, span
from evidence.flags.needs import ClientPeriod
from evidence.packets.authority import (
    AUTHORIZED,
    CLIENT_SCOPE,
    CONTRACT_GUARANTEE,
    INDICATIVE,
    PRICING_FINDING,
    REBATE_CLAIM,
    Evidence,
    decide,
)
from evidence.packets.model import CONTRACT, PRICING, REBATE, SALESFORCE, quarter_bounds

HOLDS_BACK = {
    CONTRACT: [CONTRACT_GUARANTEE],
    PRICING: [PRICING_FINDING],
    REBATE: [REBATE_CLAIM],
    SALESFORCE: [CLIENT_SCOPE],
}


@functools.lru_cache(maxsize=4096)
def _candidates_clause(indicative: bool, sources: tuple[str, ...], what: str) -> str:
    """The end of a reason: whether candidate evidence covers it, and from where (packets, Domo)."""
    if not indicative:
        return f"; no candidate {what} would cover it either" if not sources else \
            f"; candidate {what} exists but does not cover all of it"
    domo = any(s.startswith("domo:") for s in sources)
    packets = any(s.startswith("packet:") for s in sources)
    where = " and ".join(w for w, present in (("unverified or withdrawn packets", packets), ("Domo", domo)) if present)
    return f"; candidate {what} from {where or 'candidate evidence'} exists"


@functools.lru_cache(maxsize=4096)
def _candidates(sources: tuple[str, ...]) -> list[dict]:
    """The flag's `candidates` (cached: flags with the same sources share one list, which nobody changes)."""
    return [dict(source_json(s)) for s in sources]


# --- contract and Salesforce: decide() per need -----------------------------------------------------------
def contract_flags(periods: Sequence[ClientPeriod], evidence: Mapping[str, Evidence]) -> list[Flag]:
    flags = []
    for period in periods:
        found = evidence.get(period.client, Evidence())
        bounds = (period.period_start, period.period_end)
        for channel, drug_class in period.components:
            decision = decide(CONTRACT_GUARANTEE, client=period.client, period=bounds,
                              component=(channel, drug_class), evidence=found)
            if decision.decision == AUTHORIZED:
                continue
            indicative = decision.decision == INDICATIVE
            candidates = [seen_json(s) for s in decision.candidates_seen]
            days = sum((m.end - m.start).days + 1 for m in decision.missing)
            whole = days == (period.period_end - period.period_start).days + 1
            what = f"{channel}/{drug_class} for {period.client} in {span(*bounds)}"
            reason = (f"No governed contract covers {what}" if whole
                      else f"No governed contract covers {what} on {days} of its days")
            reason += ": " + "; ".join(f"{span(m.start, m.end)}: {m.reason}" for m in decision.missing)
            reason += _candidates_clause(indicative, tuple(source_text(s) for s in decision.candidates_seen), "terms")
            flags.append(Flag(
                kind=CONTRACT, client=period.client, period_start=period.period_start, period_end=period.period_end,
                component=f"{channel}/{drug_class}", holds_back=list(HOLDS_BACK[CONTRACT]), reason=reason,
                candidate_exists=indicative, candidates=candidates, key_period=period.period_start,
                detail={"claims_components": [channel, drug_class], "conclusions": [f"{channel}/{drug_class}", "combined"],
                        "days_missing": days, "decision": decision.decision,
                        "missing": [m.to_dict() for m in decision.missing]},
            ))
    return flags


def salesforce_flags(periods: Sequence[ClientPeriod], evidence: Mapping[str, Evidence]) -> list[Flag]:
    flags = []
    spans: dict[str, tuple[dt.date, dt.date]] = {}
    for period in periods:
        first, last = spans.get(period.client, (period.period_start, period.period_end))
        spans[period.client] = (min(first, period.period_start), max(last, period.period_end))
    for client, (first, last) in sorted(spans.items()):
        decision = decide(CLIENT_SCOPE, client=client, evidence=evidence.get(client, Evidence()))
        if decision.decision == AUTHORIZED:
            continue
        candidates = [seen_json(s) for s in decision.candidates_seen]
        reason = (f"No governed Salesforce account for {client}: {decision.missing[0].reason}; nobody's access to "
                  "the client's outputs can rest on it")
        if candidates:
            reason += " (candidate account rows exist, but client scope is never indicative)"
        flags.append(Flag(
            kind=SALESFORCE, client=client, period_start=first, period_end=last,
            holds_back=list(HOLDS_BACK[SALESFORCE]), reason=reason, candidate_exists=bool(candidates),
            candidates=candidates, key_period=None,
            detail={"decision": decision.decision, "missing": [m.to_dict() for m in decision.missing]},
        ))
    return flags


# --- pricing and rebate: columnar ------------------------------------------------------------------------
# Grouped, worded and shaped in DuckDB (a few Python objects a flag, not a loop of string work per flag);
# in no order: compute_flags sorts every flag by key.
PRICING_FLAGS = """
WITH flags AS (
    SELECT client, ndc, date_trunc('month', fill_date)::DATE AS month, count(DISTINCT fill_date) AS dates,
           sum(claims)::BIGINT AS claims, min(fill_date) AS first, max(fill_date) AS last,
           list(DISTINCT channel ORDER BY channel) AS channels,
           coalesce(list(DISTINCT price_list ORDER BY price_list) FILTER (WHERE price_list IS NOT NULL), [])
               AS lists,
           count(*) FILTER (WHERE NOT list_governed) AS no_list,
           count(*) FILTER (WHERE price_list IS NOT NULL AND prices = 0) AS gap,
           count(*) FILTER (WHERE prices > 1) AS conflict,
           bool_and(indicative) AS indicative, count(*) FILTER (WHERE indicative) AS indicative_needs,
           count(*) AS needs, split_part(min(strftime(fill_date, '%Y-%m-%d') || '|' || channel), '|', 2) AS first_channel
    FROM pricing_flagged GROUP BY client, ndc, month
)
SELECT client, ndc, month, (month + INTERVAL 1 MONTH - INTERVAL 1 DAY)::DATE AS month_end, indicative,
       coalesce(array_to_string(s.sources, '\n'), '') AS sources,
       printf('No governed price for generic NDC %s for %s on %d fill date%s in %s (%s; %d claim%s, %s; '
              '%d fill date × channel need%s): ',
              ndc, client, dates, CASE WHEN dates = 1 THEN '' ELSE 's' END, strftime(month, '%Y-%m'),
              CASE WHEN first = last THEN strftime(first, '%Y-%m-%d')
                   ELSE strftime(first, '%Y-%m-%d') || '…' || strftime(last, '%Y-%m-%d') END,
              claims, CASE WHEN claims = 1 THEN '' ELSE 's' END, array_to_string(channels, ', '),
              needs, CASE WHEN needs = 1 THEN '' ELSE 's' END)
       || array_to_string(list_filter([
              CASE WHEN no_list > 0 THEN printf('the governed contract does not settle the price list for %d of them',
                                                no_list) END,
              CASE WHEN gap > 0 THEN printf('no governed price row on %s is in force for %d of them',
                                            array_to_string(lists, ', '), gap) END,
              CASE WHEN conflict > 0 THEN printf('governed price rows disagree for %d of them', conflict) END],
              lambda x: x IS NOT NULL), '; ') AS reason,
       dates, claims, strftime(first, '%Y-%m-%d') AS first_day, strftime(last, '%Y-%m-%d') AS last_day,
       array_to_string(channels, ','), array_to_string(lists, '\n'), no_list, gap, conflict, needs, indicative_needs,
       first_channel
FROM flags LEFT JOIN pricing_sources s USING (client, ndc, month)
"""


def pricing_flags(con: duckdb.DuckDBPyConnection) -> list[Flag]:
    with gc_paused():
        return _pricing_flags(con.execute(PRICING_FLAGS).fetchall())


def _pricing_flags(rows) -> list[Flag]:
    # Lists come out of DuckDB as joined text: far cheaper to fetch than lists, split here.
    holds_back = HOLDS_BACK[PRICING]
    flags = []
    for (client, ndc, month, end, indicative, sources, reason, dates, claims, first, last, channels, lists, no_list,
         gap, conflict, needs, indicative_needs, first_channel) in rows:
        sources = tuple(sources.split("\n")) if sources else ()
        flags.append(Flag(
            kind=PRICING, client=client, period_start=month, period_end=end, ndc=ndc, holds_back=holds_back,
            reason=reason + _candidates_clause(bool(indicative), sources, "pricing"),
            candidate_exists=bool(indicative), candidates=_candidates(sources), key_period=month,
            detail={"fill_dates": dates, "claims": claims, "first_day": first, "last_day": last,
                    "channels": channels.split(","), "price_lists": lists.split("\n") if lists else [],
                    "no_price_list": no_list, "no_price_row": gap, "conflicting_prices": conflict, "needs": needs,
                    "indicative_needs": indicative_needs, "first_need": {"channel": first_channel, "fill_date": first}}))
    return flags


REBATE_FLAGS = """
SELECT client, ndc, quarter, claims, twice, quarter_packets, indicative, sources
FROM rebate_flagged ORDER BY client, ndc, quarter
"""


def rebate_flags(con: duckdb.DuckDBPyConnection) -> list[Flag]:
    with gc_paused():
        return _rebate_flags(con.execute(REBATE_FLAGS).fetchall())


def _rebate_flags(rows) -> list[Flag]:
    flags = []
    for client, ndc, quarter, claims, twice, packets, indicative, sources in rows:
        candidates = _candidates(tuple(sources))
        what = f"{client}, brand NDC {ndc}, {quarter} ({claims} claim{'' if claims == 1 else 's'})"
        if twice:
            invoices = f"invoice {twice[0]} is" if len(twice) == 1 else f"invoices {', '.join(twice)} are"
            reason = (f"Governed rebate invoices for {what} are counted twice: {invoices} in "
                      "two governed packets, neither superseding the other")
        elif packets:
            reason = (f"No governed rebate invoice for {what}: the governed invoices of the quarter "
                      f"({', '.join(packets)}) hold none for this NDC, and a rebate is concluded only from an exact "
                      "match (a partial match)")
        else:
            reason = f"No governed rebate invoice for {what}"
        reason += _candidates_clause(bool(indicative), tuple(sources), "invoices")
        first, last = quarter_bounds(quarter)
        flags.append(Flag(
            kind=REBATE, client=client, period_start=first, period_end=last, ndc=ndc, quarter=quarter,
            holds_back=list(HOLDS_BACK[REBATE]), reason=reason, candidate_exists=bool(indicative),
            candidates=candidates, key_period=first,
            detail={"claims": claims, "twice": list(twice or []), "quarter_packets": list(packets or [])},
        ))
    return flags


def compute_flags(con: duckdb.DuckDBPyConnection, periods: Sequence[ClientPeriod],
                  evidence: Mapping[str, Evidence]) -> list[Flag]:
    """Every flag of the needs in `con` against each client's evidence, in key order (deterministic)."""
    columnar.pricing_coverage(con, evidence)
    columnar.rebate_coverage(con, evidence)
    flags = [*contract_flags(periods, evidence), *salesforce_flags(periods, evidence), *pricing_flags(con),
             *rebate_flags(con)]
    return sorted(flags, key=lambda f: f.key)
