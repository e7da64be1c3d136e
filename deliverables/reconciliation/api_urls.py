"""Golden reconciliation API, mounted under /api/ (deliverables.reconciliation.api)."""
from django.urls import path

from deliverables.reconciliation import api

SUBJECT = "reconciliation/subjects/<str:kind>/<str:subject_id>/"

urlpatterns = [
    path("reconciliation/scoreboard/", api.Scoreboard.as_view(), name="api-reconciliation-scoreboard"),
    path(SUBJECT, api.SubjectDetail.as_view(), name="api-reconciliation-subject"),
    path(f"{SUBJECT}proposal/", api.SubjectProposal.as_view(), name="api-reconciliation-subject-proposal"),
    path(f"{SUBJECT}mappings/", api.MappingList.as_view(), name="api-reconciliation-subject-mappings"),
    path(f"{SUBJECT}mappings/<int:version>/", api.MappingDetail.as_view(), name="api-reconciliation-mapping-detail"),
    path(f"{SUBJECT}reconciliations/", api.ReconciliationStart.as_view(),
         name="api-reconciliation-subject-reconciliations"),
    path(f"{SUBJECT}retire/", api.SubjectRetire.as_view(), name="api-reconciliation-subject-retire"),
    path("reconciliations/", api.ReconciliationList.as_view(), name="api-reconciliation-list"),
    path("reconciliations/<int:pk>/", api.ReconciliationDetail.as_view(), name="api-reconciliation-detail"),
    path("reconciliations/<int:pk>/items/", api.ReconciliationItems.as_view(), name="api-reconciliation-items"),
    path("reconciliations/<int:pk>/cancel/", api.ReconciliationCancel.as_view(), name="api-reconciliation-cancel"),
    path("reconciliation-items/<int:pk>/adjudications/", api.AdjudicationCreate.as_view(),
         name="api-reconciliation-item-adjudications"),
    path("adjudications/<int:pk>/", api.AdjudicationDetail.as_view(), name="api-adjudication-detail"),
]
