"""Pages of the built deliverables (mounted at /deliverables/)."""
from django.urls import path

from deliverables.workbooks import views

app_name = "deliverables"
urlpatterns = [
    path("", views.deliverable_list, name="deliverable-list"),
    path("new/", views.deliverable_new, name="deliverable-new"),
    path("<int:pk>/", views.deliverable_detail, name="deliverable-detail"),
    path("<int:pk>/progress/", views.deliverable_progress, name="deliverable-progress"),
    path("<int:pk>/download/", views.deliverable_download, name="deliverable-download"),
]
