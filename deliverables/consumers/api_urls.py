"""The consumer API and its tokens' API, mounted under /api/."""
from django.urls import path

from deliverables.consumers import api

urlpatterns = [
    path("published/", api.PublishedList.as_view(), name="api-published-list"),
    path("published/<str:client>/dashboard/", api.PublishedDashboard.as_view(), name="api-published-dashboard"),
    path("published/<str:client>/workbook/", api.PublishedWorkbook.as_view(), name="api-published-workbook"),
    path("consumer-tokens/", api.ConsumerTokenList.as_view(), name="api-consumer-token-list"),
    path("consumer-tokens/<int:pk>/", api.ConsumerTokenDetail.as_view(), name="api-consumer-token-detail"),
    path("consumer-tokens/<int:pk>/revoke/", api.ConsumerTokenRevoke.as_view(), name="api-consumer-token-revoke"),
]
