"""Pages of refused packet receipts (mounted at /evidence/packets/refusals/): the list, newest first by keyset
pages, and a refusal's detail with every issue located (file, field, row, column), like the intake's.

A refused receipt is no evidence: it has no records and no class; what arrived is kept in the lake under
its bronze prefix. Reading needs console.view_provenance.
"""
from __future__ import annotations

from django.shortcuts import get_object_or_404, render

from console.htmx import render_page
from evidence.packets import listing
from evidence.packets.views import _reader
from evidence.views import _list_context  # the list pages' shared shape: filters, a keyset page, its links


@_reader
def refusal_list(request):
    context = _list_context(request, listing.RefusalFilterSet, listing.refusals())
    return render_page(request, "evidence/packets/refusal_list.html",
                       "evidence/packets/partials/refusal_results.html", context)


@_reader
def refusal_detail(request, pk: int):
    refusal = get_object_or_404(listing.refusals(), pk=pk)
    context = {"refusal": refusal, "issues": listing.issues_of(refusal)}
    return render(request, "evidence/packets/refusal_detail.html", context)
