"""Forms of the runs pages: the runs list's filters (shared with the API's query parameters), the Start run form,
and the findings filters."""
from __future__ import annotations

import django_filters
from django import forms

from console.submissions import SubmissionForm
from deliverables.choices import Decision, FindingKind, NumberKind, RunState
from deliverables.models import CalculationRun, RunNumber


class RunFilterSet(django_filters.FilterSet):
    """/runs/ and /api/runs/: client, period (runs whose period overlaps from..to), state."""

    client = django_filters.CharFilter(field_name="client_account_id", label="Client",
                                       help_text="Salesforce account id; 'all' for runs over every client",
                                       method="filter_client")
    period_from = django_filters.DateFilter(field_name="period_end", lookup_expr="gte", label="Period from",
                                            widget=forms.DateInput(attrs={"type": "date"}))
    period_to = django_filters.DateFilter(field_name="period_start", lookup_expr="lte", label="Period to",
                                          widget=forms.DateInput(attrs={"type": "date"}))
    state = django_filters.ChoiceFilter(choices=RunState.choices, label="State")

    class Meta:
        model = CalculationRun
        fields: list[str] = []

    def filter_client(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(client_account_id="" if value.lower() == "all" else value)


class RunStartForm(SubmissionForm):
    """Its `submission` key (drawn when the page is shown) makes a second send of the same form lead to the first
    send's run instead of starting another (console.submissions)."""

    client = forms.CharField(required=False, max_length=18, label="Client",
                             help_text="A Salesforce account id (15 or 18 characters; the governed accounts are "
                                       "suggested by name); blank runs every client.",
                             widget=forms.TextInput(attrs={"list": "known-clients", "autocomplete": "off"}))
    period_start = forms.DateField(label="Period start", widget=forms.DateInput(attrs={"type": "date"}))
    period_end = forms.DateField(label="Period end", widget=forms.DateInput(attrs={"type": "date"}))
    dataset = forms.CharField(required=False, max_length=64, label="Claims dataset",
                              help_text="The Domo dataset id; blank takes the claims promoted into a backend contract.")

    def clean(self):
        data = super().clean()
        start, end = data.get("period_start"), data.get("period_end")
        if start and end and start > end:
            self.add_error("period_end", f"The period ends ({end}) before it starts ({start}).")
        return data


class FindingFilterForm(forms.Form):
    """The findings' filters; `clients` ([(account id, governed name or '')], the run's) makes the client a choice
    by name (without them, any account id may be typed)."""

    kind = forms.ChoiceField(required=False, choices=[("", "Any kind"), *FindingKind.choices], label="Kind")
    client = forms.CharField(required=False, max_length=18, label="Client")
    pharmacy_npi = forms.CharField(required=False, max_length=10, label="Pharmacy NPI")
    decision = forms.ChoiceField(required=False, choices=[("", "Any decision"), *Decision.choices], label="Decision")

    def __init__(self, *args, clients: list[tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if clients:
            self.fields["client"] = forms.ChoiceField(
                required=False, label="Client",
                choices=[("", "Any client"), *((client, f"{name} ({client})" if name else client)
                                               for client, name in clients)])


class NumberFilterSet(django_filters.FilterSet):
    """/api/runs/<id>/results/: a run's numbers by kind, client and decision."""

    kind = django_filters.ChoiceFilter(choices=NumberKind.choices, label="Kind")
    client = django_filters.CharFilter(field_name="client_account_id", label="Client")
    decision = django_filters.ChoiceFilter(choices=Decision.choices, label="Decision")

    class Meta:
        model = RunNumber
        fields: list[str] = []
