"""Pages of the consumer tokens (mounted at /consumers/), for admins (console.manage_consumer_tokens):

- /consumers/: every token (state, scope, expiry, last use, reads), newest first, and the form to create one;
- /consumers/new/: create (POST): the page that answers shows the secret, this once (never stored, not cached);
- /consumers/<id>/: one token, its latest reads, and the form to revoke it;
- /consumers/<id>/revoke/: revoke (POST), with a reason.

The services decide and audit: a person without the capability is refused (403) and the refusal recorded.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from console.paging import cursor_param, keyset_page, page_urls
from deliverables.consumers import selectors, services
from deliverables.consumers.forms import ConsumerTokenForm, ConsumerTokenRevokeForm

PAGE_SIZE = 50


def _manager(view):
    return login_required(permission_required(services.MANAGE_PERMISSION, raise_exception=True)(require_GET(view)))


def _list_page(request, form: ConsumerTokenForm, *, status: int = 200):
    page = keyset_page(selectors.tokens(), key="id", size=PAGE_SIZE, after=cursor_param(request.GET, "after"),
                       before=cursor_param(request.GET, "before"))
    next_url, prev_url = page_urls(request.GET, page)
    context = {"form": form, "rows": [selectors.token_row(token) for token in page.items], "page": page,
               "next_url": next_url, "prev_url": prev_url}
    return render(request, "deliverables/consumers/list.html", context, status=status)


def _detail_page(request, token, form: ConsumerTokenRevokeForm, *, status: int = 200):
    token = get_object_or_404(selectors.tokens(), pk=token.pk)
    names = selectors.known_clients(list(token.clients))
    context = {"row": selectors.token_row(token), "token": token, "form": form,
               "clients": [(client, names.get(client, "")) for client in token.clients],
               "reads": selectors.recent_reads(token)}
    return render(request, "deliverables/consumers/detail.html", context, status=status)


@_manager
def token_list(request):
    return _list_page(request, ConsumerTokenForm())


@_manager
def token_detail(request, pk: int):
    token = get_object_or_404(selectors.tokens(), pk=pk)
    return _detail_page(request, token, ConsumerTokenRevokeForm())


@login_required
@require_POST
def token_new(request):
    form = ConsumerTokenForm(request.POST)
    if not form.is_valid():
        if not request.user.has_perm(services.MANAGE_PERMISSION):
            raise PermissionDenied
        return _list_page(request, form, status=400)
    data = form.cleaned_data
    try:
        issued = services.consumer_token_create(actor=request.user, name=data["name"], clients=data["clients"],
                                                days=data["expires_in_days"])
    except services.Forbidden as refused:
        raise PermissionDenied(str(refused)) from refused
    except services.Invalid as refused:
        form.add_error(refused.field if refused.field in form.fields else None, refused.message)
        return _list_page(request, form, status=400)
    response = render(request, "deliverables/consumers/created.html",
                      {"token": issued.token, "secret": issued.secret, "row": selectors.token_row(issued.token)})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request, pk: int):
    token = get_object_or_404(selectors.tokens(), pk=pk)
    form = ConsumerTokenRevokeForm(request.POST)
    if not form.is_valid():
        if not request.user.has_perm(services.MANAGE_PERMISSION):
            raise PermissionDenied
        return _detail_page(request, token, form, status=400)
    try:
        services.consumer_token_revoke(actor=request.user, token=token, reason=form.cleaned_data["reason"])
    except services.Forbidden as refused:
        raise PermissionDenied(str(refused)) from refused
    except services.Invalid as refused:
        form.add_error("reason", refused.message)
        return _detail_page(request, token, form, status=400)
    except services.Refused as refused:
        form.add_error(None, str(refused))
        return _detail_page(request, token, form, status=409)
    messages.success(request, f"Consumer token {token.prefix}… revoked; its next read answers 401.")
    return redirect("consumers:token-detail", pk=token.pk)
