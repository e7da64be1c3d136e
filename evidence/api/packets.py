"""Evidence packet API: the packet list (the page's filters, keyset pages), a packet with its revisions, a
revision's typed records (keyset pages, file order), and the four-eyes decisions Verify and Withdraw.

`POST /api/evidence-packets/` receives a packet (multipart, .zip) in Celery: 202 with the queued receipt at
`/api/evidence-packet-receipts/<id>/` (its Location), needing console.receive_evidence.

Reading needs console.view_provenance. Verify and Withdraw are open to any signed-in user; the service
(evidence.packets.verification) decides and audits every attempt. Their answers:
- 200 with the revision;
- 400: the body does not validate (sha256 and comment or reason are required);
- 403 {"detail": reason}: about who asks: no verify_evidence capability, or the receiver verifying their own
  revision (four eyes);
- 409 {"detail": reason}: about the revision: the sha256 is not the revision's (stale: someone is deciding on
  what they were not shown), a refused receipt (no evidence), already governed, or not governed (withdraw);
- 404: no such packet or revision.
"""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from console.api.creates import IdempotentCreate, created
from console.api.pagination import KeysetPagination
from console.api.permissions import capability
from evidence.api.serializers import ErrorSerializer
from evidence.api.serializers.packets import (
    RECORD_SERIALIZERS,
    PacketDetailSerializer,
    PacketSerializer,
    RevisionSerializer,
    VerifySerializer,
    WithdrawSerializer,
)
from evidence.api.serializers.receipts import PacketReceiptSerializer, PacketUploadSerializer
from evidence.api.uploads import StagedUploadCreate
from evidence.choices import IntakeSource
from evidence.packets import listing, verification
from evidence.packets.models import PacketReceipt, PacketRevision
from evidence.packets.receipts import receipt_upload

CanRead = capability("console.view_provenance")
CanReceive = capability("console.receive_evidence")


class InFileOrder(KeysetPagination):
    ordering = "row"
    page_size = 100


class PacketList(IdempotentCreate, StagedUploadCreate, generics.ListAPIView):
    """Evidence packets, newest first, with the packet page's filters (kind, evidence_class, client,
    period_from, period_until). A packet's class is its latest accepted revision's. POST a multipart upload
    of a packet to receive it."""

    queryset = listing.packets()
    serializer_class = PacketSerializer
    filterset_class = listing.PacketFilterSet
    pagination_class = KeysetPagination
    permission_classes = [CanRead]
    upload_what, upload_command = "packet", "receive_evidence"

    def get_permissions(self):
        return [CanReceive()] if self.request.method == "POST" else [CanRead()]

    @extend_schema(operation_id="evidence_packets_list", summary="List evidence packets")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="evidence_packets_receive",
        summary="Receive an evidence packet",
        description=(
            "Multipart upload of one evidence packet (.zip of its folder) in the field `file`. A receipt is "
            "recorded and queued; a worker receives the packet as you (you are its receiver: another person "
            "verifies it). Follow the receipt at the returned `url` (also the Location header): when done it "
            "shows the result `receive_evidence --json` prints. Uploads past INTAKE_MAX_UPLOAD_BYTES are refused "
            "with 413 before their body is read."
        ),
        request={"multipart/form-data": PacketUploadSerializer},
        responses={
            202: PacketReceiptSerializer,
            400: OpenApiResponse(description="no file, or not a .zip"),
            409: OpenApiResponse(ErrorSerializer, description="an Idempotency-Key first used with another upload"),
            413: OpenApiResponse(ErrorSerializer, description="over the upload limit (the message says it)"),
        },
    )
    def post(self, request, *args, **kwargs):
        upload = self.uploaded_file(PacketUploadSerializer)
        receipt = receipt_upload(actor=request.user, upload=upload, source=IntakeSource.API)
        data = PacketReceiptSerializer(receipt, context={"request": request}).data
        return created(data, data["url"], code=status.HTTP_202_ACCEPTED)


class PacketReceiptDetail(generics.RetrieveAPIView):
    """One queued receipt of a packet: queued, running, done (with the result) or failed (with the error)."""

    queryset = PacketReceipt.objects.select_related("packet_revision")
    serializer_class = PacketReceiptSerializer
    permission_classes = [CanRead]
    filterset_class = None

    @extend_schema(operation_id="evidence_packet_receipts_retrieve", summary="A queued receipt of a packet")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PacketDetail(generics.RetrieveAPIView):
    """One packet: its clients and current class, and every receipt (revisions and refusals), newest first,
    each with its class, sha256, who received it, who verified it or why it was withdrawn, and documents."""

    queryset = listing.packets()
    serializer_class = PacketDetailSerializer
    permission_classes = [CanRead]

    @extend_schema(operation_id="evidence_packets_retrieve", summary="An evidence packet and its revisions")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


def _revision(pk: int, number: int) -> PacketRevision:
    packet = get_object_or_404(listing.packets(), pk=pk)
    revision = listing.revision_of(packet, number)
    if revision is None:
        raise NotFound(f"evidence packet {packet.packet_id} has no revision {number}")
    return revision


class RevisionRecords(generics.ListAPIView):
    """The typed records of one revision, in file order (`row`), by keyset pages. The fields are the kind's
    columns (contract terms, prices, rebate invoices or Salesforce accounts): decimals as exact strings."""

    pagination_class = InFileOrder
    permission_classes = [CanRead]
    filterset_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator: no revision to look up
            return RECORD_SERIALIZERS["contract"].Meta.model.objects.none()
        self.revision = _revision(self.kwargs["pk"], self.kwargs["number"])
        return listing.records_of(self.revision)

    def get_serializer_class(self):
        revision = getattr(self, "revision", None)
        return RECORD_SERIALIZERS[revision.kind] if revision is not None else RECORD_SERIALIZERS["contract"]

    @extend_schema(
        operation_id="evidence_packets_records", summary="The records of a revision",
        responses=PolymorphicProxySerializer(
            component_name="PacketRecord", serializers=list(RECORD_SERIALIZERS.values()), resource_type_field_name=None,
            many=True,
        ),
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


REFUSED = {
    400: OpenApiResponse(description="invalid body: sha256 and comment (or reason) are required"),
    403: OpenApiResponse(ErrorSerializer, description="who asks: no verify_evidence capability, or the receiver "
                                                      "verifying their own revision (four eyes); audited"),
    409: OpenApiResponse(ErrorSerializer, description="the revision: stale sha256, a refused receipt, already "
                                                      "governed, or not governed (withdraw); audited"),
}


class _Decision(APIView):
    permission_classes = [IsAuthenticated]
    body_serializer: type = VerifySerializer

    def handle_exception(self, exc):
        if isinstance(exc, verification.VerificationRefused):
            code = status.HTTP_403_FORBIDDEN if exc.forbidden else status.HTTP_409_CONFLICT
            return Response({"detail": exc.reason}, status=code)
        return super().handle_exception(exc)

    def decide(self, request, pk: int, number: int, service, text: str) -> Response:
        body = self.body_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        revision = service(actor=request.user, revision=_revision(pk, number), sha256=data["sha256"],
                           **{text: data[text]})
        return Response(RevisionSerializer(revision, context={"request": request}).data)


class RevisionVerify(_Decision):
    """Verify a candidate revision into governed evidence: another person than its receiver, holding
    verify_evidence (approvers), with a comment, bound to the sha256 of the revision they checked."""

    body_serializer = VerifySerializer

    @extend_schema(operation_id="evidence_packets_verify", summary="Verify a revision (four eyes)",
                   request=VerifySerializer, responses={200: RevisionSerializer, **REFUSED})
    def post(self, request, pk: int, number: int):
        return self.decide(request, pk, number, verification.packet_verify, "comment")


class RevisionWithdraw(_Decision):
    """Withdraw a governed revision, with a reason: it is candidate evidence from then on."""

    body_serializer = WithdrawSerializer

    @extend_schema(operation_id="evidence_packets_withdraw", summary="Withdraw a governed revision",
                   request=WithdrawSerializer, responses={200: RevisionSerializer, **REFUSED})
    def post(self, request, pk: int, number: int):
        return self.decide(request, pk, number, verification.packet_withdraw, "reason")
