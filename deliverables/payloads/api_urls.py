"""Dashboard payload API and its JSON Schema, mounted under /api/."""
from django.urls import path  # noqa: F401

urlpatterns: list = []
