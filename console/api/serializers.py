"""Serializers of the console's API. They shape; they never save."""

from django.contrib.auth import get_user_model
from rest_framework import serializers

from console import roles
from console.models import AuditEvent, RoleGrant


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


class PersonSerializer(serializers.Serializer):
    """A person and the roles they hold."""

    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    roles = serializers.SerializerMethodField()
    is_active = serializers.BooleanField(read_only=True)
    is_superuser = serializers.BooleanField(read_only=True)

    def get_roles(self, user) -> list[str]:
        return sorted(group.name for group in user.groups.all())


class RoleGrantSerializer(serializers.ModelSerializer):
    """A decision-role grant: proposed by one admin, confirmed or cancelled by another."""

    user = serializers.CharField(source="user.get_username", read_only=True)
    proposed_by = serializers.CharField(source="proposed_by.get_username", read_only=True)
    decided_by = serializers.CharField(source="decided_by.get_username", read_only=True, default=None)

    class Meta:
        model = RoleGrant
        fields = ["id", "user", "role", "state", "groups_at_proposal", "change_hash", "proposed_by",
                  "proposed_at", "decided_by", "decided_at"]
        read_only_fields = fields


class GrantProposeSerializer(serializers.Serializer):
    """Who gets which decision role."""

    user = serializers.SlugRelatedField(slug_field="username", queryset=get_user_model().objects.all(),
                                        help_text="the person's username")
    role = serializers.ChoiceField(choices=list(roles.DECISION_ROLES))
