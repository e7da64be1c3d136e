"""Filter sets shared by the console's list pages and their API endpoints."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms

from console.models import AuditEvent


class AuditEventFilterSet(django_filters.FilterSet):
    """The audit trail's filters: the same query parameters on /audit/ and /api/audit-events/.

    Exact matches only, each backed by an index ending in seq (see AuditEvent.Meta.indexes).
    Times without an offset are UTC.
    """

    actor = django_filters.CharFilter(field_name="actor_label", label="Actor")
    action = django_filters.CharFilter(label="Action")
    object_type = django_filters.CharFilter(label="Object type")
    object_id = django_filters.CharFilter(label="Object id")
    correlation_id = django_filters.CharFilter(label="Correlation id")
    since = django_filters.IsoDateTimeFilter(
        field_name="occurred_at",
        lookup_expr="gte",
        label="From (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S"),
    )
    until = django_filters.IsoDateTimeFilter(
        field_name="occurred_at",
        lookup_expr="lt",
        label="Until (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S"),
    )

    class Meta:
        model = AuditEvent
        fields: list[str] = []  # declared above

    def active_filters(self) -> dict[str, Any]:
        """The filters in use, as recorded on the audit event of the read (valid filter sets only)."""
        return {name: value for name, value in self.form.cleaned_data.items() if value not in (None, "")}
