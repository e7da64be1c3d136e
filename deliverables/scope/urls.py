"""The client scope page: Domo PDP against the backend scope (mounted at /scope/)."""
from django.urls import path  # noqa: F401

app_name = "scope"
urlpatterns: list = []
