"""A request's detail page, its live poll and its actions (recheck, approve, reject, cancel, flaw
dispositions, schema-drift acknowledgement)."""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django_htmx.http import HttpResponseClientRefresh, HttpResponseStopPolling

from console.htmx import wants_fragment
from promotion import selectors, services
from promotion.forms import (
    CancelForm,
    CommentForm,
    DriftAcknowledgeForm,
    FlawDispositionForm,
    FlawWithdrawForm,
)
from promotion.models import PromotionRequest
from promotion.tables import action_label, actor_name
from promotion.views._common import (
    LIVE_STATES,
    POLL_SECONDS,
    _bare,
    _reader,
    _status,
    _writer,
    detail_context,
    may_read,
)

# --- a request's detail ----------------------------------------------------------------------------


def _promotion(pk: int) -> PromotionRequest:
    return get_object_or_404(
        selectors.promotion_requests()
        .select_related("rejected_by", "cancelled_by")
        .prefetch_related("datasets"),
        pk=pk,
    )


def _detail_page(request, promotion, *, status: int = 200, forms: dict | None = None):
    context = detail_context(request.user, promotion, forms=forms or {})
    context["cancel_form"] = (forms or {}).get("cancel")
    context["poll_seconds"] = POLL_SECONDS
    return render(request, "promotion/request_detail.html", context, status=status)


def _flaws_fragment(request, promotion, *, status: int = 200, forms: dict | None = None, error: str = ""):
    context = detail_context(request.user, promotion, forms=forms or {}, sections=("flaws",))
    context["flaws_error"] = error
    return render(request, "promotion/partials/flaws.html", context, status=status)


@_reader
def request_detail(request, pk: int):
    return _detail_page(request, _promotion(pk))


@_reader
def request_progress(request, pk: int):
    """The load-progress fragment, polled by htmx; when the state moved on, the whole page reloads."""
    promotion = _promotion(pk)
    seen = request.GET.get("state", "")
    if wants_fragment(request) and seen and seen != promotion.state:
        return HttpResponseClientRefresh()
    context = {"promotion": promotion, "poll_seconds": POLL_SECONDS, "live": promotion.state in LIVE_STATES}
    return render(request, "promotion/partials/progress.html", context)


@_reader
def request_live(request, pk: int):
    """Polled by an open request's page (htmx) with the stamp it was rendered with: empty while nothing
    changed, else a notice of what the request is now and who changed it, for the page to show beside
    its forms (never over them). A final request stops the polling (HTTP 286)."""
    promotion = _promotion(pk)
    datasets = list(promotion.datasets.all())
    stamp = selectors.request_live_stamp(
        promotion, viewer=request.user, datasets=datasets,
        fingerprints=selectors.request_fingerprints(promotion, datasets),
    )
    seen = request.GET.get("stamp", "")
    if not seen or seen == stamp.value:
        return HttpResponseStopPolling() if promotion.is_final else HttpResponse("")
    context = {
        "promotion": promotion,
        "who": actor_name(stamp.event) if stamp.event else "",
        "what": action_label(stamp.event.action) if stamp.event else "",
    }
    notice = render_to_string("promotion/partials/live_notice.html", context, request=request)
    return HttpResponseStopPolling(notice) if promotion.is_final else HttpResponse(notice)


def _refused(request, promotion, refused: services.PromotionRefused, *, fragment: str = "",
             forms: dict | None = None):
    """Answer a refusal by the rule in the module docstring."""
    if not may_read(request.user):
        return _bare(refused)
    status, reason = _status(refused), refused.reason
    promotion = _promotion(promotion.pk)
    if fragment == "flaws" and wants_fragment(request):
        return _flaws_fragment(request, promotion, status=status, forms=forms, error=f"Refused: {reason}")
    messages.error(request, f"Refused: {reason}")
    return _detail_page(request, promotion, status=status, forms=forms)


def _done(request, promotion, note: str, *, anchor: str = ""):
    messages.success(request, note)
    return redirect(reverse("promotion:request-detail", args=[promotion.pk]) + anchor)


@_writer
def request_recheck(request, pk: int):
    promotion = _promotion(pk)
    try:
        services.promotion_recheck(actor=request.user, request=promotion)
    except services.PromotionRefused as refused:
        return _refused(request, promotion, refused)
    return _done(request, promotion, "The gates are running again.")


def _decide(request, pk: int, action: str):
    promotion = _promotion(pk)
    form = CommentForm(request.POST, prefix=action)
    if not form.is_valid():
        if not may_read(request.user):
            return HttpResponseForbidden("Refused")
        return _detail_page(request, promotion, status=400, forms={action: form})
    service = services.promotion_approve if action == "approve" else services.promotion_reject
    try:
        service(actor=request.user, request=promotion, comment=form.cleaned_data["comment"])
    except services.PromotionRefused as refused:
        return _refused(request, promotion, refused)
    return _done(request, promotion, "Approved: the load is queued." if action == "approve" else "Rejected.")


@_writer
def request_approve(request, pk: int):
    return _decide(request, pk, "approve")


@_writer
def request_reject(request, pk: int):
    return _decide(request, pk, "reject")


@_writer
def request_cancel(request, pk: int):
    promotion = _promotion(pk)
    form = CancelForm(request.POST, prefix="cancel")
    if not form.is_valid():
        if not may_read(request.user):
            return HttpResponseForbidden("Refused")
        return _detail_page(request, promotion, status=400, forms={"cancel": form})
    try:
        services.promotion_cancel(actor=request.user, request=promotion, reason=form.cleaned_data["reason"])
    except services.PromotionRefused as refused:
        return _refused(request, promotion, refused)
    return _done(request, promotion, "Cancelled.")


def _flaws_done(request, promotion, note: str):
    if wants_fragment(request):
        context = detail_context(request.user, _promotion(promotion.pk), forms={}, sections=("flaws",))
        context["flaws_note"] = note
        return render(request, "promotion/partials/flaws.html", context)
    return _done(request, promotion, note, anchor="#flaws")


@_writer
def flaw_disposition(request, pk: int):
    """Set (or change) the disposition of one flaw of the request's manifest."""
    promotion = _promotion(pk)
    form = FlawDispositionForm(request.POST, prefix=request.POST.get("prefix") or None)
    if not form.is_valid():
        if not may_read(request.user):
            return HttpResponseForbidden("Refused")
        forms = {f"flaw:{request.POST.get('prefix', '')}": form}
        if wants_fragment(request):
            return _flaws_fragment(request, promotion, status=400, forms=forms)
        return _detail_page(request, promotion, status=400, forms=forms)
    try:
        services.flaw_disposition_set(
            actor=request.user, manifest=promotion.manifest, fingerprint=form.cleaned_data["fingerprint"],
            decision=form.cleaned_data["decision"], note=form.cleaned_data["note"],
        )
    except services.PromotionRefused as refused:
        return _refused(request, promotion, refused, fragment="flaws")
    return _flaws_done(
        request, promotion, "Disposition recorded. Re-run the gates when every flaw is decided."
    )


@_writer
def flaw_withdraw(request, pk: int):
    """Withdraw a disposition: the flaw awaits a decision again."""
    promotion = _promotion(pk)
    form = FlawWithdrawForm(request.POST)
    fingerprint = form.cleaned_data["fingerprint"] if form.is_valid() else ""
    try:
        services.flaw_disposition_clear(
            actor=request.user, manifest=promotion.manifest, fingerprint=fingerprint
        )
    except services.PromotionRefused as refused:
        return _refused(request, promotion, refused, fragment="flaws")
    return _flaws_done(request, promotion, "Disposition withdrawn.")


@_writer
def drift_acknowledge(request, pk: int):
    """Accept a dataset's schema drift from its current curated version (the schema gate's failure)."""
    promotion = _promotion(pk)
    form = DriftAcknowledgeForm(request.POST)
    dataset = None
    if form.is_valid():
        dataset = promotion.datasets.filter(pk=form.cleaned_data["dataset"]).first()
    if dataset is None:
        if not may_read(request.user):
            return HttpResponseForbidden("Refused")
        return _detail_page(request, promotion, status=400, forms={"drift": form})
    try:
        services.schema_drift_acknowledge(actor=request.user, dataset=dataset, note=form.cleaned_data["note"])
    except services.PromotionRefused as refused:
        return _refused(request, promotion, refused)
    return _done(request, promotion, "Schema drift acknowledged. Re-run the gates.")
