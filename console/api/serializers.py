"""Serializers of the console's API. They shape; they never save."""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from console import people, roles
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
    decided_by = serializers.CharField(source="decided_by.get_username", read_only=True, default=None,
                                       allow_null=True)

    class Meta:
        model = RoleGrant
        fields = ["id", "user", "role", "state", "groups_at_proposal", "change_hash", "proposed_by",
                  "proposed_at", "decided_by", "decided_at"]
        read_only_fields = fields


class UsernameField(serializers.SlugRelatedField):
    """A person named by username. A name with a NUL byte names no one: said so here, before PostgreSQL
    (which refuses NUL in text) is asked and the call answers 500."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="username", queryset=get_user_model().objects.all(), **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data.replace("\x00", "\\x00"))
        return super().to_internal_value(data)


class GrantProposeSerializer(serializers.Serializer):
    """Who gets which decision role."""

    user = UsernameField(help_text="the person's username")
    role = serializers.ChoiceField(choices=list(roles.DECISION_ROLES))


# --- operations ------------------------------------------------------------------------------------------
class QueueDepthSerializer(serializers.Serializer):
    queue = serializers.CharField()
    waiting = serializers.IntegerField(help_text="messages waiting for a worker in this queue")


class InFlightJobSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="e.g. Calculation run, Promotion load")
    id = serializers.IntegerField(source="pk")
    url = serializers.CharField(help_text="the job's page (a site path)")
    state = serializers.ChoiceField(choices=["waiting", "running"])
    since = serializers.DateTimeField(allow_null=True, help_text="waiting: since it waits; running: its start")
    last_sign_of_life = serializers.DateTimeField(source="last_beat", allow_null=True,
                                                  help_text="running: its heartbeat (its start where it has none)")
    quiet_seconds = serializers.IntegerField(allow_null=True, help_text="running: seconds since its last sign of life")
    waited_seconds = serializers.IntegerField(allow_null=True)
    worker = serializers.CharField(help_text="host and pid, where the job records them")
    attempts = serializers.IntegerField(allow_null=True)
    silent = serializers.BooleanField(help_text="running, silent for longer than its kind's stale time")
    late = serializers.BooleanField(help_text="waiting past the re-send delay: its message was sent again")


class InFlightCountsSerializer(serializers.Serializer):
    waiting = serializers.IntegerField()
    late = serializers.IntegerField()
    running = serializers.IntegerField()
    silent = serializers.IntegerField()


class InFlightSerializer(serializers.Serializer):
    counts = InFlightCountsSerializer(help_text="every job in flight, not only those listed")
    jobs = InFlightJobSerializer(many=True)
    more = serializers.BooleanField(help_text="more jobs than listed (the oldest 50 of each kind and state are)")


class OperationsSerializer(serializers.Serializer):
    read_at = serializers.DateTimeField()
    queues = QueueDepthSerializer(many=True, source="depths", help_text="empty when the broker did not answer")
    queued_total = serializers.IntegerField(source="total")
    reserved = serializers.IntegerField(allow_null=True, help_text="deliveries a worker holds unacknowledged (Redis)")
    broker_error = serializers.CharField(source="error", help_text="why the broker did not answer; empty when it did")
    in_flight = InFlightSerializer()


class PersonHistorySerializer(serializers.Serializer):
    """One event of the trail about a person's account or roles."""

    seq = serializers.IntegerField()
    occurred_at = serializers.DateTimeField()
    actor = serializers.CharField(source="actor_label")
    action = serializers.CharField()
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)


class PersonDetailSerializer(PersonSerializer):
    """A person, their roles, the decision-role grants awaiting a second admin, and the history of their account
    and roles from the audit trail (newest first, at most 200 events), as the person's page shows them."""

    pending_grants = serializers.SerializerMethodField()
    history = serializers.SerializerMethodField()

    @extend_schema_field(RoleGrantSerializer(many=True))
    def get_pending_grants(self, user) -> list[dict]:
        return RoleGrantSerializer(people.pending_grants().filter(user=user), many=True).data

    @extend_schema_field(PersonHistorySerializer(many=True))
    def get_history(self, user) -> list[dict]:
        return PersonHistorySerializer(people.person_history(user), many=True).data
