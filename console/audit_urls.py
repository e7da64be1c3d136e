"""URLs of the audit trail beyond its page and CSV export (console/urls.py): JSON Lines, verify now."""

from django.urls import path

from console import audit_views, views

urlpatterns = [
    path("export.jsonl", views.audit_export, {"fmt": "jsonl"}, name="audit-export-jsonl"),
    path("verify/", audit_views.audit_verify_now, name="audit-verify"),
    path("verify/<str:run_id>/", audit_views.audit_verify_status, name="audit-verify-status"),
]
