"""Pages of the golden reconciliation and the takeover scoreboard (mounted at /reconciliation/)."""
from django.urls import path  # noqa: F401

app_name = "reconciliation"
urlpatterns: list = []
