"""The evidence overview and the missing-evidence flags in the API, the same reads as the pages
(/evidence/overview/, /evidence/missing/):

- `GET /api/evidence/overview/?period=YYYY`: every client's grid (kinds × months, each cell governed, candidate,
  missing or blank, with the page it links to);
- `GET /api/evidence/overview/<client>/?period=YYYY`: one client's grid;
- `GET /api/evidence/missing/?status=open|resolved&client=&kind=&month=`: flags in the page's order (open: by
  client, kind, oldest first; resolved: newest resolution first), by keyset pages (`cursor`);
- `GET /api/evidence/missing/<id>/`: one flag.

Reading needs console.view_provenance. Nothing here recomputes flags.
"""
from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.views import APIView

from console.api.pagination import invalid_cursor
from console.api.permissions import capability
from evidence.api.serializers.flags import FlagRunSerializer
from evidence.flags import listing, overview
from evidence.flags.models import FlagStatus, MissingEvidenceFlag

CanRead = capability("console.view_provenance")
PERIOD = OpenApiParameter("period", OpenApiTypes.INT, description="reporting year (YYYY); default: the client's "
                          "latest reporting period in the latest succeeded flag run")
BAD_PERIOD = OpenApiResponse(description='`period` is not a year YYYY: {"period": ["…"]}')
STATES = [(overview.GOVERNED, "governed"), (overview.CANDIDATE, "candidate"), (overview.MISSING, "missing"),
          (overview.BLANK, "blank: no need flagged, no evidence")]


class MonthSerializer(serializers.Serializer):
    month = serializers.CharField(source="key", help_text="YYYY-MM")
    has_claims = serializers.BooleanField()


class CellSerializer(serializers.Serializer):
    kind = serializers.CharField()
    month = serializers.CharField(help_text="YYYY-MM")
    state = serializers.ChoiceField(choices=STATES, help_text="governed, candidate, missing, or blank (empty)")
    href = serializers.CharField(help_text="the console page the cell opens: the flag, the flags of the month, or "
                                           "the packet revision; empty when there is nothing to open")
    flag_ids = serializers.ListField(child=serializers.IntegerField(), help_text="the open flags of the cell")
    packet_id = serializers.CharField(help_text="the packet whose revision covers the month, when no flag")
    title = serializers.CharField(help_text="what the cell says, in words")


class RowSerializer(serializers.Serializer):
    kind = serializers.CharField()
    cells = CellSerializer(many=True)


class CountsSerializer(serializers.Serializer):
    governed = serializers.IntegerField()
    candidate = serializers.IntegerField()
    missing = serializers.IntegerField()


class GridSerializer(serializers.Serializer):
    client_account_id = serializers.CharField()
    client_name = serializers.CharField()
    page_url = serializers.SerializerMethodField()
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    claims = serializers.IntegerField(allow_null=True, help_text="claims of the client in the period (its needs)")
    months = MonthSerializer(many=True)
    counts = serializers.SerializerMethodField()
    rows = serializers.SerializerMethodField()

    def get_page_url(self, grid) -> str:
        return f"{reverse('flags:overview-client', args=[grid.client_account_id])}?period={grid.period}"

    @extend_schema_field(CountsSerializer)
    def get_counts(self, grid) -> dict:
        return grid.counts()

    @extend_schema_field(RowSerializer(many=True))
    def get_rows(self, grid) -> list[dict]:
        return [{"kind": kind, "cells": CellSerializer(cells, many=True).data} for kind, cells in grid.rows]


class OverviewSerializer(serializers.Serializer):
    run = FlagRunSerializer(allow_null=True, help_text="the latest succeeded flag run: flags as of its finish")
    latest_run = FlagRunSerializer(allow_null=True, help_text="the latest flag run, whatever its status")
    clients = GridSerializer(source="grids", many=True)


class ClientOverviewSerializer(serializers.Serializer):
    run = FlagRunSerializer(allow_null=True)
    latest_run = FlagRunSerializer(allow_null=True)
    client = serializers.SerializerMethodField()

    @extend_schema_field(GridSerializer)
    def get_client(self, found) -> dict:
        return GridSerializer(found.grids[0], context=self.context).data


def _period(request) -> int | None:
    try:
        return overview.parse_period(request.query_params.get("period"))
    except overview.PeriodInvalid as exc:
        raise ValidationError({"period": [str(exc).removeprefix("period: ")]}) from None


class OverviewIndex(APIView):
    """Every client's evidence grid: kinds (contract, pricing, rebate, salesforce) × months of the reporting
    period, each cell governed, candidate, missing or blank, with the page it links to (the /evidence/overview/
    page, as JSON)."""

    permission_classes = [CanRead]

    @extend_schema(operation_id="evidence_overview", summary="Evidence overview of every client",
                   parameters=[PERIOD], responses={200: OverviewSerializer, 400: BAD_PERIOD})
    def get(self, request):
        found = overview.overview_index(period=_period(request))
        return Response(OverviewSerializer(found, context={"request": request}).data)


class OverviewClient(APIView):
    """One client's evidence grid (the /evidence/overview/<client>/ page, as JSON)."""

    permission_classes = [CanRead]

    @extend_schema(operation_id="evidence_overview_client", summary="Evidence overview of one client",
                   parameters=[PERIOD], responses={
                       200: ClientOverviewSerializer, 400: BAD_PERIOD,
                       404: OpenApiResponse(description="no such client: not an account id, or no claims need evidence "
                                                        "for it and no packet speaks for it")})
    def get(self, request, client: str):
        found = overview.client_overview(client, period=_period(request))
        if found is None:
            raise NotFound(f"no client {client}: no claims need evidence for it and no packet speaks for it")
        return Response(ClientOverviewSerializer(found, context={"request": request}).data)


class MissingFlagSerializer(serializers.ModelSerializer):
    """One need without governed coverage: what is missing, what it holds back, whether candidate evidence
    exists, when it was raised, and when and by which revision it was resolved."""

    url = serializers.HyperlinkedIdentityField(view_name="api-evidence-missing-detail")
    page_url = serializers.SerializerMethodField(help_text="the flag's page in the console")
    resolved_by_revision = serializers.SerializerMethodField(
        help_text="the verified revision that resolved it: {packet_id, revision, page_url}, or null")

    class Meta:
        model = MissingEvidenceFlag
        fields = ["id", "url", "page_url", "kind", "client_account_id", "period_start", "period_end", "component",
                  "ndc", "quarter", "reason", "holds_back", "candidate_exists", "status", "first_raised_at",
                  "raised_by_run", "last_seen_run", "resolved_at", "resolved_by_run", "resolved_by_revision",
                  "resolution"]

    def get_page_url(self, flag) -> str:
        return reverse("flags:missing-detail", args=[flag.pk])

    @extend_schema_field({"type": "object", "nullable": True, "properties": {
        "id": {"type": "integer"}, "packet_id": {"type": "string"}, "revision": {"type": "integer"},
        "sha256": {"type": "string"}, "page_url": {"type": "string"}}})
    def get_resolved_by_revision(self, flag):
        revision = flag.resolved_by_revision
        if revision is None:
            return None
        return {"id": revision.pk, "packet_id": revision.packet.packet_id, "revision": revision.revision,
                "sha256": revision.sha256,
                "page_url": reverse("packets:revision-detail", args=[revision.packet_id, revision.revision])}


class MissingFlagDetailSerializer(MissingFlagSerializer):
    held_back_numbers = serializers.SerializerMethodField(
        help_text="the numbers it holds back: those of the newest succeeded run over the client that name it")

    class Meta(MissingFlagSerializer.Meta):
        fields = [*MissingFlagSerializer.Meta.fields, "key", "detail", "candidates", "held_back_numbers"]

    @extend_schema_field({"type": "object", "properties": {
        "run": {"type": "integer", "nullable": True},
        "numbers": {"type": "array", "items": {"type": "object", "properties": {
            "key": {"type": "string"}, "label": {"type": "string"}, "decision": {"type": "string"},
            "provenance_url": {"type": "string"}}}}}})
    def get_held_back_numbers(self, flag):
        from deliverables.runs.selectors import held_back_by  # the numbers are the runs' (a layer above)

        run, held = held_back_by(flag.key, flag.client_account_id)
        return {"run": run.pk if run else None,
                "numbers": [{"key": row.number.key, "label": row.number.label, "decision": row.number.decision,
                             "provenance_url": row.url} for row in held]}


class FlagKeysetPagination(BasePagination):
    """Keyset pages in the order of the asked status (evidence.flags.listing): `cursor` is the opaque key of the
    row a page follows (`next`) or precedes (`previous`), never an offset."""

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        token = request.query_params.get("cursor", "")
        direction, _, key = token.partition(".")
        status = view.filterset.status_asked() if getattr(view, "filterset", None) else FlagStatus.OPEN
        if token and (direction not in ("n", "p") or not listing.is_cursor(key, status)):
            raise invalid_cursor("cursor")
        self.page = listing.flag_page(queryset, status, after=key if direction == "n" else None,
                                      before=key if direction == "p" else None)
        return self.page.items

    def _link(self, prefix: str, key: str | None) -> str | None:
        if key is None:
            return None
        params = self.request.query_params.copy()
        params["cursor"] = f"{prefix}.{key}"
        return self.request.build_absolute_uri(f"{self.request.path}?{urlencode(params, doseq=True)}")

    def get_paginated_response(self, data):
        return Response({"next": self._link("n", self.page.next), "previous": self._link("p", self.page.prev),
                         "results": data})

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {"type": "object", "required": ["results"],
                "properties": {"next": link, "previous": link, "results": schema}}

    def get_schema_operation_parameters(self, view):
        return [{"name": "cursor", "required": False, "in": "query", "schema": {"type": "string"},
                 "description": "the `next` or `previous` link's cursor"}]


class MissingList(generics.ListAPIView):
    """Missing-evidence flags (the /evidence/missing/ page): open ones by client, kind, oldest first; with
    `status=resolved`, resolved ones newest resolution first. Filters: client, kind, month (YYYY-MM, flags whose
    period overlaps it)."""

    queryset = listing.flags()
    serializer_class = MissingFlagSerializer
    filterset_class = listing.FlagFilterSet
    pagination_class = FlagKeysetPagination
    permission_classes = [CanRead]

    def filter_queryset(self, queryset):
        self.filterset = self.filterset_class(self.request.query_params, queryset=queryset, request=self.request)
        if not self.filterset.is_valid():
            raise ValidationError(self.filterset.errors)
        return self.filterset.qs

    @extend_schema(operation_id="evidence_missing_list", summary="List missing-evidence flags")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class MissingDetail(generics.RetrieveAPIView):
    """One missing-evidence flag: what is missing, what it holds back, the candidates seen, the runs that raised
    and last saw it, and the revision that resolved it."""

    queryset = listing.flags()
    serializer_class = MissingFlagDetailSerializer
    permission_classes = [CanRead]
    filterset_class = None

    @extend_schema(operation_id="evidence_missing_retrieve", summary="A missing-evidence flag")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
