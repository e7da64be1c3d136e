"""Pricing and rebate coverage, columnar: every generic claim's NDC × fill date and every brand NDC × quarter
against small DuckDB tables of the governing evidence. Plain module, no Django.

The evidence tables are derived with the authority module's own governance (latest verified revision of a
packet, supersession from the superseding packet's start, candidates = received or withdrawn revisions and
Domo rows), so the answer is decide()'s, need by need (tests/evidence/flags prove it on samples):

- `price_lists` (client, channel, seg_start, seg_end, price_list, list_governed, list_candidate, list_sources):
  the claim's price list as pricing._price_list answers it, evaluated once per stretch of days over which
  nothing in the client's contract evidence changes (packet and term periods, supersession starts);
- `gov_prices` (grp, price_list, ndc, start, stop, price): each governed price row clipped to the days its
  packet governs for the clients of the group (clients whose governing pricing packets are the same share
  one group, so a price list serving every client is held once); `cand_prices` the candidate rows, clipped
  to their packet's period (Domo rows: their own dates);
- `gov_invoices` (client, quarter, ndc, invoice_id, pkey): governed invoices from packets governing their
  quarter; `cand_invoices` the candidate ones.

A pricing need is flagged unless its price list is governed and exactly one distinct governed price is in
force; it is indicative when each missing step has candidate evidence (decide's rule). A rebate need is
flagged unless governed invoices match client, quarter and NDC and no invoice is held by two packets.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import duckdb
import pyarrow as pa

from evidence.flags.computed import source_text
from evidence.packets.authority import PRICING_FINDING, Evidence, Question
from evidence.packets.authority.governance import Governance, candidate_revisions, seen_domo, seen_revision
from evidence.packets.authority.pricing import _price_list
from evidence.packets.authority.rebate import _governs_quarter, _holds_quarter
from evidence.packets.model import CONTRACT, PRICING, REBATE, ContractTerm, PriceRow, RebateInvoice

ONE_DAY = dt.timedelta(days=1)
FAR = dt.date(9999, 12, 31)
NO_NDC = "00000000000"  # _price_list never reads the NDC


def _register(con: duckdb.DuckDBPyConnection, name: str, schema: pa.Schema, columns: dict[str, list]) -> None:
    table = pa.table({f.name: pa.array(columns[f.name], type=f.type) for f in schema}, schema=schema)
    con.register(f"{name}_arrow", table)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
    con.unregister(f"{name}_arrow")


def _window(governance: Governance, packet) -> tuple[dt.date, dt.date] | None:
    """The days a governed packet governs for the governance's client (its period, cut at its supersession)."""
    end = packet.period_end
    replaced = governance.superseded_from.get(packet.packet_id)
    if replaced is not None:
        end = min(end, replaced - ONE_DAY)
    return (packet.period_start, end) if packet.period_start <= end else None


# --- pricing -------------------------------------------------------------------------------------------------
def _contract_breaks(evidence: Evidence, client: str, first: dt.date, last: dt.date) -> list[dt.date]:
    """The days from which the client's contract evidence may answer differently (segment starts)."""
    days = {first}
    for revision in evidence.of_kind(CONTRACT):
        if not revision.speaks_for(client):
            continue
        days.update((revision.period_start, revision.period_end + ONE_DAY))
        for term in revision.records:
            if isinstance(term, ContractTerm):
                days.update((term.period_start, term.period_end + ONE_DAY))
    days.update(Governance(evidence, CONTRACT, client).superseded_from.values())
    for row in evidence.domo_of_kind(CONTRACT):
        days.update((row.record.period_start, row.record.period_end + ONE_DAY))
    return sorted(d for d in days if first <= d <= last)


PRICE_LISTS = pa.schema([("client", pa.string()), ("channel", pa.string()), ("seg_start", pa.date32()),
                         ("seg_end", pa.date32()), ("price_list", pa.string()), ("list_governed", pa.bool_()),
                         ("list_candidate", pa.bool_()), ("list_sources", pa.list_(pa.string()))])
GOV_PRICES = pa.schema([("grp", pa.int32()), ("price_list", pa.string()), ("ndc", pa.string()),
                        ("start", pa.date32()), ("stop", pa.date32()), ("price", pa.string())])
CAND_PRICES = pa.schema([("grp", pa.int32()), ("price_list", pa.string()), ("ndc", pa.string()),
                         ("start", pa.date32()), ("stop", pa.date32()), ("source", pa.string())])
PRICE_GROUPS = pa.schema([("client", pa.string()), ("grp", pa.int32())])


def _price_lists(con, evidence: Mapping[str, Evidence]) -> None:
    ranges = con.execute("SELECT client, channel, min(fill_date), max(fill_date) FROM generic_needs "
                         "GROUP BY ALL ORDER BY ALL").fetchall()
    out = {f.name: [] for f in PRICE_LISTS}
    for client, channel, first, last in ranges:
        found = evidence.get(client, Evidence())
        starts = _contract_breaks(found, client, first, last)
        for index, start in enumerate(starts):
            end = starts[index + 1] - ONE_DAY if index + 1 < len(starts) else last
            seen: set = set()
            question = Question(output=PRICING_FINDING, client=client, component=(channel, "generic"), ndc=NO_NDC,
                                fill_date=start)
            price_list, missing = _price_list(question, found, set(), seen)
            for name, value in (("client", client), ("channel", channel), ("seg_start", start), ("seg_end", end),
                                ("price_list", price_list), ("list_governed", missing is None),
                                ("list_candidate", bool(missing and missing.candidate_exists)),
                                ("list_sources", sorted(source_text(s) for s in seen))):
                out[name].append(value)
    _register(con, "price_lists", PRICE_LISTS, out)


def _price_groups(con, evidence: Mapping[str, Evidence]) -> None:
    clients = [c for (c,) in con.execute("SELECT DISTINCT client FROM generic_needs ORDER BY 1").fetchall()]
    groups: dict[tuple, int] = {}
    members = {"client": [], "grp": []}
    gov = {f.name: [] for f in GOV_PRICES}
    cand = {f.name: [] for f in CAND_PRICES}
    for client in clients:
        found = evidence.get(client, Evidence())
        governance = Governance(found, PRICING, client)
        windows = [(p, w) for p in governance.packets if (w := _window(governance, p)) is not None]
        candidates = [p for p in candidate_revisions(found, PRICING, client)]
        domo = found.domo_of_kind(PRICING)
        signature = (tuple((p.packet_id, p.revision, p.sha256, w) for p, w in windows),
                     tuple((p.packet_id, p.revision, p.sha256) for p in candidates),
                     tuple(source_text(seen_domo(d)) for d in domo))
        if signature not in groups:
            grp = groups[signature] = len(groups)
            for packet, (start, stop) in windows:
                for row in packet.records:
                    if not isinstance(row, PriceRow):
                        continue
                    lo, hi = max(start, row.effective_date), min(stop, row.end_date or FAR)
                    if lo <= hi:
                        for name, value in (("grp", grp), ("price_list", row.price_list), ("ndc", row.ndc),
                                            ("start", lo), ("stop", hi), ("price", str(row.mac_unit_price.normalize()))):
                            gov[name].append(value)
            sources = [(p, p.period_start, p.period_end, source_text(seen_revision(p))) for p in candidates]
            sources += [(None, None, None, source_text(seen_domo(d))) for d in domo]
            for index, (packet, start, stop, text) in enumerate(sources):
                rows = packet.records if packet is not None else (domo[index - len(candidates)].record,)
                for row in rows:
                    if not isinstance(row, PriceRow):
                        continue
                    lo = max(start, row.effective_date) if start else row.effective_date
                    hi = min(stop, row.end_date or FAR) if stop else (row.end_date or FAR)
                    if lo <= hi:
                        for name, value in (("grp", grp), ("price_list", row.price_list), ("ndc", row.ndc),
                                            ("start", lo), ("stop", hi), ("source", text)):
                            cand[name].append(value)
        members["client"].append(client)
        members["grp"].append(groups[signature])
    _register(con, "price_groups", PRICE_GROUPS, members)
    _register(con, "gov_prices", GOV_PRICES, gov)
    _register(con, "cand_prices", CAND_PRICES, cand)


PRICING_STATUS = """
CREATE OR REPLACE TEMP TABLE pricing_flagged AS
WITH needs AS (
    SELECT g.client, g.channel, g.ndc, g.fill_date, g.claims, m.grp, l.price_list,
           coalesce(l.list_governed, false) AS list_governed, coalesce(l.list_candidate, false) AS list_candidate,
           coalesce(l.list_sources, []) AS list_sources
    FROM generic_needs g
    JOIN price_groups m ON m.client = g.client
    LEFT JOIN price_lists l ON l.client = g.client AND l.channel = g.channel
         AND g.fill_date BETWEEN l.seg_start AND l.seg_end
), priced AS (
    SELECT n.client, n.channel, n.ndc, n.fill_date, count(DISTINCT p.price) AS prices
    FROM needs n JOIN gov_prices p ON p.grp = n.grp AND p.price_list = n.price_list AND p.ndc = n.ndc
         AND n.fill_date BETWEEN p.start AND p.stop
    GROUP BY ALL
), open_needs AS (
    SELECT n.*, coalesce(p.prices, 0) AS prices
    FROM needs n LEFT JOIN priced p USING (client, channel, ndc, fill_date)
    WHERE NOT (n.list_governed AND coalesce(p.prices, 0) = 1)
), candidates AS (
    SELECT o.client, o.channel, o.ndc, o.fill_date, list(DISTINCT c.source ORDER BY c.source) AS sources
    FROM open_needs o JOIN cand_prices c ON c.grp = o.grp AND c.price_list = o.price_list AND c.ndc = o.ndc
         AND o.fill_date BETWEEN c.start AND c.stop
    WHERE o.prices <> 1
    GROUP BY ALL
)
SELECT o.client, o.channel, o.ndc, o.fill_date, o.claims, o.price_list, o.list_governed, o.list_candidate,
       o.prices, c.sources IS NOT NULL AS price_candidate,
       (o.list_governed OR o.list_candidate) AND (o.prices = 1 OR c.sources IS NOT NULL) AS indicative,
       list_sort(list_distinct(list_concat(o.list_sources, coalesce(c.sources, [])))) AS sources
FROM open_needs o LEFT JOIN candidates c USING (client, channel, ndc, fill_date)
"""


def pricing_coverage(con: duckdb.DuckDBPyConnection, evidence: Mapping[str, Evidence]) -> None:
    """Create `pricing_flagged`: every generic need (client, channel, NDC, fill date) decide() would not
    authorize, with why (list governed or candidate, distinct governed prices, candidate rows) and whether it
    is indicative."""
    _price_lists(con, evidence)
    _price_groups(con, evidence)
    con.execute(PRICING_STATUS)


# --- rebate --------------------------------------------------------------------------------------------------
GOV_INVOICES = pa.schema([("client", pa.string()), ("quarter", pa.string()), ("ndc", pa.string()),
                          ("invoice_id", pa.string()), ("pkey", pa.string())])
CAND_INVOICES = pa.schema([("client", pa.string()), ("quarter", pa.string()), ("ndc", pa.string()),
                           ("source", pa.string())])


def _invoices(records, client: str):
    return [r for r in records if isinstance(r, RebateInvoice) and r.client_account_id == client]


def _rebate_tables(con, evidence: Mapping[str, Evidence]) -> None:
    wanted = {}
    for client, quarter in con.execute("SELECT DISTINCT client, quarter FROM brand_needs ORDER BY ALL").fetchall():
        wanted.setdefault(client, set()).add(quarter)
    gov = {f.name: [] for f in GOV_INVOICES}
    cand = {f.name: [] for f in CAND_INVOICES}
    for client, quarters in wanted.items():
        found = evidence.get(client, Evidence())
        governance = Governance(found, REBATE, client)
        for packet in governance.packets:
            pkey = f"{packet.packet_id}#{packet.revision}"
            for invoice in _invoices(packet.records, client):
                if invoice.quarter in quarters and _governs_quarter(governance, packet, invoice.quarter):
                    for name, value in (("client", client), ("quarter", invoice.quarter), ("ndc", invoice.ndc),
                                        ("invoice_id", invoice.invoice_id), ("pkey", pkey)):
                        gov[name].append(value)
        sources = [(p.records, p, source_text(seen_revision(p))) for p in candidate_revisions(found, REBATE, client)]
        sources += [((d.record,), None, source_text(seen_domo(d))) for d in found.domo_of_kind(REBATE)]
        for records, packet, text in sources:
            for invoice in _invoices(records, client):
                if invoice.quarter in quarters and (packet is None or _holds_quarter(packet, invoice.quarter)):
                    for name, value in (("client", client), ("quarter", invoice.quarter), ("ndc", invoice.ndc),
                                        ("source", text)):
                        cand[name].append(value)
    _register(con, "gov_invoices", GOV_INVOICES, gov)
    _register(con, "cand_invoices", CAND_INVOICES, cand)


REBATE_STATUS = """
CREATE OR REPLACE TEMP TABLE rebate_flagged AS
WITH held AS (
    SELECT client, quarter, ndc, invoice_id, count(DISTINCT pkey) AS holders
    FROM gov_invoices GROUP BY ALL
), exact AS (
    SELECT client, quarter, ndc, count(*) AS invoices, max(holders) AS holders,
           list(invoice_id ORDER BY invoice_id) FILTER (WHERE holders > 1) AS twice
    FROM held GROUP BY ALL
), in_quarter AS (
    SELECT client, quarter, list(DISTINCT pkey ORDER BY pkey) AS packets FROM gov_invoices GROUP BY ALL
), candidates AS (
    SELECT client, quarter, ndc, list(DISTINCT source ORDER BY source) AS sources FROM cand_invoices GROUP BY ALL
)
SELECT b.client, b.ndc, b.quarter, b.claims, e.twice, q.packets AS quarter_packets,
       c.sources IS NOT NULL AS indicative, coalesce(c.sources, []) AS sources
FROM brand_needs b
LEFT JOIN exact e ON e.client = b.client AND e.quarter = b.quarter AND e.ndc = b.ndc
LEFT JOIN in_quarter q ON q.client = b.client AND q.quarter = b.quarter
LEFT JOIN candidates c ON c.client = b.client AND c.quarter = b.quarter AND c.ndc = b.ndc
WHERE e.client IS NULL OR e.holders > 1
"""


def rebate_coverage(con: duckdb.DuckDBPyConnection, evidence: Mapping[str, Evidence]) -> None:
    """Create `rebate_flagged`: every brand need (client, NDC, quarter) decide() would not authorize."""
    _rebate_tables(con, evidence)
    con.execute(REBATE_STATUS)
