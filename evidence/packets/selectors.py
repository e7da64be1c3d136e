"""The evidence the authority rules are given, read from the database: `evidence_for(client, ...)` builds the
`authority.Evidence` of one client (the rules themselves never read the database).

What is loaded, and why it is enough:
- accepted revisions (refusals are no evidence) of packets whose `client_account_ids` hold the client, and
  pricing packets that name no client (a price list serves every client on it); another client's packets
  are dropped before any of their records is read: they speak for nobody asked about, so the rules would
  never use them;
- every revision of those packets, whatever its class: the rules pick the latest verified revision of a
  packet and show the others as candidate evidence; the status is read from the revision's class and its
  withdrawal (governed: verified; candidate and withdrawn: withdrawn; candidate otherwise: received);
- with `period`, only revisions whose own period starts on or before the period's end: a packet starting
  later governs none of its days and supersedes nothing before its start. Packets that ended earlier stay:
  one may supersede another from a day before the period, which takes authority away inside it;
- their records as the rules' record types (Decimal money and rates, dates, NDC text), only the client's
  rows for contract terms, rebate invoices and Salesforce accounts (the rules look at no other client's
  rows), every row of a price list.

Domo candidate rows (evidence.candidates): the rows of Domo datasets registered as candidate evidence of the
kinds asked for, the client's for contract terms, rebate invoices and Salesforce accounts, every price row
(evidence.candidates.selectors.domo_rows_for_clients); always candidate, with their load id, dataset id and row.

The query count is fixed: one for the revisions (with their packets), then one per record kind asked for,
whatever the number of revisions, and one for the Domo rows; `evidence_for_clients` reads many clients' evidence
in those same queries.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from evidence.candidates.selectors import domo_rows_for_clients
from evidence.choices import EvidenceClass, PacketStatus
from evidence.packets import model
from evidence.packets.authority import RECEIVED, VERIFIED, WITHDRAWN, Evidence, Revision
from evidence.packets.models import AccountRow, ContractTermRow, PacketRevision, PriceRow, RebateInvoiceRow

# kind -> (the record table, the column naming the client (None: every row), the record type's fields)
RECORD_TABLES = {
    model.CONTRACT: (ContractTermRow, "client_account_id", model.ContractTerm),
    model.PRICING: (PriceRow, None, model.PriceRow),
    model.REBATE: (RebateInvoiceRow, "client_account_id", model.RebateInvoice),
    model.SALESFORCE: (AccountRow, "account_id", model.Account),
}


def _status(revision: PacketRevision) -> str:
    if revision.evidence_class == EvidenceClass.GOVERNED:
        return VERIFIED
    return WITHDRAWN if revision.withdrawn_at is not None else RECEIVED


def speaks_for(packet, client: str) -> bool:
    """Whether a packet (an EvidencePacket) speaks for the client: its client_account_ids hold the client, or it
    is a price list naming no client (it serves every client on it). Another client's packet never does."""
    ids = packet.client_account_ids
    return client in ids or (packet.kind == model.PRICING and not ids)


def _record(kind: str, row) -> model.Record:
    _, _, record_type = RECORD_TABLES[kind]
    values = {name: getattr(row, name) for name in record_type.__dataclass_fields__}
    if kind == model.CONTRACT:
        values["exclusions"] = tuple(values["exclusions"])
    return record_type(**values)


def _records(kind: str, revision_ids: list[int], clients: list[str]) -> dict[tuple[str | None, int], list]:
    """The records of these revisions, by (client, revision id); a price row (no client column) by (None, id)."""
    table, client_column, _ = RECORD_TABLES[kind]
    rows = table.objects.filter(revision_id__in=revision_ids)
    if client_column is not None:
        rows = rows.filter(**{f"{client_column}__in": clients})
    by_revision: dict[tuple[str | None, int], list[model.Record]] = defaultdict(list)
    for row in rows.order_by("revision_id", "row"):
        owner = getattr(row, client_column) if client_column is not None else None
        by_revision[(owner, row.revision_id)].append(_record(kind, row))
    return by_revision


def evidence_for(client: str, *, period: tuple[dt.date, dt.date] | None = None,
                 kinds: Iterable[str] | None = None) -> Evidence:
    """Every accepted packet revision that may speak for `client` (of `kinds`, default all; starting by the
    end of `period` when given), with its records, and the registered Domo rows that may, as the authority
    rules' Evidence."""
    return evidence_for_clients([client], period=period, kinds=kinds)[client]


def evidence_for_clients(clients: Iterable[str], *, period: tuple[dt.date, dt.date] | None = None,
                         kinds: Iterable[str] | None = None) -> dict[str, Evidence]:
    """evidence_for for each of `clients`, in the same fixed number of queries whatever their number: the
    revisions once, each record kind once, the Domo rows once."""
    clients = list(dict.fromkeys(clients))
    kinds = tuple(model.KINDS if kinds is None else kinds)
    unknown = [k for k in kinds if k not in model.KINDS]
    if unknown:
        raise ValueError(f"kind {unknown[0]!r} is not one of {', '.join(model.KINDS)}")
    revisions = (
        PacketRevision.objects.filter(status=PacketStatus.ACCEPTED, kind__in=kinds)
        .select_related("packet")
        .order_by("packet__packet_id", "revision")
    )
    if period is not None:
        revisions = revisions.filter(period_start__lte=period[1])
    # Which clients a packet speaks for is a JSON list: filtered here, as SQLite (the embedded default)
    # has no JSON containment lookup. Only the revisions' own rows are read; records come below, by client.
    speaking = [r for r in revisions if any(speaks_for(r.packet, c) for c in clients)]
    records: dict[tuple[str | None, int], list[model.Record]] = {}
    for kind in kinds:
        ids = [r.pk for r in speaking if r.kind == kind]
        if ids:
            records.update(_records(kind, ids, clients))
    domo = domo_rows_for_clients(clients, kinds=kinds, period=period)

    def revision(r: PacketRevision, client: str) -> Revision:
        owner = None if RECORD_TABLES[r.kind][1] is None else client
        return Revision(
            packet_id=r.packet.packet_id, revision=r.revision, sha256=r.sha256, kind=r.kind,
            client_account_ids=tuple(r.packet.client_account_ids), period_start=r.period_start,
            period_end=r.period_end, supersedes=r.header.get("supersedes") or None, status=_status(r),
            records=tuple(records.get((owner, r.pk), ())),
        )

    return {client: Evidence(domo_rows=domo[client], revisions=tuple(
        revision(r, client) for r in speaking if speaks_for(r.packet, client))) for client in clients}


def account_names() -> dict[str, str]:
    """Governed Salesforce account names by account id: the accepted revisions' rows, a later revision winning.
    What every page that shows a client by name reads (an id without a governed name is shown as the id)."""
    return dict(AccountRow.objects.filter(revision__status=PacketStatus.ACCEPTED).order_by("revision_id", "row")
                .values_list("account_id", "account_name"))
