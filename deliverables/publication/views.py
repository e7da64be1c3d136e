"""Publication pages (mounted at /publications/):

- /publications/: publications and requests, newest first, filtered by client, kind, state (and deliverable);
- /publications/request/: ask to publish a deliverable (POST, from the deliverable's page);
- /publications/<id>/: one publication: the artifact's hash, the gates as checked at the request and at the
  approval, the card reconciliation state it was asked with, the history of its client and kind, and the approve,
  reject, withdraw and retract forms for those allowed;
- /publications/<id>/approve/, reject/, withdraw/, retract/: the decisions (POST);
- /publications/<id>/download/: the published file, its hash checked first (audited).

Reading needs console.view_provenance; the service decides every write and audits its refusals (403 for who asks,
409 for what or when).
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from console.htmx import render_page
from console.paging import cursor_param, keyset_page, page_urls
from console.words import errors_line
from deliverables.choices import PublicationState
from deliverables.models import Deliverable
from deliverables.publication import selectors, services
from deliverables.publication.forms import (
    ApproveForm,
    CommentForm,
    PublicationFilterSet,
    PublicationRequestForm,
    ReasonForm,
)
from evidence.packets.selectors import account_names

PAGE_SIZE = 50
HISTORY = 50


def _reader(view):
    return login_required(permission_required(services.READ_PERMISSION, raise_exception=True)(require_GET(view)))


def _refused_page(request, refusal: str, *, status: int, back: str = ""):
    return render(request, "deliverables/workbooks/refused.html", {"refusal": refusal, "back": back}, status=status)


def _problems(form) -> str:
    """A form's errors in one line, each field named."""
    return errors_line(form.errors, form.fields)


def row(publication, names: dict[str, str] | None = None) -> dict:
    """A publication's line; `names` (account_names()) names its client."""
    return {"publication": publication, "badge": selectors.badge(publication),
            "sha_short": publication.sha256[:12], "client_name": (names or {}).get(publication.client_account_id, "")}


@_reader
def publication_list(request):
    filterset = PublicationFilterSet(request.GET, queryset=selectors.publications())
    page = None
    if filterset.is_valid():
        page = keyset_page(filterset.qs, key="id", size=PAGE_SIZE, after=cursor_param(request.GET, "after"),
                           before=cursor_param(request.GET, "before"))
    next_url, prev_url = page_urls(request.GET, page)
    names = account_names() if page and page.items else {}
    context = {"filterset": filterset, "page": page, "next_url": next_url, "prev_url": prev_url,
               "filtered": any(request.GET.get(name) for name in filterset.filters),
               "rows": [row(p, names) for p in page.items] if page else []}
    return render_page(request, "deliverables/publication/list.html",
                       "deliverables/publication/partials/results.html", context)


def _stages(gates: list[dict]) -> list[tuple[str, list[dict]]]:
    stages: dict[str, list[dict]] = {}
    for gate in gates or []:
        stages.setdefault(gate.get("stage", "request"), []).append(gate)
    return list(stages.items())


@_reader
def publication_detail(request, pk: int):
    return _detail(request, get_object_or_404(selectors.publications(), pk=pk))


def _detail(request, publication, *, status: int = 200, refusal: str = "", **forms):
    """The publication's page; after a refused or invalid decision, with the refusal above the forms and what the
    person typed still in them (`forms`: the bound approve_form, comment_form or reason_form)."""
    user = request.user
    requested = publication.state == PublicationState.REQUESTED
    may_decide = user.has_perm(services.APPROVE_PERMISSION) and user.pk != publication.requested_by_id
    names = account_names()
    context = {
        "publication": publication, "row": row(publication, names), "stages": _stages(publication.gates),
        "reconciliation": publication.reconciliation or {}, "file_name": selectors.file_name(publication),
        "history": [row(p, names) for p in selectors.history(publication.client_account_id, publication.kind)[:HISTORY]],
        "may_approve": requested and may_decide, "may_withdraw": requested and user.pk == publication.requested_by_id,
        "may_retract": publication.state == PublicationState.PUBLISHED and user.has_perm(services.APPROVE_PERMISSION),
        "own_request": requested and user.pk == publication.requested_by_id,
        "approve_form": ApproveForm(), "comment_form": CommentForm(), "reason_form": ReasonForm(),
        "decision_refusal": refusal, **forms,
    }
    return render(request, "deliverables/publication/detail.html", context, status=status)


@_reader
def publication_download(request, pk: int):
    publication = get_object_or_404(selectors.publications(), pk=pk)
    back = reverse("publications:publication-detail", args=[publication.pk])
    try:
        stream = selectors.publication_open(publication)
    except selectors.PublicationIntegrityError as refused:
        services.record_download(actor=request.user, publication=publication, via="console", refused=str(refused))
        return _refused_page(request, str(refused), status=409, back=back)
    except selectors.PublicationUnavailable as refused:
        return _refused_page(request, str(refused), status=409, back=back)
    services.record_download(actor=request.user, publication=publication, via="console")
    return FileResponse(stream, as_attachment=True, filename=selectors.file_name(publication))


def _decided(request, call, back: str, done: str, *, again=None):
    """Call one service; a refusal is a 403 (who asks) or a 409 naming why: `again(reason)` re-renders the page the
    decision was made on (what was typed kept), else a refusal page; success a message and back."""
    try:
        publication = call()
    except services.PublicationRefused as refused:
        if refused.forbidden:
            raise PermissionDenied(refused.reason) from refused
        if again is not None:
            return again(refused.reason)
        return _refused_page(request, refused.reason, status=409, back=back)
    messages.success(request, done.format(publication=publication))
    return redirect("publications:publication-detail", pk=publication.pk)


@login_required
@require_POST
def publication_new(request):
    form = PublicationRequestForm(request.POST)
    if not form.is_valid():
        return _refused_page(request, _problems(form), status=400)
    deliverable = get_object_or_404(Deliverable, pk=form.cleaned_data["deliverable"])
    back = reverse("deliverables:deliverable-detail", args=[deliverable.pk])
    return _decided(request, lambda: services.publication_request(
        actor=request.user, deliverable=deliverable, comment=form.cleaned_data["comment"]), back,
        "Publication #{publication.pk} requested: another person with the approver role decides it.")


def _on(pk: int):
    publication = get_object_or_404(selectors.publications(), pk=pk)
    return publication, reverse("publications:publication-detail", args=[pk])


@login_required
@require_POST
def publication_approve(request, pk: int):
    publication, back = _on(pk)
    form = ApproveForm(request.POST)
    if not form.is_valid():  # no hash, or not one (a well-formed other hash is the service's refusal)
        return _detail(request, publication, status=400, refusal=_problems(form), approve_form=form)
    data = form.cleaned_data
    return _decided(request, lambda: services.publication_approve(
        actor=request.user, publication=publication, comment=data["comment"], sha256=data["sha256"]), back,
        "Published as version {publication.version}.",
        again=lambda reason: _detail(request, publication, status=409, refusal=reason, approve_form=form))


@login_required
@require_POST
def publication_reject(request, pk: int):
    publication, back = _on(pk)
    form = CommentForm(request.POST)
    form.is_valid()
    return _decided(request, lambda: services.publication_reject(
        actor=request.user, publication=publication, comment=form.cleaned_data.get("comment", "")), back,
        "Publication #{publication.pk} rejected.",
        again=lambda reason: _detail(request, publication, status=409, refusal=reason, comment_form=form))


@login_required
@require_POST
def publication_withdraw(request, pk: int):
    publication, back = _on(pk)
    form = ReasonForm(request.POST)
    form.is_valid()
    return _decided(request, lambda: services.publication_withdraw(
        actor=request.user, publication=publication, reason=form.cleaned_data.get("reason", "")), back,
        "Publication #{publication.pk} withdrawn.",
        again=lambda reason: _detail(request, publication, status=409, refusal=reason, reason_form=form))


@login_required
@require_POST
def publication_retract(request, pk: int):
    publication, back = _on(pk)
    form = ReasonForm(request.POST)
    form.is_valid()
    return _decided(request, lambda: services.publication_retract(
        actor=request.user, publication=publication, reason=form.cleaned_data.get("reason", "")), back,
        "Publication #{publication.pk} retracted: it is no longer served.",
        again=lambda reason: _detail(request, publication, status=409, refusal=reason, reason_form=form))
