"""Serializers of the evidence API. They validate and shape; they never save."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from evidence import pdp
from evidence.calculations import flaw_title, parse_schema
from evidence.choices import CalculationLevel, CalculationUse, Severity
from evidence.formulas.translate import TARGETS
from evidence.models import (
    BeastMode,
    CalculationFlaw,
    DataflowStep,
    DomoCard,
    DomoDataflow,
    DomoDataset,
    IntakeRun,
    ManifestIssue,
    PdpPolicy,
    SourceManifest,
)
from evidence.uploads import export_name_problem


def _username(user) -> str | None:
    return user.get_username() if user else None


# --- intake ----------------------------------------------------------------------------------------


class IntakeUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
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


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class IntakeRunSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api-intake-run-detail")
    page_url = serializers.SerializerMethodField(help_text="the run's page in the console")
    requested_by = serializers.SerializerMethodField()
    manifest = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    manifest_url = serializers.SerializerMethodField()
    is_final = serializers.BooleanField(read_only=True)

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


# --- the objects inside ----------------------------------------------------------------------------


class SchemaColumnSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=["STRING", "LONG", "DOUBLE", "DECIMAL", "DATE", "DATETIME"])


class DatasetSerializer(serializers.ModelSerializer):
    schema = SchemaColumnSerializer(many=True, read_only=True)

    class Meta:
        model = DomoDataset
        fields = [
            "id",
            "manifest",
            "domo_id",
            "name",
            "description",
            "api_shape",
            "declared_rows",
            "schema",
            "owner_name",
            "pdp_enabled",
            "silver_path",
            "silver_sha256",
            "silver_rows",
        ]
        read_only_fields = fields


class CardColumnSerializer(serializers.Serializer):
    column = serializers.CharField(allow_null=True)
    formula_id = serializers.CharField(allow_null=True, help_text="the beast mode, when the column is one")
    aggregation = serializers.CharField(allow_null=True)
    alias = serializers.CharField(allow_null=True)
    mapping = serializers.CharField(allow_null=True)


class CardFilterSerializer(serializers.Serializer):
    column = serializers.CharField(allow_null=True)
    formula_id = serializers.CharField(allow_null=True)
    operator = serializers.CharField(allow_null=True)
    values = serializers.ListField(child=serializers.CharField())
    negated = serializers.BooleanField()


class CardOrderSerializer(serializers.Serializer):
    column = serializers.CharField(allow_null=True)
    formula_id = serializers.CharField(allow_null=True)
    descending = serializers.BooleanField()


class DateGrainSerializer(serializers.Serializer):
    column = serializers.CharField(allow_null=True)
    grain = serializers.CharField(allow_null=True)


class CardMainSerializer(serializers.Serializer):
    """The card's main subscription."""

    columns = CardColumnSerializer(many=True)
    filters = CardFilterSerializer(many=True)
    group_by = CardColumnSerializer(many=True)
    order_by = CardOrderSerializer(many=True)
    date_grain = DateGrainSerializer(allow_null=True)


class CardSerializer(serializers.ModelSerializer):
    main = CardMainSerializer(read_only=True)
    datasource_ids = serializers.ListField(child=serializers.CharField(), read_only=True)
    datasets = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True, help_text="datasets of this export it reads"
    )

    class Meta:
        model = DomoCard
        fields = [
            "id",
            "manifest",
            "domo_id",
            "title",
            "datasource_ids",
            "datasets",
            "main",
            "golden_path",
            "golden_captured_at",
        ]
        read_only_fields = fields


class BeastModeSerializer(serializers.ModelSerializer):
    class Meta:
        model = BeastMode
        fields = [
            "id",
            "manifest",
            "card",
            "dataset",
            "scope",
            "formula_id",
            "name",
            "formula",
            "data_type",
            "status",
            "persisted_on_dataset",
        ]
        read_only_fields = fields


class DataflowStepSerializer(serializers.ModelSerializer):
    sql = serializers.ListField(child=serializers.CharField(), read_only=True)
    expressions = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = DataflowStep
        fields = ["position", "action_type", "name", "sql", "expressions"]
        read_only_fields = fields


class DataflowSerializer(serializers.ModelSerializer):
    input_ids = serializers.ListField(child=serializers.CharField(), read_only=True)
    output_ids = serializers.ListField(child=serializers.CharField(), read_only=True)
    steps = DataflowStepSerializer(many=True, read_only=True)

    class Meta:
        model = DomoDataflow
        fields = ["id", "manifest", "domo_id", "name", "database_type", "input_ids", "output_ids", "steps"]
        read_only_fields = fields


class PolicyFilterSerializer(serializers.Serializer):
    column = serializers.CharField()
    operator = serializers.CharField()
    values = serializers.ListField(child=serializers.CharField())
    negated = serializers.BooleanField()
    ignore_case = serializers.BooleanField()
    dynamic = serializers.BooleanField()


class PolicySerializer(serializers.ModelSerializer):
    """A PDP policy with its plain-words reading; the view puts the export's directory in the context."""

    manifest = serializers.IntegerField(source="dataset.manifest_id", read_only=True)
    filters = PolicyFilterSerializer(many=True, read_only=True)
    user_ids = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    group_ids = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    description = serializers.SerializerMethodField(help_text="who sees which rows, in plain words")

    class Meta:
        model = PdpPolicy
        fields = [
            "id",
            "manifest",
            "dataset",
            "policy_id",
            "name",
            "type",
            "filters",
            "user_ids",
            "group_ids",
            "api_shape",
            "description",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_description(self, policy) -> str:
        directories = self.context.get("directories", {})
        directory = directories.get(policy.dataset.manifest_id, pdp.Directory(users={}, groups={}))
        return pdp.describe_policy(
            {
                "type": policy.type,
                "filters": policy.filters,
                "user_ids": policy.user_ids,
                "group_ids": policy.group_ids,
            },
            directory,
        )


# --- calculations ----------------------------------------------------------------------------------


class CalculationFlawSerializer(serializers.ModelSerializer):
    """A flaw with the object it is in: a beast mode (of a card or a dataset) or a DataFlow step's part."""

    title = serializers.SerializerMethodField()
    beast_mode = serializers.IntegerField(source="analysis.beast_mode_id", allow_null=True, read_only=True)
    card = serializers.IntegerField(
        source="analysis.beast_mode.card_id", allow_null=True, read_only=True, default=None
    )
    dataset = serializers.IntegerField(
        source="analysis.beast_mode.dataset_id", allow_null=True, read_only=True, default=None
    )
    dataflow = serializers.IntegerField(
        source="analysis.dataflow_step.dataflow_id", allow_null=True, read_only=True, default=None
    )
    step_position = serializers.IntegerField(
        source="analysis.dataflow_step.position",
        allow_null=True,
        read_only=True,
        default=None,
        help_text="the step's place in its DataFlow (0 first)",
    )
    part = serializers.IntegerField(
        source="analysis.part",
        read_only=True,
        help_text="which statement or expression of the step (0 first)",
    )
    used_as = serializers.ChoiceField(
        source="analysis.used_as", choices=CalculationUse.choices, read_only=True
    )
    engine_version = serializers.CharField(source="analysis.engine_version", read_only=True)
    suggestion = serializers.SerializerMethodField()

    class Meta:
        model = CalculationFlaw
        fields = [
            "id",
            "manifest",
            "analysis",
            "beast_mode",
            "card",
            "dataset",
            "dataflow",
            "step_position",
            "part",
            "used_as",
            "code",
            "title",
            "severity",
            "snippet",
            "message",
            "suggestion",
            "start",
            "end",
            "engine_version",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_title(self, flaw) -> str:
        return flaw_title(flaw.code)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_suggestion(self, flaw) -> str | None:
        return flaw.suggestion or None


class FormulaAnalyzeSerializer(serializers.Serializer):
    # Offsets are positions in the text as sent: it is never trimmed.
    formula = serializers.CharField(
        trim_whitespace=False, allow_blank=True, max_length=50_000, help_text="the Beast Mode formula"
    )
    schema = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="the dataset's columns: an object column -> type, or a list of {name, type}; "
        "without it no column is reported unknown",
    )
    used_as = serializers.ChoiceField(choices=CalculationUse.choices, default=CalculationUse.CARD_VALUE)

    def validate_schema(self, value):
        if value is None:
            return None
        try:
            return parse_schema(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc


class FormulaFlawSerializer(serializers.Serializer):
    code = serializers.CharField()
    severity = serializers.ChoiceField(choices=Severity.choices)
    snippet = serializers.CharField()
    message = serializers.CharField()
    suggestion = serializers.CharField(allow_null=True)


class TranslationSerializer(serializers.Serializer):
    sql = serializers.CharField(allow_null=True)
    faithful = serializers.BooleanField()
    problems = serializers.ListField(child=serializers.CharField())


class TranslationsSerializer(serializers.Serializer):
    """One translation per target database."""

    def get_fields(self):
        return {target: TranslationSerializer() for target in TARGETS}


class FormulaReportSerializer(serializers.Serializer):
    """The answer of POST /api/formulas/analyze/, the same JSON as `analyze_formula --json`."""

    parsed = serializers.CharField(
        allow_null=True, help_text="the normalized formula; null when it does not parse"
    )
    level = serializers.ChoiceField(choices=CalculationLevel.choices, allow_null=True)
    columns = serializers.ListField(child=serializers.CharField())
    flaws = FormulaFlawSerializer(many=True)
    translations = TranslationsSerializer()
