"""Forms of the consumer tokens' pages: create one (name, clients, days) and revoke one (a reason)."""
from __future__ import annotations

from django import forms

from deliverables.consumers import selectors, services


class ConsumerTokenForm(forms.Form):
    name = forms.CharField(max_length=120, label="Name", help_text="Who or what uses it, e.g. “Domo production”.")
    clients = forms.MultipleChoiceField(label="Clients", widget=forms.CheckboxSelectMultiple,
                                        help_text="The clients it may read (its scope).")
    expires_in_days = forms.IntegerField(min_value=1, max_value=services.MAX_DAYS, initial=services.DEFAULT_DAYS,
                                         label="Expires in (days)", help_text=f"At most {services.MAX_DAYS}.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clients"].choices = [(account_id, f"{name} ({account_id})" if name else account_id)
                                          for account_id, name in selectors.known_clients().items()]


class ConsumerTokenRevokeForm(forms.Form):
    reason = forms.CharField(max_length=2000, label="Reason", widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="Kept with the token and in the audit trail.")
