"""Serializers of queued evidence packet receipts: the upload, the 202 answer, a receipt and its result."""
from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from console.api.fields import UploadField
from evidence.packets.models import PacketReceipt
from evidence.packets.receipts import packet_name_problem, receipt_result


class PacketUploadSerializer(serializers.Serializer):
    file = UploadField(help_text="The evidence packet: a .zip of its folder, packet.json at its root.")

    def validate_file(self, upload):
        problem = packet_name_problem(upload.name)
        if problem:
            raise serializers.ValidationError(problem)
        return upload


class ReceiveIssueSerializer(serializers.Serializer):
    code = serializers.CharField()
    severity = serializers.CharField()
    file = serializers.CharField(allow_null=True)
    field = serializers.CharField(allow_null=True)
    row = serializers.IntegerField(allow_null=True)
    column = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class ReceiveResultSerializer(serializers.Serializer):
    """What `receive_evidence --json` prints: the packet received, its verdict and every issue, located."""

    packet_id = serializers.CharField(allow_null=True)
    kind = serializers.CharField(allow_null=True)
    revision = serializers.IntegerField(allow_null=True, help_text="1, 2, … for accepted; null if refused")
    status = serializers.CharField(help_text="accepted, unchanged or refused")
    # The JSON key is "class" (a Python keyword): declared under it in __init__.
    sha256 = serializers.CharField(allow_null=True, help_text="of packet.json's bytes")
    issues = ReceiveIssueSerializer(many=True)
    bronze = serializers.CharField(help_text="where the lake keeps what arrived")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["class"] = serializers.CharField(allow_null=True, help_text="candidate or governed; null if refused")


def _url(request, name: str, pk) -> str:
    path = reverse(name, args=[pk])
    return request.build_absolute_uri(path) if request is not None else path


class PacketReceiptSerializer(serializers.ModelSerializer):
    """A queued receipt: where it stands and, when done, the packet revision it recorded or answered."""

    url = serializers.SerializerMethodField()
    page_url = serializers.SerializerMethodField(help_text="the receipt's page in the console")
    # Plain text (not an enum): another "status" enum would collide with the packets' in the schema.
    status = serializers.CharField(read_only=True, help_text="queued, running, done or failed")
    is_final = serializers.BooleanField(read_only=True)
    requested_by = serializers.CharField(source="requested_by_label", read_only=True,
                                         help_text="the receiver: the uploader's username, or the system actor")
    outcome = serializers.CharField(read_only=True, help_text="accepted, unchanged or refused, once done; else empty")
    packet_url = serializers.SerializerMethodField(help_text="the packet received, once done (null for a refusal "
                                                   "of a packet never accepted)")
    result = serializers.SerializerMethodField(help_text="once done: the object `receive_evidence --json` prints")

    class Meta:
        model = PacketReceipt
        fields = ["id", "url", "page_url", "source", "original_name", "upload_sha256", "upload_bytes",
                  "requested_by", "status", "is_final", "attempts", "error", "outcome", "packet_url", "result",
                  "queued_at", "started_at", "finished_at"]
        read_only_fields = fields

    def get_url(self, receipt) -> str:
        return _url(self.context.get("request"), "api-evidence-packet-receipt-detail", receipt.pk)

    def get_page_url(self, receipt) -> str:
        return reverse("packets:receipt-detail", args=[receipt.pk])

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_packet_url(self, receipt) -> str | None:
        revision = receipt.packet_revision
        if revision is None or revision.packet_id is None:
            return None
        return _url(self.context.get("request"), "api-evidence-packet-detail", revision.packet_id)

    @extend_schema_field(ReceiveResultSerializer(allow_null=True))
    def get_result(self, receipt) -> dict | None:
        return receipt_result(receipt)
