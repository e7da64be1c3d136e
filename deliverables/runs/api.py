"""Calculation runs API (serializers and views), mounted under /api/:

- GET  /api/runs/: runs, newest first (keyset pages), filtered by client, state, period_from, period_to;
- POST /api/runs/: start a run {client, period_start, period_end, dataset} -> 201, the run at its Location;
- GET  /api/runs/<id>/: everything the run's page shows (progress, worker, trace, inputs, result hash, comparison);
- GET  /api/runs/<id>/results/: the run's numbers (keyset pages by position), filtered by kind, client, decision;
- GET  /api/runs/<id>/findings/: the run's findings read from its Parquet artifact (keyset pages by
  (kind, client, claim)), filtered by kind, client, pharmacy_npi, decision;
- POST /api/runs/<id>/cancel/: cancel a queued or running run.

Reading needs console.view_provenance. Writes are open to any signed-in user; the service decides and audits:
403 {"detail"} for who asks (starting needs console.build_deliverable; cancelling, who started the run or an
approver), 409 {"detail"} for what or when (claims not promoted into a backend contract, a run already final).
400 names the fields of a body that does not validate (no service was asked). Every number and finding carries
`provenance_url`. POST /api/runs/ takes an Idempotency-Key (console.api.creates) and a W3C `traceparent` header
(its trace id is kept for the run).
"""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from console.api.creates import IdempotentCreate, created
from console.api.pagination import INVALID_CURSOR, KeysetPagination
from console.api.permissions import capability
from console.api.serializers import ErrorSerializer
from deliverables.choices import Decision, FindingKind, RunState
from deliverables.models import CalculationRun, RunNumber
from deliverables.runs import selectors, services
from deliverables.runs.forms import NumberFilterSet, RunFilterSet
from deliverables.runs.inputs import RunRefused

CanRead = capability("console.view_provenance")


def _absolute(request, path: str) -> str:
    return request.build_absolute_uri(path) if request is not None else path


# --- serializers: what comes in ------------------------------------------------------------------------------
class RunStartSerializer(serializers.Serializer):
    client = serializers.RegexField(services.CLIENT_ID.pattern, required=False, allow_blank=True, default="",
                                    help_text="a Salesforce account id (15 or 18 letters and digits); blank: every "
                                              "client")
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    dataset = serializers.CharField(max_length=64, required=False, allow_blank=True, default="",
                                    help_text="the claims dataset (Domo id); blank: the one promoted into a "
                                              "backend contract")

    def validate(self, attrs):
        if attrs["period_start"] > attrs["period_end"]:
            raise serializers.ValidationError(
                {"period_end": [f"the period ends ({attrs['period_end']}) before it starts ({attrs['period_start']})"]})
        return attrs


# --- serializers: what goes out ------------------------------------------------------------------------------
class RunStepSerializer(serializers.Serializer):
    name = serializers.CharField()
    state = serializers.CharField(help_text="pending, running, done (or how the run ended)")
    at = serializers.CharField(required=False, help_text="ISO 8601, UTC")
    detail = serializers.CharField(required=False)


class RunSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    step = serializers.SerializerMethodField(help_text="the step now (done once the run succeeded)")
    requested_by = serializers.SerializerMethodField()

    class Meta:
        model = CalculationRun
        fields = ["id", "url", "state", "step", "client_account_id", "period_start", "period_end", "dataset_key",
                  "requested_by", "requested_at", "started_at", "finished_at", "result_sha256"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, run) -> str:
        return _absolute(self.context.get("request"), reverse("api-run-detail", args=[run.pk]))

    def get_step(self, run) -> str:
        return selectors.run_row(run).step

    def get_requested_by(self, run) -> str:
        return run.requested_by.get_username()


class RunComparisonSerializer(serializers.Serializer):
    run = serializers.IntegerField(help_text="the earlier succeeded run of the same scope")
    url = serializers.URLField()
    same = serializers.BooleanField(help_text="whether its result hash is this run's")


class RunDetailSerializer(RunSerializer):
    steps = serializers.SerializerMethodField()
    cancelled_by = serializers.SerializerMethodField()
    inputs = serializers.SerializerMethodField(help_text="claims (with promotion_url), evidence revisions, domo, "
                                                         "evidence_tables, calculations, parameters")
    comparison = serializers.SerializerMethodField()
    no_claims = serializers.SerializerMethodField(
        help_text="a succeeded run whose scope held no claim says so (e.g. 'no claims for client … from … to … in "
                  "PBM Claims 2025 v1': an unknown client id, or a period outside the claims); null otherwise")
    results_url = serializers.SerializerMethodField()
    findings_url = serializers.SerializerMethodField()
    page_url = serializers.SerializerMethodField()

    class Meta(RunSerializer.Meta):
        fields = [*RunSerializer.Meta.fields, "steps", "heartbeat_at", "task_id", "queue", "worker_host",
                  "worker_pid", "attempts", "traceparent", "trace_id", "engine", "calculation_version", "inputs",
                  "inputs_sha256", "findings_path", "findings_sha256", "findings_count", "summary", "error",
                  "cancelled_by", "comparison", "no_claims", "results_url", "findings_url", "page_url"]
        read_only_fields = fields

    @extend_schema_field(RunStepSerializer(many=True))
    def get_steps(self, run):
        return [{k: v for k, v in step.items() if k != "badge"} for step in selectors.step_rows(run)]

    def get_cancelled_by(self, run) -> str | None:
        return run.cancelled_by.get_username() if run.cancelled_by else None

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_inputs(self, run):
        inputs = dict(run.inputs or {})
        claims = dict(inputs.get("claims") or {})
        if claims.get("promotion_request"):
            claims["promotion_url"] = _absolute(self.context.get("request"), reverse(
                "promotion:request-detail", args=[claims["promotion_request"]]))
        if inputs:
            inputs["claims"] = claims
        return inputs

    def get_no_claims(self, run) -> str | None:
        return (run.summary or {}).get("no_claims") or None

    @extend_schema_field(RunComparisonSerializer(allow_null=True))
    def get_comparison(self, run):
        found = selectors.comparison(run)
        if found is None:
            return None
        return {"run": found["run"].pk, "same": found["same"],
                "url": _absolute(self.context.get("request"), reverse("api-run-detail", args=[found["run"].pk]))}

    @extend_schema_field(OpenApiTypes.URI)
    def get_results_url(self, run) -> str:
        return _absolute(self.context.get("request"), reverse("api-run-results", args=[run.pk]))

    @extend_schema_field(OpenApiTypes.URI)
    def get_findings_url(self, run) -> str:
        return _absolute(self.context.get("request"), reverse("api-run-findings", args=[run.pk]))

    @extend_schema_field(OpenApiTypes.URI)
    def get_page_url(self, run) -> str:
        return _absolute(self.context.get("request"), reverse("runs:run-detail", args=[run.pk]))


class MissingEvidenceSerializer(serializers.Serializer):
    reason = serializers.CharField()
    flag_key = serializers.CharField(allow_blank=True)
    flag_url = serializers.CharField(allow_blank=True, help_text="the missing-evidence flag's page, when it is on file")


class RunNumberSerializer(serializers.ModelSerializer):
    amount = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True, read_only=True,
                                      help_text="only when authorized")
    indicative_amount = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True, read_only=True,
                                                 help_text="only when indicative")
    missing = serializers.SerializerMethodField(help_text="why a not-concluded number is not concluded")
    provenance_url = serializers.SerializerMethodField()

    class Meta:
        model = RunNumber
        fields = ["key", "kind", "client_account_id", "label", "calculation", "calculation_version", "period_start",
                  "period_end", "decision", "amount", "indicative_amount", "figures", "evidence", "missing",
                  "dataset_key", "dataset_version", "relation", "predicate", "row_count", "rows_checksum",
                  "provenance_url"]
        read_only_fields = fields

    @extend_schema_field(MissingEvidenceSerializer(many=True))
    def get_missing(self, number):
        if number.decision != Decision.NOT_CONCLUDED:
            return []
        flags = self.context.get("flags")
        if flags is None:
            flags = selectors.flags_by_key(m.get("flag_key") for m in (number.evidence or {}).get("missing") or [])
        return [{**m, "flag_url": _absolute(self.context.get("request"), m["flag_url"]) if m["flag_url"] else ""}
                for m in selectors.missing_of(number, flags)]

    @extend_schema_field(OpenApiTypes.URI)
    def get_provenance_url(self, number) -> str:
        return _absolute(self.context.get("request"), selectors.number_url(number.run_id, number.key))


class FindingSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="the finding's number key: finding:<kind>:<claim_id>")
    kind = serializers.ChoiceField(choices=FindingKind.choices)
    client_account_id = serializers.CharField()
    claim_id = serializers.CharField()
    fill_date = serializers.DateField(allow_null=True)
    ndc = serializers.CharField(allow_null=True)
    pharmacy_npi = serializers.CharField(allow_null=True)
    channel = serializers.CharField(allow_null=True)
    drug_class = serializers.CharField(allow_null=True)
    paid = serializers.DecimalField(max_digits=38, decimal_places=2, allow_null=True)
    allowed = serializers.DecimalField(max_digits=38, decimal_places=2, allow_null=True,
                                       help_text="what the reference allows")
    reference = serializers.CharField(allow_null=True, help_text="the reference the claim is held to")
    decision = serializers.ChoiceField(choices=Decision.choices)
    overpayment = serializers.DecimalField(max_digits=38, decimal_places=2, allow_null=True,
                                           help_text="only when authorized")
    indicative_overpayment = serializers.DecimalField(max_digits=38, decimal_places=2, allow_null=True,
                                                      help_text="only when indicative")
    flag_key = serializers.CharField(allow_null=True, allow_blank=True)
    conflict = serializers.BooleanField(allow_null=True)
    provenance_url = serializers.CharField()


class FindingsPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = FindingSerializer(many=True)


# --- views ---------------------------------------------------------------------------------------------------
REFUSED = {
    403: OpenApiResponse(ErrorSerializer, description="refused for who asks: a missing permission (audited)"),
    409: OpenApiResponse(ErrorSerializer, description="refused for what or when (audited): e.g. claims promoted "
                                                      "for migration only, a run already final"),
}
NOT_FOUND = {404: OpenApiResponse(description="no such run")}
READ_REFUSED = {403: OpenApiResponse(description="not signed in, or without console.view_provenance")}
TRACEPARENT = OpenApiParameter("traceparent", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
                               description="W3C trace context: the run keeps its trace id (a new span id)")


class _RunsView:
    """Refusals of the runs service as answers: 403 for who asks, 409 for what or when."""

    def handle_exception(self, exc):
        if isinstance(exc, services.RunForbidden):
            return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
        if isinstance(exc, RunRefused):
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return super().handle_exception(exc)


def _detail(request, run: CalculationRun, code: int = status.HTTP_200_OK) -> Response:
    run = selectors.runs().get(pk=run.pk)
    body = RunDetailSerializer(run, context={"request": request}).data
    if code in (status.HTTP_201_CREATED, status.HTTP_202_ACCEPTED):
        return created(body, body["url"], code=code)
    return Response(body, status=code)


class RunList(IdempotentCreate, _RunsView, generics.ListAPIView):
    """Runs, newest first, with the runs page's filters; POST starts one."""

    queryset = selectors.runs()
    serializer_class = RunSerializer
    filterset_class = RunFilterSet
    pagination_class = KeysetPagination

    def get_permissions(self):
        return [IsAuthenticated()] if self.request.method == "POST" else [CanRead()]

    @extend_schema(operation_id="runs_list", summary="List calculation runs",
                   responses={200: RunSerializer(many=True), **READ_REFUSED})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="runs_start", summary="Start a calculation run",
        description=("Queues a run of the calculations for the client (blank: every client) and period, on the claims "
                     "promoted into a backend contract. Follow it at the returned `url` (also the Location header)."),
        request=RunStartSerializer, parameters=[TRACEPARENT],
        responses={202: RunDetailSerializer, 400: OpenApiResponse(description="invalid body: the fields are named"),
                   **REFUSED},
    )
    def post(self, request, *args, **kwargs):
        body = RunStartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        run = services.run_start(actor=request.user, period_start=data["period_start"],
                                 period_end=data["period_end"], client=data["client"], dataset=data["dataset"],
                                 traceparent=request.headers.get("traceparent", ""))
        return _detail(request, run, status.HTTP_202_ACCEPTED)  # queued: the work runs on the worker


class RunDetail(generics.RetrieveAPIView):
    """One run: scope, state, progress by step, worker, trace, inputs, result hash, the earlier run compared."""

    queryset = selectors.runs()
    serializer_class = RunDetailSerializer
    permission_classes = [CanRead]
    filterset_class = None

    @extend_schema(operation_id="runs_retrieve", summary="A calculation run",
                   responses={200: RunDetailSerializer, **READ_REFUSED, **NOT_FOUND})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class NumberPagination(KeysetPagination):
    ordering = "position"


class RunResults(generics.ListAPIView):
    """A run's numbers in the run's order (guarantee lines, rebate lines, findings totals, savings), each with its
    decision, its amount only when authorized (indicative_amount when indicative) and its provenance_url."""

    serializer_class = RunNumberSerializer
    permission_classes = [CanRead]
    filterset_class = NumberFilterSet
    pagination_class = NumberPagination

    queryset = RunNumber.objects.none()  # the schema's model; get_queryset reads the run's

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RunNumber.objects.none()
        run = get_object_or_404(CalculationRun, pk=self.kwargs["pk"])
        return RunNumber.objects.filter(run=run)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "flags": self._flags}

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        self._flags = selectors.flags_by_key(
            m.get("flag_key") for n in page or [] if n.decision == Decision.NOT_CONCLUDED
            for m in (n.evidence or {}).get("missing") or [])
        return page

    _flags = None

    @extend_schema(operation_id="runs_results", summary="A run's numbers",
                   responses={200: RunNumberSerializer(many=True), **READ_REFUSED, **NOT_FOUND})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RunFindings(APIView):
    """A run's findings, read from its Parquet artifact in (kind, client, claim) order, 50 a page (page_size up
    to 500); `next`/`previous` carry the keyset cursors (`after`/`before`)."""

    permission_classes = [CanRead]

    @extend_schema(
        operation_id="runs_findings", summary="A run's findings",
        parameters=[
            OpenApiParameter("kind", OpenApiTypes.STR, enum=FindingKind.values),
            OpenApiParameter("client", OpenApiTypes.STR, description="Salesforce account id"),
            OpenApiParameter("pharmacy_npi", OpenApiTypes.STR),
            OpenApiParameter("decision", OpenApiTypes.STR, enum=Decision.values),
            OpenApiParameter("after", OpenApiTypes.STR, description="cursor: the findings after this one"),
            OpenApiParameter("before", OpenApiTypes.STR, description="cursor: the findings before this one"),
            OpenApiParameter("page_size", OpenApiTypes.INT, description="1 to 500 (50 by default)"),
        ],
        responses={200: FindingsPageSerializer,
                   400: OpenApiResponse(description="a filter out of its choices, or a cursor that is not one"),
                   **READ_REFUSED, **NOT_FOUND,
                   409: OpenApiResponse(ErrorSerializer, description="the run has no findings (not succeeded)")},
    )
    def get(self, request, pk: int):
        run = get_object_or_404(CalculationRun, pk=pk)
        query = request.query_params
        problems = {}
        if query.get("kind") and query["kind"] not in FindingKind.values:
            problems["kind"] = [f"one of {', '.join(FindingKind.values)}"]
        if query.get("decision") and query["decision"] not in Decision.values:
            problems["decision"] = [f"one of {', '.join(Decision.values)}"]
        size = query.get("page_size", "50")
        if not (size.isdigit() and 1 <= int(size) <= 500):
            problems["page_size"] = ["a whole number from 1 to 500"]
        for name in ("after", "before"):
            if query.get(name) and selectors.decode_cursor(query[name]) is None:
                problems[name] = [INVALID_CURSOR]
        if problems:
            return Response(problems, status=status.HTTP_400_BAD_REQUEST)
        if run.state != RunState.SUCCEEDED:
            return Response({"detail": f"run #{run.pk} is {run.state}: it has no findings"},
                            status=status.HTTP_409_CONFLICT)
        filters = {name: query.get(name, "") for name in selectors.FINDING_FILTERS}
        try:
            page = selectors.findings_page(run, filters, after=query.get("after"), before=query.get("before"),
                                           size=int(size))
        except selectors.FindingsUnavailable as problem:
            return Response({"detail": str(problem)}, status=status.HTTP_409_CONFLICT)

        def link(name, cursor):
            if not cursor:
                return None
            params = query.copy()
            params.pop("after", None)
            params.pop("before", None)
            params[name] = cursor
            return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")

        results = [{**row, "provenance_url": request.build_absolute_uri(row["provenance_url"])} for row in page.items]
        return Response({"next": link("after", page.next), "previous": link("before", page.prev),
                         "results": FindingSerializer(results, many=True).data})


class RunCancel(_RunsView, APIView):
    """Cancel a queued or running run: its worker stops at its next step and stores nothing."""

    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="runs_cancel", summary="Cancel a run", request=None,
                   responses={200: RunDetailSerializer, **REFUSED, **NOT_FOUND})
    def post(self, request, pk: int):
        run = get_object_or_404(CalculationRun, pk=pk)
        return _detail(request, services.run_cancel(actor=request.user, run=run))
