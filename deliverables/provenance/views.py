"""The provenance page of one number (/runs/<id>/numbers/<key>/): the six questions answered in plain language,
read-only and printable; its contributing rows (<key>/rows/, keyset pages) and their CSV; and the re-derivation
(<key>/rederive/: a page with one button, POST audited, answered as an htmx fragment).

Reading needs console.view_provenance. Re-deriving changes nothing but is an operator's act
(console.build_deliverable): it is linked from the page for operators only, never a form on it.
"""
from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from console.htmx import render_page
from deliverables.models import CalculationRun
from deliverables.provenance import rows, search, services


def _reader(view):
    return login_required(permission_required(services.VIEW_PERMISSION, raise_exception=True)(view))


def _operator(view):
    return login_required(permission_required(services.REDERIVE_PERMISSION, raise_exception=True)(view))


def _number(run_id: int, key: str):
    run = get_object_or_404(CalculationRun, pk=run_id)
    number = rows.number_of(run, key)
    if number is None:
        raise Http404(f"run #{run.pk} has no number {key}")
    return run, number


def _rows_context(request, run, number) -> dict:
    problem, bad, page = "", False, None
    try:
        page = rows.contributing_rows(run, number, after=request.GET.get("after"), limit=request.GET.get("limit"))
    except rows.ProvenanceError as exc:
        problem, bad = str(exc), isinstance(exc, rows.BadRowsQuery)
    cells = []
    for row in page.rows if page else []:
        # A savings summary's rows are numbers of the run: each links to its own page.
        cells.append([{"value": row.get(c), "url": reverse("run-number", args=[run.pk, row[c]])
                       if c == "key" and number.relation == "numbers" else ""} for c in page.columns])
    next_url = ""
    if page and page.next_after is not None:
        limit = request.GET.get("limit")
        next_url = f"{request.path}?{urlencode({'after': page.next_after, **({'limit': limit} if limit else {})})}"
    return {"page": page, "cells": cells, "next_url": next_url, "first_url": request.path if request.GET.get("after")
            else "", "rows_problem": problem, "rows_bad": bad}


@_reader
@require_GET
def number_detail(request, run_id: int, key: str):
    run, number = _number(run_id, key)
    detail = services.number_detail(run, number)
    return render(request, "deliverables/provenance/number.html",
                  {"run": run, "number": number, "detail": detail, "answers": detail["answers"],
                   "page_url": request.build_absolute_uri(request.path)})


@_reader
@require_GET
def number_search(request):
    """/provenance/: the numbers of succeeded runs by client, period and label text."""
    context = search.search(request.GET)
    return render(request, "deliverables/provenance/search.html", context, status=400 if context["problems"] else 200)


@_reader
@require_GET
def number_rows(request, run_id: int, key: str):
    run, number = _number(run_id, key)
    context = {"run": run, "number": number, "detail": services.number_detail(run, number, with_answers=False),
               **_rows_context(request, run, number)}
    status = 400 if context["rows_bad"] else 200
    return render_page(request, "deliverables/provenance/rows.html", "deliverables/provenance/partials/rows.html",
                       context, status=status)


@_reader
@require_GET
def number_rows_csv(request, run_id: int, key: str):
    run, number = _number(run_id, key)
    services.record_rows_download(actor=request.user, run=run, number=number)
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in key)[:80]
    response = StreamingHttpResponse(rows.rows_csv(run, number), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="run-{run.pk}-{safe}-rows.csv"'
    return response


@_operator
@require_http_methods(["GET", "POST"])
def number_rederive(request, run_id: int, key: str):
    run, number = _number(run_id, key)
    context = {"run": run, "number": number, "detail": services.number_detail(run, number, with_answers=False),
               "result": None, "problem": ""}
    if request.method == "GET":
        return render(request, "deliverables/provenance/rederive.html", context)
    try:
        context["result"] = services.number_rederive(actor=request.user, run=run, number=number)
    except rows.ProvenanceError as exc:
        context["problem"] = str(exc)
    return render_page(request, "deliverables/provenance/rederive.html",
                       "deliverables/provenance/partials/rederive.html", context,
                       status=409 if context["problem"] else 200)
