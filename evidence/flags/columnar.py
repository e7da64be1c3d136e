"""Pricing and rebate coverage, columnar: every generic claim's NDC × fill date and every brand NDC × quarter
against small DuckDB tables of the governing evidence. Plain module, no Django.

The evidence tables are derived with the authority module's own governance (latest verified revision of a
packet, supersession from the superseding packet's start, candidates = received or withdrawn revisions and
Domo rows), so the answer is decide()'s, need by need (tests/evidence/flags prove it on samples):

- `price_lists` (client, channel, seg_start, seg_end, price_list, list_governed, list_candidate, list_sources):
  the claim's price list as pricing._price_list answers it, evaluated once per stretch of days over which
  nothing in the client's contract evidence changes (packet and term periods, supersession starts);
- `price_cover` (grp, price_list, ndc, start, stop, prices): from each governed price row clipped to the days
  its packet governs for the clients of the group (clients whose pricing evidence is the same share one group,
  so a price list serving every client is held once), the disjoint runs of days with one distinct price in
  force (covered) or several (a conflict); a day in no run has none. One match per need at most: the need
  joins it like a hand-written query joins price rows. `cand_prices`: the candidate rows, clipped to their
  packet's period (Domo rows: their own dates), looked up only for the needs left uncovered;
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

from evidence.flags.computed import gc_paused, source_text
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


PRICE_LISTS = pa.schema([("seg", pa.int32()), ("client", pa.string()), ("channel", pa.string()), ("grp", pa.int32()),
                         ("seg_start", pa.date32()), ("seg_end", pa.date32()), ("price_list", pa.string()),
                         ("list_governed", pa.bool_()), ("list_candidate", pa.bool_()),
                         ("list_sources", pa.list_(pa.string()))])
PRICE_COVER = pa.schema([("grp", pa.int32()), ("price_list", pa.string()), ("ndc", pa.string()),
                         ("start", pa.date32()), ("stop", pa.date32()), ("prices", pa.int32())])
CAND_PRICES = pa.schema([("grp", pa.int32()), ("price_list", pa.string()), ("ndc", pa.string()),
                         ("start", pa.date32()), ("stop", pa.date32()), ("source", pa.string())])


def _price_lists(con, evidence: Mapping[str, Evidence], groups: dict[str, int]) -> None:
    ranges = con.execute("SELECT client, channel, min(first_day), max(last_day) FROM contract_needs "
                         "WHERE drug_class = 'generic' GROUP BY ALL ORDER BY ALL").fetchall()
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
            for name, value in (("seg", len(out["seg"])), ("client", client), ("channel", channel), ("grp", groups[client]),
                                ("seg_start", start), ("seg_end", end), ("price_list", price_list),
                                ("list_governed", missing is None),
                                ("list_candidate", bool(missing and missing.candidate_exists)),
                                ("list_sources", sorted(source_text(s) for s in seen))):
                out[name].append(value)
    _register(con, "price_lists", PRICE_LISTS, out)


def _cover(rows: list[tuple[str, str, dt.date, dt.date, str]], grp: int, out: dict) -> None:
    """The days of each (price list, NDC) with at least one governed price in force, as disjoint runs carrying
    how many distinct prices are in force (1: covered; 2: a conflict). A day in no run has no price."""
    by_key: dict[tuple[str, str], list[tuple[dt.date, dt.date, str]]] = {}
    for price_list, ndc, start, stop, price in rows:
        by_key.setdefault((price_list, ndc), []).append((start, stop, price))
    for (price_list, ndc), spans in sorted(by_key.items()):
        cuts = sorted({d for start, stop, _ in spans for d in (start, stop + ONE_DAY if stop < FAR else FAR)})
        runs: list[list] = []
        for lo, hi in zip(cuts, cuts[1:] + [FAR]):
            last = hi - ONE_DAY if hi < FAR else FAR
            if lo > last:
                continue
            prices = min(len({p for start, stop, p in spans if start <= lo and last <= stop}), 2)
            if not prices:
                continue
            if runs and runs[-1][1] + ONE_DAY == lo and runs[-1][2] == prices:
                runs[-1][1] = last
            else:
                runs.append([lo, last, prices])
        for lo, last, prices in runs:
            for name, value in (("grp", grp), ("price_list", price_list), ("ndc", ndc), ("start", lo),
                                ("stop", last), ("prices", prices)):
                out[name].append(value)


def _price_groups(con, evidence: Mapping[str, Evidence]) -> dict[str, int]:
    """Each client's price group (clients whose governing and candidate pricing evidence is the same share one),
    with the groups' `price_cover` and `cand_prices` tables."""
    clients = [c for (c,) in con.execute("SELECT DISTINCT client FROM contract_needs WHERE drug_class = 'generic' "
                                         "ORDER BY 1").fetchall()]
    groups: dict[tuple, int] = {}
    members: dict[str, int] = {}
    cover = {f.name: [] for f in PRICE_COVER}
    cand = {f.name: [] for f in CAND_PRICES}
    for client in clients:
        found = evidence.get(client, Evidence())
        governance = Governance(found, PRICING, client)
        windows = [(p, w) for p in governance.packets if (w := governance.window(p)) is not None]
        candidates = candidate_revisions(found, PRICING, client)
        domo = found.domo_of_kind(PRICING)
        signature = (tuple((p.packet_id, p.revision, p.sha256, w) for p, w in windows),
                     tuple((p.packet_id, p.revision, p.sha256) for p in candidates),
                     tuple(source_text(seen_domo(d)) for d in domo))
        if signature not in groups:
            grp = groups[signature] = len(groups)
            rows = []
            for packet, (start, stop) in windows:
                for row in packet.records:
                    if isinstance(row, PriceRow):
                        lo, hi = max(start, row.effective_date), min(stop, row.end_date or FAR)
                        if lo <= hi:
                            rows.append((row.price_list, row.ndc, lo, hi, str(row.mac_unit_price.normalize())))
            _cover(rows, grp, cover)
            sources = [(p.records, p.period_start, p.period_end, source_text(seen_revision(p))) for p in candidates]
            sources += [((d.record,), None, None, source_text(seen_domo(d))) for d in domo]
            for records, start, stop, text in sources:
                for row in records:
                    if not isinstance(row, PriceRow):
                        continue
                    lo = max(start, row.effective_date) if start else row.effective_date
                    hi = min(stop, row.end_date or FAR) if stop else (row.end_date or FAR)
                    if lo <= hi:
                        for name, value in (("grp", grp), ("price_list", row.price_list), ("ndc", row.ndc),
                                            ("start", lo), ("stop", hi), ("source", text)):
                            cand[name].append(value)
        members[client] = groups[signature]
    _register(con, "price_cover", PRICE_COVER, cover)
    _register(con, "cand_prices", CAND_PRICES, cand)
    return members


# The (client, raw channel, NDC) whose every claim is covered, known from the evidence alone: every stretch of
# the client's days for that channel has a governed price list, and one run of a single governed price on that
# list covers the whole stretch. Their claims need no look at all: only the others are aggregated and joined.
PRICING_SAFE = """
CREATE OR REPLACE TEMP TABLE price_safe AS
WITH stretches AS (
    SELECT client, channel, count(*) AS segments FROM price_lists GROUP BY ALL
), safe AS (
    SELECT l.client, l.channel, c.ndc
    FROM price_lists l JOIN price_cover c ON c.grp = l.grp AND c.price_list = l.price_list AND c.prices = 1
         AND c.start <= l.seg_start AND l.seg_end <= c.stop
    WHERE l.list_governed
    GROUP BY ALL HAVING count(*) = any_value((SELECT s.segments FROM stretches s
                                             WHERE s.client = l.client AND s.channel = l.channel))
)
SELECT s.client, m.channel_raw, s.ndc FROM safe s JOIN channel_map m ON m.channel = s.channel
"""
PRICING_OPEN = """
CREATE OR REPLACE TEMP TABLE pricing_open AS
WITH raw AS (
    SELECT c.client, c.channel_raw, c.ndc, c.fill_date, count(*)::BIGINT AS claims
    FROM generic_claims c ANTI JOIN price_safe s
         ON s.client = c.client AND s.channel_raw = c.channel_raw AND s.ndc = c.ndc
    GROUP BY ALL
), g AS (
    SELECT r.client, m.channel, r.ndc, r.fill_date, sum(r.claims)::BIGINT AS claims
    FROM raw r JOIN channel_map m USING (channel_raw) GROUP BY ALL
)
SELECT g.client, g.channel, g.ndc, g.fill_date, g.claims, l.grp, l.seg, l.price_list, l.list_governed,
       l.list_candidate, coalesce(c.prices, 0) AS prices
FROM g
JOIN price_lists l ON l.client = g.client AND l.channel = g.channel AND g.fill_date BETWEEN l.seg_start AND l.seg_end
LEFT JOIN price_cover c ON c.grp = l.grp AND c.price_list = l.price_list AND c.ndc = g.ndc
     AND g.fill_date BETWEEN c.start AND c.stop
WHERE NOT (l.list_governed AND coalesce(c.prices, 0) = 1)
"""
PRICING_CANDIDATES = """
CREATE OR REPLACE TEMP TABLE pricing_candidates AS
SELECT DISTINCT o.client, o.channel, o.ndc, o.fill_date, c.source
FROM pricing_open o JOIN cand_prices c ON c.grp = o.grp AND c.price_list = o.price_list AND c.ndc = o.ndc
     AND o.fill_date BETWEEN c.start AND c.stop
WHERE o.prices <> 1
"""
PRICING_STATUS = """
CREATE OR REPLACE TEMP TABLE pricing_flagged AS
SELECT o.client, o.channel, o.ndc, o.fill_date, o.claims, o.seg, o.price_list, o.list_governed, o.list_candidate,
       o.prices, c.client IS NOT NULL AS price_candidate,
       (o.list_governed OR o.list_candidate) AND (o.prices = 1 OR c.client IS NOT NULL) AS indicative
FROM pricing_open o
LEFT JOIN (SELECT DISTINCT client, channel, ndc, fill_date FROM pricing_candidates) c
     USING (client, channel, ndc, fill_date)
"""
# The candidate evidence seen for each flag (client, generic NDC, month): candidate price rows of its needs, and
# candidate terms of the stretches of days its needs fall in.
PRICING_SOURCES = """
CREATE OR REPLACE TEMP TABLE pricing_sources AS
SELECT client, ndc, month, list(source ORDER BY source) AS sources FROM (
    SELECT client, ndc, date_trunc('month', fill_date)::DATE AS month, source FROM pricing_candidates
    UNION
    SELECT f.client, f.ndc, f.month, unnest(l.list_sources) AS source
    FROM (SELECT DISTINCT client, ndc, date_trunc('month', fill_date)::DATE AS month, seg FROM pricing_flagged) f
    JOIN price_lists l ON l.seg = f.seg
) GROUP BY ALL
"""


def pricing_coverage(con: duckdb.DuckDBPyConnection, evidence: Mapping[str, Evidence]) -> None:
    """Create `pricing_flagged`: every generic need (client, channel, NDC, fill date) decide() would not
    authorize, with why (list governed or candidate, distinct governed prices: 0, 1 or 2 for several, candidate
    rows) and whether it is indicative."""
    with gc_paused():
        groups = _price_groups(con, evidence)
        _price_lists(con, evidence, groups)
    con.execute(PRICING_SAFE)
    con.execute(PRICING_OPEN)
    con.execute(PRICING_CANDIDATES)
    con.execute(PRICING_STATUS)
    con.execute(PRICING_SOURCES)
    con.execute("DROP TABLE pricing_open")


# --- rebate --------------------------------------------------------------------------------------------------
GOV_INVOICES = pa.schema([("client", pa.string()), ("quarter", pa.string()), ("ndc", pa.string()),
                          ("invoice_id", pa.string()), ("pkey", pa.string())])
CAND_INVOICES = pa.schema([("client", pa.string()), ("quarter", pa.string()), ("ndc", pa.string()),
                           ("source", pa.string())])


def _invoices(records, client: str):
    return [r for r in records if isinstance(r, RebateInvoice) and r.client_account_id == client]


def _rows_register(con, name: str, schema: pa.Schema, rows: list[tuple]) -> None:
    columns = list(zip(*rows)) if rows else [[] for _ in schema]
    _register(con, name, schema, {f.name: list(values) for f, values in zip(schema, columns)})


def _rebate_tables(con, evidence: Mapping[str, Evidence]) -> None:
    wanted: dict[str, set[str]] = {}
    for client, quarter in con.execute("SELECT DISTINCT client, quarter FROM brand_needs ORDER BY ALL").fetchall():
        wanted.setdefault(client, set()).add(quarter)
    gov: list[tuple] = []
    cand: list[tuple] = []
    for client, quarters in wanted.items():
        found = evidence.get(client, Evidence())
        governance = Governance(found, REBATE, client)
        for packet in governance.packets:
            pkey = f"{packet.packet_id}#{packet.revision}"
            governed = {q for q in quarters if _governs_quarter(governance, packet, q)}
            gov += [(client, i.quarter, i.ndc, i.invoice_id, pkey) for i in _invoices(packet.records, client)
                    if i.quarter in governed]
        for packet in candidate_revisions(found, REBATE, client):
            text, held = source_text(seen_revision(packet)), {q for q in quarters if _holds_quarter(packet, q)}
            cand += [(client, i.quarter, i.ndc, text) for i in _invoices(packet.records, client) if i.quarter in held]
        for row in found.domo_of_kind(REBATE):
            cand += [(client, i.quarter, i.ndc, source_text(seen_domo(row))) for i in _invoices((row.record,), client)
                     if i.quarter in quarters]
    _rows_register(con, "gov_invoices", GOV_INVOICES, gov)
    _rows_register(con, "cand_invoices", CAND_INVOICES, cand)


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
    with gc_paused():
        _rebate_tables(con, evidence)
    con.execute(REBATE_STATUS)
