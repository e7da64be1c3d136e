"""Pages of the built deliverables (mounted at /deliverables/):

- /deliverables/: the deliverables, newest first, filtered by client, kind, state (and run);
- /deliverables/new/: build one (POST, from the Build workbook / Build dashboard payload form of a run's page);
- /deliverables/<id>/: one deliverable: progress (polled while queued or running), then its sheets and rows,
  hash, lake path, run, who asked when, worker and trace, the cells that held control characters (if any), and
  its Download button;
- /deliverables/<id>/progress/: the progress fragment the page polls;
- /deliverables/<id>/download/: the stored file, its hash checked first (a file that changed is a 409 page naming
  it, never its bytes); every download is audited.

Reading needs console.view_provenance; building needs console.build_deliverable (the service decides and audits a
refusal: 403 for who asks, 409 for what or when).
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
from deliverables.choices import DeliverableKind, RunState
from deliverables.models import CalculationRun, Deliverable
from deliverables.runs import selectors as run_selectors
from deliverables.workbooks import services
from deliverables.workbooks.forms import DeliverableFilterSet, DeliverableStartForm

PAGE_SIZE = 50
POLL_SECONDS = 2


def deliverables():
    return Deliverable.objects.select_related("requested_by", "cancelled_by", "run")


def _reader(view):
    """Pages every deliverables reader may see: logged in, the provenance capability, GET only."""
    return login_required(permission_required(services.READ_PERMISSION, raise_exception=True)(require_GET(view)))


def _refused_page(request, refusal: str, *, status: int, back: str = ""):
    return render(request, "deliverables/workbooks/refused.html", {"refusal": refusal, "back": back}, status=status)


def row(deliverable: Deliverable) -> dict:
    step = (deliverable.progress or {}).get("step", "")
    if deliverable.is_final:
        step = "done" if deliverable.state == RunState.SUCCEEDED else (step or deliverable.state)
    return {"deliverable": deliverable, "badge": run_selectors.state_badge(deliverable.state), "step": step,
            "sha_short": run_selectors.short(deliverable.sha256),
            "client_name": (deliverable.summary or {}).get("client_name", "")}


@_reader
def deliverable_list(request):
    filterset = DeliverableFilterSet(request.GET, queryset=deliverables())
    page = None
    if filterset.is_valid():
        page = keyset_page(filterset.qs, key="id", size=PAGE_SIZE, after=cursor_param(request.GET, "after"),
                           before=cursor_param(request.GET, "before"))
    next_url, prev_url = page_urls(request.GET, page)
    context = {"filterset": filterset, "page": page, "next_url": next_url, "prev_url": prev_url,
               "filtered": any(request.GET.get(name) for name in filterset.filters),
               "rows": [row(d) for d in page.items] if page else []}
    return render_page(request, "deliverables/workbooks/list.html", "deliverables/workbooks/partials/results.html",
                       context)


def _progress_context(deliverable: Deliverable) -> dict:
    return {"deliverable": deliverable, "steps": run_selectors.step_rows(deliverable), "live": not deliverable.is_final,
            "poll_seconds": POLL_SECONDS, "state_badge": run_selectors.state_badge(deliverable.state)}


@_reader
def deliverable_detail(request, pk: int):
    deliverable = get_object_or_404(deliverables(), pk=pk)
    summary = deliverable.summary or {}
    context = {**_progress_context(deliverable), "row": row(deliverable),
               "sheets": [(name, (summary.get("rows") or {}).get(name, 0)) for name in summary.get("sheets") or []],
               "download_name": services.download_name(deliverable) if deliverable.sha256 else "",
               "control_characters": services.control_characters_report(deliverable),
               "publications": publication_rows(deliverable)}
    return render(request, "deliverables/workbooks/detail.html", context)


def publication_rows(deliverable: Deliverable) -> list[dict]:
    """The publication requests of this deliverable, newest first (the deliverable page's Publication panel)."""
    from deliverables.publication.selectors import badge, publications

    return [{"publication": p, "badge": badge(p), "sha_short": p.sha256[:12]}
            for p in publications().filter(deliverable=deliverable).order_by("-id")[:20]]


@_reader
def deliverable_progress(request, pk: int):
    """The progress panel; once the build is final, the whole page reloads (its result appears) via HX-Refresh."""
    deliverable = get_object_or_404(deliverables(), pk=pk)
    response = render(request, "deliverables/workbooks/partials/progress.html", _progress_context(deliverable))
    if deliverable.is_final and request.GET.get("state") in ("queued", "running"):
        response["HX-Refresh"] = "true"
    return response


@_reader
def deliverable_download(request, pk: int):
    deliverable = get_object_or_404(deliverables(), pk=pk)
    back = reverse("deliverables:deliverable-detail", args=[deliverable.pk])
    try:
        stream = services.deliverable_open(deliverable)
    except services.DeliverableIntegrityError as refused:
        services.record_refused_read(actor=request.user, deliverable=deliverable, reason=str(refused), via="console")
        return _refused_page(request, str(refused), status=409, back=back)
    except services.DeliverableUnavailable as refused:
        return _refused_page(request, str(refused), status=409, back=back)
    services.record_download(actor=request.user, deliverable=deliverable, via="console")
    return FileResponse(stream, as_attachment=True, filename=services.download_name(deliverable),
                        content_type=services.content_type(deliverable))


@login_required
@require_POST
def deliverable_new(request):
    """Build a deliverable of a run's client (the Build workbook and Build dashboard payload buttons of the run's
    page); the service checks the permission and audits a refusal."""
    form = DeliverableStartForm(request.POST)
    if not form.is_valid():
        if not request.user.has_perm(services.BUILD_PERMISSION):
            raise PermissionDenied
        problems = errors_line(form.errors, form.fields)
        return _refused_page(request, problems, status=400)
    data = form.cleaned_data
    run = get_object_or_404(CalculationRun, pk=data["run"])
    back = reverse("runs:run-detail", args=[run.pk])
    try:
        deliverable = services.deliverable_start(actor=request.user, run=run, client=data["client"],
                                                 kind=data["kind"] or DeliverableKind.WORKBOOK,
                                                 traceparent=request.headers.get("traceparent", ""))
    except services.Forbidden as refused:
        raise PermissionDenied(str(refused)) from refused
    except services.Refused as refused:
        return _refused_page(request, str(refused), status=409, back=back)
    what = "Dashboard payload" if deliverable.kind == DeliverableKind.DASHBOARD_PAYLOAD else "Workbook"
    messages.success(request, f"{what} #{deliverable.pk} queued; this page follows it.")
    return redirect("deliverables:deliverable-detail", pk=deliverable.pk)
