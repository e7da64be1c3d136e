"""Forms of the deliverables pages: the list's filters (shared with the API's query parameters) and the Build
workbook form of a run's page."""
from __future__ import annotations

import django_filters
from django import forms

from console.filtersets import IdFilter
from deliverables.choices import DeliverableKind, RunState
from deliverables.models import Deliverable


class DeliverableFilterSet(django_filters.FilterSet):
    """/deliverables/ and /api/deliverables/: client, kind, state, run."""

    client = django_filters.CharFilter(field_name="client_account_id", label="Client",
                                       help_text="Salesforce account id")
    kind = django_filters.ChoiceFilter(choices=DeliverableKind.choices, label="Kind")
    state = django_filters.ChoiceFilter(choices=RunState.choices, label="State")
    run = IdFilter(field_name="run_id", label="Run")

    class Meta:
        model = Deliverable
        fields = ()


class DeliverableStartForm(forms.Form):
    run = forms.IntegerField(min_value=1, label="Run")
    client = forms.CharField(max_length=18, label="Client", help_text="A client the run stored numbers for.")
    kind = forms.ChoiceField(choices=DeliverableKind.choices, initial=DeliverableKind.WORKBOOK, required=False,
                             label="Kind")
