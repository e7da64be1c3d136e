"""Serializers of the missing-evidence flags and their runs."""
from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from evidence.flags.models import FlagRun, MissingEvidenceFlag


def _url(request, name: str, pk) -> str:
    path = reverse(name, args=[pk])
    return request.build_absolute_uri(path) if request is not None else path


class FlagRunSerializer(serializers.ModelSerializer):
    """One recomputation: what triggered it, which worker ran it, what it read and what it raised/resolved."""

    url = serializers.SerializerMethodField()
    # Plain text (not an enum): another "status" enum would collide with others' in the schema.
    status = serializers.CharField(read_only=True, help_text="queued, running, succeeded or failed")
    requested_by = serializers.CharField(source="requested_by_label", read_only=True)
    summary = serializers.JSONField(read_only=True, help_text="{raised, resolved, open, needs}")
    inputs = serializers.JSONField(read_only=True, help_text="curated versions, evidence revisions, Domo sets read")

    class Meta:
        model = FlagRun
        fields = ["id", "url", "status", "trigger", "trigger_ref", "requested_by", "queued_at", "started_at",
                  "finished_at", "task_id", "worker", "attempts", "summary", "inputs", "inputs_sha256", "error"]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField())
    def get_url(self, run) -> str:
        return _url(self.context.get("request"), "api-evidence-flag-run-detail", run.pk)


class FlagRunRequestSerializer(serializers.Serializer):
    """An explicit request for a recomputation (the triggers queue runs on their own)."""

    reason = serializers.CharField(required=False, allow_blank=True, max_length=255,
                                   help_text="why you ask (kept as the run's trigger_ref)")


class MissingEvidenceFlagSerializer(serializers.ModelSerializer):
    """One need without governed coverage: what is missing, what it holds back, whether candidate evidence
    exists, when it was raised, and when and by which revision it was resolved."""

    url = serializers.SerializerMethodField()
    status = serializers.CharField(read_only=True, help_text="open or resolved")
    kind = serializers.CharField(read_only=True, help_text="contract, pricing, rebate or salesforce")
    resolution = serializers.CharField(read_only=True, help_text="covered, no_longer_needed, or empty while open")
    holds_back = serializers.ListField(child=serializers.CharField(), read_only=True,
                                       help_text="outputs: contract_guarantee, pricing_finding, rebate_claim, "
                                                 "client_scope")
    detail = serializers.JSONField(read_only=True)
    candidates = serializers.JSONField(read_only=True, help_text="the candidate evidence seen for it")
    resolved_by_revision = serializers.SerializerMethodField(help_text="the verified revision that covers it")

    class Meta:
        model = MissingEvidenceFlag
        fields = ["id", "url", "key", "kind", "client_account_id", "period_start", "period_end", "component", "ndc",
                  "quarter", "holds_back", "reason", "candidate_exists", "candidates", "detail", "status",
                  "first_raised_at", "raised_by_run", "last_seen_run", "resolved_at", "resolution", "resolved_by_run",
                  "resolved_by_revision"]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField())
    def get_url(self, flag) -> str:
        return _url(self.context.get("request"), "api-evidence-flag-detail", flag.pk)

    @extend_schema_field({"type": "object", "nullable": True, "properties": {
        "id": {"type": "integer"}, "packet_id": {"type": "string"}, "revision": {"type": "integer"},
        "sha256": {"type": "string"}}})
    def get_resolved_by_revision(self, flag) -> dict | None:
        revision = flag.resolved_by_revision
        if revision is None:
            return None
        return {"id": revision.pk, "packet_id": revision.claimed_packet_id, "revision": revision.revision,
                "sha256": revision.sha256}
