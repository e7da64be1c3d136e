"""Pages of the evidence overview and the missing-evidence flags (mounted at /evidence/):

- /evidence/overview/: every client's grid (kinds × months, governed / candidate / missing), `?period=YYYY`;
- /evidence/overview/<client>/: one client's grid;
- /evidence/missing/: open flags grouped by client then kind, oldest first; `?tab=resolved`: resolved flags;
- /evidence/missing/<id>/: one flag.

Reading needs console.view_provenance. The pages read what the flag runs stored; they never recompute flags.
"""
from __future__ import annotations

from django.http import Http404
from django.shortcuts import render

from console.htmx import render_page
from console.paging import page_urls
from evidence.flags import listing, overview
from evidence.flags.models import FlagStatus
from evidence.packets.selectors import account_names
from evidence.views import _reader  # the evidence pages' reader: signed in, console.view_provenance, GET only

TABS = {"open": FlagStatus.OPEN, "resolved": FlagStatus.RESOLVED}


def _period(request):
    """The `period` parameter as a year, or a 400 page naming the field."""
    try:
        return overview.parse_period(request.GET.get("period")), None
    except overview.PeriodInvalid as exc:
        return None, render(request, "evidence/flags/bad_request.html", {"problem": str(exc)}, status=400)


@_reader
def overview_index(request):
    period, refused = _period(request)
    if refused:
        return refused
    found = overview.overview_index(period=period)
    return render(request, "evidence/flags/overview.html", {"overview": found, "period": period,
                                                            "kinds": overview.KINDS})


@_reader
def overview_client(request, client: str):
    period, refused = _period(request)
    if refused:
        return refused
    found = overview.client_overview(client, period=period)
    if found is None:
        raise Http404(f"no client {client}: no claims need evidence for it and no packet speaks for it")
    return render(request, "evidence/flags/overview_client.html", {"overview": found, "grid": found.grids[0],
                                                                   "period": period})


@_reader
def missing_list(request):
    tab = request.GET.get("tab") if request.GET.get("tab") in TABS else "open"
    data = request.GET.copy()
    data["status"] = TABS[tab]
    filterset = listing.FlagFilterSet(data, queryset=listing.flags())
    page = None
    if filterset.is_valid():
        page = listing.flag_page(filterset.qs, TABS[tab], after=request.GET.get("after"),
                                 before=request.GET.get("before"))
    next_url, prev_url = page_urls(request.GET, page)
    names = account_names() if page and page.items else {}
    for flag in page.items if page else []:  # each client under its governed Salesforce name
        flag.client_name = names.get(flag.client_account_id, "")
    run, latest = overview.latest_runs()
    context = {
        "tab": tab, "filterset": filterset, "page": page, "next_url": next_url, "prev_url": prev_url,
        "filtered": any(request.GET.get(name) for name in ("client", "kind", "month")),
        "run": run, "latest_run": latest,
    }
    return render_page(request, "evidence/flags/missing_list.html", "evidence/flags/partials/missing_results.html",
                       context)


@_reader
def missing_detail(request, pk: int):
    flag = listing.flag_detail(pk)
    if flag is None:
        raise Http404(f"no missing-evidence flag {pk}")
    from deliverables.runs.selectors import held_back_by  # the numbers are the runs' (a layer above)

    run, held = held_back_by(flag.key, flag.client_account_id)
    return render(request, "evidence/flags/missing_detail.html",
                  {"flag": flag, "client_name": account_names().get(flag.client_account_id, ""),
                   "held_run": run, "held_numbers": held})
