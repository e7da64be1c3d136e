"""Serializers of the promotion API. They validate and shape; they never save (the views call a service)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from console.comments import COMMENT_MAX_CHARS
from evidence.calculations.reports import flaw_title
from evidence.choices import Severity
from evidence.models import DomoDataset, SourceManifest
from promotion import policy
from promotion.choices import FlawDecision, PromotionKind, PromotionTarget
from promotion.models import FlawDisposition, GateResult, PromotionRequest
from promotion.selectors import curated_columns


def _username(user) -> str | None:
    return user.get_username() if user else None


# --- requests: what comes in -------------------------------------------------------------------------


class PromotionRequestCreateSerializer(serializers.Serializer):
    manifest = serializers.PrimaryKeyRelatedField(
        queryset=SourceManifest.objects.all(), help_text="the source manifest (it must be complete)"
    )
    datasets = serializers.PrimaryKeyRelatedField(
        queryset=DomoDataset.objects.all(),
        many=True,
        allow_empty=False,
        help_text="ids of the manifest's datasets to promote, each once",
    )
    target = serializers.ChoiceField(
        choices=PromotionTarget.choices,
        default=PromotionTarget.MIGRATION,
        help_text="migration and reconciliation (the default), or a backend contract (a separate permission)",
    )

    def validate_datasets(self, datasets: list[DomoDataset]) -> list[DomoDataset]:
        """Each dataset once: [1, 1] is a body that does not say what it means (was a request of dataset 1)."""
        seen: set[int] = set()
        twice = sorted({d.pk for d in datasets if d.pk in seen or seen.add(d.pk)})
        if twice:
            raise serializers.ValidationError(
                f"dataset {', '.join(map(str, twice))} is named more than once: name each dataset once")
        return datasets


class CommentSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=COMMENT_MAX_CHARS, help_text="why: kept with the decision")


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=COMMENT_MAX_CHARS, help_text="why: kept with the cancellation")


class RollbackSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        min_value=1, help_text="the earlier curated version to point readers at"
    )


class FlawFingerprintSerializer(serializers.Serializer):
    """A flaw's fingerprint, in a body or in a URL (withdrawing a disposition)."""

    fingerprint = serializers.RegexField(
        r"^[0-9a-f]{64}$", help_text="the flaw's fingerprint, as the flaws endpoint gives it"
    )


class DispositionSetSerializer(FlawFingerprintSerializer):
    decision = serializers.ChoiceField(choices=FlawDecision.choices)
    note = serializers.CharField(max_length=COMMENT_MAX_CHARS, help_text="why this decision (required)")


class SchemaDriftSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=COMMENT_MAX_CHARS, help_text="why the drift is acceptable (required)")


# --- requests: what goes out -------------------------------------------------------------------------


class ManifestBriefSerializer(serializers.ModelSerializer):
    sha256 = serializers.CharField(source="manifest_sha256", read_only=True)

    class Meta:
        model = SourceManifest
        fields = ["id", "load_id", "sha256", "status"]
        read_only_fields = fields


class CuratedColumnSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="the column's name in the export")
    column = serializers.CharField(help_text="its column in the curated table (PostgreSQL names hold 63 bytes)")


class DatasetBriefSerializer(serializers.ModelSerializer):
    curated_columns = serializers.SerializerMethodField(
        help_text="the columns loaded under another name than the export's: longer than 63 bytes, shortened"
    )

    class Meta:
        model = DomoDataset
        fields = ["id", "domo_id", "name", "curated_columns"]
        read_only_fields = fields

    @extend_schema_field(CuratedColumnSerializer(many=True))
    def get_curated_columns(self, dataset) -> list[dict]:
        found = curated_columns([dataset])
        return [{"name": name, "column": column} for entry in found for name, column in entry.shortened]


class GateResultSerializer(serializers.ModelSerializer):
    details = serializers.ListField(
        child=serializers.DictField(), read_only=True,
        help_text="[{what, where, link, ...}]: what the operator must act on, where, and a link to it",
    )

    class Meta:
        model = GateResult
        fields = [
            "id", "gate", "version", "outcome", "details", "manifest_sha256", "inputs_fingerprint", "ran_at",
        ]
        read_only_fields = fields


class PromotionRequestSerializer(serializers.ModelSerializer):
    """A request as lists show it."""

    url = serializers.HyperlinkedIdentityField(view_name="api-promotion-detail")
    manifest = ManifestBriefSerializer(read_only=True)
    datasets = DatasetBriefSerializer(many=True, read_only=True)
    requested_by = serializers.SerializerMethodField()
    approved_by = serializers.SerializerMethodField()
    is_final = serializers.BooleanField(read_only=True)
    # Named PromotionKindEnum in SPECTACULAR_SETTINGS' ENUM_NAME_OVERRIDES: evidence has a "kind" enum too.
    kind = serializers.ChoiceField(
        choices=PromotionKind.choices, read_only=True,
        help_text="promotion, or rollback (a pointer moved back)",
    )

    class Meta:
        model = PromotionRequest
        fields = [
            "id",
            "url",
            "kind",
            "state",
            "is_final",
            "target",
            "manifest",
            "datasets",
            "requested_by",
            "requested_at",
            "approved_by",
            "approved_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_requested_by(self, request) -> str | None:
        return _username(request.requested_by)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_approved_by(self, request) -> str | None:
        return _username(request.approved_by)


class PromotionRequestDetailSerializer(PromotionRequestSerializer):
    """A request with its decision, its current gate results, and its load."""

    rejected_by = serializers.SerializerMethodField()
    cancelled_by = serializers.SerializerMethodField()
    gate_results = serializers.SerializerMethodField(help_text="the gate results of the latest check")
    actions = serializers.SerializerMethodField(
        help_text="what the caller may do on this request now (promotion.policy, the rules the endpoints enforce): "
                  "recheck, approve, reject, cancel, dispose; awaiting_second when a ready request waits for "
                  "another person's approval"
    )
    load_progress = serializers.DictField(
        read_only=True, help_text="{stage, dataset, rows, datasets: {domo id: {version, rows}}}"
    )

    class Meta(PromotionRequestSerializer.Meta):
        fields = [
            *PromotionRequestSerializer.Meta.fields,
            "rollback_key",
            "rollback_version",
            "rollback_from_version",
            "approval_comment",
            "approval_fingerprint",
            "rejected_by",
            "rejected_at",
            "rejection_comment",
            "cancelled_by",
            "cancelled_at",
            "check_started_at",
            "checked_at",
            "gate_results",
            "actions",
            "load_started_at",
            "load_progress",
            "heartbeat_at",
            "attempts",
            "error",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField(child=serializers.BooleanField()))
    def get_actions(self, request) -> dict[str, bool]:
        caller = self.context.get("request")
        return policy.offered(caller.user, request) if caller is not None else {}

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_rejected_by(self, request) -> str | None:
        return _username(request.rejected_by)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_cancelled_by(self, request) -> str | None:
        return _username(request.cancelled_by)

    @extend_schema_field(GateResultSerializer(many=True))
    def get_gate_results(self, request) -> list[dict]:
        current = sorted(request.gate_results.filter(current=True), key=lambda r: r.gate)
        return GateResultSerializer(current, many=True).data


# --- flaws and dispositions ----------------------------------------------------------------------------


class DispositionSerializer(serializers.ModelSerializer):
    decided_by = serializers.SerializerMethodField()

    class Meta:
        model = FlawDisposition
        fields = ["id", "manifest", "fingerprint", "code", "decision", "note", "decided_by", "decided_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_decided_by(self, disposition) -> str | None:
        return _username(disposition.decided_by)


class FlawPlaceSerializer(serializers.Serializer):
    flaw = serializers.IntegerField(help_text="the calculation flaw's id")
    where = serializers.CharField(help_text="the card, dataset or DataFlow step it is in")
    link = serializers.CharField(help_text="that object's page in the console")


class FlawToDispositionSerializer(serializers.Serializer):
    """One flaw behind the datasets (one per fingerprint), with the operator's disposition if any.

    Shapes a dict built by the view: {flaw, fingerprint, object_kind, object_id, places, disposition}.
    """

    fingerprint = serializers.CharField()
    flaw = serializers.IntegerField(source="flaw.pk", help_text="the calculation flaw's id (its first place)")
    code = serializers.CharField(source="flaw.code")
    title = serializers.SerializerMethodField()
    severity = serializers.ChoiceField(source="flaw.severity", choices=Severity.choices)
    object_kind = serializers.CharField(help_text="beast_mode or dataflow_step")
    object_id = serializers.CharField(help_text="the beast mode's formula id, or DataFlow id/step/part")
    snippet = serializers.CharField(source="flaw.snippet")
    message = serializers.CharField(source="flaw.message")
    places = FlawPlaceSerializer(many=True, help_text="every place behind the datasets where it occurs")
    disposition = DispositionSerializer(allow_null=True)

    @extend_schema_field(serializers.CharField())
    def get_title(self, item) -> str:
        return flaw_title(item["flaw"].code)


# --- the curated registry ------------------------------------------------------------------------------


class RegistryVersionSerializer(serializers.Serializer):
    """One version of a curated dataset (a RegistryVersion), with the manifest and request behind it."""

    dataset_key = serializers.CharField(help_text="the dataset's Domo id, or golden:<card id>")
    version = serializers.IntegerField()
    # Plain text, not enums: "kind" and "state" name other choice sets elsewhere in the schema.
    kind = serializers.CharField(help_text="what the curated table holds (a dataset or a golden packet)")
    is_golden = serializers.BooleanField()
    table_name = serializers.CharField()
    load_id = serializers.CharField()
    manifest_sha256 = serializers.CharField()
    rows = serializers.IntegerField(allow_null=True)
    checksum = serializers.CharField(allow_null=True)
    loaded_at = serializers.DateTimeField(allow_null=True)
    state = serializers.CharField(help_text="the version's state in the registry (current, ...)")
    manifest = serializers.IntegerField(source="manifest.pk", allow_null=True, default=None)
    request = serializers.IntegerField(
        source="request.pk", allow_null=True, default=None, help_text="the promotion request that loaded it"
    )
    requested_by = serializers.SerializerMethodField()
    approved_by = serializers.SerializerMethodField()
    rollback = serializers.IntegerField(
        source="rollback.pk", allow_null=True, default=None,
        help_text="the latest rollback request that made this version current again",
    )
    rolled_back_by = serializers.SerializerMethodField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_requested_by(self, version) -> str | None:
        return _username(version.requested_by)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_approved_by(self, version) -> str | None:
        return _username(version.approved_by)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_rolled_back_by(self, version) -> str | None:
        return _username(version.rolled_back_by)
