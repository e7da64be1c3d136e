"""Promotion API: requests and their four-eyes decisions, flaw dispositions, the curated registry, rollback.

One view per operation; each write calls one service of promotion.services, which checks the
permission and the rules and audits the attempt (a refused one as "promotion.refused").

Errors, the same on every endpoint (and the same rule as the pages):
- 400: the body (or a fingerprint in the URL) does not validate; the answer names the fields
  ({"comment": ["This field is required."]}).
  A 400 never reached a service.
- 401/403 with DRF's own detail: not signed in (session with its CSRF token, or a token), or, for
  reads, none of the console.view_provenance, request_promotion or approve_promotion capabilities.
- 403 {"detail": reason}: the service refused because of *who* asks: a missing permission (approve or
  reject without approve_promotion; request, disposition, acknowledge or roll back without
  request_promotion; a contract target, or a rollback to a version that went into a backend contract,
  without request_contract_promotion; cancel someone else's request without approving rights; recheck
  without request or approve rights), or four eyes (the requester approving or rejecting their own
  request).
- 409 {"detail": reason}: the service refused because of *when or what*: a request in the wrong state,
  a partial or invalid manifest, stale or failing gates, a race lost to another approver, an unknown
  flaw fingerprint or a disposition that is not there, a rollback to a version that is not earlier.
- 404: no such request, manifest, dataset or curated key.
The creates (request, rollback, disposition, schema-drift acknowledgement) take an Idempotency-Key
(console.api.creates): a retry with the same key and body answers what the first did; the same key with
another body is a 409 too (not audited: no service was asked).
Refusals (403 and 409 alike) are in the audit trail. Which of the two a refusal gets is the service's
word, not this module's: PromotionRefused.forbidden.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from console.api.creates import IdempotentCreate, created
from console.api.pagination import KeysetPagination
from evidence.api.serializers import ErrorSerializer
from evidence.models import DomoDataset, SourceManifest
from promotion import policy, selectors, services
from promotion.api.serializers import (
    CancelSerializer,
    CommentSerializer,
    DispositionSerializer,
    DispositionSetSerializer,
    FlawFingerprintSerializer,
    FlawToDispositionSerializer,
    PromotionRequestCreateSerializer,
    PromotionRequestDetailSerializer,
    PromotionRequestSerializer,
    RegistryVersionSerializer,
    RollbackSerializer,
    SchemaDriftSerializer,
)
from promotion.filtersets import PromotionRequestFilterSet
from promotion.gates import flaw_groups, flaw_object
from promotion.models import PromotionRequest


class CanRead(IsAuthenticated):
    """Signed in, holding any capability that shows promotions (provenance, request or approve)."""

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        return policy.may_read(request.user)


class InMemoryPagination(PageNumberPagination):
    """Pages of a list computed in Python (the curated registry lives in its own database; flaws are
    grouped by a fingerprint computed here), so there is no queryset to page by keyset."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


REFUSED = {
    403: OpenApiResponse(
        ErrorSerializer, description="refused for who asks: a missing permission, or four eyes (audited)"
    ),
    409: OpenApiResponse(
        ErrorSerializer, description="refused for when or what: state, manifest, gates, a race (audited)"
    ),
}


def _answers(code: int, serializer, *, invalid: str | None = "invalid body") -> dict:
    """The documented responses of a write: its success, 400 (unless it takes no body), 403 and 409."""
    responses = {code: serializer, **REFUSED}
    if invalid:
        responses[400] = OpenApiResponse(description=invalid)
    return responses


def _detailed():
    """Requests with everything their detail shows but the gate results (one query of their own)."""
    requests = selectors.promotion_requests().select_related("rejected_by", "cancelled_by")
    return requests.prefetch_related("datasets")


class _Action(APIView):
    """A write: any signed-in user may call it; the service decides, audits, and may refuse (403 when
    the refusal is about who asks, 409 otherwise: see the module docstring)."""

    permission_classes: list[type[BasePermission]] = [IsAuthenticated]

    def handle_exception(self, exc):
        if isinstance(exc, services.PromotionRefused):
            code = status.HTTP_403_FORBIDDEN if exc.forbidden else status.HTTP_409_CONFLICT
            return Response({"detail": exc.reason}, status=code)
        return super().handle_exception(exc)

    def validated(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def detail_response(self, promotion: PromotionRequest, code: int = status.HTTP_200_OK) -> Response:
        promotion = _detailed().get(pk=promotion.pk)
        body = PromotionRequestDetailSerializer(promotion, context={"request": self.request}).data
        if code == status.HTTP_201_CREATED:
            return created(body, body["url"])
        return Response(body, status=code)


class _OnRequest(_Action):
    """An action on one promotion request, found by id (404 when there is none)."""

    def promotion(self, pk: int) -> PromotionRequest:
        return get_object_or_404(PromotionRequest, pk=pk)


# --- requests ------------------------------------------------------------------------------------------


class PromotionList(IdempotentCreate, _Action, generics.ListAPIView):
    """Promotion requests, newest first, with the queue page's filters; POST requests a promotion."""

    queryset = selectors.promotion_requests().prefetch_related("datasets")
    serializer_class = PromotionRequestSerializer
    filterset_class = PromotionRequestFilterSet
    pagination_class = KeysetPagination

    def get_permissions(self):
        return [IsAuthenticated()] if self.request.method == "POST" else [CanRead()]

    @extend_schema(
        operation_id="promotions_request",
        summary="Request a promotion",
        description=(
            "Ask to promote datasets of a complete manifest. The request is recorded in state checking "
            "and its gates are queued; follow it at the returned `url` (also the Location header)."
        ),
        request=PromotionRequestCreateSerializer,
        responses=_answers(201, PromotionRequestDetailSerializer),
    )
    def post(self, request, *args, **kwargs):
        data = self.validated(PromotionRequestCreateSerializer)
        created = services.promotion_request(
            actor=request.user, manifest=data["manifest"], datasets=data["datasets"], target=data["target"]
        )
        return self.detail_response(created, status.HTTP_201_CREATED)


class PromotionDetail(generics.RetrieveAPIView):
    """One request: its state, manifest, datasets, decision, current gate results and load."""

    queryset = _detailed()
    serializer_class = PromotionRequestDetailSerializer
    permission_classes = [CanRead]


class PromotionApprove(_OnRequest):
    """Approve a ready request, with a comment: another person than the requester (four eyes), with the
    approve_promotion permission, on fresh passed gates. The load is queued once the approval commits."""

    @extend_schema(
        operation_id="promotions_approve", summary="Approve a request", request=CommentSerializer,
        responses=_answers(200, PromotionRequestDetailSerializer, invalid="no comment"),
    )
    def post(self, request, pk: int):
        data = self.validated(CommentSerializer)
        return self.detail_response(
            services.promotion_approve(
                actor=request.user, request=self.promotion(pk), comment=data["comment"]
            )
        )


class PromotionReject(_OnRequest):
    """Reject a blocked, ready or approved request, with a comment (not the requester's own: they cancel)."""

    @extend_schema(
        operation_id="promotions_reject", summary="Reject a request", request=CommentSerializer,
        responses=_answers(200, PromotionRequestDetailSerializer, invalid="no comment"),
    )
    def post(self, request, pk: int):
        data = self.validated(CommentSerializer)
        return self.detail_response(
            services.promotion_reject(actor=request.user, request=self.promotion(pk), comment=data["comment"])
        )


class PromotionCancel(_OnRequest):
    """The requester (or an approver) withdraws a request that has not started loading."""

    @extend_schema(
        operation_id="promotions_cancel", summary="Cancel a request", request=CancelSerializer,
        responses=_answers(200, PromotionRequestDetailSerializer),
    )
    def post(self, request, pk: int):
        data = self.validated(CancelSerializer)
        return self.detail_response(
            services.promotion_cancel(actor=request.user, request=self.promotion(pk), reason=data["reason"])
        )


class PromotionRecheck(_OnRequest):
    """Run the gates again (after a disposition, a re-analysis...); a new check replaces an approval."""

    @extend_schema(
        operation_id="promotions_recheck", summary="Run the gates again", request=None,
        responses=_answers(200, PromotionRequestDetailSerializer, invalid=None),
    )
    def post(self, request, pk: int):
        rechecked = services.promotion_recheck(actor=request.user, request=self.promotion(pk))
        return self.detail_response(rechecked)


# --- flaws and dispositions ----------------------------------------------------------------------------


def _place(flaw) -> dict:
    """Where one occurrence of a flaw is: a card's or a dataset's beast mode, or a DataFlow step."""
    analysis = flaw.analysis
    beast, step = analysis.beast_mode, analysis.dataflow_step
    if beast is not None and beast.card_id is not None:
        where, link = f"card {beast.card.title!r}", reverse("evidence:card-detail", args=[beast.card_id])
    elif beast is not None:
        where = f"dataset {beast.dataset.name!r}"
        link = reverse("evidence:dataset-detail", args=[beast.dataset_id])
    else:
        where = f"DataFlow {step.dataflow.name!r}, step {step.position}, part {analysis.part}"
        link = reverse("evidence:dataflow-detail", args=[step.dataflow_id])
    return {"flaw": flaw.pk, "where": where, "link": link}


def _flaws_to_disposition(manifest: SourceManifest, datasets: list[DomoDataset]) -> list[dict]:
    """One entry per fingerprint of the flaws behind these datasets (promotion.gates.flaw_groups), every
    place it occurs, and its disposition (or None): one decision covers every place."""
    found = []
    for group in flaw_groups(manifest, datasets):
        kind, object_id = flaw_object(group.flaw)
        found.append({
            "fingerprint": group.fingerprint, "flaw": group.flaw, "object_kind": kind, "object_id": object_id,
            "places": [_place(flaw) for flaw in group.flaws], "disposition": group.disposition,
        })
    return found


class _FlawList(generics.GenericAPIView):
    permission_classes = [CanRead]
    filter_backends = ()  # lists computed in Python: no queryset to filter
    serializer_class = FlawToDispositionSerializer
    pagination_class = InMemoryPagination

    def flaws_response(self, manifest: SourceManifest, datasets: list[DomoDataset]) -> Response:
        page = self.paginate_queryset(_flaws_to_disposition(manifest, datasets))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class ManifestFlaws(_FlawList):
    """Flaws behind datasets of a manifest (every dataset, or those named by `dataset`), each once per
    fingerprint, with its disposition: what the calculation_flaws_dispositioned gate waits for."""

    @extend_schema(
        operation_id="manifests_flaws_to_disposition",
        parameters=[OpenApiParameter("dataset", int, many=True, description="dataset ids (default: all)")],
        responses={
            200: FlawToDispositionSerializer(many=True),
            400: OpenApiResponse(description="a dataset id that is not an integer"),
        },
    )
    def get(self, request, pk: int):
        manifest = get_object_or_404(SourceManifest, pk=pk)
        datasets = manifest.datasets.order_by("pk")
        wanted = request.query_params.getlist("dataset")
        if wanted:
            # Past bigint no id exists, and SQLite cannot even be asked (OverflowError: a 500).
            if not all(w.isdigit() and int(w) < 2**63 for w in wanted):
                return Response({"dataset": ["dataset ids are integers below 2**63"]},
                                status=status.HTTP_400_BAD_REQUEST)
            datasets = datasets.filter(pk__in=wanted)
        return self.flaws_response(manifest, list(datasets))


class PromotionFlaws(_FlawList):
    """Flaws behind a request's datasets, each once per fingerprint, with its disposition."""

    @extend_schema(operation_id="promotions_flaws", responses=FlawToDispositionSerializer(many=True))
    def get(self, request, pk: int):
        promotion = get_object_or_404(PromotionRequest.objects.select_related("manifest"), pk=pk)
        return self.flaws_response(promotion.manifest, list(promotion.datasets.order_by("pk")))


class DispositionSet(IdempotentCreate, _Action):
    """Record (or replace) an operator's decision on one flaw of a manifest, with its note."""

    @extend_schema(
        operation_id="manifests_dispositions_set", summary="Disposition a flaw",
        request=DispositionSetSerializer, responses=_answers(200, DispositionSerializer),
    )
    def post(self, request, pk: int):
        manifest = get_object_or_404(SourceManifest, pk=pk)
        data = self.validated(DispositionSetSerializer)
        disposition = services.flaw_disposition_set(
            actor=request.user, manifest=manifest, fingerprint=data["fingerprint"], decision=data["decision"],
            note=data["note"],
        )
        return Response(DispositionSerializer(disposition).data)


class DispositionClear(_Action):
    """Withdraw a disposition: the flaw is undecided again, and the gates that saw it go stale."""

    @extend_schema(
        operation_id="manifests_dispositions_clear", summary="Withdraw a disposition",
        responses=_answers(204, None, invalid="a fingerprint that is not one (64 lowercase hex digits)"),
    )
    def delete(self, request, pk: int, fingerprint: str):
        manifest = get_object_or_404(SourceManifest, pk=pk)
        # Checked before the service: a NUL byte in the URL reached PostgreSQL and answered 500.
        FlawFingerprintSerializer(data={"fingerprint": fingerprint}).is_valid(raise_exception=True)
        services.flaw_disposition_clear(actor=request.user, manifest=manifest, fingerprint=fingerprint)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SchemaDriftAcknowledge(IdempotentCreate, _Action):
    """Accept that a dataset's schema differs from its current curated version's (this exact drift)."""

    @extend_schema(
        operation_id="datasets_schema_drift_acknowledge", summary="Acknowledge a schema drift",
        request=SchemaDriftSerializer,
        responses=_answers(204, None, invalid="no note"),
    )
    def post(self, request, pk: int):
        dataset = get_object_or_404(DomoDataset, pk=pk)
        data = self.validated(SchemaDriftSerializer)
        services.schema_drift_acknowledge(actor=request.user, dataset=dataset, note=data["note"])
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- the curated registry ------------------------------------------------------------------------------


class CuratedList(generics.GenericAPIView):
    """Every curated dataset's current version (golden packets included), by key, with who requested and
    who approved it."""

    permission_classes = [CanRead]
    serializer_class = RegistryVersionSerializer
    pagination_class = InMemoryPagination
    filter_backends = ()  # the registry lives in its own database: no queryset to filter

    @extend_schema(responses=RegistryVersionSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(selectors.registry_current())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class CuratedVersions(generics.GenericAPIView):
    """Every version of one curated dataset, newest first (404 for a key the registry does not know)."""

    permission_classes = [CanRead]
    serializer_class = RegistryVersionSerializer
    pagination_class = InMemoryPagination
    filter_backends = ()  # the registry lives in its own database: no queryset to filter

    @extend_schema(responses=RegistryVersionSerializer(many=True))
    def get(self, request, key: str):
        versions = selectors.registry_versions(key)
        if not versions:
            raise NotFound(f"the curated registry has no dataset {key!r}")
        page = self.paginate_queryset(versions)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class CuratedRollback(IdempotentCreate, _Action):
    """Ask to point a curated dataset back at an earlier version: a rollback request, which goes through
    the same gates and four-eyes approval as a promotion."""

    @extend_schema(
        operation_id="curated_rollback", summary="Request a rollback", request=RollbackSerializer,
        responses=_answers(201, PromotionRequestDetailSerializer),
    )
    def post(self, request, key: str):
        data = self.validated(RollbackSerializer)
        created = services.promotion_rollback_request(
            actor=request.user, dataset_key=key, version=data["version"]
        )
        return self.detail_response(created, status.HTTP_201_CREATED)

