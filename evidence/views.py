"""Pages of source intake: upload, intake runs, source manifests and the Domo objects inside."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from console.htmx import render_page, wants_fragment
from console.paging import cursor_param, keyset_page, page_urls
from evidence import selectors
from evidence.calculations.analysis import calculations_analyze_manifest
from evidence.candidates.selectors import candidate_sets
from evidence.choices import IntakeSource
from evidence.filtersets import (
    CalculationFlawFilterSet,
    IntakeRunFilterSet,
    IssueFilterSet,
    ManifestFilterSet,
)
from evidence.forms import ExportUploadForm
from evidence.intake.uploads import intake_upload as intake_upload_service
from evidence.models import SourceManifest
from evidence.upload_page import UploadPage

PAGE_SIZE = 50
VIEW = "console.view_provenance"
RECEIVE = "console.receive_export"
POLL_SECONDS = 1


def _reader(view):
    """Pages every evidence reader may see: logged in, with the provenance capability, GET only."""
    return login_required(permission_required(VIEW, raise_exception=True)(require_GET(view)))


def _list_context(request, filterset_class, queryset, *, descending: bool = True) -> dict:
    """A filtered keyset page and its links: the list pages' shared shape."""
    filterset = filterset_class(request.GET, queryset=queryset)
    page = None
    if filterset.is_valid():
        page = keyset_page(
            filterset.qs,
            key="id",
            size=PAGE_SIZE,
            descending=descending,
            after=cursor_param(request.GET, "after"),
            before=cursor_param(request.GET, "before"),
        )
    next_url, prev_url = page_urls(request.GET, page)
    return {
        "filterset": filterset,
        "page": page,
        "next_url": next_url,
        "prev_url": prev_url,
        "filtered": any(request.GET.get(name) for name in filterset.filters),
    }


# --- intake ----------------------------------------------------------------------------------------


@_reader
def intake_list(request):
    context = _list_context(request, IntakeRunFilterSet, selectors.intake_runs())
    return render_page(request, "evidence/intake_list.html", "evidence/partials/intake_results.html", context)


@_reader
def intake_detail(request, pk: int):
    run = get_object_or_404(selectors.intake_runs(), pk=pk)
    context = {"run": run, "poll_seconds": POLL_SECONDS}
    return render_page(
        request, "evidence/intake_detail.html", "evidence/partials/intake_progress.html", context
    )


@_reader
def intake_running(request):
    """The home page's running intakes, polled by htmx while any is running."""
    return render(request, "evidence/partials/running_intakes.html", {"running": selectors.running_intakes()})


INTAKE_UPLOAD = UploadPage("evidence/intake_upload.html", ExportUploadForm, "evidence:intake-upload")


@csrf_exempt  # CSRF is checked once the upload handler is in place (evidence.upload_page)
@login_required
@permission_required(RECEIVE, raise_exception=True)
def intake_upload(request):
    return INTAKE_UPLOAD.handle(request, _queue_intake)


def _queue_intake(request, upload) -> str:
    run = intake_upload_service(actor=request.user, upload=upload, source=IntakeSource.UPLOAD)
    return reverse("evidence:intake-detail", args=[run.pk])


# --- manifests -------------------------------------------------------------------------------------


@_reader
def manifest_list(request):
    context = _list_context(request, ManifestFilterSet, selectors.manifests())
    return render_page(
        request, "evidence/manifest_list.html", "evidence/partials/manifest_results.html", context
    )


@_reader
def manifest_detail(request, pk: int):
    detail = selectors.manifest_detail(pk)
    return render(request, "evidence/manifest_detail.html", {"detail": detail, "manifest": detail.manifest})


@_reader
def issue_list(request):
    context = _list_context(request, IssueFilterSet, selectors.issues(), descending=False)
    return render_page(request, "evidence/issue_list.html", "evidence/partials/issue_results.html", context)


# --- calculation flaws ----------------------------------------------------------------------------


@_reader
def calculation_flaw_list(request, pk: int):
    manifest = get_object_or_404(SourceManifest, pk=pk)
    flaws = selectors.calculation_flaws().filter(manifest=manifest)
    context = _list_context(request, CalculationFlawFilterSet, flaws, descending=False)
    context["manifest"] = manifest
    if not wants_fragment(request):
        context["summary"] = selectors.flaw_summary(manifest)
    return render_page(
        request,
        "evidence/calculation_flaw_list.html",
        "evidence/partials/calculation_flaw_results.html",
        context,
    )


@login_required
@permission_required(RECEIVE, raise_exception=True)
@require_POST
def calculation_reanalyze(request, pk: int):
    manifest = get_object_or_404(SourceManifest, pk=pk)
    summary = calculations_analyze_manifest(manifest=manifest, actor=request.user, force=True)
    messages.success(
        request,
        f"Re-analyzed {summary.beast_modes} beast mode(s) and {summary.dataflow_steps} DataFlow step(s) "
        f"with engine {summary.engine_version}: {summary.flaws} flaw(s).",
    )
    return redirect("evidence:calculation-flaws", pk=manifest.pk)


# --- objects inside --------------------------------------------------------------------------------


@_reader
def dataset_detail(request, pk: int):
    detail = selectors.dataset_detail(pk)
    registered = candidate_sets().filter(dataset=detail.dataset).order_by("-id")
    return render(request, "evidence/dataset_detail.html",
                  {"detail": detail, "dataset": detail.dataset, "candidate_sets": registered})


@_reader
def card_detail(request, pk: int):
    detail = selectors.card_detail(pk)
    return render(request, "evidence/card_detail.html", {"detail": detail, "card": detail.card})


@_reader
def dataflow_detail(request, pk: int):
    detail = selectors.dataflow_detail(pk)
    return render(request, "evidence/dataflow_detail.html", {"detail": detail, "dataflow": detail.dataflow})
