"""Deliverables API (workbooks), mounted under /api/."""
from django.urls import path

from deliverables.workbooks import api

urlpatterns = [
    path("deliverables/", api.DeliverableList.as_view(), name="api-deliverable-list"),
    path("deliverables/<int:pk>/", api.DeliverableDetail.as_view(), name="api-deliverable-detail"),
    path("deliverables/<int:pk>/download/", api.DeliverableDownload.as_view(), name="api-deliverable-download"),
]
