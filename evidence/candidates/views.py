"""Pages of candidate evidence from Domo (mounted at /evidence/candidates/): the registrations, one with its
provenance, mapping and rows, and the register form (from a Domo dataset's page).

Reading needs console.view_provenance; the register form needs console.receive_evidence (operators, admins).
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from console.htmx import render_page, wants_fragment
from console.paging import cursor_param, keyset_page, page_urls
from evidence.candidates import selectors
from evidence.candidates.forms import RegisterForm
from evidence.candidates.services import UNCHANGED, CandidateRefused, candidate_register
from evidence.choices import PacketKind
from evidence.models import DomoDataset
from evidence.packets.model import COLUMNS
from evidence.views import _list_context, _reader  # the list pages' shape; the evidence pages' reader

ROWS_PAGE_SIZE = 100
REGISTER = "console.receive_evidence"


@_reader
def candidate_list(request):
    context = _list_context(request, selectors.CandidateSetFilterSet, selectors.candidate_sets())
    return render_page(request, "evidence/candidates/candidate_list.html",
                       "evidence/candidates/partials/candidate_results.html", context)


@_reader
def candidate_detail(request, pk: int):
    candidate_set = get_object_or_404(selectors.candidate_sets(), pk=pk)
    page = keyset_page(selectors.rows_of(candidate_set), key="row", size=ROWS_PAGE_SIZE, descending=False,
                       after=cursor_param(request.GET, "after"), before=cursor_param(request.GET, "before"))
    next_url, prev_url = page_urls(request.GET, page)
    columns = list(COLUMNS[candidate_set.kind])
    context = {
        "candidate_set": candidate_set, "columns": columns, "page": page, "next_url": next_url,
        "prev_url": prev_url, "mapping": [(c, candidate_set.mapping.get(c, "")) for c in columns],
        "rows": [(row.row, [row.values.get(c, "") for c in columns]) for row in page.items],
    }
    return render_page(request, "evidence/candidates/candidate_detail.html",
                       "evidence/candidates/partials/candidate_rows.html", context)


@login_required
@permission_required(REGISTER, raise_exception=True)
@require_http_methods(["GET", "POST"])
def candidate_register_page(request):
    source = request.POST if request.method == "POST" else request.GET
    dataset_id = source.get("dataset", "")
    if not dataset_id.isdigit():
        raise Http404("Open this form from a Domo dataset's page (Register as candidate evidence).")
    dataset = get_object_or_404(DomoDataset.objects.select_related("manifest"), pk=int(dataset_id))
    kind = source.get("kind", "")
    kind = kind if kind in PacketKind.values else PacketKind.CONTRACT
    status = 200
    if request.method == "POST":
        form = RegisterForm(request.POST, dataset=dataset, kind=kind)
        if form.is_valid():
            try:
                outcome = candidate_register(actor=request.user, dataset=dataset, kind=kind, mapping=form.mapping(),
                                             note=form.cleaned_data["note"])
            except CandidateRefused as refused:
                for issue in refused.issues:
                    form.add_issue(issue)
            else:
                if outcome.status == UNCHANGED:
                    messages.info(request, "This dataset was already registered as candidate evidence of this kind "
                                           "with this mapping: nothing changed.")
                else:
                    messages.success(request, f"Registered {outcome.candidate_set.rows} rows of {dataset.name} as "
                                              f"candidate {kind} evidence.")
                return redirect("candidates:candidate-detail", outcome.candidate_set.pk)
        status = 400
    else:
        form = RegisterForm(dataset=dataset, kind=kind)
    context = {"dataset": dataset, "form": form, "kind": kind}
    if wants_fragment(request):  # the kind changed: the mapping of the new kind, proposed
        return render(request, "evidence/candidates/partials/mapping_fields.html", context)
    return render(request, "evidence/candidates/register.html", context, status=status)
