"""What the missing-evidence pages and their API read: the flags with the filters both share (status, client,
kind, month), in the order each tab lists them, by keyset pages over that order.

- Open flags are grouped by client then kind, oldest first: ORDER BY client, kind, first_raised_at, id (the
  index on (status, client_account_id, kind, first_raised_at, id) serves it).
- Resolved flags are newest resolution first: ORDER BY resolved_at DESC, id DESC.

The order is not one integer key, so the cursor is the last row's sort key (every column of the order, the id
last: a unique tuple), written as an opaque token; a page is `WHERE (key) > (cursor) ORDER BY key LIMIT n+1`,
never OFFSET. A token that does not decode is ignored (the first page), like console.paging's cursors.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from evidence.choices import PacketKind
from evidence.flags.models import FlagStatus, MissingEvidenceFlag

PAGE_SIZE = 50
ORDERS: dict[str, tuple[tuple[str, bool], ...]] = {  # (field, descending)
    FlagStatus.OPEN: (("client_account_id", False), ("kind", False), ("first_raised_at", False), ("id", False)),
    FlagStatus.RESOLVED: (("resolved_at", True), ("id", True)),
}
_DATETIMES = {"first_raised_at", "resolved_at"}


def flags() -> QuerySet[MissingEvidenceFlag]:
    return MissingEvidenceFlag.objects.select_related("resolved_by_revision__packet")


def flag_detail(pk: int) -> MissingEvidenceFlag | None:
    """One flag with the runs that raised, last saw and resolved it, and the revision that resolved it."""
    return MissingEvidenceFlag.objects.select_related(
        "raised_by_run", "last_seen_run", "resolved_by_run", "resolved_by_revision__packet").filter(pk=pk).first()


def _month(value: str) -> tuple[dt.date, dt.date]:
    first = dt.datetime.strptime(value, "%Y-%m").date()
    following = dt.date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return first, following - dt.timedelta(days=1)


class MonthField(forms.CharField):
    """A month written YYYY-MM; anything else is a clear error naming the value."""

    def clean(self, value):
        value = (super().clean(value) or "").strip()
        if value:
            try:
                _month(value)
            except ValueError:
                raise forms.ValidationError(f"expected a month YYYY-MM, got {value[:20]!r}") from None
        return value


class MonthFilter(django_filters.CharFilter):
    field_class = MonthField


class FlagFilterSet(django_filters.FilterSet):
    """/evidence/missing/ (the tab sets the status) and /api/evidence/missing/. The status is open unless asked
    otherwise; `month` keeps the flags whose period overlaps that month (the overview's cell links here when a
    cell has several flags)."""

    status = django_filters.ChoiceFilter(choices=FlagStatus.choices, label="Status")
    client = django_filters.CharFilter(field_name="client_account_id", label="Client account id",
                                       widget=forms.TextInput(attrs={"placeholder": "0015e00000Qm7AcAAJ"}))
    kind = django_filters.ChoiceFilter(choices=PacketKind.choices, label="Kind")
    month = MonthFilter(method="filter_month", label="Month (YYYY-MM)",
                        widget=forms.TextInput(attrs={"placeholder": "2025-03"}))

    class Meta:
        model = MissingEvidenceFlag
        fields: list[str] = []

    def __init__(self, data=None, *args, **kwargs):
        data = data.copy() if data is not None else {}
        if not data.get("status"):
            data["status"] = FlagStatus.OPEN
        super().__init__(data, *args, **kwargs)

    def filter_month(self, queryset, name, value: str):
        if not value:
            return queryset
        first, last = _month(value)
        return queryset.filter(period_start__lte=last, period_end__gte=first)

    def status_asked(self) -> str:
        """The status the list is of (its order): open unless a valid `status=resolved`."""
        if self.is_valid() and self.form.cleaned_data.get("status") == FlagStatus.RESOLVED:
            return FlagStatus.RESOLVED
        return FlagStatus.OPEN


# --- keyset pages over a composite order ----------------------------------------------------------


@dataclass(frozen=True)
class FlagPage:
    items: list[MissingEvidenceFlag]
    next: str | None  # token of the last row shown, when rows follow
    prev: str | None  # token of the first row shown, when rows precede


def _key(flag: MissingEvidenceFlag, order) -> str:
    values = [getattr(flag, name) for name, _desc in order]
    text = json.dumps([v.isoformat() if isinstance(v, dt.datetime) else v for v in values])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(token: str | None, order) -> list[Any] | None:
    if not token:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(values, list) or len(values) != len(order):
            return None
        decoded = []
        for (name, _desc), value in zip(order, values, strict=True):
            if name in _DATETIMES:
                value = dt.datetime.fromisoformat(value)
            elif not isinstance(value, int if name == "id" else str) or (name == "id" and not 0 < value < 2**63):
                return None
            decoded.append(value)
        return decoded
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        return None


def is_cursor(token: str, status: str) -> bool:
    """Whether `token` is the key of a row of `status`'s order (what flag_page reads after a `next`/`previous`)."""
    return _decode(token, ORDERS[status]) is not None


def _beyond(order, values, *, backwards: bool) -> Q:
    """Rows strictly after `values` in `order` (strictly before when backwards): a row-value comparison
    spelled out as ORs, which both PostgreSQL and SQLite plan on the index."""
    condition, equal = Q(), {}
    for (name, descending), value in zip(order, values, strict=True):
        lookup = "lt" if descending != backwards else "gt"
        condition |= Q(**equal, **{f"{name}__{lookup}": value})
        equal[name] = value
    return condition


def flag_page(queryset: QuerySet, status: str, *, after: str | None = None, before: str | None = None,
              size: int | None = None) -> FlagPage:
    """One page of `queryset` in the order of `status`'s tab (PAGE_SIZE rows unless `size`): one query."""
    size = size or PAGE_SIZE
    order = ORDERS[status]
    forward = [f"{'-' if desc else ''}{name}" for name, desc in order]
    backward = [f"{'' if desc else '-'}{name}" for name, desc in order]
    before_key, after_key = _decode(before, order), _decode(after, order)
    if before_key is not None:
        rows = list(queryset.filter(_beyond(order, before_key, backwards=True)).order_by(*backward)[: size + 1])
        items = rows[:size][::-1]
        return FlagPage(items, _key(items[-1], order) if items else None,
                        _key(items[0], order) if len(rows) > size else None)
    if after_key is not None:
        queryset = queryset.filter(_beyond(order, after_key, backwards=False))
    rows = list(queryset.order_by(*forward)[: size + 1])
    items = rows[:size]
    return FlagPage(items, _key(items[-1], order) if len(rows) > size else None,
                    _key(items[0], order) if after_key is not None and items else None)
