"""Serializers of the evidence API: the Domo objects inside a manifest (datasets, cards, beast modes, DataFlows, PDP
policies)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from evidence.intake import pdp
from evidence.models import (
    BeastMode,
    DataflowStep,
    DomoCard,
    DomoDataflow,
    DomoDataset,
    PdpPolicy,
)

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
