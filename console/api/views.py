"""API of the console shell: the audit trail (every read audited), people and decision-role grants, and the
operations figures (queues and the work in flight).

Grants: 201 with a Location on a proposal (an Idempotency-Key makes it safe to retry); 403 {"detail": reason} when console.people refuses (and
audits) it; 400 names the fields.
"""

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from console import operations, people
from console.api.creates import IdempotentCreate, created
from console.api.pagination import KeysetPagination
from console.api.permissions import capability
from console.api.serializers import (
    AuditEventSerializer,
    ErrorSerializer,
    GrantProposeSerializer,
    OperationsSerializer,
    PersonDetailSerializer,
    PersonSerializer,
    RoleGrantSerializer,
)
from console.audit import audit_trail_read
from console.audit_export import audit_export_response
from console.filtersets import AuditEventFilterSet
from console.models import AuditEvent, RoleGrant


class AuditEventList(generics.ListAPIView):
    """The audit trail, newest first, paged by keyset (`cursor`), with the trail page's filters."""

    queryset = AuditEvent.objects.all()
    serializer_class = AuditEventSerializer
    permission_classes = [capability("console.view_audit")]
    filterset_class = AuditEventFilterSet
    pagination_class = KeysetPagination  # ordered by -pk, which is -seq

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        filterset = AuditEventFilterSet(request.query_params, queryset=self.queryset)
        filterset.is_valid()  # the filter backend has already refused invalid filters
        audit_trail_read(
            actor=request.user,
            filters=filterset.active_filters(),
            via="api",
            cursor=request.query_params.get("cursor"),
        )
        return response


class AuditEventDetail(generics.RetrieveAPIView):
    """One event of the audit trail, by seq."""

    queryset = AuditEvent.objects.all()
    serializer_class = AuditEventSerializer
    permission_classes = [capability("console.view_audit")]
    lookup_field = "seq"

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        audit_trail_read(actor=request.user, filters={"seq": int(kwargs["seq"])}, via="api")
        return response


class AuditEventExport(generics.GenericAPIView):
    """The filtered audit trail as a file, oldest first, with seq, prev_hash and hash and a first line saying how to
    verify the chain outside the console: the export of /audit/export.csv and .jsonl, for a token. Each export is
    itself an `audit.exported` event with its filters."""

    queryset = AuditEvent.objects.all()
    serializer_class = AuditEventSerializer  # the rows' fields (documented; the file streams them)
    permission_classes = [capability("console.export_audit")]
    pagination_class = None  # one file, not pages
    fmt = "csv"

    def get(self, request, *args, **kwargs):
        filterset = AuditEventFilterSet(request.query_params, queryset=self.get_queryset())
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)  # 400 naming each filter that cannot be used
        return audit_export_response(actor=request.user, filterset=filterset, fmt=self.fmt)


def _export_schema(fmt: str, media_type: str):
    return extend_schema_view(get=extend_schema(
        operation_id=f"audit_events_export_{fmt}", summary=f"Export the audit trail as {fmt.upper()}",
        parameters=[OpenApiParameter(name, str, description=str(f.label or name))
                    for name, f in AuditEventFilterSet.base_filters.items()],
        responses={(200, media_type): OpenApiTypes.STR,
                   400: OpenApiResponse(description="a filter that cannot be used, named with its error"),
                   403: OpenApiResponse(ErrorSerializer, description="not an auditor or an admin")}))


@_export_schema("csv", "text/csv")
class AuditEventExportCsv(AuditEventExport):
    fmt = "csv"


@_export_schema("jsonl", "application/x-ndjson")
class AuditEventExportJsonl(AuditEventExport):
    fmt = "jsonl"


# --- people and decision-role grants ---------------------------------------------------------------------

REFUSED = {403: OpenApiResponse(ErrorSerializer, description="refused: who asks (not an admin, their own "
                                "roles, four eyes) or a stale or decided grant; audited as role.refused"),
           404: OpenApiResponse(ErrorSerializer, description="no such grant")}


class PeopleList(generics.ListAPIView):
    """Everyone with an account and the roles they hold (auth.view_user: the admin role)."""

    serializer_class = PersonSerializer
    permission_classes = [capability("auth.view_user")]
    pagination_class = KeysetPagination

    def get_queryset(self):
        return get_user_model().objects.prefetch_related("groups")




class PersonDetail(generics.RetrieveAPIView):
    """One person: roles, pending decision-role grants and the history of their account and roles (the person's
    page, /people/<id>/)."""

    serializer_class = PersonDetailSerializer
    permission_classes = [capability("auth.view_user")]

    def get_queryset(self):
        return get_user_model().objects.prefetch_related("groups")


class GrantDetail(generics.RetrieveAPIView):
    """One decision-role grant."""

    serializer_class = RoleGrantSerializer
    permission_classes = [capability("auth.view_user")]
    queryset = RoleGrant.objects.select_related("user", "proposed_by", "decided_by")


def _grant_response(request, grant: RoleGrant, code: int = status.HTTP_200_OK) -> Response:
    body = RoleGrantSerializer(grant).data
    if code == status.HTTP_201_CREATED:
        return created(body, request.build_absolute_uri(reverse("api-grant-detail", args=[grant.pk])))
    return Response(body, status=code)


def _refused(refusal: people.RoleChangeRefused) -> Response:
    return Response({"detail": refusal.reason}, status=status.HTTP_403_FORBIDDEN)


class GrantList(IdempotentCreate, generics.ListAPIView):
    """Decision-role grants, newest first (pending ones await a second admin); POST proposes one."""

    serializer_class = RoleGrantSerializer
    permission_classes = [capability("auth.view_user")]
    pagination_class = KeysetPagination
    queryset = RoleGrant.objects.select_related("user", "proposed_by", "decided_by")

    @extend_schema(request=GrantProposeSerializer,
                   responses={201: RoleGrantSerializer, **REFUSED,
                              400: OpenApiResponse(description="no such person, or not a decision role")},
                   summary="Propose a decision role (approver, admin) for a person; another admin confirms it")
    def post(self, request):
        serializer = GrantProposeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            grant = people.grant_propose(actor=request.user, user=serializer.validated_data["user"],
                                         role=serializer.validated_data["role"])
        except people.RoleChangeRefused as refusal:
            return _refused(refusal)
        return _grant_response(request, grant, status.HTTP_201_CREATED)


class _GrantDecision(APIView):
    permission_classes = [capability("auth.view_user")]
    decide = None

    def post(self, request, pk: int):
        grant = get_object_or_404(RoleGrant.objects.select_related("user", "proposed_by"), pk=pk)
        try:
            grant = type(self).decide(actor=request.user, grant=grant)
        except people.RoleChangeRefused as refusal:
            return _refused(refusal)
        return _grant_response(request, RoleGrant.objects.get(pk=grant.pk))


class GrantConfirm(_GrantDecision):
    decide = staticmethod(people.grant_confirm)

    @extend_schema(request=None, responses={200: RoleGrantSerializer, **REFUSED},
                   summary="Confirm another admin's proposal: the person gets the role (if their roles are unchanged)")
    def post(self, request, pk: int):
        return super().post(request, pk)


class GrantCancel(_GrantDecision):
    decide = staticmethod(people.grant_cancel)

    @extend_schema(request=None, responses={200: RoleGrantSerializer, **REFUSED},
                   summary="Cancel a pending grant")
    def post(self, request, pk: int):
        return super().post(request, pk)


# --- operations ------------------------------------------------------------------------------------------
class Operations(APIView):
    """The operations page's figures: each worker queue's depth from the broker and every job waiting for a
    worker or held by one (a silent one flagged), read now (console.view_provenance)."""

    permission_classes = [capability("console.view_provenance")]

    @extend_schema(responses={200: OperationsSerializer})
    def get(self, request):
        return Response(OperationsSerializer(operations.snapshot()).data)
