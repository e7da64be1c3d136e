"""Filter sets shared by the console's list pages and their API endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import BigIntegerField, Subquery, Value
from django.db.models.functions import Coalesce
from django_filters.fields import IsoDateTimeField

from console.models import AuditEvent

# Past any seq: "until" after the last event bounds nothing.
_SEQ_MAX = 2**63 - 1


def _first_seq_at_or_after(when) -> Subquery:
    """The seq of the first event stamped at or after `when`: one probe of (occurred_at, seq)."""
    return Subquery(
        AuditEvent.objects.filter(occurred_at__gte=when).order_by("occurred_at", "seq").values("seq")[:1]
    )


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 time that has a UTC reading. The trail compares and records times in UTC; a time at the edge
    of the calendar with an offset (0001-01-01T00:00+14:00 is in year 0 in UTC) has none, and is refused
    here with a message instead of failing when the read is audited."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is not None:
            try:
                parsed.astimezone(dt.UTC)
            except OverflowError:
                raise ValidationError(
                    f"{value} falls outside the years 1 to 9999 in UTC", code="out_of_range"
                ) from None
        return parsed


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class AuditEventFilterSet(django_filters.FilterSet):
    """The audit trail's filters: the same query parameters on /audit/ and /api/audit-events/.

    Exact matches only, each backed by an index ending in seq (see AuditEvent.Meta.indexes).
    Times without an offset are UTC; From is inclusive, Until exclusive.

    A time range is read as a seq range: occurred_at never decreases along the chain (audit_record
    holds it, PostgreSQL's insert trigger refuses otherwise, verify_audit_chain reports a reversal),
    so "at or after T" is "seq at or after the first event stamped at or after T". Each bound is a
    scalar subquery (one index probe) inside the page's one query, and the page stays a keyset range
    read on seq, filtered or not. Comparing occurred_at row by row instead made PostgreSQL collect
    every event of the range and sort it for each page: ~110 ms for an hour at 1,000,000 events.
    """

    actor = django_filters.CharFilter(field_name="actor_label", label="Actor")
    action = django_filters.CharFilter(label="Action")
    object_type = django_filters.CharFilter(label="Object type")
    object_id = django_filters.CharFilter(label="Object id")
    correlation_id = django_filters.CharFilter(label="Correlation id")
    since = UtcDateTimeFilter(
        method="filter_since",
        label="From (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S"),
    )
    until = UtcDateTimeFilter(
        method="filter_until",
        label="Until (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S"),
    )

    class Meta:
        model = AuditEvent
        fields: list[str] = []  # declared above

    def filter_since(self, queryset, name, value):
        # No event at or after `value`: the subquery is NULL and seq >= NULL matches nothing.
        return queryset.filter(seq__gte=_first_seq_at_or_after(value))

    def filter_until(self, queryset, name, value):
        bound = Coalesce(_first_seq_at_or_after(value), Value(_SEQ_MAX), output_field=BigIntegerField())
        return queryset.filter(seq__lt=bound)

    def active_filters(self) -> dict[str, Any]:
        """The filters in use, as recorded on the audit event of the read (valid filter sets only)."""
        return {name: value for name, value in self.form.cleaned_data.items() if value not in (None, "")}
