"""Serializers of the console's API. They shape; they never save."""

from rest_framework import serializers

from console.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_label", read_only=True)

    class Meta:
        model = AuditEvent
        fields = [
            "seq",
            "occurred_at",
            "clock_reading",
            "actor",
            "actor_id",
            "action",
            "object_type",
            "object_id",
            "before",
            "after",
            "correlation_id",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields
