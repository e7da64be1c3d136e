"""The console's API, mounted under /api/."""

from django.urls import path

from console.api import views

urlpatterns = [
    path("audit-events/", views.AuditEventList.as_view(), name="api-audit-event-list"),
    path("audit-events/<int:seq>/", views.AuditEventDetail.as_view(), name="api-audit-event-detail"),
    path("audit-events/export.csv", views.AuditEventExportCsv.as_view(), name="api-audit-export-csv"),
    path("audit-events/export.jsonl", views.AuditEventExportJsonl.as_view(), name="api-audit-export-jsonl"),
    path("people/", views.PeopleList.as_view(), name="api-people-list"),
    path("people/<int:pk>/", views.PersonDetail.as_view(), name="api-person-detail"),
    path("operations/", views.Operations.as_view(), name="api-operations"),
    path("role-grants/", views.GrantList.as_view(), name="api-grant-list"),
    path("role-grants/<int:pk>/", views.GrantDetail.as_view(), name="api-grant-detail"),
    path("role-grants/<int:pk>/confirm/", views.GrantConfirm.as_view(), name="api-grant-confirm"),
    path("role-grants/<int:pk>/cancel/", views.GrantCancel.as_view(), name="api-grant-cancel"),
]
