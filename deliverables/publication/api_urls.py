"""Publication API, mounted under /api/."""
from django.urls import path

from deliverables.publication import api

urlpatterns = [
    path("publications/", api.PublicationList.as_view(), name="api-publication-list"),
    path("publications/<int:pk>/", api.PublicationDetail.as_view(), name="api-publication-detail"),
    path("publications/<int:pk>/approve/", api.PublicationApprove.as_view(), name="api-publication-approve"),
    path("publications/<int:pk>/reject/", api.PublicationReject.as_view(), name="api-publication-reject"),
    path("publications/<int:pk>/withdraw/", api.PublicationWithdraw.as_view(), name="api-publication-withdraw"),
    path("publications/<int:pk>/retract/", api.PublicationRetract.as_view(), name="api-publication-retract"),
    path("publications/<int:pk>/download/", api.PublicationDownload.as_view(), name="api-publication-download"),
]
