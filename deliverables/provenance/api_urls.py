"""The provenance API of a run's numbers, mounted at /api/runs/<run_id>/numbers/."""
from django.urls import path

from deliverables.provenance import api

urlpatterns = [
    path("<str:key>/", api.NumberDetail.as_view(), name="api-run-number"),
    path("<str:key>/rows/", api.NumberRows.as_view(), name="api-run-number-rows"),
    path("<str:key>/rederive/", api.NumberRederive.as_view(), name="api-run-number-rederive"),
]
