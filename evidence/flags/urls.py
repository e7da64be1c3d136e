"""Pages of the evidence overview and the missing-evidence flags, mounted at /evidence/."""

from django.urls import path

from evidence.flags import views

app_name = "flags"
urlpatterns = [
    path("overview/", views.overview_index, name="overview"),
    path("overview/<str:client>/", views.overview_client, name="overview-client"),
    path("missing/", views.missing_list, name="missing-list"),
    path("missing/<int:pk>/", views.missing_detail, name="missing-detail"),
]
