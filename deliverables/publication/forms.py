"""Forms of the publication pages: the list's filters (shared with the API's query parameters) and the request,
approve, reject, withdraw and retract forms."""
from __future__ import annotations

import django_filters
from django import forms
from django.core.validators import RegexValidator

from console.filtersets import IdFilter
from deliverables.choices import DeliverableKind, PublicationState
from deliverables.models import Publication


class PublicationFilterSet(django_filters.FilterSet):
    """/publications/ and /api/publications/: client, kind, state (and deliverable)."""

    client = django_filters.CharFilter(field_name="client_account_id", label="Client",
                                       help_text="Salesforce account id")
    kind = django_filters.ChoiceFilter(choices=DeliverableKind.choices, label="Kind")
    state = django_filters.ChoiceFilter(choices=PublicationState.choices, label="State")
    deliverable = IdFilter(field_name="deliverable_id", label="Deliverable")

    class Meta:
        model = Publication
        fields = ()


# An approval names the artifact's SHA-256 the approver checked: 64 hexadecimal characters (the pages and the API
# refuse anything else as a form error, 400 naming `sha256`; no service is asked).
SHA256_HEX = RegexValidator(r"^[0-9a-fA-F]{64}$", "Enter the artifact's SHA-256: 64 hexadecimal characters.")

# The decisions' other fields are optional here: a missing comment or reason, or a well-formed hash that is not the
# bound one, is the service's refusal (named, and audited), not a form error that would leave no trace.
def _text(label: str, **options) -> forms.CharField:
    return forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), label=label,
                           **options)


class PublicationRequestForm(forms.Form):
    deliverable = forms.IntegerField(min_value=1, label="Deliverable")
    comment = _text("Comment", help_text="What the approver should know.")


class ApproveForm(forms.Form):
    comment = _text("Comment")
    sha256 = forms.CharField(max_length=64, validators=[SHA256_HEX], label="SHA-256 you checked",
                             help_text="The artifact's hash shown above: the approval is bound to it.")


class CommentForm(forms.Form):
    comment = _text("Comment")


class ReasonForm(forms.Form):
    reason = _text("Reason")
