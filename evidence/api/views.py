"""Evidence API: read endpoints for intake runs, manifests and the Domo objects inside, and the upload.

Every list takes the same filter parameters as its page (evidence.filtersets) and pages by keyset
(`cursor`). Reading needs console.view_provenance; uploading needs console.receive_export.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from console.api.creates import IdempotentCreate, created
from console.api.pagination import KeysetPagination
from console.api.permissions import capability
from evidence import selectors
from evidence.api.serializers import (
    BeastModeSerializer,
    CalculationFlawSerializer,
    CardSerializer,
    DataflowSerializer,
    DatasetSerializer,
    ErrorSerializer,
    FormulaAnalyzeSerializer,
    FormulaReportSerializer,
    IntakeAcceptedSerializer,
    IntakeRunSerializer,
    IntakeUploadSerializer,
    IssueSerializer,
    ManifestSerializer,
    PolicySerializer,
)
from evidence.api.uploads import ArchiveUnsafe, StagedUploadCreate
from evidence.calculations.reports import formula_report
from evidence.choices import IntakeSource
from evidence.filtersets import (
    BeastModeFilterSet,
    CalculationFlawFilterSet,
    CardFilterSet,
    DataflowFilterSet,
    DatasetFilterSet,
    IntakeRunFilterSet,
    IssueFilterSet,
    ManifestFilterSet,
    PolicyFilterSet,
)
from evidence.intake.uploads import ArchiveRefused, intake_upload
from evidence.models import BeastMode, DomoCard, DomoDataflow, DomoDataset, PdpPolicy

CanRead = capability("console.view_provenance")
CanReceive = capability("console.receive_export")


class InReportedOrder(KeysetPagination):
    """Oldest first: issues in the order the validator reported them."""

    ordering = "pk"


class _Read:
    permission_classes = [CanRead]
    pagination_class = KeysetPagination


# --- intake runs -----------------------------------------------------------------------------------


class IntakeRunList(IdempotentCreate, StagedUploadCreate, _Read, generics.ListAPIView):
    """Intake runs, newest first; POST a multipart upload of an export to start one."""

    queryset = selectors.intake_runs()
    serializer_class = IntakeRunSerializer
    filterset_class = IntakeRunFilterSet

    def get_permissions(self):
        return [CanReceive()] if self.request.method == "POST" else [CanRead()]

    @extend_schema(
        operation_id="intake_runs_upload",
        summary="Upload an export",
        description=(
            "Multipart upload of one Leaf IQ export (.zip) in the field `file`. The run is recorded and "
            "queued; follow it at the returned `url` (also the Location header). Uploads past "
            "INTAKE_MAX_UPLOAD_BYTES are refused with 413 before their body is read."
        ),
        request={"multipart/form-data": IntakeUploadSerializer},
        responses={
            202: IntakeAcceptedSerializer,
            400: OpenApiResponse(description="no file, or not a .zip"),
            409: OpenApiResponse(
                ErrorSerializer, description="an Idempotency-Key first used with another upload"
            ),
            413: OpenApiResponse(ErrorSerializer, description="over the upload limit (the message says it)"),
            422: OpenApiResponse(ErrorSerializer, description="an unsafe archive (a zip bomb, a member path "
                                 "outside the export, a link), refused from its central directory"),
        },
    )
    def post(self, request, *args, **kwargs):
        upload = self.uploaded_file(IntakeUploadSerializer)
        try:
            run = intake_upload(actor=request.user, upload=upload, source=IntakeSource.API)
        except ArchiveRefused as refused:
            raise ArchiveUnsafe(str(refused)) from None
        body = IntakeAcceptedSerializer(run, context=self.get_serializer_context()).data
        return created(body, body["url"], code=status.HTTP_202_ACCEPTED)


class IntakeRunDetail(_Read, generics.RetrieveAPIView):
    """One intake run: its status, stage, progress, error and manifest."""

    queryset = selectors.intake_runs()
    serializer_class = IntakeRunSerializer


# --- manifests and issues -------------------------------------------------------------------------


class ManifestList(_Read, generics.ListAPIView):
    """Source manifests, newest first, with the manifest page's filters."""

    queryset = selectors.manifests()
    serializer_class = ManifestSerializer
    filterset_class = ManifestFilterSet


class ManifestDetail(_Read, generics.RetrieveAPIView):
    """One source manifest: the exporter's claim, the console's verdict, where it is kept."""

    queryset = selectors.manifests()
    serializer_class = ManifestSerializer


class IssueList(_Read, generics.ListAPIView):
    """Issues found in received exports, in the order they were reported, with the issues page's filters."""

    queryset = selectors.issues()
    serializer_class = IssueSerializer
    filterset_class = IssueFilterSet
    pagination_class = InReportedOrder


class IssueDetail(_Read, generics.RetrieveAPIView):
    queryset = selectors.issues()
    serializer_class = IssueSerializer


# --- the objects inside ----------------------------------------------------------------------------


class DatasetList(_Read, generics.ListAPIView):
    queryset = DomoDataset.objects.all()
    serializer_class = DatasetSerializer
    filterset_class = DatasetFilterSet


class DatasetDetail(_Read, generics.RetrieveAPIView):
    queryset = DomoDataset.objects.all()
    serializer_class = DatasetSerializer


class CardList(_Read, generics.ListAPIView):
    queryset = DomoCard.objects.prefetch_related("datasets")
    serializer_class = CardSerializer
    filterset_class = CardFilterSet


class CardDetail(_Read, generics.RetrieveAPIView):
    queryset = DomoCard.objects.prefetch_related("datasets")
    serializer_class = CardSerializer


class BeastModeList(_Read, generics.ListAPIView):
    """Beast modes with their formula text (as exported: it may contain HTML; escape it when showing it)."""

    queryset = BeastMode.objects.all()
    serializer_class = BeastModeSerializer
    filterset_class = BeastModeFilterSet


class BeastModeDetail(_Read, generics.RetrieveAPIView):
    queryset = BeastMode.objects.all()
    serializer_class = BeastModeSerializer


class DataflowList(_Read, generics.ListAPIView):
    queryset = DomoDataflow.objects.prefetch_related("steps")
    serializer_class = DataflowSerializer
    filterset_class = DataflowFilterSet


class DataflowDetail(_Read, generics.RetrieveAPIView):
    queryset = DomoDataflow.objects.prefetch_related("steps")
    serializer_class = DataflowSerializer


class PolicyList(_Read, generics.ListAPIView):
    """PDP policies, each with who sees which rows in plain words (users and groups named from the export)."""

    queryset = PdpPolicy.objects.select_related("dataset")
    serializer_class = PolicySerializer
    filterset_class = PolicyFilterSet

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        context = {**self.get_serializer_context(), "directories": selectors.directories_for(page)}
        return self.get_paginated_response(self.get_serializer(page, many=True, context=context).data)


class PolicyDetail(_Read, generics.RetrieveAPIView):
    queryset = PdpPolicy.objects.select_related("dataset")
    serializer_class = PolicySerializer

    def retrieve(self, request, *args, **kwargs):
        policy = self.get_object()
        context = {**self.get_serializer_context(), "directories": selectors.directories_for([policy])}
        return Response(self.get_serializer(policy, context=context).data)


# --- calculations ----------------------------------------------------------------------------------


class CalculationFlawList(_Read, generics.ListAPIView):
    """Flaws the formula engine found in received exports' beast modes and DataFlow steps, in the order
    it reported them, with the flaws page's filters (manifest, code, severity)."""

    queryset = selectors.calculation_flaws()
    serializer_class = CalculationFlawSerializer
    filterset_class = CalculationFlawFilterSet
    pagination_class = InReportedOrder


class FormulaAnalyze(APIView):
    """Analyze one formula, as `manage.py analyze_formula --json` does.

    Nothing is stored and nothing changes, so nothing is audited (reads of evidence are not either).
    """

    permission_classes = [CanRead]

    @extend_schema(
        operation_id="formulas_analyze",
        summary="Analyze a formula",
        request=FormulaAnalyzeSerializer,
        responses={
            200: FormulaReportSerializer,
            400: OpenApiResponse(description="no formula, or a bad schema"),
        },
    )
    def post(self, request):
        serializer = FormulaAnalyzeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        return Response(formula_report(data["formula"], schema=data.get("schema"), used_as=data["used_as"]))
