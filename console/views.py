"""The console's shell: home page, health check and the audit trail."""
from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.db import connection
from django.http import HttpResponseBadRequest, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from console import clock
from console.audit import audit_trail_export, audit_trail_page, audit_trail_read
from console.filtersets import AuditEventFilterSet
from console.htmx import render_page
from console.models import AuditEvent
from console.paging import cursor_param, page_urls
from console.tables import AuditEventTable, csv_lines
from evidence.selectors import intake_summary


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
