"""Pages of the consumer tokens (mounted at /consumers/)."""
from django.urls import path

from deliverables.consumers import views

app_name = "consumers"
urlpatterns = [
    path("", views.token_list, name="token-list"),
    path("new/", views.token_new, name="token-new"),
    path("<int:pk>/", views.token_detail, name="token-detail"),
    path("<int:pk>/revoke/", views.token_revoke, name="token-revoke"),
]
