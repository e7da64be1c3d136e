"""Filter sets shared by the console's list pages and their API endpoints."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import BigIntegerField, BooleanField, F, Func, Subquery, Value
from django.db.models.functions import Coalesce
from django_filters.fields import IsoDateTimeField

from console import clock
from console.models import AuditEvent
from console.selectors import actions_present

# The largest bigint (PostgreSQL's and SQLite's integer): past any seq or id.
BIGINT_MAX = 2**63 - 1
# Past any seq: "until" after the last event bounds nothing.
_SEQ_MAX = BIGINT_MAX


class IdField(forms.IntegerField):
    """An id in a query string: a whole number from 1 to the largest bigint. Anything else ("1.5", "-1", an id
    past bigint, which SQLite cannot even bind) is the form's error, named by its parameter, never a 500."""

    default_error_messages = {
        "invalid": f"Enter an id: a whole number from 1 to {BIGINT_MAX}.",
        "min_value": f"Enter an id: a whole number from 1 to {BIGINT_MAX}.",
        "max_value": f"Enter an id: a whole number from 1 to {BIGINT_MAX}.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(**kwargs)


class IdFilter(django_filters.Filter):
    """The one filter on an id (a console id or a Domo id), on the list pages and the API alike: typed integer in
    the OpenAPI schema (from the model field it filters), refused with 400 {name: [...]} on the API and shown as
    the field's error on a page when it is not an id."""

    field_class = IdField


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


_ACTION_MAX_LENGTH = AuditEvent._meta.get_field("action").max_length


class ActionsField(forms.MultipleChoiceField):
    """Several actions at once. Any action the trail holds is valid, whether or not the picker lists it
    (the API never builds the picker); one the trail has never seen is refused by name."""

    def valid_value(self, value) -> bool:
        return True

    def validate(self, value) -> None:
        super().validate(value)
        # A value no action could be (a NUL, longer than the column) is unknown without asking the database.
        storable = [action for action in value if "\x00" not in action and len(action) <= _ACTION_MAX_LENGTH]
        unknown = sorted(set(value) - actions_present(storable))
        if unknown:
            raise ValidationError(
                f"no event has the action {', '.join(unknown)}: pick actions from the list", code="unknown_action"
            )


class ActionsFilter(django_filters.MultipleChoiceFilter):
    field_class = ActionsField


# The SQL of the text the details filter searches: the event's before and after as JSON text. The
# trigram index console_audit_details_trgm (migration 0009) is built on exactly UPPER(this), so that
# PostgreSQL answers `contains` from the index when the words are rare in the trail.
DETAILS_TEXT_SQL = "COALESCE(CAST({before} AS TEXT), '') || ' ' || COALESCE(CAST({after} AS TEXT), '')"


def details_contain(before: str | None, after: str | None, text: str) -> int:
    """SQLite's form of DetailsContain: the before/after JSON as text (unescaped), upper-cased, contains the text."""
    details = " ".join(json.dumps(json.loads(side), ensure_ascii=False) for side in (before, after) if side is not None)
    return int(text.upper() in details.upper())


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """On each new SQLite connection (signal connection_created): the functions the console's queries call."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("console_details_contain", 3, details_contain, deterministic=True)


class DetailsContain(Func):
    """True where the event's before/after JSON text contains the pattern's words, case-insensitively."""

    output_field = BooleanField()

    def __init__(self, text: str):
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        super().__init__(F("before"), F("after"), Value(f"%{escaped}%"))
        self.text = text

    def as_sql(self, compiler, connection, details_sql: str = DETAILS_TEXT_SQL, **extra_context):
        (before, before_params), (after, after_params), (pattern, pattern_params) = (
            compiler.compile(expression) for expression in self.source_expressions
        )
        details = details_sql.format(before=before, after=after)
        return f"UPPER({details}) LIKE UPPER({pattern}) ESCAPE '\\'", [*before_params, *after_params, *pattern_params]

    def as_sqlite(self, compiler, connection, **extra_context):
        # SQLite stores JSON with its non-ASCII characters escaped and folds only ASCII case: the same search as
        # PostgreSQL's is a function of the console's (details_contain, registered on each SQLite connection).
        (before, before_params), (after, after_params) = (
            compiler.compile(expression) for expression in self.source_expressions[:2]
        )
        return f"console_details_contain({before}, {after}, %s)", [*before_params, *after_params, self.text]

    def as_microsoft(self, compiler, connection, **extra_context):
        # SQL Server joins text with + and has no TEXT cast of JSON (not exercised by the suite: no SQL Server here).
        details_sql = (
            "COALESCE(CAST({before} AS NVARCHAR(MAX)), '') + ' ' + COALESCE(CAST({after} AS NVARCHAR(MAX)), '')"
        )
        return self.as_sql(compiler, connection, details_sql=details_sql, **extra_context)


PERIOD_CUSTOM = "custom"
PERIODS = (
    ("last_hour", "Last hour"),
    ("today", "Today (UTC)"),
    ("last_7_days", "Last 7 days"),
    (PERIOD_CUSTOM, "Custom range"),
)


def period_start(period: str, now: dt.datetime) -> dt.datetime:
    """Where a preset period begins, read from console.clock's now (it ends now)."""
    if period == "last_hour":
        return now - dt.timedelta(hours=1)
    if period == "last_7_days":
        return now - dt.timedelta(days=7)
    if period == "today":
        return now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    raise ValueError(f"no preset period {period!r}")


class AuditFilterForm(forms.Form):
    """The filters' form: a preset period and a custom From/Until together are refused, not one dropped."""

    def clean(self):
        cleaned = super().clean()
        period = cleaned.get("period")
        if period and period != PERIOD_CUSTOM:
            for bound in ("since", "until"):
                if cleaned.get(bound):
                    self.add_error(
                        bound,
                        f"the period {dict(PERIODS)[period]} sets the range itself; "
                        "choose Custom range to give From and Until",
                    )
        return cleaned


class AuditEventFilterSet(django_filters.FilterSet):
    """The audit trail's filters: the same query parameters on /audit/ and /api/audit-events/.

    Each filter is backed by an index ending in seq (see AuditEvent.Meta.indexes), or, for the text in
    the details, a trigram index: a filtered page is still one keyset query on seq. Actor is a prefix
    ("system:task:" finds every task); action takes several values, each one the trail holds; a
    period preset (last hour, today, last 7 days) is computed from console.clock, "custom" takes
    From and Until. Times without an offset are UTC; From is inclusive, Until exclusive.

    A time range is read as a seq range: occurred_at never decreases along the chain (audit_record
    holds it, PostgreSQL's insert trigger refuses otherwise, verify_audit_chain reports a reversal),
    so "at or after T" is "seq at or after the first event stamped at or after T". Each bound is a
    scalar subquery (one index probe) inside the page's one query, and the page stays a keyset range
    read on seq, filtered or not. Comparing occurred_at row by row instead made PostgreSQL collect
    every event of the range and sort it for each page: ~110 ms for an hour at 1,000,000 events.
    """

    actor = django_filters.CharFilter(
        field_name="actor_label",
        lookup_expr="startswith",
        label="Actor starts with",
        widget=forms.TextInput(attrs={"list": "audit-actors", "autocomplete": "off"}),
    )
    action = ActionsFilter(
        method="filter_action", label="Actions", widget=forms.SelectMultiple(attrs={"size": 8})
    )
    object_type = django_filters.CharFilter(label="Object type")
    object_id = django_filters.CharFilter(label="Object id")
    text = django_filters.CharFilter(method="filter_text", label="Details contain")
    correlation_id = django_filters.CharFilter(label="Correlation id")
    period = django_filters.ChoiceFilter(
        method="filter_period", choices=PERIODS, label="Period", empty_label="Any time"
    )
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
        form = AuditFilterForm
        fields: list[str] = []  # declared above

    def filter_action(self, queryset, name, value):
        # IN, not OR-ed Q objects with DISTINCT (MultipleChoiceFilter's default): the page stays one
        # ordered read on seq.
        return queryset.filter(action__in=value) if value else queryset

    def filter_text(self, queryset, name, value):
        return queryset.filter(DetailsContain(value))

    def filter_period(self, queryset, name, value):
        if value == PERIOD_CUSTOM:
            return queryset  # From and Until say it
        now = clock.now()
        # Up to and including now: Until is exclusive, and an event stamped this very microsecond counts.
        queryset = self.filter_until(queryset, "until", now + dt.timedelta(microseconds=1))
        return self.filter_since(queryset, "since", period_start(value, now))

    def filter_since(self, queryset, name, value):
        # No event at or after `value`: the subquery is NULL and seq >= NULL matches nothing.
        return queryset.filter(seq__gte=_first_seq_at_or_after(value))

    def filter_until(self, queryset, name, value):
        bound = Coalesce(_first_seq_at_or_after(value), Value(_SEQ_MAX), output_field=BigIntegerField())
        return queryset.filter(seq__lt=bound)

    def period_range(self) -> tuple[str, dt.datetime, dt.datetime] | None:
        """(name, from, to) of the chosen preset period, as the page applies it (valid filter sets only)."""
        period = self.form.cleaned_data.get("period")
        if not period or period == PERIOD_CUSTOM:
            return None
        now = clock.now()
        return dict(PERIODS)[period], period_start(period, now), now

    def active_filters(self) -> dict[str, Any]:
        """The filters in use, as recorded on the audit event of the read (valid filter sets only)."""
        return {name: value for name, value in self.form.cleaned_data.items() if value not in (None, "", [])}
