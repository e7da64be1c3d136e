"""What a calculation run may calculate on: the claims of a dataset promoted into a backend contract, and the
evidence tables built from what the authority module hands over.

Claims. A claims dataset is a current version of the curated registry whose schema has the claims columns
(evidence.flags.needs.claims_columns). Its authority is the promotion that loaded the version: the latest
promoted request whose load put that version of that dataset in the registry. Only a request with target
`contract` makes it runtime authority; one promoted for migration and reconciliation only is refused, saying
so (Domo-derived data is evidence, never runtime authority, unless explicitly promoted into a contract).

Evidence tables (engine.TERMS_SCHEMA, PRICES_SCHEMA, INVOICES_SCHEMA), per client, from `evidence_for(client,
period=...)` and the authority module's own governance (the latest verified revision of a packet; supersession
from the superseding packet's start; governed packets that hold the same day without superseding one another
are a conflict):

- terms: each governed contract's terms rows for the client, cut to the days its packet governs. Two governed
  rows of one component that overlap are a conflict: neither is calculated on (decide() names the conflict).
  A component with no governed row in the period takes the candidate terms of ONE source, the first that has
  rows for it (unverified or withdrawn revisions, latest first, then Domo rows), overlapping rows dropped:
  what it yields is indicative, never a conclusion;
- prices: each governed price row of the client's governing pricing packets, cut to the days the packet
  governs, with the client it was cut for;
- invoices: the client's governed invoices of packets governing their quarter.

Every row carries its source ("<packet id>#<revision>" or "domo:<load>/<dataset>/<row>") and class.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa

from deliverables.calculations import engine
from evidence.packets.authority import Evidence
from evidence.packets.authority.governance import Governance, candidate_revisions
from evidence.packets.authority.rebate import _governs_quarter
from evidence.packets.model import CONTRACT, PRICING, REBATE, ContractTerm, PriceRow, RebateInvoice

FAR = dt.date(9999, 12, 31)
GOVERNED, CANDIDATE = "governed", "candidate"


class RunRefused(ValueError):
    """The run cannot calculate on what it was given; the message says what and why. Nothing is stored."""


@dataclass(frozen=True)
class ClaimsInput:
    """The claims dataset version a run reads, and the promotion that made it authority."""

    dataset_key: str
    name: str
    version: int
    rows: int
    checksum: str
    load_id: str
    manifest_sha256: str
    table_name: str
    schema: list
    columns: dict
    request_id: int | None
    target: str

    def as_json(self) -> dict:
        return {"dataset_key": self.dataset_key, "name": self.name, "version": self.version, "rows": self.rows,
                "checksum": self.checksum, "load_id": self.load_id, "manifest_sha256": self.manifest_sha256,
                "table": self.table_name, "promotion_request": self.request_id, "target": self.target}


def _promotion_of(version: dict):
    """The promoted request whose load put this version of the dataset in the registry (the latest)."""
    from promotion.choices import PromotionKind, PromotionState
    from promotion.models import PromotionRequest

    requests = (PromotionRequest.objects
                .filter(kind=PromotionKind.PROMOTION, state=PromotionState.PROMOTED,
                        manifest__load_id=version["load_id"],
                        manifest__manifest_sha256=version["manifest_sha256"],
                        datasets__domo_id=version["dataset_key"])
                .order_by("-finished_at", "-id"))
    for request in requests:
        loaded = (request.load_progress or {}).get("datasets", {}).get(version["dataset_key"], {})
        if loaded.get("version") == version["version"]:
            return request
    return None


def _name_of(version: dict) -> str:
    from evidence.models import DomoDataset

    dataset = DomoDataset.objects.filter(manifest__load_id=version["load_id"],
                                         domo_id=version["dataset_key"]).only("name").first()
    return dataset.name if dataset else version["dataset_key"]


def claims_input(reader, dataset_key: str = "") -> ClaimsInput:
    """The claims dataset version a run may calculate on (RunRefused saying why not)."""
    from evidence.flags.services import claims_versions
    from promotion.choices import PromotionTarget
    from promotion.curated import current_schema

    versions = claims_versions(reader)
    if dataset_key:
        versions = [v for v in versions if v["dataset_key"] == dataset_key]
        if not versions:
            raise RunRefused(f"dataset {dataset_key}: no current claims version of it is in the curated registry")
    if not versions:
        raise RunRefused("no claims dataset is current in the curated registry: promote one into a backend "
                         "contract first")
    found: list[ClaimsInput] = []
    refused: list[str] = []
    for version in versions:
        request = _promotion_of(version)
        target = request.target if request else ""
        name = _name_of(version)
        label = f"claims dataset {name!r} ({version['dataset_key']}) v{version['version']}"
        if target != PromotionTarget.CONTRACT:
            how = (f"promotion #{request.pk}" if request else "no promotion on record")
            refused.append(f"{label} was promoted for migration and reconciliation only ({how}): Domo-derived "
                           "data is not runtime authority unless it is explicitly promoted into a backend "
                           "contract")
            continue
        schema = current_schema(reader, version["dataset_key"])
        found.append(ClaimsInput(
            dataset_key=version["dataset_key"], name=name, version=version["version"], rows=int(version["rows"]),
            checksum=str(version["checksum"]), load_id=version["load_id"],
            manifest_sha256=version["manifest_sha256"], table_name=version["table_name"],
            schema=list(schema[1]) if schema else [], columns=version["columns"], request_id=request.pk,
            target=target))
    if not found:
        raise RunRefused("; ".join(refused))
    if len(found) > 1:
        names = ", ".join(f"{c.name!r} ({c.dataset_key})" for c in found)
        raise RunRefused(f"several claims datasets are promoted into a backend contract ({names}): say which one "
                         "the run calculates on")
    return found[0]


# --- evidence tables ---------------------------------------------------------------------------------------
def source_of(revision) -> str:
    return f"{revision.packet_id}#{revision.revision}"


def _domo_source(row) -> str:
    return f"domo:{row.load_id}/{row.dataset_id}/{row.row}"


def _component(term: ContractTerm) -> tuple[str, str]:
    return term.channel.strip().lower(), term.drug_class.strip().lower()


def _term_record(term: ContractTerm, start: dt.date, end: dt.date, source: str, evidence_class: str) -> dict:
    return {"contract_id": term.contract_id, "client_account_id": term.client_account_id,
            "component": term.component, "channel": term.channel, "drug_class": term.drug_class,
            "awp_discount_guarantee": term.awp_discount_guarantee,
            "dispensing_fee_guarantee": term.dispensing_fee_guarantee,
            "rebate_per_brand_claim": term.rebate_per_brand_claim, "guarantee_basis": term.guarantee_basis,
            "exclusions": ";".join(term.exclusions), "price_list": term.price_list, "period_start": start,
            "period_end": end, "source": source, "evidence_class": evidence_class}


def _without_overlaps(rows: list[dict], *, keep_first: bool) -> tuple[list[dict], list[dict]]:
    """Rows of one component with no two overlapping: overlapping governed rows are all dropped (a conflict,
    keep_first False); overlapping candidate rows keep the earlier (keep_first True). (kept, dropped)"""
    rows = sorted(rows, key=lambda r: (r["period_start"], r["period_end"], r["source"]))
    kept: list[dict] = []
    dropped: list[dict] = []
    for row in rows:
        clash = [k for k in kept if k["period_start"] <= row["period_end"] and row["period_start"] <= k["period_end"]]
        if not clash:
            kept.append(row)
        elif keep_first:
            dropped.append(row)
        else:
            dropped.extend([row, *clash])
            kept = [k for k in kept if k not in clash]
    return kept, dropped


def _terms(client: str, evidence: Evidence, period: tuple[dt.date, dt.date]) -> tuple[list[dict], list[dict]]:
    governance = Governance(evidence, CONTRACT, client)
    governed: dict[tuple, list[dict]] = defaultdict(list)
    for packet in governance.packets:
        window = governance.window(packet)
        if window is None:
            continue
        for term in packet.records:
            if not isinstance(term, ContractTerm) or term.client_account_id != client:
                continue
            lo, hi = max(window[0], term.period_start, period[0]), min(window[1], term.period_end, period[1])
            if lo <= hi:
                governed[_component(term)].append(_term_record(term, lo, hi, source_of(packet), GOVERNED))
    out: list[dict] = []
    conflicts: list[dict] = []
    for component in sorted(governed):
        kept, dropped = _without_overlaps(governed[component], keep_first=False)
        out += kept
        conflicts += dropped
    # Candidate terms, for the components no governed row covers at all.
    sources: list[tuple[str, list[tuple[ContractTerm, dt.date, dt.date]]]] = []
    for revision in sorted(candidate_revisions(evidence, CONTRACT, client), key=lambda r: (-r.revision, r.packet_id)):
        sources.append((source_of(revision), [(t, max(t.period_start, revision.period_start),
                                               min(t.period_end, revision.period_end))
                                              for t in revision.records if isinstance(t, ContractTerm)]))
    domo = [(row.record, row.record.period_start, row.record.period_end, _domo_source(row))
            for row in evidence.domo_of_kind(CONTRACT)]
    if domo:
        sources.append(("domo", [(t, lo, hi) for t, lo, hi, _ in domo]))
    domo_source = {id(t): text for t, _, _, text in domo}
    covered = set(governed)
    taken: dict[tuple, list[dict]] = {}
    for name, terms in sources:
        by_component: dict[tuple, list[dict]] = defaultdict(list)
        for term, lo, hi in terms:
            if term.client_account_id != client:
                continue
            lo, hi = max(lo, period[0]), min(hi, period[1])
            if lo <= hi:
                text = domo_source.get(id(term), name)
                by_component[_component(term)].append(_term_record(term, lo, hi, text, CANDIDATE))
        for component, rows in by_component.items():
            if component not in covered and component not in taken:
                taken[component] = _without_overlaps(rows, keep_first=True)[0]
    for component in sorted(taken):
        out += taken[component]
    return out, conflicts


def _prices(client: str, evidence: Evidence, period: tuple[dt.date, dt.date]) -> list[dict]:
    governance = Governance(evidence, PRICING, client)
    out = []
    for packet in governance.packets:
        window = governance.window(packet)
        if window is None:
            continue
        for row in packet.records:
            if not isinstance(row, PriceRow):
                continue
            lo = max(window[0], row.effective_date)
            hi = min(window[1], row.end_date or FAR)
            if lo <= hi and lo <= period[1] and period[0] <= hi:
                out.append({"price_list": row.price_list, "ndc": row.ndc, "drug_name": row.drug_name,
                            "mac_unit_price": row.mac_unit_price, "effective_date": lo,
                            "end_date": None if hi == FAR else hi, "source": source_of(packet),
                            "client_account_id": client})
    return out


def _invoices(client: str, evidence: Evidence) -> list[dict]:
    governance = Governance(evidence, REBATE, client)
    out = []
    for packet in governance.packets:
        for invoice in packet.records:
            if (isinstance(invoice, RebateInvoice) and invoice.client_account_id == client
                    and _governs_quarter(governance, packet, invoice.quarter)):
                out.append({"invoice_id": invoice.invoice_id, "client_account_id": client,
                            "quarter": invoice.quarter, "ndc": invoice.ndc, "drug_name": invoice.drug_name,
                            "manufacturer": invoice.manufacturer, "brand_claims": invoice.brand_claims,
                            "rebate_amount": invoice.rebate_amount, "invoice_date": invoice.invoice_date,
                            "source": source_of(packet)})
    return out


@dataclass
class EvidenceTables:
    """The evidence a run calculates with, as the engine's Arrow tables, and what it was built from."""

    terms: pa.Table
    prices: pa.Table
    invoices: pa.Table
    evidence: dict[str, Evidence]
    conflicts: list[dict] = field(default_factory=list)

    def revisions(self) -> list[dict]:
        """Every packet revision handed over for the run's clients (any class), with its sha256."""
        seen = {}
        for found in self.evidence.values():
            for r in found.revisions:
                seen[(r.packet_id, r.revision)] = {"packet_id": r.packet_id, "revision": r.revision, "kind": r.kind,
                                                   "sha256": r.sha256, "class": r.evidence_class,
                                                   "status": r.status}
        return [seen[k] for k in sorted(seen)]

    def domo_rows(self) -> list[dict]:
        seen = set()
        for found in self.evidence.values():
            for row in found.domo_rows:
                seen.add((row.kind, row.load_id, row.dataset_id))
        return [{"kind": k, "load_id": load, "dataset_id": ds} for k, load, ds in sorted(seen)]


def evidence_tables(clients: Iterable[str], period: tuple[dt.date, dt.date], *,
                    evidence: dict[str, Evidence] | None = None) -> EvidenceTables:
    """The engine's evidence tables for the clients over the period (evidence loaded with evidence_for_clients
    unless given)."""
    from evidence.packets.selectors import evidence_for_clients

    clients = sorted(set(clients))
    found = evidence if evidence is not None else evidence_for_clients(clients, period=period)
    terms: list[dict] = []
    prices: list[dict] = []
    invoices: list[dict] = []
    conflicts: list[dict] = []
    for client in clients:
        ev = found.get(client, Evidence())
        kept, clashing = _terms(client, ev, period)
        terms += kept
        conflicts += clashing
        prices += _prices(client, ev, period)
        invoices += _invoices(client, ev)
    return EvidenceTables(
        terms=engine.arrow_table("terms", terms), prices=engine.arrow_table("prices", prices),
        invoices=engine.arrow_table("invoices", invoices), evidence=found,
        conflicts=[{k: str(v) for k, v in c.items()} for c in conflicts])
