"""Missing-evidence flag runs API: the runs that compute the flags, and a request for a recomputation (POST: 202,
the queued run at its Location). The flags themselves are read at /api/evidence/missing/ (evidence/api/overview.py),
in the order of the missing-evidence page.

Reading needs console.view_provenance. Requesting a run needs console.receive_evidence or
console.verify_evidence (operators, approvers, admins). A request while a run is queued and not started
answers that run (coalesced): the flags are recomputed once for both.
"""
from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import IsAuthenticated

from console.api.creates import IdempotentCreate, created
from console.api.pagination import KeysetPagination
from console.api.permissions import capability
from evidence.api.serializers import ErrorSerializer
from evidence.api.serializers.flags import FlagRunRequestSerializer, FlagRunSerializer
from evidence.flags.models import FlagRun
from evidence.flags.services import request_flags_recompute

CanRead = capability("console.view_provenance")


class CanRequestRun(IsAuthenticated):
    """Operators, approvers and admins: whoever receives or verifies evidence."""

    def has_permission(self, request, view):
        user = request.user
        return super().has_permission(request, view) and (
            user.has_perm("console.receive_evidence") or user.has_perm("console.verify_evidence"))


class FlagRunList(IdempotentCreate, generics.ListAPIView):
    """The flag runs, newest first (keyset pages). POST asks for a recomputation."""

    queryset = FlagRun.objects.all()
    serializer_class = FlagRunSerializer
    pagination_class = KeysetPagination
    filterset_class = None

    def get_permissions(self):
        return [CanRequestRun()] if self.request.method == "POST" else [CanRead()]

    @extend_schema(operation_id="evidence_flag_runs_list", summary="List flag runs")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="evidence_flag_runs_request", summary="Recompute the missing-evidence flags",
        description=("Queues a recomputation of every flag for the workers (or answers the run already queued "
                     "and not started). Follow it at the returned `url` (also the Location header)."),
        request=FlagRunRequestSerializer,
        responses={202: FlagRunSerializer,
                   400: OpenApiResponse(description="invalid body (reason: text up to 255 characters) or "
                                                    "Idempotency-Key"),
                   403: OpenApiResponse(description="not an operator, approver or admin"),
                   409: OpenApiResponse(ErrorSerializer, description="an Idempotency-Key first used with another "
                                                                     "body")},
    )
    def post(self, request, *args, **kwargs):
        body = FlagRunRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run = request_flags_recompute(trigger="api", ref=body.validated_data.get("reason", ""), actor=request.user)
        data = FlagRunSerializer(run, context={"request": request}).data
        return created(data, data["url"], code=status.HTTP_202_ACCEPTED)


class FlagRunDetail(generics.RetrieveAPIView):
    """One flag run: queued, running, succeeded (with its summary and inputs) or failed (with the error)."""

    queryset = FlagRun.objects.all()
    serializer_class = FlagRunSerializer
    permission_classes = [CanRead]
    filterset_class = None

    @extend_schema(operation_id="evidence_flag_runs_retrieve", summary="A flag run")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
