"""Serializers of the missing-evidence flag runs (the flags: evidence/api/overview.py)."""
from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from evidence.flags.models import FlagRun


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
