"""Pages of the calculation runs (mounted at /runs/):

- /runs/: the runs, newest first, filtered by client, period and state;
- /runs/new/: start a run (client optional, period, claims dataset optional);
- /runs/<id>/: one run: scope, progress (polled while queued or running), worker, trace, inputs, result hash,
  results per client, findings (keyset pages read from the run's findings artifact);
- /runs/<id>/progress/: the progress fragment the run page polls;
- /runs/<id>/cancel/: cancel a queued or running run (POST).

Reading needs console.view_provenance; starting needs console.build_deliverable (the service decides and audits a
refusal: 403 for who asks, the form shows the rest).
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseNotAllowed, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from console.htmx import render_page
from console.paging import cursor_param, keyset_page, page_urls
from console.submissions import send_once
from console.words import errors_line
from deliverables.choices import RunState
from deliverables.runs import selectors, services
from deliverables.runs.forms import FindingFilterForm, RunFilterSet, RunStartForm
from deliverables.runs.inputs import RunRefused
from evidence.packets.selectors import account_names

VIEW = "console.view_provenance"
PAGE_SIZE = 50
POLL_SECONDS = 2


def _reader(view):
    """Pages every runs reader may see: logged in, the provenance capability, GET only."""
    return login_required(permission_required(VIEW, raise_exception=True)(require_GET(view)))


@_reader
def run_list(request):
    filterset = RunFilterSet(request.GET, queryset=selectors.runs())
    page = None
    if filterset.is_valid():
        page = keyset_page(filterset.qs, key="id", size=PAGE_SIZE, after=cursor_param(request.GET, "after"),
                           before=cursor_param(request.GET, "before"))
    next_url, prev_url = page_urls(request.GET, page)
    names = account_names() if page and any(run.client_account_id for run in page.items) else {}
    context = {"filterset": filterset, "page": page, "next_url": next_url, "prev_url": prev_url,
               "filtered": any(request.GET.get(name) for name in filterset.filters),
               "rows": [selectors.run_row(run, names) for run in page.items] if page else []}
    return render_page(request, "deliverables/runs/run_list.html", "deliverables/runs/partials/run_results.html",
                       context)


def _new_page(request, form, *, refusal: str = "", status: int = 200, prefilled_from=None):
    # the client field suggests the governed Salesforce accounts by name (any id may still be typed)
    known = sorted(account_names().items(), key=lambda item: (item[1].casefold(), item[0]))
    return render(request, "deliverables/runs/run_new.html", {"form": form, "refusal": refusal, "known_clients": known,
                                                              "prefilled_from": prefilled_from}, status=status)


@login_required
def run_new(request):
    """The Start run form; POST asks services.run_start (which checks the permission and audits a refusal), once per
    shown form: a second send of it (a double click) leads to the first send's run (console.submissions)."""
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    if request.method == "GET":
        if not request.user.has_perm(services.START_PERMISSION):
            raise PermissionDenied
        if request.GET:
            return _new_page(request, RunStartForm(initial=request.GET.dict()))
        newest = selectors.runs().order_by("-pk").first()  # its period is where an operator most often starts again
        initial = {"period_start": newest.period_start, "period_end": newest.period_end} if newest else None
        return _new_page(request, RunStartForm(initial=initial), prefilled_from=newest)
    form = RunStartForm(request.POST)
    if not form.is_valid():
        if not request.user.has_perm(services.START_PERMISSION):
            raise PermissionDenied
        return _new_page(request, form, status=400)
    data = form.cleaned_data
    choices = {name: str(data[name]).strip() for name in ("client", "period_start", "period_end", "dataset")}

    def start():
        try:
            run = services.run_start(actor=request.user, period_start=data["period_start"],
                                     period_end=data["period_end"], client=choices["client"],
                                     dataset=choices["dataset"], traceparent=request.headers.get("traceparent", ""))
        except services.RunForbidden as refused:  # raised once the refusal's audit is committed
            return PermissionDenied(str(refused)), None
        except RunRefused as refused:
            return _new_page(request, form, refusal=str(refused), status=409), None
        messages.success(request, f"Run #{run.pk} queued; this page follows it.")
        return redirect("runs:run-detail", pk=run.pk), run

    return send_once(request, form, name="run-start-form", choices=choices, thing="run", create=start,
                     again=lambda: _new_page(request, RunStartForm(initial=choices), status=409),
                     named=lambda pk: f"run #{pk}")


def _progress_context(run) -> dict:
    return {"run": run, "steps": selectors.step_rows(run), "live": not run.is_final, "poll_seconds": POLL_SECONDS,
            "state_badge": selectors.state_badge(run.state)}


def _findings_context(request, run, names: dict[str, str] | None = None) -> dict:
    clients = selectors.run_clients(run, names) if run.state == RunState.SUCCEEDED else []
    form = FindingFilterForm(request.GET, clients=clients)
    valid = form.is_valid()
    filters = form.cleaned_data if valid else {}
    context = {"run": run, "finding_form": form, "findings": None, "findings_problem": "",
               "next_url": None, "prev_url": None}
    if run.state != RunState.SUCCEEDED:
        return context
    if not valid:  # said, never silently dropped (which would list every finding as if filtered)
        context["filter_problem"] = "These filters cannot be used: " + errors_line(form.errors, form.fields)
        return context
    try:
        page = selectors.findings_page(run, filters, after=request.GET.get("after"), before=request.GET.get("before"))
    except selectors.FindingsUnavailable as problem:
        context["findings_problem"] = str(problem)
        return context
    query = request.GET.copy()
    for name in ("after", "before"):
        query.pop(name, None)

    def url_with(name, value):
        params = query.copy()
        params[name] = value
        return f"?{params.urlencode()}"

    names = dict(clients)
    context.update(findings=[selectors.finding_row(row, names) for row in page.items],
                   next_url=url_with("after", page.next) if page.next else None,
                   prev_url=url_with("before", page.prev) if page.prev else None,
                   filtered=any(filters.values()),
                   matching=selectors.findings_count(run, filters) if any(filters.values()) else None,
                   findings_query=query.urlencode())
    return context


def _again_query(run) -> str:
    """The Start run form's query string for a run of the same scope (client, period, claims dataset)."""
    query = QueryDict(mutable=True)
    query.update({"client": run.client_account_id, "period_start": run.period_start.isoformat(),
                  "period_end": run.period_end.isoformat(), "dataset": run.dataset_key})
    return query.urlencode()


def _sentence(words: str) -> str:
    return f"{words[:1].upper()}{words[1:]}." if words else ""


@_reader
def run_detail(request, pk: int):
    run = get_object_or_404(selectors.runs(), pk=pk)
    names = account_names()  # read once: the scope, the results and the findings' client choices name clients
    context = {**_progress_context(run), **_findings_context(request, run, names)}
    context.update(
        client_name=names.get(run.client_account_id, "") if run.client_account_id else "",
        comparison=selectors.comparison(run),
        no_claims=_sentence((run.summary or {}).get("no_claims", "")),
        results=selectors.results_by_client(run, names) if run.state == RunState.SUCCEEDED else [],
        inputs=selectors.inputs_view(run, names),
        may_cancel=not run.is_final and request.user.has_perm(services.START_PERMISSION),
        again_query=_again_query(run) if run.is_final and request.user.has_perm(services.START_PERMISSION) else "",
    )
    return render_page(request, "deliverables/runs/run_detail.html", "deliverables/runs/partials/findings.html",
                       context)


@_reader
def run_findings(request, pk: int):
    """The findings section alone (its filters and pages swap it in place)."""
    run = get_object_or_404(selectors.runs(), pk=pk)
    return render(request, "deliverables/runs/partials/findings.html", _findings_context(request, run))


@_reader
def run_findings_csv(request, pk: int):
    """The findings as CSV, filtered as the page's filters say (the same query string)."""
    run = get_object_or_404(selectors.runs(), pk=pk)
    form = FindingFilterForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    try:
        lines = selectors.findings_csv(run, filters)
    except selectors.FindingsUnavailable as problem:
        return HttpResponse(f"{problem}\n", status=409, content_type="text/plain; charset=utf-8")
    services.record_findings_download(actor=request.user, run=run, filters=filters)
    named = "-".join(str(filters[name]) for name in ("kind", "client", "pharmacy_npi", "decision") if filters.get(name))
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in named)[:80]
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="run-{run.pk}-findings{"-" + safe if safe else ""}.csv"'
    return response


@_reader
def run_progress(request, pk: int):
    """The progress panel; once the run is final, the whole page reloads (results appear) via HX-Refresh."""
    run = get_object_or_404(selectors.runs(), pk=pk)
    response = render(request, "deliverables/runs/partials/progress.html", _progress_context(run))
    if run.is_final and request.GET.get("state") in ("queued", "running"):
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_POST
def run_cancel(request, pk: int):
    run = get_object_or_404(selectors.runs(), pk=pk)
    try:
        services.run_cancel(actor=request.user, run=run)
    except services.RunForbidden as refused:
        raise PermissionDenied(str(refused)) from refused
    except RunRefused as refused:
        messages.error(request, f"Refused: {refused}")
    else:
        messages.success(request, f"Run #{run.pk} cancelled.")
    return redirect("runs:run-detail", pk=run.pk)
