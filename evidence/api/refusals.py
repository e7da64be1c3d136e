"""Refused evidence packet receipts in the API: the list (newest first, keyset pages, the page's filters) and
one refusal with every issue located (code, severity, file, field, row, column, message), in the order the
validation reported them. The pages are /evidence/packets/refusals/. Reading needs console.view_provenance.
"""
from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers

from console.api.pagination import KeysetPagination
from console.api.permissions import capability
from evidence.packets import listing
from evidence.packets.models import PacketRevision, PacketRevisionIssue

CanRead = capability("console.view_provenance")


class RefusalIssueSerializer(serializers.ModelSerializer):
    class Meta:
        model = PacketRevisionIssue
        fields = ["position", "code", "severity", "file", "field", "row", "column", "message"]


class RefusalSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api-evidence-packet-refusal-detail")
    page_url = serializers.SerializerMethodField(help_text="the refusal's page in the console")
    packet = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True,
        help_text="the packet whose accepted revisions still stand, if this packet_id was ever accepted")
    issue_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = PacketRevision
        fields = ["id", "url", "page_url", "claimed_packet_id", "kind", "packet", "received_at",
                  "received_by_label", "original_name", "received_sha256", "sha256", "bronze_prefix",
                  "issue_count"]
        extra_kwargs = {
            "received_sha256": {"help_text": "SHA-256 of what arrived: the archive, or the folder's tree"},
            "sha256": {"help_text": "SHA-256 of packet.json as it arrived; blank if it could not be read"},
        }

    def get_page_url(self, refusal) -> str:
        return reverse("packets:refusal-detail", args=[refusal.pk])


class RefusalDetailSerializer(RefusalSerializer):
    issues = serializers.SerializerMethodField(help_text="every issue found, located, in reported order")

    class Meta(RefusalSerializer.Meta):
        fields = [*RefusalSerializer.Meta.fields, "issues"]
        extra_kwargs = RefusalSerializer.Meta.extra_kwargs

    @extend_schema_field(RefusalIssueSerializer(many=True))
    def get_issues(self, refusal) -> list[dict]:
        return RefusalIssueSerializer(listing.issues_of(refusal), many=True).data


class RefusalList(generics.ListAPIView):
    """Refused packet receipts, newest first (filters: packet_id as sent, code of an issue)."""

    queryset = listing.refusals()
    serializer_class = RefusalSerializer
    filterset_class = listing.RefusalFilterSet
    pagination_class = KeysetPagination
    permission_classes = [CanRead]

    @extend_schema(operation_id="evidence_packet_refusals_list", summary="List refused evidence packet receipts")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RefusalDetail(generics.RetrieveAPIView):
    """One refused receipt and every issue located in it."""

    queryset = listing.refusals()
    serializer_class = RefusalDetailSerializer
    permission_classes = [CanRead]

    @extend_schema(operation_id="evidence_packet_refusals_retrieve", summary="A refused receipt and its issues")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
