"""The API twin of the provenance page, under /api/runs/<run_id>/numbers/:

- GET <key>/: everything the page shows of the number (figures, decision, dataset version, predicate, row count
  and checksum, calculation version, evidence, run and trace), with links;
- GET <key>/rows/?after=<_row>&limit=: the contributing rows, keyset-paged by `_row` (`next` continues);
- POST <key>/rederive/: recount and rechecksum the rows from the dataset version and the stored evidence
  tables, recompute the figures and amount from them and name each difference (audited
  "deliverables.number.rederived"; changes nothing else).

GET /api/provenance/numbers/?client=&period=START:END&q=&page= is the search page's twin (the numbers of
succeeded runs, the latest run of each client and period first).

`answers` in GET <key>/ holds the six answers of the provenance page (deliverables.provenance.answers). Reading
needs console.view_provenance; re-deriving is an operator's act (console.build_deliverable), as on the pages.
"""
from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from console.api.permissions import capability
from console.api.serializers import ErrorSerializer
from deliverables.models import CalculationRun
from deliverables.provenance import rows, search, services
from deliverables.provenance.api_serializers import ProvenanceAnswersSerializer, ProvenanceSearchSerializer

CanRead = capability(services.VIEW_PERMISSION)
CanRederive = capability(services.REDERIVE_PERMISSION)

KEY = OpenApiParameter("key", OpenApiTypes.STR, OpenApiParameter.PATH,
                       description="the number's key (e.g. awp:<client>:retail-brand:2025-01-01, or "
                                   "finding:<kind>:<claim id> for one finding)")
RUN_ID = OpenApiParameter("run_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="the run's id")


class NumberMissingSerializer(serializers.Serializer):
    kind = serializers.CharField(required=False, allow_null=True)
    what = serializers.CharField()
    reason = serializers.CharField()
    flag_key = serializers.CharField(allow_blank=True, required=False)
    flag_url = serializers.CharField(allow_blank=True)


class NumberRevisionUsedSerializer(serializers.Serializer):
    kind = serializers.CharField()
    packet_id = serializers.CharField(allow_null=True)
    revision = serializers.IntegerField(allow_null=True)
    sha256 = serializers.CharField(allow_null=True)
    url = serializers.CharField(allow_blank=True)


class NumberSourceSerializer(serializers.Serializer):
    source = serializers.CharField(help_text="<packet id>#<revision>, or domo:<load>/<dataset>/<row>")
    url = serializers.CharField(allow_blank=True)


class NumberDatasetSerializer(serializers.Serializer):
    name = serializers.CharField(allow_blank=True)
    key = serializers.CharField(allow_blank=True)
    version = serializers.IntegerField(allow_null=True)
    rows = serializers.IntegerField(allow_null=True)
    checksum = serializers.CharField(allow_blank=True)
    load_id = serializers.CharField(allow_blank=True)
    promotion_request = serializers.IntegerField(allow_null=True)
    promotion_url = serializers.CharField(allow_blank=True)


class NumberRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.CharField()
    engine = serializers.CharField(allow_blank=True)
    queue = serializers.CharField(allow_blank=True)
    worker_host = serializers.CharField(allow_blank=True)
    worker_pid = serializers.IntegerField(allow_null=True)
    task_id = serializers.CharField(allow_blank=True)
    trace_id = serializers.CharField()
    traceparent = serializers.CharField()
    inputs_sha256 = serializers.CharField(allow_blank=True)
    result_sha256 = serializers.CharField(allow_blank=True)
    scope = serializers.CharField()


class NumberLinksSerializer(serializers.Serializer):
    self = serializers.CharField()
    rows = serializers.CharField(help_text="the rows page (keyset pages)")
    rows_csv = serializers.CharField()
    rederive = serializers.CharField()
    run = serializers.CharField()
    api = serializers.CharField()
    api_rows = serializers.CharField()
    api_rederive = serializers.CharField()


class NumberProvenanceSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    kind = serializers.CharField()
    client_account_id = serializers.CharField()
    client_name = serializers.CharField(allow_blank=True, help_text="the client's governed Salesforce account name; "
                                                                    "empty when none is on file")
    period = serializers.ListField(child=serializers.CharField(allow_null=True))
    # Text, not an enum: the schema's `decision` enums are the authority module's (one name, several sets).
    decision = serializers.CharField(help_text="authorized, indicative or not_concluded")
    amount = serializers.CharField(allow_null=True, help_text="only when authorized (exact decimal text)")
    indicative_amount = serializers.CharField(allow_null=True, help_text="only when indicative: not a conclusion")
    figures = serializers.DictField(child=serializers.CharField(allow_null=True))
    figures_withheld = serializers.ListField(child=serializers.CharField(),
                                             help_text="amount figures not shown: the number is not concluded")
    missing = NumberMissingSerializer(many=True)
    dataset = NumberDatasetSerializer()
    relation = serializers.CharField()
    predicate = serializers.CharField()
    row_count = serializers.IntegerField()
    rows_checksum = serializers.CharField(allow_blank=True)
    calculation = serializers.CharField()
    calculation_version = serializers.CharField(allow_blank=True)
    evidence_used = NumberRevisionUsedSerializer(many=True)
    evidence_seen = serializers.ListField(child=serializers.DictField())
    evidence_sources = NumberSourceSerializer(many=True, help_text="a finding's terms and price rows' sources")
    numbers = serializers.ListField(child=serializers.CharField(), help_text="a savings summary's numbers")
    run = NumberRunSerializer()
    links = NumberLinksSerializer()
    answers = ProvenanceAnswersSerializer(help_text="the six questions of the provenance page, answered")


class NumberRowsSerializer(serializers.Serializer):
    columns = serializers.ListField(child=serializers.CharField())
    results = serializers.ListField(child=serializers.DictField(), help_text="each row by column, `_row` first")
    total = serializers.IntegerField(help_text="every contributing row (the number's row_count when it matches)")
    next = serializers.CharField(allow_null=True, help_text="the next page, or null on the last")


class NumberRowsFiguresSerializer(serializers.Serializer):
    rows = serializers.IntegerField()
    checksum = serializers.CharField(allow_blank=True)


class FigureDifferenceSerializer(serializers.Serializer):
    figure = serializers.CharField(help_text="the figure's name, or amount / indicative_amount")
    stored = serializers.CharField(allow_null=True)
    rederived = serializers.CharField(allow_null=True)


class RederivedFiguresSerializer(serializers.Serializer):
    figures = serializers.DictField(child=serializers.CharField(allow_null=True))
    amount = serializers.CharField(allow_null=True)
    indicative_amount = serializers.CharField(allow_null=True)


class NumberRederivedSerializer(serializers.Serializer):
    matches = serializers.BooleanField(help_text="the rows, their checksum, every figure and the amount match")
    stored = NumberRowsFiguresSerializer()
    derived = NumberRowsFiguresSerializer()
    difference = serializers.CharField(allow_blank=True, help_text="what differs, in words; blank when it matches")
    notes = serializers.ListField(child=serializers.CharField())
    differences = FigureDifferenceSerializer(many=True, help_text="each figure whose stored value the rows do not "
                                                                  "give again")
    rederived = RederivedFiguresSerializer(allow_null=True, help_text="the figures and amount recomputed from the "
                                                                      "rows; null when they give no such line")


def _number(run_id: int, key: str):
    run = CalculationRun.objects.filter(pk=run_id).first()
    if run is None:
        raise NotFound(f"no run {run_id}")
    number = rows.number_of(run, key)
    if number is None:
        raise NotFound(f"run #{run.pk} has no number {key}")
    return run, number


_COMMON = {401: OpenApiResponse(ErrorSerializer, description="not signed in"),
           403: OpenApiResponse(ErrorSerializer, description="no console.view_provenance"),
           404: OpenApiResponse(ErrorSerializer, description="no such run, or the run has no such number")}


class NumberDetail(APIView):
    permission_classes = [CanRead]

    @extend_schema(operation_id="run_number_retrieve", summary="A number's provenance", parameters=[RUN_ID, KEY],
                   responses={200: NumberProvenanceSerializer, **_COMMON})
    def get(self, request, run_id: int, key: str):
        run, number = _number(run_id, key)
        return Response(services.number_detail(run, number))


class NumberRows(APIView):
    permission_classes = [CanRead]

    @extend_schema(
        operation_id="run_number_rows", summary="The rows a number adds up",
        parameters=[RUN_ID, KEY,
                    OpenApiParameter("after", OpenApiTypes.INT, description="continue after this `_row`"),
                    OpenApiParameter("limit", OpenApiTypes.INT, description=f"rows a page, 1 to {rows.MAX_LIMIT} "
                                                                            f"(default {rows.PAGE_LIMIT})")],
        responses={200: NumberRowsSerializer,
                   400: OpenApiResponse(ErrorSerializer, description="after or limit is not a valid number"),
                   409: OpenApiResponse(ErrorSerializer, description="the run stored too little to find the rows"),
                   **_COMMON})
    def get(self, request, run_id: int, key: str):
        run, number = _number(run_id, key)
        try:
            after, limit = rows.parse_after(request.query_params.get("after")), request.query_params.get("limit")
            page = rows.contributing_rows(run, number, after=after, limit=limit)
        except rows.ProvenanceError as exc:
            return Response({"detail": str(exc)}, status=400 if isinstance(exc, rows.BadRowsQuery) else 409)
        next_url = None
        if page.next_after is not None:
            query = {"after": page.next_after, **({"limit": limit} if limit else {})}
            next_url = request.build_absolute_uri(request.path) + "?" + urlencode(query)
        return Response({"columns": page.columns, "results": page.rows, "total": page.total, "next": next_url})


class NumberRederive(APIView):
    permission_classes = [CanRederive]

    @extend_schema(operation_id="run_number_rederive", summary="Re-derive a number's rows",
                   description="Recounts and rechecksums the rows from the dataset version and the evidence tables "
                               "the run stored, recomputes the number's figures and amount from them (a savings "
                               "summary: re-adds its numbers), and compares them with the stored row count, "
                               "checksum, figures and amount, naming each difference. Audited; changes nothing "
                               "else.",
                   parameters=[RUN_ID, KEY], request=None,
                   responses={200: NumberRederivedSerializer,
                              409: OpenApiResponse(ErrorSerializer,
                                                   description="the run stored too little to find the rows"),
                              **_COMMON,
                              403: OpenApiResponse(ErrorSerializer, description="no console.build_deliverable "
                                                                                "(re-deriving is an operator's act)")})
    def post(self, request, run_id: int, key: str):
        run, number = _number(run_id, key)
        try:
            result = services.number_rederive(actor=request.user, run=run, number=number)
        except rows.ProvenanceError as exc:
            return Response({"detail": str(exc)}, status=409)
        return Response(result)


class NumberSearch(APIView):
    permission_classes = [CanRead]

    @extend_schema(
        operation_id="provenance_numbers_search", summary="Find numbers by client, period and label",
        parameters=[OpenApiParameter("client", OpenApiTypes.STR, description="a client's Salesforce account id"),
                    OpenApiParameter("period", OpenApiTypes.STR, description="a run's period, START:END"),
                    OpenApiParameter("q", OpenApiTypes.STR, description="text in the number's label"),
                    OpenApiParameter("page", OpenApiTypes.INT, description=f"{search.PAGE_SIZE} numbers a page")],
        responses={200: ProvenanceSearchSerializer,
                   400: OpenApiResponse(ErrorSerializer, description="a filter or the page is not valid (named)"),
                   401: _COMMON[401], 403: _COMMON[403]})
    def get(self, request):
        found = search.search(request.query_params)
        if found["problems"]:
            return Response({"detail": "; ".join(found["problems"])}, status=400)
        page = found["page"]
        base = request.build_absolute_uri(request.path)

        def link(number: int) -> str:
            return f"{base}?{urlencode({**found['query'], 'page': number})}"

        return Response({
            "count": page.paginator.count, "page": page.number, "pages": page.paginator.num_pages,
            "next": link(page.next_page_number()) if page.has_next() else None,
            "previous": link(page.previous_page_number()) if page.has_previous() else None,
            "results": [{"run": n.run_id, "key": n.key, "label": n.label, "kind": n.kind,
                         "client_account_id": n.client_account_id, "client": n.client_label,
                         "period": [n.run.period_start, n.run.period_end], "decision": n.decision,
                         "is_latest": n.is_latest, "published": n.published, "was_published": n.was_published,
                         "url": reverse("run-number", args=[n.run_id, n.key]),
                         "api": reverse("api-run-number", args=[n.run_id, n.key])} for n in page.object_list]})
