"""Filter sets shared by the evidence pages and their API endpoints: the same query parameters on both."""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms

from console.filtersets import IdFilter
from evidence.choices import BeastModeScope, IntakeSource, IntakeStatus, ManifestStatus, Severity
from evidence.formulas import FLAW_CODES, STEP_FLAW_CODES
from evidence.models import (
    BeastMode,
    CalculationFlaw,
    DomoCard,
    DomoDataflow,
    DomoDataset,
    IntakeRun,
    ManifestIssue,
    PdpPolicy,
    SourceManifest,
)

_DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.timezone.utc)


class IntakeRunFilterSet(django_filters.FilterSet):
    """/sources/intake/ and /api/intake-runs/."""

    status = django_filters.ChoiceFilter(choices=IntakeStatus.choices, label="Status")
    source = django_filters.ChoiceFilter(choices=IntakeSource.choices, label="Source")

    class Meta:
        model = IntakeRun
        fields: list[str] = []


class ManifestFilterSet(django_filters.FilterSet):
    """/sources/ and /api/manifests/. Dates are UTC days of receipt; `received_until` includes its day."""

    status = django_filters.ChoiceFilter(choices=ManifestStatus.choices, label="Verdict")
    load_id = django_filters.CharFilter(
        label="Load id", widget=forms.TextInput(attrs={"placeholder": "LIQ-20261120-0001"})
    )
    received_from = django_filters.DateFilter(
        method="filter_received_from", label="Received from (UTC)", widget=_DATE
    )
    received_until = django_filters.DateFilter(
        method="filter_received_until", label="Received until (UTC)", widget=_DATE
    )

    class Meta:
        model = SourceManifest
        fields: list[str] = []

    def filter_received_from(self, queryset, name, value: dt.date):
        # A range on the indexed timestamp, not received_at__date (which no index serves).
        return queryset.filter(received_at__gte=_day_start(value))

    def filter_received_until(self, queryset, name, value: dt.date):
        if value == dt.date.max:  # the calendar's last day has no next day to stop before: no bound
            return queryset
        return queryset.filter(received_at__lt=_day_start(value + dt.timedelta(days=1)))


class IssueFilterSet(django_filters.FilterSet):
    """/sources/issues/ and /api/issues/."""

    manifest = IdFilter(field_name="manifest_id", label="Manifest")
    severity = django_filters.ChoiceFilter(choices=Severity.choices, label="Severity")
    code = django_filters.CharFilter(
        label="Code", widget=forms.TextInput(attrs={"placeholder": "HASH_MISMATCH"})
    )
    file = django_filters.CharFilter(label="File")

    class Meta:
        model = ManifestIssue
        fields: list[str] = []


class DatasetFilterSet(django_filters.FilterSet):
    manifest = IdFilter(field_name="manifest_id", label="Manifest")
    domo_id = django_filters.CharFilter(label="Domo DataSet id")

    class Meta:
        model = DomoDataset
        fields: list[str] = []


class CardFilterSet(django_filters.FilterSet):
    manifest = IdFilter(field_name="manifest_id", label="Manifest")
    domo_id = IdFilter(label="Domo card id")
    dataset = IdFilter(field_name="datasets__id", label="Reads dataset")

    class Meta:
        model = DomoCard
        fields: list[str] = []


class BeastModeFilterSet(django_filters.FilterSet):
    manifest = IdFilter(field_name="manifest_id", label="Manifest")
    card = IdFilter(field_name="card_id", label="Card")
    dataset = IdFilter(field_name="dataset_id", label="Dataset")
    scope = django_filters.ChoiceFilter(choices=BeastModeScope.choices, label="Saved on")
    formula_id = django_filters.CharFilter(label="Formula id")

    class Meta:
        model = BeastMode
        fields: list[str] = []


class DataflowFilterSet(django_filters.FilterSet):
    manifest = IdFilter(field_name="manifest_id", label="Manifest")
    domo_id = IdFilter(label="Domo DataFlow id")
    database_type = django_filters.ChoiceFilter(
        choices=[("MYSQL", "MySQL"), ("MAGIC", "Magic ETL"), ("REDSHIFT", "Redshift")], label="Type"
    )

    class Meta:
        model = DomoDataflow
        fields: list[str] = []


class PolicyFilterSet(django_filters.FilterSet):
    manifest = IdFilter(field_name="dataset__manifest_id", label="Manifest")
    dataset = IdFilter(field_name="dataset_id", label="Dataset")
    type = django_filters.ChoiceFilter(
        choices=[("open", "Open (All Rows)"), ("user", "User"), ("system", "System")], label="Type"
    )

    class Meta:
        model = PdpPolicy
        fields: list[str] = []


def _flaw_codes() -> list[tuple[str, str]]:
    return [(code, f"{known.title} ({code})") for code, known in {**FLAW_CODES, **STEP_FLAW_CODES}.items()]


class CalculationFlawFilterSet(django_filters.FilterSet):
    """/sources/<manifest>/flaws/ (its manifest from the path) and /api/calculation-flaws/."""

    manifest = IdFilter(field_name="manifest_id", label="Manifest")
    code = django_filters.ChoiceFilter(choices=_flaw_codes, label="Code")
    severity = django_filters.ChoiceFilter(choices=Severity.choices, label="Severity")

    class Meta:
        model = CalculationFlaw
        fields: list[str] = []
