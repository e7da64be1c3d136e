"""Candidate evidence from Domo in the API: the registrations (keyset pages, the page's filters), one with its
mapping, its rows with their provenance, the proposed mapping of a dataset onto a kind, and registering one.

Reading needs console.view_provenance; registering needs console.receive_evidence (operators, admins). The
service (evidence.candidates.services) checks and audits; there is no verify: Domo evidence is never governed.
"""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from console.api.creates import IdempotentCreate, created
from console.api.pagination import KeysetPagination
from console.api.permissions import capability
from evidence.api.serializers import ErrorSerializer
from evidence.api.serializers.candidates import (
    CandidateRefusedSerializer,
    CandidateRowSerializer,
    CandidateSetSerializer,
    ProposalQuerySerializer,
    ProposalSerializer,
    RegisteredSerializer,
    RegisterSerializer,
)
from evidence.candidates import selectors
from evidence.candidates.models import DomoCandidateRow
from evidence.candidates.services import (
    UNCHANGED,
    CandidateRefused,
    candidate_register,
    dataset_columns,
    mapping_proposal,
)

CanRead = capability("console.view_provenance")
CanRegister = capability("console.receive_evidence")


class InDatasetOrder(KeysetPagination):
    ordering = "row"
    page_size = 100


class CandidateSetList(IdempotentCreate, generics.ListAPIView):
    """Domo datasets registered as candidate evidence, newest first, with the page's filters (kind, dataset,
    load_id). POST registers one."""

    queryset = selectors.candidate_sets()
    serializer_class = CandidateSetSerializer
    filterset_class = selectors.CandidateSetFilterSet

    def get_permissions(self):
        return [CanRegister()] if self.request.method == "POST" else [CanRead()]

    @extend_schema(operation_id="evidence_candidates_list", summary="List candidate evidence from Domo")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="evidence_candidates_register", summary="Register a Domo dataset as candidate evidence",
        description=(
            "Maps the dataset's columns onto the kind's record columns (GET the proposal first) and stores every "
            "row as a candidate record with its load id, dataset id and row number. Refused whole, with every "
            "issue located, when a required record column is unmapped, a Domo column is not in the dataset, the "
            "dataset has no silver data, or a value does not parse. The same dataset, kind and mapping again "
            "answers 200 `unchanged`."
        ),
        request=RegisterSerializer,
        responses={
            201: RegisteredSerializer,
            200: OpenApiResponse(RegisteredSerializer, description="registered before: nothing stored"),
            400: OpenApiResponse(CandidateRefusedSerializer, description=(
                "refused: every issue located (detail, issues); or the body's fields named with their errors")),
            403: OpenApiResponse(ErrorSerializer, description="no receive_evidence capability"),
            409: OpenApiResponse(ErrorSerializer, description="an Idempotency-Key first used with another body"),
        },
    )
    def post(self, request, *args, **kwargs):
        body = RegisterSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            outcome = candidate_register(actor=request.user, dataset=data["dataset"], kind=data["kind"],
                                         mapping=data["mapping"], note=data["note"])
        except CandidateRefused as refused:
            return Response({"detail": str(refused), "issues": [i.as_dict() for i in refused.issues]},
                            status=status.HTTP_400_BAD_REQUEST)
        answer = RegisteredSerializer(outcome.candidate_set, context={"request": request, "status": outcome.status}).data
        code = status.HTTP_200_OK if outcome.status == UNCHANGED else status.HTTP_201_CREATED
        return created(answer, answer["url"], code=code)


class CandidateSetDetail(generics.RetrieveAPIView):
    """One registration: dataset, manifest load id, kind, mapping, rows, clients, who registered it and when."""

    queryset = selectors.candidate_sets()
    serializer_class = CandidateSetSerializer
    permission_classes = [CanRead]
    filterset_class = None

    @extend_schema(operation_id="evidence_candidates_retrieve", summary="A registration of candidate evidence")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class CandidateRows(generics.ListAPIView):
    """A registration's rows in dataset order (`row`), by keyset pages, each with its load id, dataset id and
    row number, and its values as the kind's record columns."""

    serializer_class = CandidateRowSerializer
    pagination_class = InDatasetOrder
    permission_classes = [CanRead]
    filterset_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator: no set to look up
            return DomoCandidateRow.objects.none()
        candidate_set = get_object_or_404(selectors.candidate_sets(), pk=self.kwargs["pk"])
        return selectors.rows_of(candidate_set).select_related("candidate_set")

    @extend_schema(operation_id="evidence_candidates_rows", summary="The rows of a registration")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class CandidateProposal(APIView):
    """The proposed mapping of a dataset's columns onto a kind's record columns (by name, then Domo's own
    names), each record column marked required or not."""

    permission_classes = [CanRead]

    @extend_schema(
        operation_id="evidence_candidates_proposal", summary="Propose a mapping of a dataset onto a kind",
        parameters=[OpenApiParameter("dataset", int, required=True, description="the Domo dataset's console id"),
                    OpenApiParameter("kind", str, required=True, enum=["contract", "pricing", "rebate", "salesforce"])],
        responses={200: ProposalSerializer, 400: OpenApiResponse(description="no such dataset, or an unknown kind")},
    )
    def get(self, request):
        query = ProposalQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        dataset, kind = query.validated_data["dataset"], query.validated_data["kind"]
        lines = mapping_proposal(dataset, kind)
        return Response(ProposalSerializer({
            "dataset": dataset.pk, "kind": kind,
            "domo_columns": dataset_columns(dataset),
            "columns": lines, "mapping": {line.column: line.domo_column for line in lines},
        }).data)
