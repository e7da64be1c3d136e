"""Pages of the built deliverables (mounted at /deliverables/)."""
from django.urls import path  # noqa: F401

app_name = "deliverables"
urlpatterns: list = []
