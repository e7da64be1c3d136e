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
from evidence.intake import pdp

VIEW = "console.view_provenance"
FLAG_BADGES = {"unscoped": "badge badge-bad", compare.DOMO_ONLY: "badge badge-bad",
               compare.BACKEND_ONLY: "badge badge-bad", compare.UNDECIDED_USER: "badge badge-warn",
               "group_unknown": "badge badge-warn", "group_id_unknown": "badge badge-warn",
               "user_id_unknown": "badge badge-warn", "pdp_disabled": "badge badge-warn"}
VERDICT_BADGES = {compare.THROUGH: ("badge badge-info", "Lets the rows through"),
                  compare.BLOCKED: ("badge badge-muted", "Keeps the rows out"),
                  compare.UNDECIDED: ("badge badge-warn", "Cannot be evaluated")}


class ScopeFilterForm(forms.Form):
    client = forms.CharField(required=False, max_length=255, label="Client (name or account id)")
    differences = forms.BooleanField(required=False, label="Differences only")


def _reader(view):
    return login_required(permission_required(VIEW, raise_exception=True)(require_GET(view)))


USER_FLAGS = (compare.DOMO_ONLY, compare.BACKEND_ONLY, compare.UNDECIDED_USER)


def _badges(scope: compare.ClientScope) -> list[dict]:
    """One badge per kind of flag, with how many and what: the users for a user's flag, else the messages."""
    found: dict[str, list[compare.Flag]] = {}
    for flag in scope.flags:
        found.setdefault(flag.code, []).append(flag)
    badges = []
    for code, flags in found.items():
        if code in USER_FLAGS:
            details = [", ".join(u.name for u in scope.users_flagged(code))]
        else:
            details = [f.message for f in flags]
        badges.append({"code": code, "label": compare.FLAG_LABELS.get(code, code), "count": len(flags),
                       "css": FLAG_BADGES.get(code, "badge"), "details": details})
    return badges


def _row(scope: compare.ClientScope) -> dict:
    return {"scope": scope, "badges": _badges(scope),
            "backend_users": [u for u in scope.users if u.in_backend],
            "domo_users": [u for u in scope.users if u.domo == "saw"]}


def _matches(scope: compare.ClientScope, text: str) -> bool:
    text = text.strip().casefold()
    account = scope.account
    return not text or text in account.name.casefold() or text in account.key.casefold()


@_reader
def scope_list(request):
    form = ScopeFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    report = selectors.scope_report()
    shown = [c for c in report.clients
             if _matches(c, data.get("client") or "") and (not data.get("differences") or c.has_differences)]
    context = {"form": form, "report": report, "rows": [_row(c) for c in shown],
               "total": len(report.clients), "with_differences": sum(c.has_differences for c in report.clients),
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
            {"access": pa, "filters": [pdp.describe_filter(f) for f in pa.policy.filters],
             "badge": VERDICT_BADGES[pa.verdict.outcome][0], "outcome": VERDICT_BADGES[pa.verdict.outcome][1]}
            for pa in access.policies]})
    users = [{"line": u, "css": FLAG_BADGES.get(u.flag, "badge"), "label": compare.FLAG_LABELS.get(u.flag, u.flag)}
             for u in scope.users]
    context = {**_row(scope), "report": report, "datasets": datasets, "users": users,
               "flags": [{"flag": f, "css": FLAG_BADGES.get(f.code, "badge")} for f in scope.flags]}
    return render(request, "deliverables/scope/scope_detail.html", context)
