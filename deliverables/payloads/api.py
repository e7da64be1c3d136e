"""Dashboard payload API, mounted under /api/:

- GET /api/schemas/dashboard-payload-v1.json: the payload's JSON Schema (draft 2020-12), to any signed-in user,
  as application/schema+json;
- GET /api/runs/<run_id>/payloads/<client>/: the dashboard payload of a client in a succeeded run, built from the
  run's stored numbers (console.view_provenance), as its canonical bytes (the same run gives the same bytes).

404 for a run that does not exist or a client the run stored no number for; 409 {"detail"} for a run that has not
succeeded. Publishing payloads and the consumer API for Domo come later: this reads, it stores nothing.
"""
from __future__ import annotations

import json

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from console.api.permissions import capability
from console.api.serializers import ErrorSerializer
from deliverables.models import CalculationRun
from deliverables.payloads import builder
from deliverables.payloads import schema as payload_schema

CanRead = capability("console.view_provenance")
SCHEMA_TYPE = "application/schema+json"


def _base_url(request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


class PayloadSchema(APIView):
    """The JSON Schema every dashboard payload validates against, with its `$id` set to this address."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(
        operation_id="schemas_dashboard_payload_v1", summary="The dashboard payload's JSON Schema (v1)",
        description="JSON Schema draft 2020-12 of `dashboard-payload-v1`: money as decimal strings with two places, "
                    "a decision and a provenance_url on every figure, an amount only when authorized, the missing "
                    "evidence named when not concluded.",
        responses={(200, SCHEMA_TYPE): OpenApiResponse(OpenApiTypes.OBJECT, description="the JSON Schema"),
                   403: OpenApiResponse(description="not signed in")})
    def get(self, request):
        body = json.dumps(payload_schema.schema(request.build_absolute_uri(reverse("api-dashboard-payload-schema"))),
                          indent=2, ensure_ascii=False)
        return HttpResponse(body, content_type=f"{SCHEMA_TYPE}; charset=utf-8")


class RunPayload(APIView):
    """A client's dashboard payload of a succeeded run: every figure with its decision, its amount only when
    authorized, the missing evidence when not concluded, and its provenance_url."""

    permission_classes = (CanRead,)

    @extend_schema(
        operation_id="runs_payload", summary="A client's dashboard payload of a run",
        description="The `dashboard-payload-v1` of the client (a Salesforce account id) in the run; its JSON Schema is "
                    "at /api/schemas/dashboard-payload-v1.json. The body is the payload's canonical bytes (sorted "
                    "keys, no spaces): the same run gives the same bytes.",
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="the payload (dashboard-payload-v1)"),
                   403: OpenApiResponse(description="not signed in, or without console.view_provenance"),
                   404: OpenApiResponse(description="no such run, or no number of that client in it"),
                   409: OpenApiResponse(ErrorSerializer, description="the run has not succeeded")})
    def get(self, request, run_id: int, client: str):
        run = get_object_or_404(CalculationRun, pk=run_id)
        try:
            payload = builder.payload_for(run, client, _base_url(request))
        except builder.ClientNotInRun as problem:
            raise NotFound(str(problem)) from problem
        except builder.PayloadRefused as problem:
            return Response({"detail": str(problem)}, status=status.HTTP_409_CONFLICT)
        return HttpResponse(builder.payload_bytes(payload), content_type="application/json")
