"""Serializers of the console's API. They shape; they never save."""

from rest_framework import serializers

from console.models import AuditEvent


class ErrorSerializer(serializers.Serializer):
    """A refusal's message: what every 401, 403, 404, 409, 413 and 415 of the API carries."""

    detail = serializers.CharField()


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
