"""The provenance page of one number (/runs/<id>/numbers/<key>/): its figures, decision, dataset version,
predicate, rows (keyset pages), the rows as CSV, and a re-derivation (POST, audited, answered as an htmx fragment).

Reading and re-deriving need console.view_provenance (re-deriving changes nothing; it is audited).
"""
from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from console.htmx import render_page, wants_fragment
from deliverables.models import CalculationRun
from deliverables.provenance import rows, services


def _reader(view):
    return login_required(permission_required(services.VIEW_PERMISSION, raise_exception=True)(view))


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
    context = {"run": run, "number": number, "detail": services.number_detail(run, number),
               **_rows_context(request, run, number)}
    status = 400 if context["rows_bad"] else 200
    return render_page(request, "deliverables/provenance/number.html", "deliverables/provenance/partials/rows.html",
                       context, status=status)


@_reader
@require_GET
def number_rows_csv(request, run_id: int, key: str):
    run, number = _number(run_id, key)
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in key)[:80]
    response = StreamingHttpResponse(rows.rows_csv(run, number), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="run-{run.pk}-{safe}-rows.csv"'
    return response


@_reader
@require_POST
def number_rederive(request, run_id: int, key: str):
    run, number = _number(run_id, key)
    try:
        result = services.number_rederive(actor=request.user, run=run, number=number)
        problem = ""
    except rows.ProvenanceError as exc:
        result, problem = None, str(exc)
    context = {"result": result, "problem": problem, "run": run, "number": number}
    if not wants_fragment(request):  # without htmx: the whole page, with the answer in place
        context.update(detail=services.number_detail(run, number), **_rows_context(request, run, number))
    return render_page(request, "deliverables/provenance/number.html",
                       "deliverables/provenance/partials/rederive.html", context, status=409 if problem else 200)
