"""Evidence API, mounted under /api/."""

from django.urls import path

from evidence.api import flags, packets, refusals, views
from evidence.api.decision import EvidenceDecision

urlpatterns = [
    path("intake-runs/", views.IntakeRunList.as_view(), name="api-intake-run-list"),
    path("intake-runs/<int:pk>/", views.IntakeRunDetail.as_view(), name="api-intake-run-detail"),
    path("manifests/", views.ManifestList.as_view(), name="api-manifest-list"),
    path("manifests/<int:pk>/", views.ManifestDetail.as_view(), name="api-manifest-detail"),
    path("issues/", views.IssueList.as_view(), name="api-issue-list"),
    path("issues/<int:pk>/", views.IssueDetail.as_view(), name="api-issue-detail"),
    path("datasets/", views.DatasetList.as_view(), name="api-dataset-list"),
    path("datasets/<int:pk>/", views.DatasetDetail.as_view(), name="api-dataset-detail"),
    path("cards/", views.CardList.as_view(), name="api-card-list"),
    path("cards/<int:pk>/", views.CardDetail.as_view(), name="api-card-detail"),
    path("beast-modes/", views.BeastModeList.as_view(), name="api-beast-mode-list"),
    path("beast-modes/<int:pk>/", views.BeastModeDetail.as_view(), name="api-beast-mode-detail"),
    path("dataflows/", views.DataflowList.as_view(), name="api-dataflow-list"),
    path("dataflows/<int:pk>/", views.DataflowDetail.as_view(), name="api-dataflow-detail"),
    path("policies/", views.PolicyList.as_view(), name="api-policy-list"),
    path("policies/<int:pk>/", views.PolicyDetail.as_view(), name="api-policy-detail"),
    path("calculation-flaws/", views.CalculationFlawList.as_view(), name="api-calculation-flaw-list"),
    path("formulas/analyze/", views.FormulaAnalyze.as_view(), name="api-formula-analyze"),
    path("evidence/decision/", EvidenceDecision.as_view(), name="api-evidence-decision"),
    path("evidence/overview/", flags.OverviewIndex.as_view(), name="api-evidence-overview"),
    path("evidence/overview/<str:client>/", flags.OverviewClient.as_view(), name="api-evidence-overview-client"),
    path("evidence/missing/", flags.MissingList.as_view(), name="api-evidence-missing-list"),
    path("evidence/missing/<int:pk>/", flags.MissingDetail.as_view(), name="api-evidence-missing-detail"),
    path("evidence-packets/", packets.PacketList.as_view(), name="api-evidence-packet-list"),
    path("evidence-packet-refusals/", refusals.RefusalList.as_view(), name="api-evidence-packet-refusal-list"),
    path("evidence-packet-refusals/<int:pk>/", refusals.RefusalDetail.as_view(),
         name="api-evidence-packet-refusal-detail"),
    path("evidence-packets/<int:pk>/", packets.PacketDetail.as_view(), name="api-evidence-packet-detail"),
    path("evidence-packet-receipts/<int:pk>/", packets.PacketReceiptDetail.as_view(),
         name="api-evidence-packet-receipt-detail"),
    path("evidence-packets/<int:pk>/revisions/<int:number>/records/", packets.RevisionRecords.as_view(),
         name="api-evidence-packet-records"),
    path("evidence-packets/<int:pk>/revisions/<int:number>/verify/", packets.RevisionVerify.as_view(),
         name="api-evidence-packet-verify"),
    path("evidence-packets/<int:pk>/revisions/<int:number>/withdraw/", packets.RevisionWithdraw.as_view(),
         name="api-evidence-packet-withdraw"),
]
