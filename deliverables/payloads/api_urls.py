"""Dashboard payload API and its JSON Schema, mounted under /api/."""
from django.urls import path

from deliverables.payloads import api

urlpatterns = [
    path("schemas/dashboard-payload-v1.json", api.PayloadSchema.as_view(), name="api-dashboard-payload-schema"),
    path("runs/<int:run_id>/payloads/<str:client>/", api.RunPayload.as_view(), name="api-run-payload"),
]
