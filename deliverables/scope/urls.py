"""The client scope page: Domo PDP against the backend scope (mounted at /scope/)."""
from django.urls import path

from deliverables.scope import views

app_name = "scope"
urlpatterns = [
    path("", views.scope_list, name="scope-list"),
    path("<path:key>/", views.scope_detail, name="scope-detail"),
]
