"""The provenance search (/provenance/): the numbers of succeeded runs by client, period and label text, the
latest run of each client and period first, the published ones marked; each links to its provenance page.

The filters are a form (deliverables.provenance.forms; its errors name the bad value); the list is paged by page
number (Django's Paginator).
"""
from __future__ import annotations

import datetime as dt

from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db.models import BooleanField, Case, Exists, F, OuterRef, Subquery, When

from deliverables.choices import PublicationState, RunState
from deliverables.models import CalculationRun, Publication, RunNumber
from deliverables.provenance.forms import ProvenanceSearchForm

PAGE_SIZE = 50


def _period_value(start: dt.date, end: dt.date) -> str:
    return f"{start.isoformat()}:{end.isoformat()}"  # the form's period filter, as start_run's --period


def known_periods() -> list[tuple[str, str]]:
    periods = (CalculationRun.objects.filter(state=RunState.SUCCEEDED).values_list("period_start", "period_end")
               .distinct().order_by("-period_end", "-period_start"))
    return [(_period_value(s, e), f"{s.isoformat()} to {e.isoformat()}") for s, e in periods]


def known_clients() -> list[tuple[str, str]]:
    from evidence.packets.selectors import account_names

    names = account_names()
    ids = (RunNumber.objects.filter(run__state=RunState.SUCCEEDED).values_list("client_account_id", flat=True)
           .distinct().order_by("client_account_id"))
    return sorted(((i, f"{names[i]} ({i})" if names.get(i) else i) for i in ids), key=lambda c: c[1].casefold())


def numbers(*, client: str = "", period: tuple[dt.date, dt.date] | None = None, text: str = ""):
    """The numbers of succeeded runs matching the filters: the latest run of each client and period first (then
    earlier runs), a client's numbers together in run order; each marked `is_latest`, `published` (a live
    publication of its client built from its run) and `was_published` (one superseded or retracted)."""
    succeeded = RunNumber.objects.filter(run__state=RunState.SUCCEEDED)
    latest = (succeeded.filter(client_account_id=OuterRef("client_account_id"),
                               run__period_start=OuterRef("run__period_start"),
                               run__period_end=OuterRef("run__period_end"))
              .order_by("-run_id").values("run_id")[:1])
    publications = Publication.objects.filter(client_account_id=OuterRef("client_account_id"),
                                              deliverable__run=OuterRef("run_id"))
    found = succeeded.select_related("run")
    if client:
        found = found.filter(client_account_id=client)
    if period:
        found = found.filter(run__period_start=period[0], run__period_end=period[1])
    if text:
        found = found.filter(label__icontains=text)
    return (found.annotate(latest_run=Subquery(latest))
            .annotate(is_latest=Case(When(run_id=F("latest_run"), then=True), default=False,
                                     output_field=BooleanField()),
                      published=Exists(publications.filter(state=PublicationState.PUBLISHED)),
                      was_published=Exists(publications.filter(state__in=(PublicationState.SUPERSEDED,
                                                                         PublicationState.RETRACTED))))
            .order_by("-is_latest", "-run__period_end", "client_account_id", "-run_id", "position"))


def search(params) -> dict:
    """The search page's context from its query parameters: the form, the page of numbers, and what was wrong."""
    clients, periods = known_clients(), known_periods()
    form = ProvenanceSearchForm(params, clients=clients, periods=periods)
    problems: list[str] = []
    page = None
    if form.is_valid():
        data = form.cleaned_data
        paginator = Paginator(numbers(client=data["client"], period=data["period"], text=data["q"].strip()),
                              PAGE_SIZE)
        asked = params.get("page") or "1"
        try:
            page = paginator.page(asked)
        except (PageNotAnInteger, EmptyPage):
            problems.append(f"page {asked!r}: give a page number from 1 to {paginator.num_pages}")
    else:
        problems = [str(message) for errors in form.errors.values() for message in errors]
    names = dict(clients)
    if page is not None:
        page.object_list = list(page.object_list)
        for number in page.object_list:
            number.client_label = names.get(number.client_account_id, number.client_account_id)
    query = {k: v for k, v in params.items() if k != "page" and v}
    return {"form": form, "page": page, "problems": problems, "clients": clients, "periods": periods,
            "query": query,
            "filtered": any(params.get(k) for k in ("client", "period", "q"))}
