"""The queue of promotion requests, and a new request."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render

from console.htmx import render_page, wants_fragment
from console.paging import cursor_param, keyset_page, page_urls
from console.submissions import send_once
from evidence.choices import ManifestStatus
from evidence.models import SourceManifest
from promotion import policy, selectors, services
from promotion.filtersets import PromotionRequestFilterSet
from promotion.forms import (
    PromotionRequestForm,
)
from promotion.models import PromotionRequest
from promotion.tables import QUEUE_TABS
from promotion.views._common import (
    PAGE_SIZE,
    _bare,
    _reader,
    _status,
    may_read,
)

# --- the queue ------------------------------------------------------------------------------------


@_reader
def request_list(request):
    """The promotion queue, by state, newest first."""
    queryset = selectors.promotion_requests().prefetch_related("datasets")
    filterset = PromotionRequestFilterSet(request.GET, queryset=queryset)
    page = None
    if filterset.is_valid():
        page = keyset_page(
            filterset.qs, key="id", size=PAGE_SIZE,
            after=cursor_param(request.GET, "after"), before=cursor_param(request.GET, "before"),
        )
    next_url, prev_url = page_urls(request.GET, page)
    context = {
        "filterset": filterset,
        "page": page,
        "next_url": next_url,
        "prev_url": prev_url,
        "filtered": any(request.GET.get(name) for name in filterset.filters),
        "current_state": request.GET.get("state", ""),
    }
    if not wants_fragment(request):
        counts = dict(PromotionRequest.objects.values_list("state").annotate(n=Count("id")).order_by())
        context["tabs"] = [(state.value, state.label, counts.get(state.value, 0)) for state in QUEUE_TABS]
        context["total"] = sum(counts.values())
    return render_page(
        request, "promotion/request_list.html", "promotion/partials/request_results.html", context
    )


# --- a new request --------------------------------------------------------------------------------


def _new_page(request, manifest, form, *, status: int = 200):
    context = {
        "manifest": manifest,
        "form": form,
        "offered": manifest is not None and manifest.status == ManifestStatus.COMPLETE,
        "may_contract": policy.allowed(request.user, policy.CONTRACT),
    }
    if manifest is None:
        complete = SourceManifest.objects.filter(status=ManifestStatus.COMPLETE)
        context["complete_manifests"] = complete.order_by("-id")[:20]
    return render(request, "promotion/request_new.html", context, status=status)


@login_required
def request_new(request):
    """Pick datasets of a complete manifest and the target; the gates then run in Celery."""
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    manifest_pk = cursor_param(request.GET, "manifest") or cursor_param(request.POST, "manifest")
    manifest = get_object_or_404(SourceManifest, pk=manifest_pk) if manifest_pk else None
    may_contract = policy.allowed(request.user, policy.CONTRACT)
    if request.method == "GET":
        if not policy.allowed(request.user, policy.REQUEST):
            raise PermissionDenied
        form = PromotionRequestForm(manifest=manifest, may_contract=may_contract) if manifest else None
        return _new_page(request, manifest, form)
    if manifest is None:
        raise Http404("name the manifest to promote from")
    form = PromotionRequestForm(request.POST, manifest=manifest, may_contract=may_contract)
    if not form.is_valid():
        if not policy.allowed(request.user, policy.REQUEST):
            raise PermissionDenied
        return _new_page(request, manifest, form, status=400)
    choices = {"datasets": sorted(d.pk for d in form.cleaned_data["datasets"]), "target": form.cleaned_data["target"]}

    def again():
        fresh = PromotionRequestForm(manifest=manifest, may_contract=may_contract,
                                     initial={"datasets": form.cleaned_data["datasets"],
                                              "target": form.cleaned_data["target"]})
        return _new_page(request, manifest, fresh, status=409)

    return send_once(request, form, name="promotion-request-form", choices=choices, thing="request",
                     query=[("manifest", [str(manifest.pk)])], again=again,
                     create=lambda: _request(request, manifest, form, may_contract),
                     named=lambda pk: f"promotion #{pk}")


def _request(request, manifest, form, may_contract: bool) -> tuple[HttpResponse, PromotionRequest | None]:
    """The service's answer as a page: the redirect to the new request and it, or the refusal and None."""
    try:
        created = services.promotion_request(
            actor=request.user, manifest=manifest, datasets=form.cleaned_data["datasets"],
            target=form.cleaned_data["target"],
        )
    except services.PromotionRefused as refused:
        if not may_read(request.user):
            return _bare(refused), None
        messages.error(request, f"Refused: {refused.reason}")
        return _new_page(request, manifest, form, status=_status(refused)), None
    messages.success(request, f"Promotion #{created.pk} requested; its gates are running.")
    return redirect("promotion:request-detail", pk=created.pk), created
