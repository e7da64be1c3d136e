"""Golden reconciliation API (serializers and views), mounted under /api/: parity with the scoreboard and the
reconciliation pages.

- GET  /api/reconciliation/scoreboard/: every Domo card and DataFlow with its state, the counts per state on top;
  filtered by manifest (an export's id) and state;
- GET  /api/reconciliation/subjects/<kind>/<id>/: one card or DataFlow: state, golden source, current mapping,
  mapping versions, newest reconciliations, retirement;
- GET  /api/reconciliation/subjects/<kind>/<id>/proposal/: a mapping proposed by names (?output=, ?golden_dataset=);
- GET  /api/reconciliation/subjects/<kind>/<id>/mappings/: the mapping's versions, newest first (keyset pages);
- POST /api/reconciliation/subjects/<kind>/<id>/mappings/: save a mapping -> 201 (a new version, at its Location)
  or 200 {"outcome": "unchanged"} (the same as the current version);
- GET  /api/reconciliation/subjects/<kind>/<id>/mappings/<version>/: one version;
- POST /api/reconciliation/subjects/<kind>/<id>/reconciliations/: queue a reconciliation {run} -> 201;
- POST /api/reconciliation/subjects/<kind>/<id>/retire/: retire a reconciled card {comment} -> 201;
- GET  /api/reconciliations/: reconciliations, newest first (keyset pages), filtered by kind, subject, state;
- GET  /api/reconciliations/<id>/: inputs, progress by step, summary, worker and trace, artifact sha256;
- GET  /api/reconciliations/<id>/items/: every key x measure that is not an exact match, in the reconciliation's
  order (keyset pages by position), filtered by status and class; each with its status, the flaw that explains
  it, the adjudication in force and an earlier one on the same place;
- POST /api/reconciliations/<id>/cancel/: cancel a queued or running reconciliation;
- POST /api/reconciliation-items/<id>/adjudications/: an approver's verdict {verdict, comment} -> 201;
- GET  /api/adjudications/<id>/: one verdict.

Reading needs console.view_provenance. Writes are open to any signed-in user; the service decides and audits:
403 {"detail"} for who asks (mapping and starting need console.build_deliverable; adjudicating and retiring an
approver who mapped no version of the card), 409 {"detail"} for what or when (a golden column the card does not
have, no succeeded run, a variance a flaw explains, a card with open variances). 400 names the fields of a body or
the filters of a query that do not validate (no service was asked). The creates take an Idempotency-Key
(console.api.creates); starting takes a W3C `traceparent` header (its trace id is kept for the reconciliation).
"""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from console.api.creates import IdempotentCreate, created
from console.api.pagination import KeysetPagination
from console.api.permissions import capability
from console.api.serializers import ErrorSerializer
from deliverables.choices import CardState, RunState, SubjectKind
from deliverables.models import Adjudication, CardMapping, Reconciliation, ReconciliationItem
from deliverables.reconciliation import outputs, selectors, services, sources

CanRead = capability("console.view_provenance")
from deliverables.reconciliation.api_serializers import (
    BIGINT,
    ITEM_CLASSES,
    ITEM_STATUSES,
    AdjudicationInSerializer,
    AdjudicationSerializer,
    ItemSerializer,
    MappingInSerializer,
    MappingProposalSerializer,
    MappingSavedSerializer,
    MappingSerializer,
    ReconciliationDetailSerializer,
    ReconciliationRowSerializer,
    ReconciliationStartSerializer,
    RetireInSerializer,
    RetirementSerializer,
    ScoreboardSerializer,
    SubjectSerializer,
    _absolute,
    _recon_url,
    _row,
    _subject_or_404,
    _subject_url,
    _who,
)

# --- views ---------------------------------------------------------------------------------------------------
REFUSED = {
    403: OpenApiResponse(ErrorSerializer, description="refused for who asks (audited): a missing permission, or "
                                                      "the approver mapped the card (four eyes)"),
    409: OpenApiResponse(ErrorSerializer, description="refused for what or when (audited): e.g. a golden column "
                                                      "the card does not have, no succeeded run, a variance a flaw "
                                                      "explains, a card with open variances"),
}
INVALID = {400: OpenApiResponse(OpenApiTypes.OBJECT, description="invalid body: {field: [what is wrong]}")}
NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="no such card, DataFlow or object")}
READ_REFUSED = {403: OpenApiResponse(ErrorSerializer, description="not signed in, or without "
                                                                  "console.view_provenance")}
BAD_QUERY = {400: OpenApiResponse(OpenApiTypes.OBJECT, description="a filter value that is not valid: "
                                                                   "{filter: [what is wrong]}")}
SUBJECT = [
    OpenApiParameter("kind", OpenApiTypes.STR, OpenApiParameter.PATH, enum=SubjectKind.values,
                     description="card (a Domo card's golden packet) or dataflow (a DataFlow's output dataset)"),
    OpenApiParameter("subject_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="the Domo card or DataFlow id"),
]
TRACEPARENT = OpenApiParameter("traceparent", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
                               description="W3C trace context: the reconciliation keeps its trace id (a new span "
                                           "id)")


class _ReconciliationView:
    """Refusals of the reconciliation service as answers: 403 for who asks, 409 for what or when."""

    def handle_exception(self, exc):
        if isinstance(exc, services.Forbidden):
            return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
        if isinstance(exc, services.Refused | sources.SourceError):
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return super().handle_exception(exc)


def _bad(problems: dict) -> Response:
    return Response(problems, status=status.HTTP_400_BAD_REQUEST)


class Scoreboard(APIView):
    """The takeover scoreboard: every Domo card and DataFlow of the received exports with its state, the counts
    per state on top (over the export's subjects, before the state filter)."""

    permission_classes = (CanRead,)

    @extend_schema(
        operation_id="reconciliation_scoreboard", summary="The takeover scoreboard",
        parameters=[
            OpenApiParameter("manifest", OpenApiTypes.INT, description="an export's id: its cards and DataFlows"),
            OpenApiParameter("state", OpenApiTypes.STR, enum=CardState.values),
        ],
        responses={200: ScoreboardSerializer, **BAD_QUERY, **READ_REFUSED},
    )
    def get(self, request):
        from evidence.models import SourceManifest

        query, problems = request.query_params, {}
        manifest = query.get("manifest", "").strip()
        if manifest:
            if not (manifest.isascii() and manifest.isdigit() and 1 <= int(manifest) <= BIGINT):
                problems["manifest"] = [f"{manifest[:40]!r} is not an export's id (a whole number)"]
            elif not SourceManifest.objects.filter(pk=int(manifest)).exists():
                problems["manifest"] = [f"no export #{manifest}"]
        state = query.get("state", "").strip()
        if state and state not in CardState.values:
            problems["state"] = [f"{state[:40]!r} is not one of {', '.join(CardState.values)}"]
        if problems:
            return _bad(problems)
        rows, counts = selectors.scoreboard(manifest=int(manifest) if manifest else None, state=state or None)
        return Response(ScoreboardSerializer({"counts": counts,
                                              "subjects": [_row(request, r) for r in rows]}).data)


def _recent(kind: str, subject_id: str):
    return (Reconciliation.objects.filter(subject_kind=kind, subject_id=subject_id)
            .select_related("mapping", "requested_by", "cancelled_by").order_by("-pk"))


class SubjectDetail(APIView):
    """One card or DataFlow: its state, the golden rows it is compared with, its mapping and every version of it,
    its newest reconciliations, its retirement."""

    permission_classes = (CanRead,)

    @extend_schema(operation_id="reconciliation_subject", summary="A card or DataFlow on the scoreboard",
                   parameters=SUBJECT, responses={200: SubjectSerializer, **READ_REFUSED, **NOT_FOUND})
    def get(self, request, kind: str, subject_id: str):
        subject = _subject_or_404(kind, subject_id)
        row = selectors.card_state(subject.kind, subject.id)
        versions = list(CardMapping.objects.filter(subject_kind=kind, subject_id=subject.id)
                        .select_related("created_by").order_by("-version"))
        golden, problem = None, ""
        if row.reconciliation is not None and (row.reconciliation.golden or {}).get("sha256"):
            golden = {**row.reconciliation.golden, "as_of": row.reconciliation.pk}  # as read: no re-read of a file
        else:
            try:
                golden = {**sources.golden(kind, subject.id, versions[0].golden_dataset if versions else "").as_json(),
                          "as_of": None}
            except sources.SourceError as unusable:
                problem = str(unusable)
        context = {"request": request}
        body = {**_row(request, row), "outputs": list(subject.outputs), "golden": golden, "golden_problem": problem,
                "mapping": versions[0] if versions else None, "mappings": versions,
                "reconciliations": list(_recent(kind, subject.id)[:20]),
                "reconciliations_url": _absolute(request, reverse("api-reconciliation-list")
                                                 + f"?kind={kind}&subject={subject.id}"),
                "proposal_url": _subject_url(request, kind, subject.id, "-proposal"),
                "mappings_url": _subject_url(request, kind, subject.id, "-mappings"),
                "start_url": _subject_url(request, kind, subject.id, "-reconciliations"),
                "retire_url": _subject_url(request, kind, subject.id, "-retire")}
        return Response(SubjectSerializer(body, context=context).data)


class SubjectProposal(_ReconciliationView, APIView):
    """A mapping proposed by names: the golden columns matched to a backend output's keys and measures (the output
    with the most matches unless one is asked), tolerances of one cent, the flaws recorded on each column; and
    every backend output with its keys and measures. POST it (edited) to the mappings to save it."""

    permission_classes = (CanRead,)

    @extend_schema(
        operation_id="reconciliation_proposal", summary="A mapping proposed by names",
        parameters=[*SUBJECT,
                    OpenApiParameter("output", OpenApiTypes.STR, enum=list(outputs.OUTPUTS),
                                     description="propose onto this output; default: the best matching one"),
                    OpenApiParameter("golden_dataset", OpenApiTypes.STR,
                                     description="a DataFlow's output dataset (Domo id); default: its first")],
        responses={200: MappingProposalSerializer, **BAD_QUERY, **READ_REFUSED, **NOT_FOUND,
                   409: OpenApiResponse(ErrorSerializer, description="the golden rows cannot be read (why)")},
    )
    def get(self, request, kind: str, subject_id: str):
        subject = _subject_or_404(kind, subject_id)
        output = request.query_params.get("output", "").strip()
        if output and output not in outputs.OUTPUTS:
            return _bad({"output": [f"{output[:40]!r} is not one of {', '.join(outputs.OUTPUTS)}"]})
        dataset = request.query_params.get("golden_dataset", "").strip()
        if dataset and dataset not in {str(o["id"]) for o in subject.outputs}:
            offered = ", ".join(str(o["id"]) for o in subject.outputs)
            return _bad({"golden_dataset": [f"{dataset[:60]!r} is not an output dataset of {subject.title}" + (
                f" (one of {offered})" if offered else ": only a DataFlow has output datasets")]})
        proposal = services.mapping_proposal(subject.kind, subject.id, output, dataset)
        listed = [{"name": o.name, "label": o.label, "description": o.description,
                   "keys": [vars(c) for c in o.keys], "measures": [vars(c) for c in o.measures]}
                  for o in outputs.OUTPUTS.values()]
        return Response(MappingProposalSerializer({**proposal, "outputs": listed}).data)


class VersionPagination(KeysetPagination):
    ordering = "-version"


class MappingList(IdempotentCreate, _ReconciliationView, generics.ListAPIView):
    """The versions of a card's mapping, newest first; POST saves a new version (audited, never changing one)."""

    serializer_class = MappingSerializer
    pagination_class = VersionPagination
    filterset_class = None
    queryset = CardMapping.objects.none()  # the schema's model; get_queryset reads the subject's

    def get_permissions(self):
        return [IsAuthenticated()] if self.request.method == "POST" else [CanRead()]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CardMapping.objects.none()
        subject = _subject_or_404(self.kwargs["kind"], self.kwargs["subject_id"])
        return (CardMapping.objects.filter(subject_kind=subject.kind, subject_id=subject.id)
                .select_related("created_by"))

    @extend_schema(operation_id="reconciliation_mappings_list", summary="A card's mapping versions",
                   parameters=SUBJECT, responses={200: MappingSerializer(many=True), **READ_REFUSED, **NOT_FOUND})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="reconciliation_mappings_save", summary="Map a card onto a backend output",
        description=("Saves a new version of the card's mapping: keys, measures, the backend field each measure "
                     "compares with, tolerances, and the recorded flaws that explain a variance (by fingerprint, "
                     "see the proposal). 201 with the new version at `url` (also the Location header); 200 with "
                     "`outcome: unchanged` when it is the same as the current version."),
        parameters=SUBJECT, request=MappingInSerializer,
        responses={201: MappingSavedSerializer, 200: MappingSavedSerializer, **INVALID, **REFUSED, **NOT_FOUND},
    )
    def post(self, request, kind: str, subject_id: str):
        subject = _subject_or_404(kind, subject_id)
        body = MappingInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        mapping, saved = services.mapping_save(
            actor=request.user, kind=subject.kind, subject_id=subject.id, output=data["output"],
            keys=[dict(key) for key in data["keys"]], measures=[dict(measure) for measure in data["measures"]], note=data["note"], golden_dataset=data["golden_dataset"], source="api")
        answer = MappingSavedSerializer(mapping, context={"request": request,
                                                          "outcome": "saved" if saved else "unchanged"}).data
        if saved:
            return created(answer, answer["url"])
        return Response(answer)


class MappingDetail(APIView):
    """One version of a card's mapping."""

    permission_classes = (CanRead,)

    @extend_schema(operation_id="reconciliation_mapping", summary="A mapping version",
                   parameters=SUBJECT, responses={200: MappingSerializer, **READ_REFUSED, **NOT_FOUND})
    def get(self, request, kind: str, subject_id: str, version: int):
        subject = _subject_or_404(kind, subject_id)
        mapping = get_object_or_404(CardMapping.objects.select_related("created_by"), subject_kind=subject.kind,
                                    subject_id=subject.id, version=version)
        return Response(MappingSerializer(mapping, context={"request": request}).data)


def _detail(request, recon: Reconciliation, code: int = status.HTTP_200_OK) -> Response:
    recon = Reconciliation.objects.select_related("mapping", "requested_by", "cancelled_by").get(pk=recon.pk)
    body = ReconciliationDetailSerializer(recon, context={"request": request}).data
    if code in (status.HTTP_201_CREATED, status.HTTP_202_ACCEPTED):
        return created(body, body["url"], code=code)
    return Response(body, status=code)


class ReconciliationStart(IdempotentCreate, _ReconciliationView, APIView):
    """Queue a reconciliation of the card's current mapping against a calculation run."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(
        operation_id="reconciliation_start", summary="Start a reconciliation",
        description=("Queues a reconciliation of the card's current mapping against the run (default: the newest "
                     "succeeded run over every client). Follow it at the returned `url` (also the Location header)."),
        parameters=[*SUBJECT, TRACEPARENT], request=ReconciliationStartSerializer,
        responses={202: ReconciliationDetailSerializer, **INVALID, **REFUSED, **NOT_FOUND},
    )
    def post(self, request, kind: str, subject_id: str):
        subject = _subject_or_404(kind, subject_id)
        body = ReconciliationStartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        recon = services.reconciliation_start(actor=request.user, kind=subject.kind, subject_id=subject.id,
                                              run=body.validated_data.get("run"),
                                              traceparent=request.headers.get("traceparent", ""))
        return _detail(request, recon, status.HTTP_202_ACCEPTED)  # queued: the work runs on the worker


class SubjectRetire(IdempotentCreate, _ReconciliationView, APIView):
    """Retire a reconciled card: the backend output is then the one to use."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(
        operation_id="reconciliation_retire", summary="Retire a reconciled card",
        description=("An approver who mapped no version of the card marks it retired, once reconciled (every "
                     "difference matched, within tolerance, explained or accepted). 201 with the card at its `url` "
                     "(also the Location header)."),
        parameters=SUBJECT, request=RetireInSerializer,
        responses={201: RetirementSerializer, **INVALID, **REFUSED, **NOT_FOUND},
    )
    def post(self, request, kind: str, subject_id: str):
        subject = _subject_or_404(kind, subject_id)
        body = RetireInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        retirement = services.retire(actor=request.user, kind=subject.kind, subject_id=subject.id,
                                     comment=body.validated_data["comment"])
        url = _subject_url(request, subject.kind, subject.id)
        answer = {"kind": subject.kind, "id": subject.id, "title": subject.title, "state": CardState.RETIRED,
                  "url": url,
                  "retired": {"by": _who(retirement.retired_by), "at": retirement.retired_at,
                              "comment": retirement.comment,
                              "reconciliation": {"id": retirement.reconciliation_id,
                                                 "url": _recon_url(request, retirement.reconciliation_id)}}}
        return created(RetirementSerializer(answer).data, url)


class ReconciliationFilterSet(filters.FilterSet):
    kind = filters.ChoiceFilter(field_name="subject_kind", choices=SubjectKind.choices)
    subject = filters.CharFilter(field_name="subject_id", max_length=64, help_text="the Domo card or DataFlow id")
    state = filters.ChoiceFilter(choices=RunState.choices)

    class Meta:
        model = Reconciliation
        fields = ("kind", "subject", "state")


class ReconciliationList(generics.ListAPIView):
    """Reconciliations, newest first, filtered by the card (kind and subject) and state."""

    queryset = Reconciliation.objects.select_related("mapping", "requested_by")
    serializer_class = ReconciliationRowSerializer
    filterset_class = ReconciliationFilterSet
    pagination_class = KeysetPagination
    permission_classes = (CanRead,)

    @extend_schema(operation_id="reconciliations_list", summary="List reconciliations",
                   responses={200: ReconciliationRowSerializer(many=True), **READ_REFUSED})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ReconciliationDetail(generics.RetrieveAPIView):
    """One reconciliation: its inputs (run, mapping version, golden packet and its hash, backend rows), progress
    by step, worker and trace, summary per class and measure, the artifact of every classified row."""

    queryset = Reconciliation.objects.select_related("mapping", "requested_by", "cancelled_by")
    serializer_class = ReconciliationDetailSerializer
    permission_classes = (CanRead,)
    filterset_class = None

    @extend_schema(operation_id="reconciliations_retrieve", summary="A reconciliation",
                   responses={200: ReconciliationDetailSerializer, **READ_REFUSED, **NOT_FOUND})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ItemPagination(KeysetPagination):
    ordering = "position"


class ReconciliationItems(generics.ListAPIView):
    """Every key x measure of a reconciliation that is not an exact match, in its order (by keys, then measure),
    50 a page (page_size up to 500): its exact values and difference, its status, the recorded flaw that explains
    it and how, the verdict in force on it, and an earlier verdict on the same place when a value changed."""

    serializer_class = ItemSerializer
    permission_classes = (CanRead,)
    pagination_class = ItemPagination
    filterset_class = None
    queryset = ReconciliationItem.objects.none()  # the schema's model; get_queryset reads the reconciliation's

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ReconciliationItem.objects.none()
        recon = self._recon = get_object_or_404(Reconciliation, pk=self.kwargs["pk"])
        return selectors.items_with_status(recon, self._query["status"])

    def list(self, request, *args, **kwargs):
        query, problems = request.query_params, {}
        wanted = query.get("status", "").strip() or "all"
        if wanted not in ITEM_STATUSES:
            problems["status"] = [f"{wanted[:40]!r} is not one of {', '.join(ITEM_STATUSES)}"]
        klass = query.get("class", "").strip()
        if klass and klass not in ITEM_CLASSES:
            problems["class"] = [f"{klass[:40]!r} is not one of {', '.join(ITEM_CLASSES)}"]
        if problems:
            get_object_or_404(Reconciliation, pk=self.kwargs["pk"])
            return _bad(problems)
        self._query = {"status": wanted}
        queryset = self.get_queryset()
        if klass:
            queryset = queryset.filter(item_class=klass)
        page = self.paginate_queryset(queryset)
        statuses = {s.item.pk: s for s in selectors.item_statuses(self._recon, page)}
        body = ItemSerializer(page, many=True, context={**self.get_serializer_context(), "statuses": statuses}).data
        return self.get_paginated_response(body)

    @extend_schema(
        operation_id="reconciliations_items", summary="A reconciliation's differences",
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=[*ITEM_STATUSES],
                             description="all (default); open: what keeps the card open (no verdict, backend_defect "
                                         "or investigating); or one status"),
            OpenApiParameter("class", OpenApiTypes.STR, enum=[*ITEM_CLASSES],
                             description="the item's class (exact matches are not items)"),
        ],
        responses={200: ItemSerializer(many=True), **BAD_QUERY, **READ_REFUSED, **NOT_FOUND},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ReconciliationCancel(_ReconciliationView, APIView):
    """Cancel a queued or running reconciliation: its worker stops at its next step and stores nothing."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(operation_id="reconciliations_cancel", summary="Cancel a reconciliation", request=None,
                   responses={200: ReconciliationDetailSerializer, **REFUSED, **NOT_FOUND})
    def post(self, request, pk: int):
        recon = get_object_or_404(Reconciliation, pk=pk)
        return _detail(request, services.reconciliation_cancel(actor=request.user, reconciliation=recon))


class AdjudicationCreate(IdempotentCreate, _ReconciliationView, APIView):
    """An approver's verdict on a difference no flaw explains, remembered by its fingerprint (card, keys, measure,
    both values): it holds for later reconciliations while both values are unchanged."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(
        operation_id="reconciliation_items_adjudicate", summary="Adjudicate a difference",
        description=("accepted (Domo was wrong: say why), backend_defect (ours is wrong: the card stays open until a "
                     "later run matches) or investigating; a comment is required; not by anyone who mapped the card "
                     "(four eyes). 201 with the verdict at its `url` (also the Location header)."),
        request=AdjudicationInSerializer,
        responses={201: AdjudicationSerializer, **INVALID, **REFUSED, **NOT_FOUND},
    )
    def post(self, request, pk: int):
        item = get_object_or_404(ReconciliationItem.objects.select_related("reconciliation"), pk=pk)
        body = AdjudicationInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        adjudication = services.adjudicate(actor=request.user, item=item, verdict=body.validated_data["verdict"],
                                           comment=body.validated_data["comment"])
        answer = AdjudicationSerializer(adjudication, context={"request": request}).data
        return created(answer, answer["url"])


class AdjudicationDetail(generics.RetrieveAPIView):
    """One verdict on a difference."""

    queryset = Adjudication.objects.select_related("decided_by")
    serializer_class = AdjudicationSerializer
    permission_classes = (CanRead,)
    filterset_class = None

    @extend_schema(operation_id="adjudications_retrieve", summary="An adjudication",
                   responses={200: AdjudicationSerializer, **READ_REFUSED, **NOT_FOUND})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
