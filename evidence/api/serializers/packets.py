"""Serializers of evidence packets: the list, a packet with its revisions, a revision's typed records, and
the bodies of Verify and Withdraw (bound to the sha256 of the revision the person checked)."""
from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from console.comments import COMMENT_MAX_CHARS
from evidence.packets.listing import documents_of
from evidence.packets.models import (
    AccountRow,
    ContractTermRow,
    EvidencePacket,
    PacketRevision,
    PriceRow,
    RebateInvoiceRow,
)

SHA256 = {"min_length": 64, "max_length": 64, "help_text": "the sha256 of the revision you checked (its packet.json)"}


class PacketSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api-evidence-packet-detail")
    page_url = serializers.SerializerMethodField(help_text="the packet's page in the console")
    latest_revision = serializers.IntegerField(read_only=True, allow_null=True)
    evidence_class = serializers.CharField(
        source="latest_class", read_only=True, help_text="the latest accepted revision's class: governed or candidate"
    )
    newest_receipt_refused = serializers.SerializerMethodField()
    period_start = serializers.DateField(read_only=True, allow_null=True)
    period_end = serializers.DateField(read_only=True, allow_null=True)

    class Meta:
        model = EvidencePacket
        fields = ["id", "url", "page_url", "packet_id", "kind", "client_account_ids", "evidence_class",
                  "latest_revision", "newest_receipt_refused", "period_start", "period_end", "created_at"]

    def get_page_url(self, packet) -> str:
        return reverse("packets:packet-detail", args=[packet.pk])

    def get_newest_receipt_refused(self, packet) -> bool:
        return getattr(packet, "newest_status", "") == "refused"


class DocumentSerializer(serializers.Serializer):
    path = serializers.CharField()
    sha256 = serializers.CharField()
    bytes = serializers.IntegerField(allow_null=True)
    media_type = serializers.CharField()
    title = serializers.CharField()
    download_url = serializers.CharField(help_text="served only if the stored bytes still match sha256")


class RevisionSerializer(serializers.ModelSerializer):
    verified_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    records_url = serializers.SerializerMethodField()
    documents = serializers.SerializerMethodField()
    issues = serializers.SerializerMethodField()
    keyed_by = serializers.SerializerMethodField()
    supersedes = serializers.SerializerMethodField()

    class Meta:
        model = PacketRevision
        fields = ["id", "revision", "status", "evidence_class", "kind", "sha256", "received_sha256",
                  "original_name", "period_start", "period_end", "received_at", "received_by_label",
                  "verified_by", "verified_at", "withdrawn_at", "withdrawal_reason", "keyed_by", "supersedes",
                  "records_url", "documents", "issues"]

    def get_keyed_by(self, revision) -> str:
        """packet.json's keyed_by: who keyed the records (they may not verify them)."""
        return str((revision.header or {}).get("keyed_by") or "")

    def get_supersedes(self, revision) -> str | None:
        """packet.json's supersedes: the packet_id this revision replaces from its period's start, or null."""
        return (revision.header or {}).get("supersedes") or None

    def get_records_url(self, revision) -> str | None:
        if revision.revision is None:
            return None
        return self._absolute(reverse("api-evidence-packet-records", args=[revision.packet_id, revision.revision]))

    @extend_schema_field(DocumentSerializer(many=True))
    def get_documents(self, revision) -> list[dict]:
        if revision.revision is None:
            return []
        return [
            {"path": d["path"], "sha256": d["sha256"], "bytes": d.get("bytes"), "media_type": d.get("media_type", ""),
             "title": d.get("title", ""),
             "download_url": self._absolute(reverse("packets:document-download",
                                                    args=[revision.packet_id, revision.revision, d["index"]]))}
            for d in documents_of(revision)
        ]

    def get_issues(self, revision) -> int:
        """How many issues a refused receipt has (0 for an accepted revision)."""
        return revision.issues.count() if revision.status == "refused" else 0

    def _absolute(self, path: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class PacketDetailSerializer(PacketSerializer):
    revisions = serializers.SerializerMethodField(help_text="every receipt, newest first; refused ones included")

    class Meta(PacketSerializer.Meta):
        fields = [*PacketSerializer.Meta.fields, "revisions"]

    @extend_schema_field(RevisionSerializer(many=True))
    def get_revisions(self, packet) -> list[dict]:
        revisions = packet.revisions.select_related("verified_by").order_by("-id")
        return RevisionSerializer(revisions, many=True, context=self.context).data


def _record_serializer(table):
    class RecordSerializer(serializers.ModelSerializer):
        class Meta:
            model = table
            exclude = ["id", "revision"]

    RecordSerializer.__name__ = f"{table.__name__}Serializer"
    return RecordSerializer


RECORD_SERIALIZERS = {
    "contract": _record_serializer(ContractTermRow),
    "pricing": _record_serializer(PriceRow),
    "rebate": _record_serializer(RebateInvoiceRow),
    "salesforce": _record_serializer(AccountRow),
}


class VerifySerializer(serializers.Serializer):
    sha256 = serializers.CharField(**SHA256)
    comment = serializers.CharField(max_length=COMMENT_MAX_CHARS, help_text="what you checked against the source documents")


class WithdrawSerializer(serializers.Serializer):
    sha256 = serializers.CharField(**SHA256)
    reason = serializers.CharField(max_length=COMMENT_MAX_CHARS)
