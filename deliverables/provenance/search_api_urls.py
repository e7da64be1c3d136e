"""The provenance search API, mounted at /api/provenance/."""
from django.urls import path

from deliverables.provenance import api

urlpatterns = [
    path("numbers/", api.NumberSearch.as_view(), name="api-provenance-search"),
]
