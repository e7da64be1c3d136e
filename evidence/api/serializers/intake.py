"""Serializers of the evidence API: intake runs, manifests and their issues. They validate and shape; they never save."""
from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from console.api.fields import UploadField
from evidence.intake.uploads import export_name_problem
from evidence.models import (
    IntakeRun,
    ManifestIssue,
    SourceManifest,
)


def _username(user) -> str | None:
    return user.get_username() if user else None


# --- intake ----------------------------------------------------------------------------------------


class IntakeUploadSerializer(serializers.Serializer):
    file = UploadField(
        help_text="The Leaf IQ export: a .zip of its folder, manifest.json at its root."
    )

    def validate_file(self, upload):
        problem = export_name_problem(upload.name)
        if problem:
            raise serializers.ValidationError(problem)
        return upload


class IntakeAcceptedSerializer(serializers.ModelSerializer):
    """The answer to an upload: where to follow the run."""

    url = serializers.HyperlinkedIdentityField(view_name="api-intake-run-detail")
    # Plain text here: a second component with the run's status enum would collide in the schema's
    # enum naming with the manifest's status (both fields are named "status").
    status = serializers.CharField(
        read_only=True, help_text="the run's status: queued, as it was just recorded"
    )

    class Meta:
        model = IntakeRun
        fields = ["id", "url", "status"]
        read_only_fields = fields


class IntakeRunSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api-intake-run-detail")
    page_url = serializers.SerializerMethodField(help_text="the run's page in the console")
    requested_by = serializers.SerializerMethodField()
    manifest = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    manifest_url = serializers.SerializerMethodField()
    is_final = serializers.BooleanField(read_only=True)
    repeat_of = serializers.SerializerMethodField(
        help_text="the run that first received the same export (same load id and content), when this run repeated "
        "it: no second manifest was made, the verdict is the first one's"
    )
    repeat_of_url = serializers.SerializerMethodField()
    verdict = serializers.SerializerMethodField(help_text="the manifest's verdict, once there is a manifest")

    class Meta:
        model = IntakeRun
        fields = [
            "id",
            "url",
            "page_url",
            "source",
            "original_name",
            "requested_by",
            "status",
            "stage",
            "progress",
            "is_final",
            "attempts",
            "error",
            "manifest",
            "manifest_url",
            "verdict",
            "repeat_of",
            "repeat_of_url",
            "queued_at",
            "started_at",
            "heartbeat_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField())
    def get_page_url(self, run) -> str:
        return self.context["request"].build_absolute_uri(reverse("evidence:intake-detail", args=[run.pk]))

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_requested_by(self, run) -> str | None:
        return _username(run.requested_by)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_manifest_url(self, run) -> str | None:
        if run.manifest_id is None:
            return None
        return self.context["request"].build_absolute_uri(
            reverse("api-manifest-detail", args=[run.manifest_id])
        )

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_repeat_of(self, run) -> int | None:
        return run.repeat_of_id

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_repeat_of_url(self, run) -> str | None:
        if run.repeat_of_id is None:
            return None
        return self.context["request"].build_absolute_uri(reverse("api-intake-run-detail", args=[run.repeat_of_id]))

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_verdict(self, run) -> str | None:
        return run.manifest.status if run.manifest_id else None


# --- manifests and issues -------------------------------------------------------------------------


# What a manifest can miss; named in SPECTACULAR_SETTINGS' ENUM_NAME_OVERRIDES (KindEnum), as promotion has a
# "kind" enum too.
MISSING_KINDS = ["dataset", "card", "dataflow", "policies", "golden"]


class MissingSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=MISSING_KINDS)
    id = serializers.CharField()
    reason = serializers.CharField()


class ManifestSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api-manifest-detail")
    received_by = serializers.SerializerMethodField()
    missing = MissingSerializer(many=True, read_only=True)
    errors = serializers.IntegerField(read_only=True, help_text="issues of severity error")
    warnings = serializers.IntegerField(read_only=True, help_text="issues of severity warning")

    class Meta:
        model = SourceManifest
        fields = [
            "id",
            "url",
            "load_id",
            "manifest_sha256",
            "status",
            "claimed_status",
            "exported_at",
            "domo_instance",
            "exporter",
            "missing",
            "errors",
            "warnings",
            "bronze_prefix",
            "silver_prefix",
            "received_at",
            "received_by",
            "intake_run",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_received_by(self, manifest) -> str | None:
        return _username(manifest.received_by)


class IssueSerializer(serializers.ModelSerializer):
    class Meta:
        model = ManifestIssue
        fields = [
            "id",
            "manifest",
            "position",
            "code",
            "severity",
            "file",
            "object",
            "field",
            "row",
            "column",
            "message",
        ]
        read_only_fields = fields
