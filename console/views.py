"""The console's shell: home page, health check, the audit trail, login lockouts, people and roles, operations."""
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required, permission_required
from django.db import connection
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from console import inflight, logins, people, roles
from console import operations as operations_figures
from console.audit import audit_chain_status, audit_trail_page, audit_trail_read
from console.audit_export import audit_export_response
from console.audit_verify import audit_verify_progress
from console.filtersets import AuditEventFilterSet
from console.forms import GrantProposeForm, PersonRolesForm
from console.home import home_work
from console.htmx import render_page, wants_fragment
from console.models import AuditEvent, RoleGrant
from console.paging import cursor_param, page_urls
from console.selectors import actions_by_area, known_actors, trail_actions
from console.services import UNLOCK_KINDS, login_unlock
from console.tables import AuditEventTable
from console.words import errors_line
from evidence.selectors import intake_summary


def not_found(request, exception=None):
    """404 for a URL that matches nothing: JSON with a message under /api/ (an API client reads JSON, and
    `/api/promotions/abc/` is as unknown as `/api/promotions/0/`), Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": f"no API endpoint at {request.path}"}, status=404)
    return defaults.page_not_found(request, exception)


@login_required
def home(request):
    context = {"work": home_work(request.user)}
    if request.user.has_perm("console.view_provenance"):
        context["intake"] = intake_summary()
    return render(request, "console/home.html", context)


@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico on pages that name no icon (Django admin): send them to the console's."""
    return redirect(static("console/favicon.svg"), permanent=True)


@require_GET
def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@login_required
@permission_required("console.view_audit", raise_exception=True)
@require_GET
def audit_trail(request):
    filterset = AuditEventFilterSet(request.GET, queryset=AuditEvent.objects.all())
    page = None
    if filterset.is_valid():
        older, newer = cursor_param(request.GET, "older"), cursor_param(request.GET, "newer")
        page = audit_trail_page(filterset.qs, size=settings.AUDIT_PAGE_SIZE, older=older, newer=newer)
        audit_trail_read(actor=request.user, filters=filterset.active_filters(), via="page", cursor=older or newer)
    older_url, newer_url = page_urls(request.GET, page, after="older", before="newer")
    filters = request.GET.copy()
    for name in ("older", "newer", "verify"):
        filters.pop(name, None)
    query = f"?{filters.urlencode()}" if filters else ""
    context = {
        "filterset": filterset,
        "page": page,
        "rows": AuditEventTable.display_rows(page.items) if page else [],
        "older_url": older_url,
        "newer_url": newer_url,
        "export_url": reverse("audit-export") + query,
        "export_jsonl_url": reverse("audit-export-jsonl") + query,
        "period_range": filterset.period_range() if page else None,
    }
    if not wants_fragment(request):
        # The pickers: the actions the trail holds, grouped by area; the known actors.
        filterset.form.fields["action"].choices = actions_by_area(trail_actions())
        context["actors"] = known_actors()
        context["chain"] = audit_chain_status()
        verify = request.GET.get("verify", "")
        context["verify_run"] = audit_verify_progress(verify) if verify else None
    return render_page(request, "console/audit_trail.html", "console/partials/audit_results.html", context)


@login_required
@permission_required("console.export_audit", raise_exception=True)
@require_GET
def audit_export(request, fmt: str = "csv"):
    filterset = AuditEventFilterSet(request.GET, queryset=AuditEvent.objects.all())
    if not filterset.is_valid():
        return HttpResponseBadRequest("Invalid filters: " + errors_line(filterset.errors, filterset.form.fields))
    return audit_export_response(actor=request.user, filterset=filterset, fmt=fmt)


@login_required
@permission_required("console.unlock_login", raise_exception=True)
@require_GET
def login_lockouts(request):
    context = {
        "lockouts": logins.current_lockouts(),
        "limits": logins.failure_limits(),
        "cool_off_minutes": settings.LOGIN_LOCKOUT_MINUTES,
    }
    return render(request, "console/login_lockouts.html", context)


@login_required
@require_POST
def login_unlock_view(request):
    kind, value = request.POST.get("kind", ""), request.POST.get("value", "").strip()
    if kind not in UNLOCK_KINDS or not value:
        return HttpResponseBadRequest("Say what to unlock: kind (username or address) and value.")
    # A person without the admin role gets 403 (UnlockRefused), with the refusal on the trail.
    cleared = login_unlock(actor=request.user, kind=kind, value=value)
    messages.success(request, f"Unlocked {kind} {value}: {cleared} failed login(s) cleared.")
    return redirect("login-lockouts")


# --- people and roles ---------------------------------------------------------------------------------

PEOPLE_VIEW_PERMISSION = "auth.view_user"


def _refused(request, refusal: people.RoleChangeRefused, to: str, **kwargs):
    messages.error(request, f"Refused: {refusal.reason}.")
    return redirect(to, **kwargs)


@login_required
@permission_required(PEOPLE_VIEW_PERMISSION, raise_exception=True)
@require_GET
def people_list(request):
    context = {
        "people": people.people_list(),
        "grants": people.pending_grants(),
        "propose_form": GrantProposeForm(),
        "decision_roles": roles.DECISION_ROLES,
    }
    return render(request, "console/people.html", context)


@login_required
@permission_required(PEOPLE_VIEW_PERMISSION, raise_exception=True)
@require_GET
def person_detail(request, pk: int):
    person = get_object_or_404(get_user_model(), pk=pk)
    held = [group.name for group in person.groups.all()]
    context = {
        "person": person,
        "held": held,
        "form": PersonRolesForm(initial={"groups": held, "is_active": person.is_active}),
        "grants": people.pending_grants().filter(user=person),
        "history": people.person_history(person),
        "is_self": person.pk == request.user.pk,
        # what a reset would do: refused (why), or which decision roles it would take away
        "reset_refused": people.reset_refusal(request.user, person, roles_kept=False),
        "reset_takes": sorted(set(held) & set(roles.DECISION_ROLES)),
    }
    return render(request, "console/person.html", context)


@login_required
@require_POST
def person_change(request, pk: int):
    person = get_object_or_404(get_user_model(), pk=pk)
    form = PersonRolesForm(request.POST)
    if not form.is_valid():
        messages.error(request, errors_line(form.errors, form.fields))
        return redirect("person", pk=pk)
    try:
        people.user_change(actor=request.user, user=person, groups=form.cleaned_data["groups"],
                           is_active=form.cleaned_data["is_active"])
    except people.RoleChangeRefused as refusal:
        return _refused(request, refusal, "person", pk=pk)
    messages.success(request, f"Saved the roles of {person.get_username()}.")
    return redirect("person", pk=pk)


@login_required
@never_cache
@require_POST
def person_password_reset(request, pk: int):
    person = get_object_or_404(get_user_model(), pk=pk)
    try:
        reset = people.user_password_reset(actor=request.user, user=person)
    except people.RoleChangeRefused as refusal:
        return _refused(request, refusal, "person", pk=pk)
    # Rendered once, never redirected through a message (messages may sit in a cookie).
    return render(request, "console/password_reset.html", {"person": person, "reset": reset})


@login_required
@require_POST
def grant_propose(request):
    form = GrantProposeForm(request.POST)
    if not form.is_valid():
        messages.error(request, errors_line(form.errors, form.fields))
        return redirect("people")
    person = form.cleaned_data["user"]
    try:
        people.grant_propose(actor=request.user, user=person, role=form.cleaned_data["role"])
    except people.RoleChangeRefused as refusal:
        return _refused(request, refusal, "people")
    messages.success(request, f"Proposed {form.cleaned_data['role']} for {person.get_username()}: "
                              "another admin confirms it.")
    return redirect("people")


@login_required
@require_POST
def grant_decide(request, pk: int, decision: str):
    grant = get_object_or_404(RoleGrant.objects.select_related("user", "proposed_by"), pk=pk)
    decide = {"confirm": people.grant_confirm, "cancel": people.grant_cancel}[decision]
    try:
        decide(actor=request.user, grant=grant)
    except people.RoleChangeRefused as refusal:
        return _refused(request, refusal, "people")
    done = "confirmed" if decision == "confirm" else "cancelled"
    messages.success(request, f"Grant of {grant.role} to {grant.user.get_username()} {done}.")
    return redirect("people")


@login_required
@permission_required("console.view_provenance", raise_exception=True)
@require_GET
@never_cache
def operations(request):
    """Queue depth per worker queue, from the broker, and the work in flight; htmx refreshes them in place."""
    figures = operations_figures.snapshot()
    context = {"poll_seconds": operations_figures.POLL_SECONDS, "read_at": figures.read_at,
               "drain_seconds": operations_figures.BURST_DRAIN_SECONDS, "burst_jobs": operations_figures.BURST_JOBS,
               "inflight": figures.in_flight, "inflight_limit": inflight.LIMIT}
    if figures.error:  # the page says so rather than failing
        context["error"] = figures.error
    else:
        context.update(depths=figures.depths, total=figures.total, reserved=figures.reserved)
    return render_page(request, "console/operations.html", "console/partials/queue_depths.html", context)
