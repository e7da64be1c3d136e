"""The curated registry, a key's versions, and a rollback request from there."""
from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render

from evidence.models import DomoDataset
from promotion import policy, selectors, services
from promotion.choices import PromotionTarget
from promotion.forms import (
    RollbackForm,
)
from promotion.views._common import (
    _bare,
    _reader,
    _status,
    _writer,
    may_read,
)

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
    may_rollback = policy.allowed(request.user, policy.ROLLBACK) and current is not None and not versions[0].is_golden
    rows = [
        (
            v,
            may_rollback and v.version < current.version and v.state in ("verified", "superseded")
            and _may_roll_back_to(request.user, v),
        )
        for v in versions
    ]
    context = {"key": key, "rows": rows, "current": current, "is_golden": versions[0].is_golden,
               "name": versions[0].name, "domo_id": versions[0].domo_id,
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
    return request is None or request.target != PromotionTarget.CONTRACT or policy.allowed(user, policy.CONTRACT)
