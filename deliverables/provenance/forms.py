"""The provenance search's filters (/provenance/): client, period and label text; each error names the bad value."""
from __future__ import annotations

import datetime as dt

from django import forms


class ProvenanceSearchForm(forms.Form):
    """/provenance/: the values of a select each (clients and periods of succeeded runs); a value typed into the
    query string that is not one of them is named in the error."""

    client = forms.CharField(required=False, label="Client",
                             help_text="A Salesforce account id of a client with numbers in a succeeded run")
    period = forms.CharField(required=False, label="Period", help_text="START:END, a run's period")
    q = forms.CharField(required=False, max_length=100, label="Label contains",
                        error_messages={"max_length": "label text: at most %(limit_value)d characters"})

    def __init__(self, *args, clients: list[tuple[str, str]], periods: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.clients, self.periods = clients, periods

    def clean_client(self) -> str:
        value = self.cleaned_data["client"].strip()
        if value and value not in {c for c, _ in self.clients}:
            raise forms.ValidationError(f"client {value!r}: no succeeded run has a number of this client")
        return value

    def clean_period(self) -> tuple[dt.date, dt.date] | None:
        value = self.cleaned_data["period"].strip()
        if not value:
            return None
        start, _, end = value.partition(":")
        try:
            period = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
        except ValueError:
            raise forms.ValidationError(f"period {value!r}: give it as START:END, e.g. 2025-01-01:2025-12-31") from None
        if period[0] > period[1]:
            raise forms.ValidationError(f"period {value!r}: it ends before it starts")
        if value not in {p for p, _ in self.periods}:
            raise forms.ValidationError(f"period {value!r}: no succeeded run covers exactly this period")
        return period
