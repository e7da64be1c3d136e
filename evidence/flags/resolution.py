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


def needs_of(con, flags) -> dict[int, dict | None]:
    """For each flag (by pk): one need of the current claims at its grain (for pricing, its first fill date and
    channel), or None when the claims that needed it are gone. One query per kind, whatever the number of flags."""
    found: dict[int, dict | None] = {flag.pk: None for flag in flags}
    by_kind: dict[str, list] = {}
    for flag in flags:
        by_kind.setdefault(flag.kind, []).append(flag)
    if by_kind.get(CONTRACT):
        rows = [(f.pk, f.client_account_id, f.period_start.year, *f.component.split("/")) for f in by_kind[CONTRACT]]
        con.execute("CREATE OR REPLACE TEMP TABLE wanted (pk BIGINT, client VARCHAR, year INTEGER, channel VARCHAR, "
                    "drug_class VARCHAR)")
        con.executemany("INSERT INTO wanted VALUES (?, ?, ?, ?, ?)", rows)
        for pk, channel, drug_class in con.execute(
                "SELECT DISTINCT w.pk, w.channel, w.drug_class FROM wanted w JOIN contract_needs n "
                "USING (client, year, channel, drug_class)").fetchall():
            found[pk] = {"component": [channel, drug_class]}
    if by_kind.get(SALESFORCE):
        present = {c for (c,) in con.execute("SELECT DISTINCT client FROM contract_needs").fetchall()}
        found.update({f.pk: {} for f in by_kind[SALESFORCE] if f.client_account_id in present})
    if by_kind.get(PRICING):
        rows = [(f.pk, f.client_account_id, f.ndc, f.period_start, f.period_end) for f in by_kind[PRICING]]
        con.execute("CREATE OR REPLACE TEMP TABLE wanted (pk BIGINT, client VARCHAR, ndc VARCHAR, first DATE, "
                    "last DATE)")
        con.executemany("INSERT INTO wanted VALUES (?, ?, ?, ?, ?)", rows)
        for pk, channel, day in con.execute(
                "SELECT w.pk, arg_min(n.channel, [n.fill_date::VARCHAR, n.channel]), min(n.fill_date) "
                "FROM wanted w JOIN generic_needs n ON n.client = w.client AND n.ndc = w.ndc "
                "AND n.fill_date BETWEEN w.first AND w.last GROUP BY w.pk").fetchall():
            found[pk] = {"channel": channel, "fill_date": day.isoformat()}
    if by_kind.get(REBATE):
        present = set(con.execute("SELECT client, ndc, quarter FROM brand_needs").fetchall())
        found.update({f.pk: {} for f in by_kind[REBATE] if (f.client_account_id, f.ndc, f.quarter) in present})
    return found


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
