"""The consumer API for Domo and its tokens' API, mounted under /api/.

Consumer endpoints, authenticated ONLY by `Authorization: Bearer <consumer token>` (deliverables.consumers.auth):

- GET /api/published/: the token's clients, each with its live dashboard payload and workbook (version, sha256,
  when, where to read it), or null where nothing is published;
- GET /api/published/<client>/dashboard/: the live published dashboard payload's bytes (application/json),
  `ETag` its SHA-256 (If-None-Match answers 304), `X-Publication-Version` its version;
- GET /api/published/<client>/workbook/: the live published workbook, as an attachment, with the same headers.

A client outside the token's scope and a client with nothing published answer the same 404 (the same body, the
same headers): a token never learns which. An unknown, revoked or expired token (or no token) answers 401. The
file's bytes are checked against the publication's SHA-256 before any is sent: a changed file answers 500
{"detail"} and is audited, never its bytes. Every answer, refused ones included, is recorded as a ConsumerRead.

Tokens (console.manage_consumer_tokens, admins; signed in as a person, by session or API token):

- GET /api/consumer-tokens/: every token with its state, last use and read counts; POST creates one {name,
  clients, expires_in_days} -> 201 with the secret, shown this once;
- GET /api/consumer-tokens/<id>/: one token; POST /api/consumer-tokens/<id>/revoke/ {reason}.
"""
from __future__ import annotations

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from console.api.creates import created
from console.api.pagination import KeysetPagination
from console.api.permissions import capability
from console.api.serializers import ErrorSerializer
from deliverables import jobs
from deliverables.consumers import selectors, services
from deliverables.consumers.auth import ConsumerTokenAuthentication, IsConsumer, TokenRefused
from deliverables.models import ConsumerToken
from deliverables.publication import selectors as publication_selectors

CanManage = capability(services.MANAGE_PERMISSION)
WORKBOOK_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NOTHING_HERE = "Not found."  # the one body of every consumer 404: outside the scope and nothing published alike


def _absolute(request, path: str) -> str:
    return request.build_absolute_uri(path) if request is not None else path


# --- the consumer endpoints ------------------------------------------------------------------------------------
class _AnyAccept(BaseContentNegotiation):
    """A consumer asks for a file: whatever its Accept header, refusals are JSON (never a 406)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class LivePublicationSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    sha256 = serializers.CharField()
    published_at = serializers.DateTimeField()
    url = serializers.URLField(help_text="where the consumer reads it")


class PublishedClientSerializer(serializers.Serializer):
    client = serializers.CharField(help_text="Salesforce account id")
    name = serializers.CharField(help_text="the account's name")
    dashboard = LivePublicationSerializer(allow_null=True, help_text="the live dashboard payload, null if none")
    workbook = LivePublicationSerializer(allow_null=True, help_text="the live workbook, null if none")


class PublishedListSerializer(serializers.Serializer):
    clients = PublishedClientSerializer(many=True)


UNSIGNED = {401: OpenApiResponse(ErrorSerializer, description="no consumer token, or one that is unknown, revoked or "
                                                              "expired (a session or a person's API token is not one)")}
NOTHING = {404: OpenApiResponse(ErrorSerializer, description="a client outside the token's scope, or with nothing "
                                                             "published: the same answer either way")}
CHANGED = {500: OpenApiResponse(ErrorSerializer, description="the published file no longer matches its SHA-256: "
                                                             "not served (recorded and audited)")}
PUBLISHED_HEADERS = [
    OpenApiParameter("ETag", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200, 304],
                     description='the file\'s SHA-256, quoted: "<sha256>"'),
    OpenApiParameter("X-Publication-Version", OpenApiTypes.INT, OpenApiParameter.HEADER, response=[200, 304],
                     description="the live publication's version (1, 2, ... per client and kind)"),
]
IF_NONE_MATCH = OpenApiParameter("If-None-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
                                 description="an ETag read before: 304 when it is still the live publication's")


class _ConsumerView(APIView):
    """Bearer consumer tokens only; every answer recorded as a ConsumerRead (after it is decided)."""

    authentication_classes = (ConsumerTokenAuthentication,)
    permission_classes = (IsConsumer,)
    renderer_classes = (JSONRenderer,)
    content_negotiation_class = _AnyAccept
    metadata_class = None  # OPTIONS is a 405 (recorded as such), never a 200 that reads as a client served
    endpoint = ""
    publication = None
    refused_token = None

    def handle_exception(self, exc):
        if isinstance(exc, TokenRefused):
            self.refused_token = exc.token
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        token = getattr(request, "_auth", None)
        traceparent = jobs.traceparent_for(request.headers.get("traceparent"))
        client = kwargs.get("client", "")
        services.consumer_read_record(
            token=token if isinstance(token, ConsumerToken) else self.refused_token,
            client=client,
            endpoint=self.endpoint, publication=self.publication, status=response.status_code,
            remote_addr=request.META.get("REMOTE_ADDR", ""), trace_id=traceparent.split("-")[1])
        return response


class PublishedList(_ConsumerView):
    endpoint = selectors.LIST_ENDPOINT

    @extend_schema(
        operation_id="published_list", summary="The token's clients and their live publications",
        description="Every client of the token's scope with the version and SHA-256 of its live dashboard payload and "
                    "workbook (null where nothing is published), and where to read each.",
        responses={200: PublishedListSerializer, **UNSIGNED})
    def get(self, request):
        token = request.auth
        live = selectors.live_by_client(list(token.clients))
        names = selectors.known_clients(list(token.clients))

        def entry(client: str, endpoint: str):
            publication = live[client].get(endpoint)
            if publication is None:
                return None
            url = reverse(f"api-published-{endpoint}", args=[client])
            return {"version": publication.version, "sha256": publication.sha256,
                    "published_at": publication.published_at, "url": _absolute(request, url)}

        body = {"clients": [{"client": client, "name": names.get(client, ""), "dashboard": entry(client, "dashboard"),
                             "workbook": entry(client, "workbook")} for client in token.clients]}
        return Response(PublishedListSerializer(body).data)


class _PublishedFile(_ConsumerView):
    def serve(self, request, client: str, *, as_attachment: bool, content_type: str, extension: str):
        publication = selectors.published_for(request.auth, client, selectors.ENDPOINT_KINDS[self.endpoint])
        if publication is None:
            raise NotFound(NOTHING_HERE)
        self.publication = publication
        try:
            stream = publication_selectors.publication_open(publication)
        except (publication_selectors.PublicationIntegrityError, publication_selectors.PublicationUnavailable) as refused:
            services.consumer_read_refused(token=request.auth, publication=publication, reason=str(refused))
            return Response({"detail": f"The published {self.endpoint} of {client} (version {publication.version}) "
                                       "failed its integrity check and is not served; the console has recorded it."},
                            status=status.HTTP_500_INTERNAL_SERVER_ERROR)
        etag = f'"{publication.sha256}"'
        if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
            stream.close()
            response = Response(status=status.HTTP_304_NOT_MODIFIED)
        else:
            response = FileResponse(stream, as_attachment=as_attachment, content_type=content_type,
                                    filename=f"{client}-{self.endpoint}-v{publication.version}.{extension}")
            response["X-Content-SHA256"] = publication.sha256
        response["ETag"] = etag
        response["X-Publication-Version"] = str(publication.version)
        response["Cache-Control"] = "private, no-cache"
        return response


CLIENT = OpenApiParameter("client", OpenApiTypes.STR, OpenApiParameter.PATH, description="Salesforce account id")


class PublishedDashboard(_PublishedFile):
    endpoint = "dashboard"

    @extend_schema(
        operation_id="published_dashboard", summary="A client's live published dashboard payload",
        parameters=[CLIENT, IF_NONE_MATCH, *PUBLISHED_HEADERS],
        description="The bytes of the client's live published `dashboard-payload-v1` (its JSON Schema is at "
                    "/api/schemas/dashboard-payload-v1.json), checked against the publication's SHA-256 first.",
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="the payload (dashboard-payload-v1)"),
                   304: OpenApiResponse(description="If-None-Match names the live publication's ETag"),
                   **UNSIGNED, **NOTHING, **CHANGED})
    def get(self, request, client: str):
        return self.serve(request, client, as_attachment=False, content_type="application/json", extension="json")


class PublishedWorkbook(_PublishedFile):
    endpoint = "workbook"

    @extend_schema(
        operation_id="published_workbook", summary="A client's live published workbook",
        parameters=[CLIENT, IF_NONE_MATCH, *PUBLISHED_HEADERS],
        description="The client's live published workbook (xlsx) as an attachment, checked against the "
                    "publication's SHA-256 first.",
        responses={(200, WORKBOOK_TYPE): OpenApiTypes.BINARY,
                   304: OpenApiResponse(description="If-None-Match names the live publication's ETag"),
                   **UNSIGNED, **NOTHING, **CHANGED})
    def get(self, request, client: str):
        return self.serve(request, client, as_attachment=True, content_type=WORKBOOK_TYPE, extension="xlsx")


# --- the tokens' API (admins) ----------------------------------------------------------------------------------
class ConsumerTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120, help_text="who or what uses it (e.g. Domo production)")
    clients = serializers.ListField(child=serializers.RegexField(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$"),
                                    min_length=1, max_length=1000,
                                    help_text="Salesforce account ids known to the console: the token's scope")
    expires_in_days = serializers.IntegerField(min_value=1, max_value=services.MAX_DAYS,
                                               default=services.DEFAULT_DAYS)

    def validate_clients(self, clients: list[str]) -> list[str]:
        twice = sorted({c for c in clients if clients.count(c) > 1})
        if twice:
            raise serializers.ValidationError(f"{', '.join(twice)} named more than once: name each client once")
        return clients


class ConsumerTokenRevokeSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="why it is revoked (kept with the token)")


class ConsumerTokenSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    state = serializers.SerializerMethodField(help_text="active, expired or revoked")
    created_by = serializers.SerializerMethodField()
    revoked_by = serializers.SerializerMethodField()
    reads = serializers.SerializerMethodField(help_text="every read with it, refused ones included")
    served = serializers.SerializerMethodField(help_text="reads answered with a publication (or 304)")

    class Meta:
        model = ConsumerToken
        fields = ("id", "url", "name", "prefix", "clients", "state", "created_by", "created_at", "expires_at",
                  "revoked_by", "revoked_at", "revocation_reason", "last_used_at", "reads", "served")
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, token) -> str:
        return _absolute(self.context.get("request"), reverse("api-consumer-token-detail", args=[token.pk]))

    def get_state(self, token) -> str:
        return selectors.token_state(token).value

    def get_created_by(self, token) -> str:
        return token.created_by.get_username()

    def get_revoked_by(self, token) -> str | None:
        return token.revoked_by.get_username() if token.revoked_by else None

    def get_reads(self, token) -> int:
        return token.read_count

    def get_served(self, token) -> int:
        return token.served_count


class IssuedTokenSerializer(ConsumerTokenSerializer):
    secret = serializers.SerializerMethodField(help_text="the token itself: shown this once, never again")

    class Meta(ConsumerTokenSerializer.Meta):
        fields = (*ConsumerTokenSerializer.Meta.fields, "secret")
        read_only_fields = fields

    def get_secret(self, token) -> str:
        return self.context["secret"]


REFUSED = {
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="a field that is not valid: {field: [what is wrong]}"),
    403: OpenApiResponse(ErrorSerializer, description="without console.manage_consumer_tokens (audited)"),
}


class _TokensView:
    def handle_exception(self, exc):
        if isinstance(exc, services.Forbidden):
            return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
        if isinstance(exc, services.Invalid):
            return Response({exc.field: [exc.message]}, status=status.HTTP_400_BAD_REQUEST)
        if isinstance(exc, services.Refused):
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return super().handle_exception(exc)


class ConsumerTokenList(_TokensView, generics.ListAPIView):
    """Every consumer token, newest first (keyset pages); POST creates one."""

    serializer_class = ConsumerTokenSerializer
    pagination_class = KeysetPagination
    filterset_class = None

    def get_queryset(self):
        return selectors.tokens()

    def get_permissions(self):
        return [IsAuthenticated()] if self.request.method == "POST" else [CanManage()]

    @extend_schema(operation_id="consumer_tokens_list", summary="List consumer tokens",
                   responses={200: ConsumerTokenSerializer(many=True)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="consumer_tokens_create", summary="Create a consumer token",
        description="Binds a new token to a name, a set of clients and an expiry (90 days unless asked, at most "
                    "365). The answer carries the `secret` this once: only its SHA-256 is kept. Audited. It takes no "
                    "Idempotency-Key (a replay store would keep the secret): a retry creates another token; "
                    "revoke the one you did not receive.",
        request=ConsumerTokenCreateSerializer, responses={201: IssuedTokenSerializer, **REFUSED})
    def post(self, request):
        body = ConsumerTokenCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        issued = services.consumer_token_create(actor=request.user, name=data["name"], clients=data["clients"],
                                                days=data["expires_in_days"])
        token = selectors.tokens().get(pk=issued.token.pk)
        answer = created(IssuedTokenSerializer(token, context={"request": request, "secret": issued.secret}).data,
                         _absolute(request, reverse("api-consumer-token-detail", args=[token.pk])))
        answer["Cache-Control"] = "no-store"
        return answer


class ConsumerTokenDetail(APIView):
    permission_classes = (CanManage,)

    @extend_schema(operation_id="consumer_tokens_retrieve", summary="A consumer token",
                   responses={200: ConsumerTokenSerializer})
    def get(self, request, pk: int):
        token = get_object_or_404(selectors.tokens(), pk=pk)
        return Response(ConsumerTokenSerializer(token, context={"request": request}).data)


class ConsumerTokenRevoke(_TokensView, APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(operation_id="consumer_tokens_revoke", summary="Revoke a consumer token",
                   description="With a reason, kept with the token; its next read answers 401. Audited.",
                   request=ConsumerTokenRevokeSerializer,
                   responses={200: ConsumerTokenSerializer, **REFUSED,
                              409: OpenApiResponse(ErrorSerializer, description="already revoked (named)")})
    def post(self, request, pk: int):
        token = get_object_or_404(ConsumerToken, pk=pk)
        body = ConsumerTokenRevokeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.consumer_token_revoke(actor=request.user, token=token, reason=body.validated_data["reason"])
        return Response(ConsumerTokenSerializer(selectors.tokens().get(pk=pk), context={"request": request}).data)
