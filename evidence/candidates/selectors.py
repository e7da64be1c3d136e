"""What the candidate pages, the API and the authority selectors read of Domo candidate evidence."""
from __future__ import annotations

import datetime as dt

import django_filters
from django.db.models import Q, QuerySet

from console.filtersets import IdFilter
from evidence.candidates import mapping as mapper
from evidence.candidates.models import DomoCandidateRow, DomoCandidateSet
from evidence.choices import PacketKind
from evidence.packets.authority import DomoRow
from evidence.packets.model import CONTRACT, PRICING, REBATE, SALESFORCE


def candidate_sets() -> QuerySet[DomoCandidateSet]:
    return DomoCandidateSet.objects.select_related("registered_by", "dataset", "manifest")


def rows_of(candidate_set: DomoCandidateSet) -> QuerySet[DomoCandidateRow]:
    return DomoCandidateRow.objects.filter(candidate_set=candidate_set)


class CandidateSetFilterSet(django_filters.FilterSet):
    """The candidate list's filters (the same query parameters on the page and the API)."""

    kind = django_filters.ChoiceFilter(choices=PacketKind.choices)
    dataset = IdFilter(field_name="dataset_id", label="Dataset (console id)")
    load_id = django_filters.CharFilter(label="Manifest load id")

    class Meta:
        model = DomoCandidateSet
        fields = ["kind", "dataset", "load_id"]


def domo_rows_for_clients(clients: list[str], *, kinds: tuple[str, ...],
                          period: tuple[dt.date, dt.date] | None = None) -> dict[str, tuple[DomoRow, ...]]:
    """The registered Domo rows that may speak for each of `clients`, as the authority rules' DomoRow: a client's
    rows of contract terms, rebate invoices and Salesforce accounts, and every price row (a price list serves every
    client on it). With `period`, contract terms and prices starting after it are left out. One query."""
    by_client = [kind for kind in (CONTRACT, REBATE, SALESFORCE) if kind in kinds]
    wanted = Q(candidate_set__kind__in=by_client, client_account_id__in=clients) if by_client else Q(pk__in=[])
    if PRICING in kinds:
        wanted |= Q(candidate_set__kind=PRICING)
    rows = DomoCandidateRow.objects.filter(wanted)
    if period is not None:
        rows = rows.filter(Q(start_date__isnull=True) | Q(start_date__lte=period[1]))
    rows = rows.select_related("candidate_set").order_by("candidate_set_id", "row")
    found: dict[str, list[DomoRow]] = {client: [] for client in clients}
    for row in rows:
        domo = DomoRow(kind=row.candidate_set.kind,
                       record=mapper.record_from_values(row.candidate_set.kind, row.values, row.candidate_set.mapping),
                       load_id=row.candidate_set.load_id, dataset_id=row.candidate_set.dataset_domo_id, row=row.row)
        for client in (clients if row.candidate_set.kind == PRICING else [row.client_account_id]):
            if client in found:
                found[client].append(domo)
    return {client: tuple(rows) for client, rows in found.items()}
