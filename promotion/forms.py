"""Forms of the promotion pages. They shape input only; every rule is the services' to enforce."""

from __future__ import annotations

from django import forms

from console.comments import COMMENT_MAX_CHARS
from console.submissions import SubmissionForm
from promotion.choices import FlawDecision, PromotionTarget


class PromotionRequestForm(SubmissionForm):
    """The datasets of one complete manifest to promote, and the target. Its `submission` key, drawn when the page
    is shown, makes a second send of the same form answer the first send's request instead of making another
    (catalogue item 8; console.submissions; the API's Idempotency-Key does the same for scripts)."""

    datasets = forms.ModelMultipleChoiceField(
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        label="Datasets to promote",
        error_messages={"required": "Pick at least one dataset to promote."},
    )
    target = forms.ChoiceField(
        choices=PromotionTarget.choices, initial=PromotionTarget.MIGRATION, required=False, label="Target"
    )

    def __init__(self, *args, manifest, may_contract: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["datasets"].queryset = manifest.datasets.order_by("name", "pk")
        self.fields["datasets"].label_from_instance = lambda d: f"{d.name} ({d.domo_id})"
        if not may_contract:
            # Not offered (a hidden field fixed at the default); a crafted POST naming the contract target
            # still validates here and reaches the service, which refuses it and audits the attempt.
            self.fields["target"].widget = forms.HiddenInput()

    def clean_target(self) -> str:
        return self.cleaned_data.get("target") or PromotionTarget.MIGRATION


class CommentForm(forms.Form):
    """Approve or reject: a comment is required."""

    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=COMMENT_MAX_CHARS,
        label="Comment",
        error_messages={"required": "Write a comment: it is kept with the decision."},
    )


class CancelForm(forms.Form):
    """Cancel a request: a reason is required, as a rejection's comment is."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=COMMENT_MAX_CHARS,
        label="Reason",
        error_messages={"required": "Write a reason: it is kept with the cancellation."},
    )


class FlawDispositionForm(forms.Form):
    """An operator's decision on one flaw, with its note."""

    fingerprint = forms.CharField(widget=forms.HiddenInput(), max_length=64)
    # No default: each disposition is a deliberate choice.
    decision = forms.ChoiceField(
        choices=[("", "— choose —"), *FlawDecision.choices], label="Decision",
        error_messages={"required": "Choose a decision."},
    )
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=COMMENT_MAX_CHARS,
        label="Note",
        error_messages={"required": "Write a note: why this decision holds."},
    )


class FlawWithdrawForm(forms.Form):
    fingerprint = forms.CharField(widget=forms.HiddenInput(), max_length=64)


class DriftAcknowledgeForm(forms.Form):
    dataset = forms.IntegerField(widget=forms.HiddenInput())
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=COMMENT_MAX_CHARS,
        label="Note",
        error_messages={"required": "Write a note: why the new schema is acceptable."},
    )


class RollbackForm(forms.Form):
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput())
