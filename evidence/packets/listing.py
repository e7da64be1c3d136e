"""What the packet pages and the packet API read: packets with their current class, the packet list's filters
(the same query parameters on the page and the API), a packet's revisions and a revision's records, and the
refused receipts with their located issues.

A packet's class is its latest accepted revision's (governed or candidate); a packet whose newest receipt
was refused also shows `refused` (that receipt is no evidence: the earlier revisions still stand).
"""
from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery

from evidence.choices import EvidenceClass, PacketKind, PacketStatus
from evidence.filtersets import _DATE
from evidence.packets.models import (
    AccountRow,
    ContractTermRow,
    EvidencePacket,
    PacketRevision,
    PacketRevisionIssue,
    PriceRow,
    RebateInvoiceRow,
)

REFUSED = "refused"
CLASS_CHOICES = [*EvidenceClass.choices, (REFUSED, "Newest receipt refused")]
RECORD_TABLES = {
    PacketKind.CONTRACT: ContractTermRow,
    PacketKind.PRICING: PriceRow,
    PacketKind.REBATE: RebateInvoiceRow,
    PacketKind.SALESFORCE: AccountRow,
}


def packets() -> QuerySet[EvidencePacket]:
    """Every packet, annotated with its latest accepted revision (number, class, period, sha256) and the
    status of its newest receipt."""
    latest = PacketRevision.objects.filter(packet=OuterRef("pk"), status=PacketStatus.ACCEPTED).order_by("-revision")
    newest = PacketRevision.objects.filter(packet=OuterRef("pk")).order_by("-id")
    return EvidencePacket.objects.annotate(
        latest_revision=Subquery(latest.values("revision")[:1]),
        latest_class=Subquery(latest.values("evidence_class")[:1]),
        latest_sha256=Subquery(latest.values("sha256")[:1]),
        period_start=Subquery(latest.values("period_start")[:1]),
        period_end=Subquery(latest.values("period_end")[:1]),
        newest_status=Subquery(newest.values("status")[:1]),
    )


def revisions_of(packet: EvidencePacket) -> QuerySet[PacketRevision]:
    """A packet's receipts, newest first: accepted revisions and refusals alike."""
    return packet.revisions.select_related("verified_by").order_by("-id")


def revision_of(packet: EvidencePacket, number: int) -> PacketRevision | None:
    return revisions_of(packet).filter(status=PacketStatus.ACCEPTED, revision=number).first()


def records_of(revision: PacketRevision) -> QuerySet:
    """The typed records of an accepted revision, in file order (a refusal has none)."""
    table = RECORD_TABLES.get(revision.kind)
    if table is None or revision.status != PacketStatus.ACCEPTED:
        return ContractTermRow.objects.none()
    return table.objects.filter(revision=revision).order_by("row")


def record_columns(kind: str) -> list[str]:
    table = RECORD_TABLES[kind]
    return [f.name for f in table._meta.concrete_fields if f.name not in ("id", "revision")]


def documents_of(revision: PacketRevision) -> list[dict]:
    """The source documents packet.json lists, each with its index (the download's id) and lake path."""
    found = []
    for index, entry in enumerate(revision.header.get("documents") or []):
        found.append({**entry, "index": index, "lake_path": f"{revision.bronze_prefix}/files/{entry['path']}"})
    return found


class PacketFilterSet(django_filters.FilterSet):
    """/evidence/packets/ and /api/evidence-packets/. The period filters keep the packets whose latest
    revision's period overlaps [period_from, period_until]."""

    kind = django_filters.ChoiceFilter(choices=PacketKind.choices, label="Kind")
    evidence_class = django_filters.ChoiceFilter(choices=CLASS_CHOICES, method="filter_class", label="Class")
    client = django_filters.CharFilter(
        method="filter_client", label="Client account id",
        widget=forms.TextInput(attrs={"placeholder": "0015e00000Qm7AcAAJ"}),
    )
    period_from = django_filters.DateFilter(method="filter_period_from", label="Period from", widget=_DATE)
    period_until = django_filters.DateFilter(method="filter_period_until", label="Period until", widget=_DATE)

    class Meta:
        model = EvidencePacket
        fields: list[str] = []

    def filter_class(self, queryset, name, value: str):
        if value == REFUSED:
            return queryset.filter(newest_status=PacketStatus.REFUSED)
        return queryset.filter(latest_class=value)

    def filter_client(self, queryset, name, value: str):
        # Which clients a packet speaks for is a JSON list, matched here as evidence_for matches it: SQLite
        # (the embedded default) has no JSON containment lookup, and packets are few (one per source
        # document set), so their client lists are read and the matching ids filter the page's query.
        value = value.strip()
        if not value:
            return queryset
        ids = [
            packet_id
            for packet_id, clients in EvidencePacket.objects.values_list("pk", "client_account_ids").iterator()
            if value in (clients or ())
        ]
        return queryset.filter(pk__in=ids)

    def filter_period_from(self, queryset, name, value: dt.date):
        return queryset.filter(Q(period_end__gte=value))

    def filter_period_until(self, queryset, name, value: dt.date):
        return queryset.filter(Q(period_start__lte=value))


# --- refusals ------------------------------------------------------------------------------------


def superseded_by(revision: PacketRevision) -> dict | None:
    """What a revision's packet.json names in `supersedes`: the packet_id and the packet on file (None when no
    packet with that id was ever accepted: shown, so the approver who verifies it sees it replaces nothing known),
    or None when it supersedes nothing."""
    named = (revision.header or {}).get("supersedes") if revision is not None else None
    if not named:
        return None
    return {"packet_id": named, "packet": EvidencePacket.objects.filter(packet_id=named).first()}


def refusals() -> QuerySet[PacketRevision]:
    """Every refused receipt (a refused revision: no records, no class), with its issue count; the pages and
    the API order them newest first by id."""
    return PacketRevision.objects.filter(status=PacketStatus.REFUSED).select_related("packet").annotate(
        issue_count=Count("issues"))


def issues_of(refusal: PacketRevision) -> QuerySet[PacketRevisionIssue]:
    """Every issue of a refused receipt, in the order the validation reported them, each with where it is."""
    return refusal.issues.order_by("position")


class RefusalFilterSet(django_filters.FilterSet):
    """/evidence/packets/refusals/ and /api/evidence-packet-refusals/."""

    packet_id = django_filters.CharFilter(field_name="claimed_packet_id", label="Packet id (as sent)")
    code = django_filters.CharFilter(method="filter_code", label="Issue code",
                                     widget=forms.TextInput(attrs={"placeholder": "HASH_MISMATCH"}))

    class Meta:
        model = PacketRevision
        fields: list[str] = []

    def filter_code(self, queryset, name, value: str):
        value = value.strip().upper()
        if not value:
            return queryset
        return queryset.filter(Exists(PacketRevisionIssue.objects.filter(revision=OuterRef("pk"), code=value)))
