"""How an open flag that is no longer computed ends: is its need still there (then governed evidence covers
it now, and decide() names the revisions it uses), or are the claims that needed it gone."""
from __future__ import annotations

import datetime as dt

from evidence.packets.authority import (
    CLIENT_SCOPE,
    CONTRACT_GUARANTEE,
    PRICING_FINDING,
    REBATE_CLAIM,
    Evidence,
    decide,
)
from evidence.packets.model import CONTRACT, PRICING, REBATE, SALESFORCE


def need_exists(con, flag) -> dict | None:
    """One need of the current claims at the flag's grain (the first, for pricing), or None."""
    client = flag.client_account_id
    if flag.kind == CONTRACT:
        channel, drug_class = flag.component.split("/")
        found = con.execute("SELECT 1 FROM contract_needs WHERE client = ? AND year = ? AND channel = ? "
                            "AND drug_class = ? LIMIT 1",
                            [client, flag.period_start.year, channel, drug_class]).fetchone()
        return {"component": [channel, drug_class]} if found else None
    if flag.kind == SALESFORCE:
        found = con.execute("SELECT 1 FROM claim_days WHERE client = ? LIMIT 1", [client]).fetchone()
        return {} if found else None
    if flag.kind == PRICING:
        found = con.execute("SELECT channel, fill_date FROM generic_needs WHERE client = ? AND ndc = ? "
                            "AND fill_date BETWEEN ? AND ? ORDER BY fill_date, channel LIMIT 1",
                            [client, flag.ndc, flag.period_start, flag.period_end]).fetchone()
        return {"channel": found[0], "fill_date": found[1].isoformat()} if found else None
    if flag.kind == REBATE:
        found = con.execute("SELECT 1 FROM brand_needs WHERE client = ? AND ndc = ? AND quarter = ? LIMIT 1",
                            [client, flag.ndc, flag.quarter]).fetchone()
        return {} if found else None
    return None


def _decision(flag, need: dict, evidence: Evidence):
    client = flag.client_account_id
    if flag.kind == CONTRACT:
        return decide(CONTRACT_GUARANTEE, client=client, period=(flag.period_start, flag.period_end),
                      component=tuple(need["component"]), evidence=evidence)
    if flag.kind == PRICING:
        return decide(PRICING_FINDING, client=client, ndc=flag.ndc, component=(need["channel"], "generic"),
                      fill_date=dt.date.fromisoformat(need["fill_date"]), evidence=evidence)
    if flag.kind == REBATE:
        return decide(REBATE_CLAIM, client=client, ndc=flag.ndc, quarter=flag.quarter, evidence=evidence)
    return decide(CLIENT_SCOPE, client=client, evidence=evidence)


def covering_revision(flag, need: dict, evidence: Evidence | None) -> int | None:
    """The PacketRevision id that covers the flag now: of the governed revisions decide() uses for its need
    the one verified last (the verification that closed the gap)."""
    from evidence.choices import PacketStatus
    from evidence.models import PacketRevision

    decision = _decision(flag, need, evidence or Evidence())
    if not decision.authorized:
        return None
    used = list(decision.governed_used)
    revisions = [
        PacketRevision.objects.filter(packet__packet_id=u.packet_id, revision=u.revision,
                                      status=PacketStatus.ACCEPTED).values_list("pk", "verified_at").first()
        for u in used
    ]
    revisions = [r for r in revisions if r is not None]
    if not revisions:
        return None
    return max(revisions, key=lambda r: (r[1] is not None, r[1], r[0]))[0]
