"""The provenance pages of a run's numbers, mounted at /runs/<run_id>/numbers/. Keys may hold ':' (never '/')."""
from django.urls import path

from deliverables.provenance import views

urlpatterns = [
    path("<str:key>/", views.number_detail, name="run-number"),
    path("<str:key>/rows/", views.number_rows, name="run-number-rows"),
    path("<str:key>/rows.csv", views.number_rows_csv, name="run-number-rows-csv"),
    path("<str:key>/rederive/", views.number_rederive, name="run-number-rederive"),
]
