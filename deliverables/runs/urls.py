"""Pages of the calculation runs (mounted at /runs/)."""
from django.urls import path

from deliverables.runs import views

app_name = "runs"
urlpatterns = [
    path("", views.run_list, name="run-list"),
    path("new/", views.run_new, name="run-new"),
    path("<int:pk>/", views.run_detail, name="run-detail"),
    path("<int:pk>/progress/", views.run_progress, name="run-progress"),
    path("<int:pk>/findings/", views.run_findings, name="run-findings"),
    path("<int:pk>/findings.csv", views.run_findings_csv, name="run-findings-csv"),
    path("<int:pk>/cancel/", views.run_cancel, name="run-cancel"),
]
