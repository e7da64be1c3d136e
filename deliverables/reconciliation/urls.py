"""Pages of the golden reconciliation and the takeover scoreboard (mounted at /reconciliation/)."""
from django.urls import path

from deliverables.reconciliation import views

app_name = "reconciliation"
urlpatterns = [
    path("", views.scoreboard, name="scoreboard"),
    path("<int:pk>/", views.reconciliation_detail, name="detail"),
    path("<int:pk>/progress/", views.reconciliation_progress, name="progress"),
    path("<int:pk>/cancel/", views.reconciliation_cancel, name="cancel"),
    path("items/<int:item_id>/adjudicate/", views.item_adjudicate, name="adjudicate"),
    path("<str:kind>/<str:subject_id>/", views.subject_detail, name="subject"),
    path("<str:kind>/<str:subject_id>/map/", views.subject_map, name="map"),
    path("<str:kind>/<str:subject_id>/reconcile/", views.subject_reconcile, name="reconcile"),
    path("<str:kind>/<str:subject_id>/retire/", views.subject_retire, name="retire"),
]
