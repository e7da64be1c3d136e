"""Calculation runs API, mounted under /api/."""
from django.urls import path

from deliverables.runs import api

urlpatterns = [
    path("runs/", api.RunList.as_view(), name="api-run-list"),
    path("runs/<int:pk>/", api.RunDetail.as_view(), name="api-run-detail"),
    path("runs/<int:pk>/results/", api.RunResults.as_view(), name="api-run-results"),
    path("runs/<int:pk>/findings/", api.RunFindings.as_view(), name="api-run-findings"),
    path("runs/<int:pk>/cancel/", api.RunCancel.as_view(), name="api-run-cancel"),
]
