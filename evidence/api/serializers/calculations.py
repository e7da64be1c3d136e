"""Serializers of the evidence API: calculation flaws and ad-hoc formula analyses."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from evidence.calculations.reports import flaw_title, parse_schema
from evidence.choices import CalculationLevel, CalculationUse, Severity
from evidence.formulas.translate import TARGETS
from evidence.models import (
    CalculationFlaw,
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
