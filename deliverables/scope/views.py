"""The client scope pages (mounted at /scope/): per client, who the backend scope lets see it and who Domo's PDP
let see its rows, every difference flagged (deliverables.scope.compare).

- /scope/: every client, filtered by client (name or account id, any part) and "differences only";
- /scope/<key>/: one client (its Salesforce account id, or the value Domo's PDP names when no account does):
  the backend scope, each dataset's policies with what they decided for the client, each user, each flag.

Reading needs console.view_provenance; nothing can be changed from these pages.
"""
from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from deliverables.scope import compare, selectors

VIEW = "console.view_provenance"
FLAG_BADGES = {"unscoped": "badge badge-bad", compare.DOMO_ONLY: "badge badge-bad",
               compare.BACKEND_ONLY: "badge badge-bad", compare.UNDECIDED_USER: "badge badge-warn",
               "group_unknown": "badge badge-warn", "group_id_unknown": "badge badge-warn",
               "user_id_unknown": "badge badge-warn", "pdp_disabled": "badge badge-warn"}
VERDICT_BADGES = {compare.THROUGH: "badge badge-info", compare.BLOCKED: "badge badge-muted",
                  compare.UNDECIDED: "badge badge-warn"}


class ScopeFilterForm(forms.Form):
    client = forms.CharField(required=False, max_length=255, label="Client (name or account id)")
    differences = forms.BooleanField(required=False, label="Differences only")


def _reader(view):
    return login_required(permission_required(VIEW, raise_exception=True)(require_GET(view)))


def _badges(scope: compare.ClientScope) -> list[dict]:
    """One badge per kind of flag (selectors.flag_groups), with its style."""
    return [{**vars(group), "css": FLAG_BADGES.get(group.code, "badge")} for group in selectors.flag_groups(scope)]


def _row(scope: compare.ClientScope) -> dict:
    return {"scope": scope, "badges": _badges(scope), "backend_users": selectors.backend_users(scope),
            "domo_users": selectors.domo_users(scope)}


@_reader
def scope_list(request):
    form = ScopeFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    report = selectors.scope_report()
    shown = selectors.filter_clients(report.clients, client=data.get("client") or "",
                                     differences=bool(data.get("differences")))
    total, with_differences = selectors.counts(report)
    context = {"form": form, "report": report, "rows": [_row(c) for c in shown],
               "total": total, "with_differences": with_differences,
               "filtered": bool(data.get("client") or data.get("differences"))}
    return render(request, "deliverables/scope/scope_list.html", context,
                  status=400 if form.is_bound and not form.is_valid() else 200)


@_reader
def scope_detail(request, key: str):
    report = selectors.scope_report()
    scope = report.client(key)
    if scope is None:
        raise Http404(f"No client {key!r} in the Salesforce accounts or Domo's PDP policies")
    datasets = []
    for access in scope.datasets:
        datasets.append({"access": access, "policies": [
            {"access": pa, "filters": selectors.described_filters(pa.policy),
             "badge": VERDICT_BADGES[pa.verdict.outcome], "outcome": selectors.VERDICT_LABELS[pa.verdict.outcome]}
            for pa in access.policies]})
    users = [{"line": u, "css": FLAG_BADGES.get(u.flag, "badge"), "label": compare.FLAG_LABELS.get(u.flag, u.flag)}
             for u in scope.users]
    context = {**_row(scope), "report": report, "datasets": datasets, "users": users,
               "flags": [{"flag": f, "css": FLAG_BADGES.get(f.code, "badge")} for f in scope.flags]}
    return render(request, "deliverables/scope/scope_detail.html", context)
