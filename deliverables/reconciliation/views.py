"""Pages of the golden reconciliation and the takeover scoreboard (mounted at /reconciliation/):

- /reconciliation/: the scoreboard: counts per state, filters by export and state, one row per card or DataFlow;
- /reconciliation/<kind>/<id>/: a subject: state, golden source, current mapping, its versions, reconciliations,
  Reconcile now (operators), Retire (approvers);
- /reconciliation/<kind>/<id>/map/: the mapping form (proposed by names, or the current version);
- /reconciliation/<kind>/<id>/reconcile/ and /retire/: POST;
- /reconciliation/<pk>/: one reconciliation: inputs, progress (polled while queued or running), summary, the
  differences with their status; approvers adjudicate each open one (POST /reconciliation/items/<id>/adjudicate/);
- /reconciliation/<pk>/progress/ and /cancel/.

Reading needs console.view_provenance; the services decide every act and audit every refusal: Forbidden is a 403
page that says why, Refused shows next to the form.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from console.htmx import render_page, wants_fragment
from console.paging import cursor_param, keyset_page, page_urls
from console.submissions import send_once
from console.words import errors_line
from deliverables.choices import MAPPING_TYPE, Decision, ItemClass, RunState, SubjectKind
from deliverables.models import CardMapping, Reconciliation, ReconciliationItem
from deliverables.reconciliation import outputs, selectors, services, sources
from deliverables.reconciliation.forms import (
    AdjudicateForm,
    ItemFilterForm,
    MappingForm,
    ReconcileForm,
    RetireForm,
    ScoreboardFilterForm,
    mapping_initial,
)
from deliverables.runs.selectors import money, state_badge, step_rows
from evidence.models import SourceManifest

VIEW = "console.view_provenance"
POLL_SECONDS = 2
ITEMS_SHOWN = 200  # differences per page
STATUS_BADGES = {"explained": "badge badge-info", "within_tolerance": "badge badge-ok", "accepted": "badge badge-ok",
                 "backend_defect": "badge badge-bad", "investigating": "badge badge-warn", "open": "badge badge-bad"}
STATUS_LABELS = {"explained": "Explained", "within_tolerance": "Within tolerance", "accepted": "Accepted",
                 "backend_defect": "Backend defect", "investigating": "Investigating", "open": "Open"}
CLASSES = ("match", "within_tolerance", "variance", "only_backend", "only_domo")
CLASS_BADGES = {"match": "badge badge-ok", "within_tolerance": "badge badge-ok", "variance": "badge badge-warn",
                "only_backend": "badge badge-bad", "only_domo": "badge badge-bad"}


def _class_counts(counts: dict) -> list[tuple[str, str, int, str]]:
    """(class, its label, count, badge) for each class with rows, in the classes' order."""
    labels = dict(ItemClass.choices)
    return [(c, labels[c], counts.get(c, 0), CLASS_BADGES[c]) for c in CLASSES if counts.get(c)]


def _reader(view):
    """Pages every reconciliation reader may see: logged in, the provenance capability, GET only."""
    return login_required(permission_required(VIEW, raise_exception=True)(require_GET(view)))


def _refused_page(request, refusal: str, *, status: int = 403, back: str = ""):
    return render(request, "deliverables/reconciliation/refused.html", {"refusal": refusal, "back": back},
                  status=status)


def _subject_or_404(kind: str, subject_id: str) -> sources.Subject:
    if kind not in SubjectKind.values:
        raise Http404(f"{kind!r} is not a kind of subject ({', '.join(SubjectKind.values)})")
    found = sources.subject(kind, subject_id)
    if found is None:
        raise Http404(f"{kind} {subject_id} is not in any received export")
    return found


def _summary_rows(recon: Reconciliation | None) -> dict:
    """A reconciliation's counts per class, overall and per measure, in the classes' order."""
    summary = (recon.summary or {}) if recon else {}
    total = summary.get("total") or {}
    return {"total": [(c, total.get(c, 0)) for c in CLASSES], "badges": _class_counts(total),
            "measures": [(m, [(c, counts.get(c, 0)) for c in CLASSES])
                         for m, counts in (summary.get("measures") or {}).items()],
            "explained": summary.get("explained", 0), "rows": summary.get("rows", 0),
            "seconds": summary.get("seconds") or {}}


# --- the scoreboard ------------------------------------------------------------------------------------------
@_reader
def scoreboard(request):
    manifests = list(SourceManifest.objects.order_by("-received_at", "-pk"))
    form = ScoreboardFilterForm(request.GET or None, manifests=manifests)
    rows, summary, problem = [], {}, False
    if form.is_bound and not form.is_valid():
        problem = True
        _, summary = selectors.scoreboard()
    else:
        data = form.cleaned_data if form.is_bound else {}
        rows, summary = selectors.scoreboard(manifest=form.manifest_ids() if form.is_bound else None,
                                             state=data.get("state") or None)
    context = {"form": form, "problem": problem, "summary": summary,
               "rows": [{"row": r, "badge": selectors.card_state_badge(r.state), "counts": _class_counts(r.counts)}
                        for r in rows],
               "filtered": any(request.GET.get(n) for n in ("manifest", "state")),
               "state_counts": [("total", "Cards and DataFlows", summary.get("total", 0)),
                                *((s, label, summary.get(s, 0)) for s, label in
                                  (("not_mapped", "Not mapped"), ("mapped", "Mapped"),
                                   ("open", "Reconciled with open variances"), ("reconciled", "Reconciled"),
                                   ("retired", "Retired")))]}
    # A bad filter is a 400 page; an htmx swap gets 200 (htmx swaps no error response) with the same message.
    return render_page(request, "deliverables/reconciliation/scoreboard.html",
                       "deliverables/reconciliation/partials/scoreboard_rows.html", context,
                       status=400 if problem and not wants_fragment(request) else 200)


# --- a subject -----------------------------------------------------------------------------------------------
def _subject_context(request, subject: sources.Subject) -> dict:
    state = selectors.card_state(subject.kind, subject.id)
    golden, golden_problem = _golden_facts(subject, state.reconciliation)
    mapping = services.current_mapping(subject.kind, subject.id)
    versions = list(CardMapping.objects.filter(subject_kind=subject.kind, subject_id=subject.id)
                    .select_related("created_by").order_by("-version"))
    recons = list(Reconciliation.objects.filter(subject_kind=subject.kind, subject_id=subject.id)
                  .select_related("run", "mapping", "requested_by").order_by("-pk")[:50])
    output = outputs.OUTPUTS.get(mapping.output) if mapping else None
    user = request.user
    return {
        "subject": subject, "state": state, "state_badge": selectors.card_state_badge(state.state),
        "golden": golden, "golden_problem": golden_problem, "mapping": mapping, "output": output,
        "measure_labels": {c.name: c.label for c in (output.keys + output.measures)} if output else {},
        "versions": versions,
        "reconciliations": [{"recon": r, "badge": state_badge(r.state), "summary": _summary_rows(r)} for r in recons],
        "may_map": user.has_perm(services.MAP_PERMISSION),
        "may_retire": user.has_perm(services.DECIDE_PERMISSION) and state.state != "retired",
        "retire_form": RetireForm(),
        "reconcile_form": ReconcileForm(),
        "latest_run": services.latest_run(),
        "audit_url": (f"{reverse('audit-trail')}?object_type={MAPPING_TYPE}&object_id={subject.kind}:{subject.id}"
                      if user.has_perm("console.view_audit") else ""),
    }


def _golden_facts(subject: sources.Subject, recon: Reconciliation | None) -> tuple[dict | None, str]:
    """The golden rows a page names: those the subject's reconciliation read (as recorded, no re-read of a large
    file), or else the ones a reconciliation would read now (read and sha256-checked); or why there are none."""
    if recon is not None and (recon.golden or {}).get("sha256"):
        return {**recon.golden, "as_of": recon.pk}, ""
    try:
        found = sources.golden(subject.kind, subject.id)
    except sources.SourceError as problem:
        return None, str(problem)
    return {**found.as_json(), "as_of": None}, ""


@_reader
def subject_detail(request, kind: str, subject_id: str):
    subject = _subject_or_404(kind, subject_id)
    return render(request, "deliverables/reconciliation/subject.html", _subject_context(request, subject))


@login_required
@require_POST
def subject_reconcile(request, kind: str, subject_id: str):
    """Reconcile now, once per shown button (console.submissions): a second send leads to the first's."""
    subject = _subject_or_404(kind, subject_id)
    form = ReconcileForm(request.POST)

    def shown_again(refusal: str, status: int):
        context = _subject_context(request, subject)  # a new key with it
        context["refusal"] = refusal
        return render(request, "deliverables/reconciliation/subject.html", context, status=status)

    if not form.is_valid():  # only its key can be wrong
        return shown_again(errors_line(form.errors, form.fields), 400)

    def start():
        try:
            recon = services.reconciliation_start(actor=request.user, kind=subject.kind, subject_id=subject.id,
                                                  traceparent=request.headers.get("traceparent", ""))
        except services.Forbidden as refused:
            return _refused_page(request, str(refused),
                                 back=reverse("reconciliation:subject", args=[kind, subject_id])), None
        except services.Refused as refused:
            return shown_again(str(refused), 409), None
        messages.success(request, f"Reconciliation #{recon.pk} of {subject.title} against run #{recon.run_id} "
                                  "queued; this page follows it.")
        return redirect("reconciliation:detail", pk=recon.pk), recon

    return send_once(request, form, name="reconcile-form", choices={"subject": f"{subject.kind}:{subject.id}"},
                     thing="reconciliation", create=start, again=lambda: shown_again("", 409),
                     named=lambda pk: f"reconciliation #{pk}")


@login_required
@require_POST
def subject_retire(request, kind: str, subject_id: str):
    subject = _subject_or_404(kind, subject_id)
    form = RetireForm(request.POST)
    comment = form.cleaned_data["comment"] if form.is_valid() else ""
    try:
        services.retire(actor=request.user, kind=subject.kind, subject_id=subject.id, comment=comment)
    except services.Forbidden as refused:
        return _refused_page(request, str(refused), back=reverse("reconciliation:subject", args=[kind, subject_id]))
    except services.Refused as refused:
        context = _subject_context(request, subject)
        context.update(retire_refusal=str(refused), retire_form=form)
        return render(request, "deliverables/reconciliation/subject.html", context, status=409)
    messages.success(request, f"{subject.title} retired: the backend output is the one to use.")
    return redirect("reconciliation:subject", kind=kind, subject_id=subject_id)


# --- the mapping form ----------------------------------------------------------------------------------------
def _flaws_by_column(subject: sources.Subject, columns: list[str], flaws: list[dict]) -> dict[str, list[dict]]:
    """The recorded flaws each golden column may be explained by (as sources.flaws_for_column decides)."""
    return {c: [f for f in flaws if subject.kind == SubjectKind.DATAFLOW or f.get("beast_mode") == c]
            for c in columns}


@login_required
def subject_map(request, kind: str, subject_id: str):
    """GET: the form, from the current version or (?output=, or no mapping yet) a proposal by names; POST: save a
    version through services.mapping_save."""
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    if not request.user.has_perm(services.MAP_PERMISSION):
        return _refused_page(request, "mapping a card needs the build_deliverable permission (operators)")
    subject = _subject_or_404(kind, subject_id)
    current = services.current_mapping(subject.kind, subject.id)
    asked = (request.POST.get("output") if request.method == "POST" else request.GET.get("output")) or ""
    output_name = asked or (current.output if current else "")
    context = {"subject": subject, "current": current, "outputs": outputs.choices(), "refusal": "",
               "source_problem": ""}
    try:
        proposal = services.mapping_proposal(subject.kind, subject.id, output_name if asked else "",
                                             current.golden_dataset if current else "")
    except sources.SourceError as problem:
        context["source_problem"] = str(problem)
        return render(request, "deliverables/reconciliation/map.html", context, status=409)
    if asked and asked not in outputs.OUTPUTS:
        context["refusal"] = f"output: {asked!r} is not a backend output (one of {', '.join(outputs.OUTPUTS)})"
        asked, output_name = "", proposal["output"]
    columns = proposal["golden_columns"]
    flaws = _flaws_by_column(subject, columns, proposal["flaws"])
    if current is not None and (not asked or asked == current.output):
        initial, proposed = mapping_initial(columns, current.output, current.keys, current.measures, current.note), False
    else:
        initial, proposed = mapping_initial(columns, proposal["output"], proposal["keys"], proposal["measures"]), True
    output_name = initial["output"]
    context.update(output=outputs.OUTPUTS[output_name], proposed=proposed, golden_dataset=proposal["golden_dataset"],
                   flaws=proposal["flaws"])
    if request.method == "GET":
        form = MappingForm(initial=initial, columns=columns, output_name=output_name, flaws=flaws)
        return render(request, "deliverables/reconciliation/map.html", {**context, "form": form})
    form = MappingForm(request.POST, columns=columns, output_name=output_name, flaws=flaws)
    if not form.is_valid():
        return render(request, "deliverables/reconciliation/map.html", {**context, "form": form}, status=400)
    keys, measures = form.mapping()
    try:
        mapping, created = services.mapping_save(
            actor=request.user, kind=subject.kind, subject_id=subject.id, output=form.cleaned_data["output"],
            keys=keys, measures=measures, note=form.cleaned_data["note"], golden_dataset=proposal["golden_dataset"])
    except services.Forbidden as refused:
        return _refused_page(request, str(refused))
    except services.Refused as refused:
        context["refusal"] = str(refused)
        return render(request, "deliverables/reconciliation/map.html", {**context, "form": form}, status=409)
    if created:
        messages.success(request, f"{subject.title}: mapping v{mapping.version} saved.")
    else:
        messages.info(request, f"{subject.title}: mapping unchanged (still v{mapping.version}).")
    return redirect("reconciliation:subject", kind=kind, subject_id=subject_id)


# --- one reconciliation --------------------------------------------------------------------------------------
def _reconciliations():
    return Reconciliation.objects.select_related("run", "mapping", "mapping__created_by", "requested_by",
                                                 "cancelled_by", "manifest")


def _progress_context(recon: Reconciliation) -> dict:
    return {"recon": recon, "steps": step_rows(recon), "live": not recon.is_final, "poll_seconds": POLL_SECONDS,
            "state_badge": state_badge(recon.state)}


def _money_measures(mapping: CardMapping) -> frozenset[str]:
    """The mapping's measures that compare money (its output's columns of cents); a count or a rate is not."""
    output = outputs.OUTPUTS.get(mapping.output)
    if output is None:
        return frozenset()
    return frozenset(m["name"] for m in mapping.measures
                     if (column := output.column(m["backend"])) is not None and column.is_money)


def _status_row(status: selectors.ItemStatus, user, money_measures: frozenset[str], *, form=None,
                refusal: str = "") -> dict:
    """One difference for item_row.html; its values (and an earlier verdict's) shown as money when the measure is."""
    may = (user.has_perm(services.DECIDE_PERMISSION) and status.can_adjudicate)
    item, earlier = status.item, status.earlier

    def shown(value: str) -> str:
        return money(value) if item.measure in money_measures else value

    return {"s": status, "item": item, "badge": STATUS_BADGES.get(status.status, "badge"),
            "label": STATUS_LABELS.get(status.status, status.status),
            "values": {"backend": shown(item.backend_value), "golden": shown(item.golden_value),
                       "difference": shown(item.difference),
                       "decision": Decision(item.backend_decision).label.lower()
                       if item.backend_decision in Decision.values else item.backend_decision,
                       "earlier_backend": shown(earlier.backend_value) if earlier else "",
                       "earlier_golden": shown(earlier.golden_value) if earlier else ""},
            "form": (form or AdjudicateForm(prefix=f"i{item.pk}"))
            if may else None, "refusal": refusal}


def _items_context(request, recon: Reconciliation) -> dict:
    """The differences shown: the open ones (default) or all, a page of ITEMS_SHOWN by position (keyset: `after` /
    `before` a position), each with its status (selectors.items_with_status filters in the database;
    item_statuses reads the verdicts)."""
    form = ItemFilterForm(request.GET or None)
    show = (form.cleaned_data.get("status") if form.is_bound and form.is_valid() else "") or "open"
    succeeded = recon.state == RunState.SUCCEEDED
    counts = {name: selectors.items_with_status(recon, name).count() if succeeded else 0 for name in ("open", "all")}
    page = keyset_page(selectors.items_with_status(recon, show), key="position", size=ITEMS_SHOWN, descending=False,
                       after=cursor_param(request.GET, "after"),
                       before=cursor_param(request.GET, "before")) if succeeded else None
    next_url, prev_url = page_urls(request.GET, page)
    money_measures = _money_measures(recon.mapping)
    return {"recon": recon, "item_form": form, "show": show, "item_counts": counts, "shown_total": counts[show],
            "items": [_status_row(s, request.user, money_measures)
                      for s in selectors.item_statuses(recon, page.items if page else [])],
            "next_url": next_url, "prev_url": prev_url,
            "key_names": [k["name"] for k in recon.mapping.keys]}


def _detail_context(request, recon: Reconciliation) -> dict:
    return {**_progress_context(recon), **_items_context(request, recon), "summary": _summary_rows(recon),
            "subject": sources.subject(recon.subject_kind, recon.subject_id),
            "may_cancel": not recon.is_final and request.user.has_perm(services.MAP_PERMISSION)}


@_reader
def reconciliation_detail(request, pk: int):
    recon = get_object_or_404(_reconciliations(), pk=pk)
    return render_page(request, "deliverables/reconciliation/detail.html",
                       "deliverables/reconciliation/partials/items.html", _detail_context(request, recon))


@_reader
def reconciliation_progress(request, pk: int):
    """The progress panel; once final, the whole page reloads (summary and differences appear) via HX-Refresh."""
    recon = get_object_or_404(_reconciliations(), pk=pk)
    response = render(request, "deliverables/reconciliation/partials/progress.html", _progress_context(recon))
    if recon.is_final and request.GET.get("state") in ("queued", "running"):
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_POST
def reconciliation_cancel(request, pk: int):
    recon = get_object_or_404(_reconciliations(), pk=pk)
    try:
        services.reconciliation_cancel(actor=request.user, reconciliation=recon)
    except services.Forbidden as refused:
        return _refused_page(request, str(refused), back=reverse("reconciliation:detail", args=[pk]))
    except services.Refused as refused:
        messages.error(request, f"Refused: {refused}")
    else:
        messages.success(request, f"Reconciliation #{recon.pk} cancelled.")
    return redirect("reconciliation:detail", pk=recon.pk)


def _row_fragment(request, item: ReconciliationItem, *, form=None, refusal: str = ""):
    """One difference's row as it stands now (htmx swaps it in place of the one adjudicated). A refusal comes back
    with status 200 and its reason in the row: htmx swaps no error response, and the reason must show."""
    status = selectors.item_statuses(item.reconciliation, [item])[0]
    row = _status_row(status, request.user, _money_measures(item.reconciliation.mapping), form=form, refusal=refusal)
    return render(request, "deliverables/reconciliation/partials/item_row.html", {"row": row, "show": "open"})


@login_required
@require_POST
def item_adjudicate(request, item_id: int):
    """An approver's verdict on one difference (services.adjudicate decides: four eyes, a comment required).
    A page POST returns to the differences (a refusal: 403 or 409 with the reason); an htmx one swaps the row."""
    item = get_object_or_404(ReconciliationItem.objects.select_related("reconciliation"), pk=item_id)
    recon = item.reconciliation
    back = reverse("reconciliation:detail", args=[recon.pk])
    form = AdjudicateForm(request.POST, prefix=f"i{item.pk}")
    verdict = request.POST.get(f"i{item.pk}-verdict", "")
    comment = request.POST.get(f"i{item.pk}-comment", "")
    try:
        services.adjudicate(actor=request.user, item=item, verdict=verdict, comment=comment)
    except services.Refused as refused:
        form.is_valid()
        if wants_fragment(request):
            return _row_fragment(request, item, form=form, refusal=f"Refused: {refused}")
        if isinstance(refused, services.Forbidden):
            return _refused_page(request, str(refused), back=back)
        context = _detail_context(request, recon)
        context["adjudication_refusal"] = f"{item.key_label} {item.measure}: {refused}"
        for row in context["items"]:
            if row["item"].pk == item.pk:
                row.update(form=form, refusal=str(refused))
        return render(request, "deliverables/reconciliation/detail.html", context, status=409)
    if wants_fragment(request):
        return _row_fragment(request, item)
    messages.success(request, f"{item.key_label} {item.measure}: {verdict} recorded.")
    return redirect(f"{back}?{request.GET.urlencode()}#recon-items" if request.GET else f"{back}#recon-items")
