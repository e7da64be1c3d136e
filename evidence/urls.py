"""Pages of the evidence app: intake, source manifests and the Domo objects inside (mounted at /sources/)."""

from django.urls import path

from evidence import views

app_name = "evidence"
urlpatterns = [
    path("", views.manifest_list, name="manifest-list"),
    path("<int:pk>/", views.manifest_detail, name="manifest-detail"),
    path("<int:pk>/flaws/", views.calculation_flaw_list, name="calculation-flaws"),
    path("<int:pk>/flaws/reanalyze/", views.calculation_reanalyze, name="calculation-reanalyze"),
    path("issues/", views.issue_list, name="issue-list"),
    path("intake/", views.intake_list, name="intake-list"),
    path("intake/upload/", views.intake_upload, name="intake-upload"),
    path("intake/running/", views.intake_running, name="intake-running"),
    path("intake/<int:pk>/", views.intake_detail, name="intake-detail"),
    path("datasets/<int:pk>/", views.dataset_detail, name="dataset-detail"),
    path("cards/<int:pk>/", views.card_detail, name="card-detail"),
    path("dataflows/<int:pk>/", views.dataflow_detail, name="dataflow-detail"),
]
