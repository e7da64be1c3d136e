"""The console's API, mounted under /api/."""

from django.urls import path

from console.api import views

urlpatterns = [
    path("audit-events/", views.AuditEventList.as_view(), name="api-audit-event-list"),
    path("audit-events/<int:seq>/", views.AuditEventDetail.as_view(), name="api-audit-event-detail"),
]
