"""Pages of the promotion app (mounted at /promotions/): the queue, a new request, a request's detail
with its gates, flaws, decisions, load progress and history, and the curated registry with rollback.

Who sees what, and the refusal rule
-----------------------------------
Reading needs a login and one of view_provenance, request_promotion or approve_promotion. An action is
*offered* (its button or form rendered) only to a person who may take it in the request's present state;
approve and reject are never offered to the requester, who reads "awaiting a second person's approval".

Every POST goes to its service whatever the page offered, so the service decides and audits every
refused attempt (views never write audit rows). The answer comes from the refusal itself
(services.PromotionRefused), one rule for these pages and the API:

- 403 Forbidden is about *who* asks (`refused.forbidden`): a missing permission, or four eyes (the
  requester approving or rejecting their own request);
- 409 Conflict is about *when or what*: the request's state, stale or failed gates, a partial manifest,
  a race lost to another approver, a flaw that re-analysis changed, a rollback that is not backwards;
- 400 Bad Request when the form itself is incomplete (an empty comment or note): nothing reaches the
  service, the form comes back with its errors.

Each of these re-renders the page (or, for htmx, the fragment) with the reason shown; someone who may not
read the page at all gets the reason alone, with the same status. `_may` only decides what is *shown*.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpResponse, HttpResponseForbidden, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRefresh, HttpResponseStopPolling

from console.htmx import render_page, wants_fragment
from console.paging import cursor_param, keyset_page, page_urls
from evidence.choices import ManifestStatus
from evidence.models import DomoDataset, SourceManifest
from promotion import selectors, services
from promotion.choices import REQUEST_TYPE, PromotionKind, PromotionState, PromotionTarget
from promotion.filtersets import PromotionRequestFilterSet
from promotion.forms import (
    CommentForm,
    DriftAcknowledgeForm,
    FlawDispositionForm,
    FlawWithdrawForm,
    PromotionRequestForm,
    RollbackForm,
)
from promotion.models import PromotionRequest
from promotion.tables import QUEUE_TABS, actor_name, action_label, flaw_rows, gate_rows, history_rows

PAGE_SIZE = 50
VIEW = "console.view_provenance"
REQUEST = "console.request_promotion"
CONTRACT = "console.request_contract_promotion"
APPROVE = "console.approve_promotion"
POLL_SECONDS = 2
LIVE_SECONDS = 5  # how often an open request's page asks whether someone else changed it
HISTORY_SIZE = 50  # the newest audit rows that concern a request; the audit trail (linked) has them all
# While a request is in one of these, its page polls (the gates run, or the load is queued or running).
LIVE_STATES = (PromotionState.CHECKING, PromotionState.APPROVED, PromotionState.LOADING)
DECIDABLE_STATES = (PromotionState.BLOCKED, PromotionState.READY, PromotionState.APPROVED)
OPEN_STATES = (
    PromotionState.DRAFT, PromotionState.CHECKING, PromotionState.BLOCKED, PromotionState.READY,
    PromotionState.APPROVED,
)


def may_read(user) -> bool:
    return user.has_perm(VIEW) or user.has_perm(REQUEST) or user.has_perm(APPROVE)


def _reader(view):
    """Pages every promotion reader may see: logged in, a reading capability, GET only."""

    def guarded(request, *args, **kwargs):
        if not may_read(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    guarded.__name__ = view.__name__
    guarded.__doc__ = view.__doc__
    return login_required(require_GET(guarded))


def _writer(view):
    """Actions: logged in and POST only; the service decides who may (and audits who may not)."""
    return login_required(require_POST(view))


def _may(user, action: str, promotion: PromotionRequest | None = None) -> bool:
    """May this person take this action at all (whatever the request's state)? Decides what is offered;
    what a refusal answers is the service's (`_status`)."""
    if action in ("approve", "reject"):
        return user.has_perm(APPROVE) and promotion is not None and user.pk != promotion.requested_by_id
    if action == "recheck":
        return user.has_perm(REQUEST) or user.has_perm(APPROVE)
    if action == "cancel":
        return promotion is not None and (user.pk == promotion.requested_by_id or user.has_perm(APPROVE))
    return user.has_perm(REQUEST)  # request, dispositions, drift acknowledgements, rollback


def _status(refused: services.PromotionRefused) -> int:
    """403 for who asks (a permission, four eyes), 409 for when or what (see the module docstring)."""
    return 403 if refused.forbidden else 409


def _bare(refused: services.PromotionRefused) -> HttpResponse:
    """A refusal for someone who may not read the page it would be shown on."""
    return HttpResponse(f"Refused: {refused.reason}", status=_status(refused), content_type="text/plain")


def _actions(user, promotion: PromotionRequest) -> dict[str, bool]:
    """What this person is offered on this request now (the rest is hidden)."""
    state = promotion.state
    return {
        "recheck": _may(user, "recheck") and state in DECIDABLE_STATES,
        "approve": _may(user, "approve", promotion) and state == PromotionState.READY,
        "reject": _may(user, "reject", promotion) and state in DECIDABLE_STATES,
        "cancel": _may(user, "cancel", promotion) and state in OPEN_STATES,
        "dispose": _may(user, "disposition") and state in OPEN_STATES,
        "awaiting_second": state == PromotionState.READY and not _may(user, "approve", promotion),
    }


def detail_context(user, promotion: PromotionRequest, *, forms: dict, sections: tuple = ("all",)) -> dict:
    datasets = sorted(promotion.datasets.all(), key=lambda d: d.pk)
    # A rollback points at a version already loaded: its gates do not look at calculation flaws.
    flaws = flaw_rows(promotion, datasets, forms) if promotion.kind == PromotionKind.PROMOTION else []
    context = {
        "promotion": promotion,
        "actions": _actions(user, promotion),
        "awaiting": [row for row in flaws if row.disposition is None],
        "decided": [row for row in flaws if row.disposition is not None],
    }
    if sections != ("all",):
        return context
    fingerprints = sorted({row.fingerprint for row in flaws})
    context.update(
        datasets=datasets,
        gates=gate_rows(promotion, datasets),
        live=promotion.state in LIVE_STATES,
        history=history_rows(
            promotion,
            selectors.request_history(promotion, datasets=datasets, fingerprints=fingerprints, limit=HISTORY_SIZE),
        ),
        live_stamp=selectors.request_live_stamp(
            promotion, viewer=user, datasets=datasets, fingerprints=fingerprints
        ).value,
        live_seconds=LIVE_SECONDS,
        request_type=REQUEST_TYPE,
        approve_form=forms.get("approve") or CommentForm(prefix="approve"),
        reject_form=forms.get("reject") or CommentForm(prefix="reject"),
        drift_form=forms.get("drift"),
    )
    return context


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
        "may_contract": request.user.has_perm(CONTRACT),
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
    may_contract = request.user.has_perm(CONTRACT)
    if request.method == "GET":
        if not request.user.has_perm(REQUEST):
            raise PermissionDenied
        form = PromotionRequestForm(manifest=manifest, may_contract=may_contract) if manifest else None
        return _new_page(request, manifest, form)
    if manifest is None:
        raise Http404("name the manifest to promote from")
    form = PromotionRequestForm(request.POST, manifest=manifest, may_contract=may_contract)
    if not form.is_valid():
        if not request.user.has_perm(REQUEST):
            raise PermissionDenied
        return _new_page(request, manifest, form, status=400)
    try:
        created = services.promotion_request(
            actor=request.user, manifest=manifest, datasets=form.cleaned_data["datasets"],
            target=form.cleaned_data["target"],
        )
    except services.PromotionRefused as refused:
        if not may_read(request.user):
            return _bare(refused)
        messages.error(request, f"Refused: {refused.reason}")
        return _new_page(request, manifest, form, status=_status(refused))
    messages.success(request, f"Promotion #{created.pk} requested; its gates are running.")
    return redirect("promotion:request-detail", pk=created.pk)


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
    try:
        services.promotion_cancel(
            actor=request.user, request=promotion, reason=request.POST.get("reason", "")
        )
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


# --- the curated registry --------------------------------------------------------------------------


@_reader
def registry(request):
    """Every curated dataset's current version."""
    return render(request, "promotion/registry.html", {"versions": selectors.registry_current()})


def _versions_page(request, key: str, *, status: int = 200):
    versions = selectors.registry_versions(key)
    if not versions:
        raise Http404("no curated dataset has that key")
    current = next((v for v in versions if v.state == "current"), None)
    # Golden packets follow their dataset back: a golden key is never rolled back on its own.
    may_rollback = request.user.has_perm(REQUEST) and current is not None and not versions[0].is_golden
    rows = [
        (
            v,
            may_rollback and v.version < current.version and v.state in ("verified", "superseded")
            and _may_roll_back_to(request.user, v),
        )
        for v in versions
    ]
    context = {"key": key, "rows": rows, "current": current, "is_golden": versions[0].is_golden,
               "dataset": DomoDataset.objects.filter(domo_id=key).order_by("-id").first()}
    return render(request, "promotion/registry_versions.html", context, status=status)


@_reader
def registry_versions(request, key: str):
    """Every version of one curated dataset, with rollback to an earlier verified one."""
    return _versions_page(request, key)


@_writer
def registry_rollback(request, key: str):
    """Ask to point a curated dataset back at an earlier version: a request like any other
    (gates, a second person's approval)."""
    form = RollbackForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Name the version to roll back to.")
        return _versions_page(request, key, status=400)
    version = form.cleaned_data["version"]
    try:
        created = services.promotion_rollback_request(actor=request.user, dataset_key=key, version=version)
    except services.PromotionRefused as refused:
        if not may_read(request.user):
            return _bare(refused)
        messages.error(request, f"Refused: {refused.reason}")
        return _versions_page(request, key, status=_status(refused))
    messages.success(request, f"Rollback #{created.pk} requested; its gates are running.")
    return redirect("promotion:request-detail", pk=created.pk)


def _may_roll_back_to(user, version) -> bool:
    """Is a rollback to this version offered: the contract permission when it went into a backend
    contract (a rollback inherits its target)."""
    request = version.request
    return request is None or request.target != PromotionTarget.CONTRACT or user.has_perm(CONTRACT)
