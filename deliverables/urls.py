"""Calculation-run pages, mounted under /runs/."""
from django.urls import include, path

urlpatterns = [
    path("", include("deliverables.runs.urls")),
    path("<int:run_id>/numbers/", include("deliverables.provenance.urls")),
]
