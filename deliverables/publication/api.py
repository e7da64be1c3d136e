"""Publication API, mounted under /api/ (the same services as the pages at /publications/):

- GET  /api/publications/: publications and requests, newest first (keyset pages), filtered by client, kind,
  state, deliverable;
- POST /api/publications/: request one {deliverable, comment} -> 201, the publication at its Location;
- GET  /api/publications/<id>/: everything its page shows (gates by stage, reconciliation state, decision, version,
  path, supersession, retraction);
- POST /api/publications/<id>/approve/ {comment, sha256}, reject/ {comment}, withdraw/ {reason},
  retract/ {reason}: the decisions -> 200, the publication;
- GET  /api/publications/<id>/download/: the published file, its hash checked before a byte is sent (audited).

Reading needs console.view_provenance. Writes are open to any signed-in user; the service decides and audits:
403 {"detail"} for who asks (a missing permission; four eyes: the requester approving or rejecting their own
request, whatever their roles), 409 {"detail"} for what or when (a failing or stale gate, named; a hash that is
not the bound one; a state; a missing comment or reason). 400 names the fields of a body that does not validate
(an approval's `sha256` is required: 64 hexadecimal characters); no service was asked. The request takes an
Idempotency-Key (console.api.creates).
"""
from __future__ import annotations

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from console.api.creates import IdempotentCreate, created
from console.api.pagination import KeysetPagination
from console.api.permissions import capability
from console.api.serializers import ErrorSerializer
from deliverables.choices import DeliverableKind, PublicationState
from deliverables.models import Deliverable, Publication
from deliverables.publication import selectors, services
from deliverables.publication.forms import SHA256_HEX, PublicationFilterSet
from deliverables.workbooks.services import CONTENT_TYPES

CanRead = capability(services.READ_PERMISSION)


def _absolute(request, path: str) -> str:
    return request.build_absolute_uri(path) if request is not None else path


def _username(user) -> str | None:
    return user.get_username() if user else None


# --- what comes in -------------------------------------------------------------------------------------------
class PublicationRequestSerializer(serializers.Serializer):
    deliverable = serializers.PrimaryKeyRelatedField(queryset=Deliverable.objects.all(),
                                                     help_text="the built deliverable (workbook or payload)")
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class PublicationApproveSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000,
                                    help_text="required (refused with 409 when empty)")
    sha256 = serializers.CharField(max_length=64, validators=[SHA256_HEX],
                                   help_text="the artifact's SHA-256 the approver checked (64 hexadecimal "
                                             "characters; 400 otherwise): it must be the bound one (409 otherwise)")


class PublicationCommentSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000,
                                    help_text="required (refused with 409 when empty)")


class PublicationReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000,
                                   help_text="required to retract; optional to withdraw")


# --- what goes out -------------------------------------------------------------------------------------------
class GateSerializer(serializers.Serializer):
    gate = serializers.CharField()
    passed = serializers.BooleanField()
    detail = serializers.CharField()
    stage = serializers.CharField(help_text="request or approval")
    at = serializers.CharField(help_text="ISO 8601, UTC")


class PublicationSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    kind = serializers.CharField(help_text=f"one of {', '.join(DeliverableKind.values)}")
    state = serializers.CharField(help_text=f"one of {', '.join(PublicationState.values)}")
    requested_by = serializers.SerializerMethodField()
    decided_by = serializers.SerializerMethodField()

    class Meta:
        model = Publication
        fields = ("id", "url", "deliverable", "client_account_id", "kind", "state", "sha256", "version",
                  "requested_by", "requested_at", "decided_by", "decided_at", "published_at")
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, publication) -> str:
        return _absolute(self.context.get("request"), reverse("api-publication-detail", args=[publication.pk]))

    def get_requested_by(self, publication) -> str:
        return publication.requested_by.get_username()

    def get_decided_by(self, publication) -> str | None:
        return _username(publication.decided_by)


class PublicationDetailSerializer(PublicationSerializer):
    gates = GateSerializer(many=True, read_only=True)
    reconciliation = serializers.JSONField(read_only=True, help_text="{summary, against_this_run, cards, "
                                                                     "cards_total}: shown, not gating")
    retracted_by = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()
    page_url = serializers.SerializerMethodField()

    class Meta(PublicationSerializer.Meta):
        fields = (*PublicationSerializer.Meta.fields, "request_comment", "decision_comment", "gates",
                  "reconciliation", "path", "superseded_by", "superseded_at", "retracted_by", "retracted_at",
                  "retraction_reason", "download_url", "page_url")
        read_only_fields = fields

    def get_retracted_by(self, publication) -> str | None:
        return _username(publication.retracted_by)

    @extend_schema_field(OpenApiTypes.URI)
    def get_download_url(self, publication) -> str | None:
        if not publication.path:
            return None
        return _absolute(self.context.get("request"), reverse("api-publication-download", args=[publication.pk]))

    @extend_schema_field(OpenApiTypes.URI)
    def get_page_url(self, publication) -> str:
        return _absolute(self.context.get("request"),
                         reverse("publications:publication-detail", args=[publication.pk]))


# --- views ---------------------------------------------------------------------------------------------------
REFUSED = {
    403: OpenApiResponse(ErrorSerializer, description="refused for who asks: a missing permission, or four eyes "
                                                      "(audited)"),
    409: OpenApiResponse(ErrorSerializer, description="refused for what or when (audited): a failing or stale "
                                                      "gate, a hash that is not the bound one, a state, a missing "
                                                      "comment or reason"),
}
NOT_FOUND = {404: OpenApiResponse(description="no such publication")}
INVALID = {400: OpenApiResponse(description="invalid body: the fields are named")}
READ_REFUSED = {403: OpenApiResponse(description="not signed in, or without console.view_provenance")}


class _Action(APIView):
    """A write: any signed-in user may call it; the service decides, audits, and may refuse."""

    permission_classes = (IsAuthenticated,)

    def handle_exception(self, exc):
        if isinstance(exc, services.PublicationRefused):
            code = status.HTTP_403_FORBIDDEN if exc.forbidden else status.HTTP_409_CONFLICT
            return Response({"detail": exc.reason}, status=code)
        return super().handle_exception(exc)

    def validated(self, serializer_class) -> dict:
        body = serializer_class(data=self.request.data)
        body.is_valid(raise_exception=True)
        return body.validated_data

    def detail(self, publication: Publication) -> dict:
        return PublicationDetailSerializer(selectors.publications().get(pk=publication.pk),
                                           context={"request": self.request}).data

    def publication(self, pk: int) -> Publication:
        return get_object_or_404(Publication, pk=pk)


class PublicationList(IdempotentCreate, _Action, generics.ListAPIView):
    """Publications and requests, newest first, with the page's filters; POST requests one."""

    queryset = selectors.publications()
    serializer_class = PublicationSerializer
    filterset_class = PublicationFilterSet
    pagination_class = KeysetPagination

    def get_permissions(self):
        return [IsAuthenticated()] if self.request.method == "POST" else [CanRead()]

    @extend_schema(operation_id="publications_list", summary="List publications",
                   responses={200: PublicationSerializer(many=True), **READ_REFUSED})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="publications_request", summary="Request a publication",
        description=("Asks to publish a built deliverable, bound to its SHA-256. Every gate must pass (run "
                     "succeeded, artifact intact, inputs current, client scope governed): a failing one is a 409 "
                     "naming it. The card reconciliation state is recorded and shown, not gating."),
        request=PublicationRequestSerializer,
        responses={201: PublicationDetailSerializer, **INVALID, **REFUSED},
    )
    def post(self, request, *args, **kwargs):
        data = self.validated(PublicationRequestSerializer)
        publication = services.publication_request(actor=request.user, deliverable=data["deliverable"],
                                                   comment=data["comment"])
        body = self.detail(publication)
        return created(body, body["url"])


class PublicationDetail(generics.RetrieveAPIView):
    """One publication: its artifact's hash, gates by stage, reconciliation state, decision and file."""

    queryset = selectors.publications()
    serializer_class = PublicationDetailSerializer
    permission_classes = (CanRead,)
    filterset_class = None

    @extend_schema(operation_id="publications_retrieve", summary="A publication",
                   responses={200: PublicationDetailSerializer, **READ_REFUSED, **NOT_FOUND})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PublicationApprove(_Action):
    """Approve and publish (an approver who is not the requester), bound to the hash they checked."""

    @extend_schema(operation_id="publications_approve", summary="Approve (publish)", request=PublicationApproveSerializer,
                   responses={200: PublicationDetailSerializer, **INVALID, **REFUSED, **NOT_FOUND})
    def post(self, request, pk: int):
        data = self.validated(PublicationApproveSerializer)
        return Response(self.detail(services.publication_approve(
            actor=request.user, publication=self.publication(pk), comment=data["comment"], sha256=data["sha256"])))


class PublicationReject(_Action):
    """Reject a requested publication with a comment (an approver who is not the requester)."""

    @extend_schema(operation_id="publications_reject", summary="Reject", request=PublicationCommentSerializer,
                   responses={200: PublicationDetailSerializer, **INVALID, **REFUSED, **NOT_FOUND})
    def post(self, request, pk: int):
        data = self.validated(PublicationCommentSerializer)
        return Response(self.detail(services.publication_reject(
            actor=request.user, publication=self.publication(pk), comment=data["comment"])))


class PublicationWithdraw(_Action):
    """The requester takes back a publication not yet decided."""

    @extend_schema(operation_id="publications_withdraw", summary="Withdraw", request=PublicationReasonSerializer,
                   responses={200: PublicationDetailSerializer, **INVALID, **REFUSED, **NOT_FOUND})
    def post(self, request, pk: int):
        data = self.validated(PublicationReasonSerializer)
        return Response(self.detail(services.publication_withdraw(
            actor=request.user, publication=self.publication(pk), reason=data["reason"])))


class PublicationRetract(_Action):
    """Retract the live publication, with a reason: no longer served; its history and file stay."""

    @extend_schema(operation_id="publications_retract", summary="Retract", request=PublicationReasonSerializer,
                   responses={200: PublicationDetailSerializer, **INVALID, **REFUSED, **NOT_FOUND})
    def post(self, request, pk: int):
        data = self.validated(PublicationReasonSerializer)
        return Response(self.detail(services.publication_retract(
            actor=request.user, publication=self.publication(pk), reason=data["reason"])))


class PublicationDownload(APIView):
    """The published file: its bytes are checked against the publication's SHA-256 before any is sent; a file
    that changed or went missing is a 409 naming it. Audited."""

    permission_classes = (CanRead,)

    @extend_schema(operation_id="publications_download", summary="Download a published file",
                   responses={**{(200, media): OpenApiTypes.BINARY for media in dict.fromkeys(CONTENT_TYPES.values())},
                              **READ_REFUSED, **NOT_FOUND,
                              409: OpenApiResponse(ErrorSerializer, description="nothing published, or the file no "
                                                                                "longer matches its SHA-256")})
    def get(self, request, pk: int):
        publication = get_object_or_404(selectors.publications(), pk=pk)
        try:
            stream = selectors.publication_open(publication)
        except selectors.PublicationIntegrityError as refused:
            services.record_download(actor=request.user, publication=publication, via="api", refused=str(refused))
            return Response({"detail": str(refused)}, status=status.HTTP_409_CONFLICT)
        except selectors.PublicationUnavailable as refused:
            return Response({"detail": str(refused)}, status=status.HTTP_409_CONFLICT)
        services.record_download(actor=request.user, publication=publication, via="api")
        response = FileResponse(stream, as_attachment=True, filename=selectors.file_name(publication),
                                content_type=CONTENT_TYPES.get(publication.kind, "application/octet-stream"))
        response["X-Content-SHA256"] = publication.sha256
        return response
