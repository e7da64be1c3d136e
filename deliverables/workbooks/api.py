"""Deliverables API (workbooks), mounted under /api/:

- GET  /api/deliverables/: deliverables, newest first (keyset pages), filtered by client, kind, state, run;
- POST /api/deliverables/: build one {run, client, kind} -> 202 (queued), the deliverable at its Location;
- GET  /api/deliverables/<id>/: everything its page shows (progress, worker, trace, path, sha256, sheets and rows);
- GET  /api/deliverables/<id>/download/: the stored file's bytes, its hash checked before a byte is sent.

Reading needs console.view_provenance. Writes are open to any signed-in user; the service decides and audits:
403 {"detail"} for who asks (building needs console.build_deliverable), 409 {"detail"} for what or when (a run
not succeeded, a client the run did not calculate, a stored file that no longer matches its hash). 400 names the
fields of a body that does not validate. POST takes an Idempotency-Key (console.api.creates) and a W3C
`traceparent` header (its trace id is kept; without one the run's trace goes on). Every download is audited.
"""
from __future__ import annotations

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from console.api.creates import IdempotentCreate, created
from console.api.pagination import KeysetPagination
from console.api.permissions import capability
from console.api.serializers import ErrorSerializer
from deliverables.choices import DeliverableKind
from deliverables.models import CalculationRun, Deliverable
from deliverables.runs import selectors as run_selectors
from deliverables.runs.services import CLIENT_ID
from deliverables.workbooks import services
from deliverables.workbooks.forms import DeliverableFilterSet
from deliverables.workbooks.views import deliverables, row

CanRead = capability(services.READ_PERMISSION)


def _absolute(request, path: str) -> str:
    return request.build_absolute_uri(path) if request is not None else path


# --- serializers: what comes in ------------------------------------------------------------------------------
class DeliverableStartSerializer(serializers.Serializer):
    run = serializers.PrimaryKeyRelatedField(queryset=CalculationRun.objects.all(),
                                             help_text="the succeeded calculation run to build from")
    client = serializers.RegexField(CLIENT_ID.pattern, help_text="a client the run stored numbers for (Salesforce "
                                                                 "account id, 15 or 18 letters and digits)")
    kind = serializers.ChoiceField(choices=DeliverableKind.choices, default=DeliverableKind.WORKBOOK,
                                   help_text="workbook (xlsx) or dashboard_payload (JSON, "
                                             "dashboard-payload-v1)")


# --- serializers: what goes out ------------------------------------------------------------------------------
class DeliverableStepSerializer(serializers.Serializer):
    name = serializers.CharField()
    state = serializers.CharField(help_text="pending, running, done (or how the build ended)")
    at = serializers.CharField(required=False, help_text="ISO 8601, UTC")
    detail = serializers.CharField(required=False)


class DeliverableSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    kind = serializers.CharField(help_text=f"one of {', '.join(DeliverableKind.values)}")
    step = serializers.SerializerMethodField(help_text="the step now (done once the deliverable is built)")
    requested_by = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField(help_text="the file (once built), its hash checked on read")

    class Meta:
        model = Deliverable
        fields = ("id", "url", "kind", "state", "step", "run", "client_account_id", "period_start", "period_end",
                  "requested_by", "requested_at", "finished_at", "sha256", "bytes", "download_url")
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, deliverable) -> str:
        return _absolute(self.context.get("request"), reverse("api-deliverable-detail", args=[deliverable.pk]))

    def get_step(self, deliverable) -> str:
        return row(deliverable)["step"]

    def get_requested_by(self, deliverable) -> str:
        return deliverable.requested_by.get_username()

    @extend_schema_field(OpenApiTypes.URI)
    def get_download_url(self, deliverable) -> str | None:
        if not deliverable.sha256:
            return None
        return _absolute(self.context.get("request"), reverse("api-deliverable-download", args=[deliverable.pk]))


class DeliverableDetailSerializer(DeliverableSerializer):
    steps = serializers.SerializerMethodField()
    cancelled_by = serializers.SerializerMethodField()
    filename = serializers.SerializerMethodField(help_text="what a download is saved as: <client>-<period>-<sha8>")
    run_url = serializers.SerializerMethodField()
    page_url = serializers.SerializerMethodField()

    class Meta(DeliverableSerializer.Meta):
        fields = (*DeliverableSerializer.Meta.fields, "steps", "heartbeat_at", "started_at", "task_id", "queue",
                  "worker_host", "worker_pid", "attempts", "traceparent", "trace_id", "path", "summary",
                  "builder_version", "error", "cancelled_by", "filename", "run_url", "page_url")
        read_only_fields = fields

    @extend_schema_field(DeliverableStepSerializer(many=True))
    def get_steps(self, deliverable):
        return [{k: v for k, v in step.items() if k != "badge"} for step in run_selectors.step_rows(deliverable)]

    def get_cancelled_by(self, deliverable) -> str | None:
        return deliverable.cancelled_by.get_username() if deliverable.cancelled_by else None

    def get_filename(self, deliverable) -> str | None:
        return services.download_name(deliverable) if deliverable.sha256 else None

    @extend_schema_field(OpenApiTypes.URI)
    def get_run_url(self, deliverable) -> str:
        return _absolute(self.context.get("request"), reverse("api-run-detail", args=[deliverable.run_id]))

    @extend_schema_field(OpenApiTypes.URI)
    def get_page_url(self, deliverable) -> str:
        return _absolute(self.context.get("request"),
                         reverse("deliverables:deliverable-detail", args=[deliverable.pk]))


# --- views ---------------------------------------------------------------------------------------------------
REFUSED = {
    403: OpenApiResponse(ErrorSerializer, description="refused for who asks: a missing permission (audited)"),
    409: OpenApiResponse(ErrorSerializer, description="refused for what or when (audited): a run not succeeded, a "
                                                      "client the run did not calculate"),
}
NOT_FOUND = {404: OpenApiResponse(description="no such deliverable")}
READ_REFUSED = {403: OpenApiResponse(description="not signed in, or without console.view_provenance")}
TRACEPARENT = OpenApiParameter("traceparent", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
                               description="W3C trace context: the build keeps its trace id (a new span id); "
                                           "without it the run's trace goes on")


class _DeliverablesView:
    """Refusals of the deliverables service as answers: 403 for who asks, 409 for what or when."""

    def handle_exception(self, exc):
        if isinstance(exc, services.Forbidden):
            return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
        if isinstance(exc, services.Refused):
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return super().handle_exception(exc)


class DeliverableList(IdempotentCreate, _DeliverablesView, generics.ListAPIView):
    """Deliverables, newest first, with the deliverables page's filters; POST builds one."""

    queryset = deliverables()
    serializer_class = DeliverableSerializer
    filterset_class = DeliverableFilterSet
    pagination_class = KeysetPagination

    def get_permissions(self):
        return [IsAuthenticated()] if self.request.method == "POST" else [CanRead()]

    @extend_schema(operation_id="deliverables_list", summary="List deliverables",
                   responses={200: DeliverableSerializer(many=True), **READ_REFUSED})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="deliverables_build", summary="Build a deliverable",
        description=("Queues the build of a client's workbook or dashboard payload from a succeeded calculation run, on the `runs` queue. "
                     "Follow it at the returned `url` (also the Location header); once built, `download_url` gives "
                     "the file, stored once in the lake under its SHA-256."),
        request=DeliverableStartSerializer, parameters=[TRACEPARENT],
        responses={202: DeliverableDetailSerializer,
                   400: OpenApiResponse(description="invalid body: the fields are named"), **REFUSED},
    )
    def post(self, request, *args, **kwargs):
        body = DeliverableStartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        deliverable = services.deliverable_start(actor=request.user, run=data["run"], client=data["client"],
                                                 kind=data["kind"], traceparent=request.headers.get("traceparent", ""))
        body = DeliverableDetailSerializer(deliverables().get(pk=deliverable.pk), context={"request": request}).data
        return created(body, body["url"], code=status.HTTP_202_ACCEPTED)  # queued: the work runs on the worker


class DeliverableDetail(generics.RetrieveAPIView):
    """One deliverable: client, period, run, state, progress by step, worker, trace, and once built its lake path,
    sha256, size, sheets and rows."""

    queryset = deliverables()
    serializer_class = DeliverableDetailSerializer
    permission_classes = (CanRead,)
    filterset_class = None

    @extend_schema(operation_id="deliverables_retrieve", summary="A deliverable",
                   responses={200: DeliverableDetailSerializer, **READ_REFUSED, **NOT_FOUND})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class DeliverableDownload(APIView):
    """The stored file, as built: its bytes are checked against the deliverable's SHA-256 (and the lake's record)
    before any is sent; a file that changed or went missing is a 409 naming it. Audited."""

    permission_classes = (CanRead,)

    @extend_schema(
        operation_id="deliverables_download", summary="Download a deliverable's file",
        responses={(200, services.CONTENT_TYPES[DeliverableKind.WORKBOOK]): OpenApiTypes.BINARY,
                   (200, services.CONTENT_TYPES[DeliverableKind.DASHBOARD_PAYLOAD]): OpenApiTypes.BINARY,
                   **READ_REFUSED, **NOT_FOUND,
                   409: OpenApiResponse(ErrorSerializer, description="not built, or the stored file no longer "
                                                                     "matches its SHA-256 (named; audited)")},
    )
    def get(self, request, pk: int):
        deliverable = get_object_or_404(deliverables(), pk=pk)
        try:
            stream = services.deliverable_open(deliverable)
        except services.DeliverableIntegrityError as refused:
            services.record_refused_read(actor=request.user, deliverable=deliverable, reason=str(refused), via="api")
            return Response({"detail": str(refused)}, status=status.HTTP_409_CONFLICT)
        except services.DeliverableUnavailable as refused:
            return Response({"detail": str(refused)}, status=status.HTTP_409_CONFLICT)
        services.record_download(actor=request.user, deliverable=deliverable, via="api")
        response = FileResponse(stream, as_attachment=True, filename=services.download_name(deliverable),
                                content_type=services.content_type(deliverable))
        response["X-Content-SHA256"] = deliverable.sha256
        return response
