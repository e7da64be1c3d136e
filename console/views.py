"""The console's shell: home page, health check, the audit trail and login lockouts."""
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db import connection
from django.http import HttpResponseBadRequest, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import defaults
from django.views.decorators.http import require_GET, require_POST

from console import clock, logins
from console.audit import audit_trail_export, audit_trail_page, audit_trail_read
from console.filtersets import AuditEventFilterSet
from console.htmx import render_page
from console.models import AuditEvent
from console.paging import cursor_param, page_urls
from console.services import UNLOCK_KINDS, login_unlock
from console.tables import AuditEventTable, csv_lines
from evidence.selectors import intake_summary


def not_found(request, exception=None):
    """404 for a URL that matches nothing: JSON with a message under /api/ (an API client reads JSON, and
    `/api/promotions/abc/` is as unknown as `/api/promotions/0/`), Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": f"no API endpoint at {request.path}"}, status=404)
    return defaults.page_not_found(request, exception)


@login_required
def home(request):
    context = {}
    if request.user.has_perm("console.view_provenance"):
        context["intake"] = intake_summary()
    return render(request, "console/home.html", context)


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
    for name in ("older", "newer"):
        filters.pop(name, None)
    context = {
        "filterset": filterset,
        "page": page,
        "rows": AuditEventTable.display_rows(page.items) if page else [],
        "older_url": older_url,
        "newer_url": newer_url,
        "export_url": reverse("audit-export") + (f"?{filters.urlencode()}" if filters else ""),
    }
    return render_page(request, "console/audit_trail.html", "console/partials/audit_results.html", context)


@login_required
@permission_required("console.export_audit", raise_exception=True)
@require_GET
def audit_export(request):
    filterset = AuditEventFilterSet(request.GET, queryset=AuditEvent.objects.all())
    if not filterset.is_valid():
        return HttpResponseBadRequest("Invalid filters: " + "; ".join(
            f"{field}: {' '.join(errors)}" for field, errors in filterset.errors.items()
        ))
    rows = audit_trail_export(actor=request.user, queryset=filterset.qs, filters=filterset.active_filters())
    filename = f"audit-trail-{clock.now():%Y%m%dT%H%M%SZ}.csv"
    return StreamingHttpResponse(
        csv_lines(rows),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


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
