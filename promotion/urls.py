"""Pages of the promotion app (mounted at /promotions/)."""

from django.urls import path  # noqa: F401

app_name = "promotion"
urlpatterns: list = []
