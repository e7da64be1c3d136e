"""Admin of the promotion app: read-only rows; the only write, a decision on a request, goes through the services.

So the admin obeys the same four-eyes rule as the UI and the API: promotion_approve refuses (and
audits) a self-approval whoever calls it.
"""
from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from console.comments import COMMENT_MAX_CHARS
from promotion import services
from promotion.models import FlawDisposition, GateResult, PromotionRequest, SchemaDriftAcknowledgement


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DecisionForm(forms.ModelForm):
    decision = forms.ChoiceField(
        choices=[("", "—"), ("approve", "Approve"), ("reject", "Reject")], required=False
    )
    comment = forms.CharField(widget=forms.Textarea, required=False, max_length=COMMENT_MAX_CHARS)

    class Meta:
        model = PromotionRequest
        fields = ()


@admin.register(PromotionRequest)
class PromotionRequestAdmin(admin.ModelAdmin):
    form = DecisionForm
    list_display = ("pk", "kind", "manifest", "target", "state", "rollback_key", "rollback_version", "requested_by",
                    "requested_at", "approved_by")
    list_select_related = ("manifest", "requested_by", "approved_by")  # one query for the page, not three a row
    list_filter = ("kind", "state", "target")
    readonly_fields = (
        "gate_results",
        "kind", "rollback_key", "rollback_from_version", "rollback_version",
        "manifest", "target", "state", "requested_by", "requested_at", "checked_at", "approved_by",
        "approved_at", "approval_comment", "approval_fingerprint", "rejected_by", "rejected_at",
        "rejection_comment", "cancelled_by", "cancelled_at", "error",
    )
    fields = (*readonly_fields, "decision", "comment")

    @admin.display(description="current gate results")
    def gate_results(self, obj):
        rows = obj.gate_results.filter(current=True).order_by("gate") if obj.pk else []
        # reviewed-safe: the separator is a constant "<br>" and the format string is constant; values are escaped.
        return format_html_join(
            mark_safe("<br>"), "{} v{}: {} ({} details)", ((r.gate, r.version, r.outcome, len(r.details)) for r in rows)
        ) or "none yet"

    def has_add_permission(self, request):
        return False  # requests are made by promotion_request (the console's pages and API)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """Never saves the row itself: a decision is the service's, and a refusal is shown, not saved."""
        decision, comment = form.cleaned_data.get("decision"), form.cleaned_data.get("comment", "")
        request._promotion_refused = None
        try:
            if decision == "approve":
                services.promotion_approve(actor=request.user, request=obj, comment=comment)
            elif decision == "reject":
                services.promotion_reject(actor=request.user, request=obj, comment=comment)
        except services.PromotionRefused as refused:
            request._promotion_refused = refused.reason

    def save_related(self, request, form, formsets, change):
        pass  # nothing related is edited here

    def log_change(self, request, obj, message):
        if getattr(request, "_promotion_refused", None) is None:
            return super().log_change(request, obj, message)
        return None

    def response_change(self, request, obj):
        reason = getattr(request, "_promotion_refused", None)
        if reason:
            self.message_user(request, f"Refused: {reason}", level=messages.ERROR)
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)


@admin.register(GateResult)
class GateResultAdmin(ReadOnlyAdmin):
    list_display = ("request", "gate", "version", "outcome", "current", "ran_at")
    list_filter = ("gate", "outcome", "current")


@admin.register(FlawDisposition)
class FlawDispositionAdmin(ReadOnlyAdmin):
    list_display = ("manifest", "code", "decision", "decided_by", "decided_at")
    list_filter = ("decision", "code")


@admin.register(SchemaDriftAcknowledgement)
class SchemaDriftAcknowledgementAdmin(ReadOnlyAdmin):
    list_display = ("dataset", "curated_version", "acknowledged_by", "acknowledged_at")
