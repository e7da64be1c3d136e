"""Calculation-run API, mounted under /api/."""
from django.urls import include, path

urlpatterns = [
    path("", include("deliverables.runs.api_urls")),
    path("", include("deliverables.reconciliation.api_urls")),
    path("", include("deliverables.workbooks.api_urls")),
    path("", include("deliverables.payloads.api_urls")),
    path("", include("deliverables.consumers.api_urls")),
    path("", include("deliverables.publication.api_urls")),
    path("", include("deliverables.scope.api_urls")),
    path("runs/<int:run_id>/numbers/", include("deliverables.provenance.api_urls")),
    path("provenance/", include("deliverables.provenance.search_api_urls")),
]
