"""Serializers of candidate evidence from Domo: a registration (set), its rows with their provenance, the
proposed mapping, the register body and its refusal (every issue located)."""
from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from console.comments import COMMENT_MAX_CHARS
from evidence.candidates.models import DomoCandidateRow, DomoCandidateSet
from evidence.choices import PacketKind
from evidence.models import DomoDataset

CANDIDATE_HELP = "always candidate: evidence from Domo never authorizes an output and is never verified"


class CandidateSetSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api-evidence-candidate-detail")
    page_url = serializers.SerializerMethodField(help_text="the registration's page in the console")
    rows_url = serializers.SerializerMethodField(help_text="its rows, by keyset pages")
    evidence_class = serializers.SerializerMethodField(help_text=CANDIDATE_HELP)
    dataset_name = serializers.CharField(source="dataset.name", read_only=True)
    registered_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    mapping = serializers.DictField(child=serializers.CharField(allow_blank=True),
                                    help_text='{record column: Domo column, or "" when unmapped}')
    client_account_ids = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = DomoCandidateSet
        fields = ["id", "url", "page_url", "rows_url", "evidence_class", "kind", "manifest", "load_id", "dataset",
                  "dataset_domo_id", "dataset_name", "mapping", "mapping_sha256", "silver_sha256", "rows",
                  "client_account_ids", "registered_by", "registered_at", "note"]

    def get_page_url(self, candidate_set) -> str:
        return reverse("candidates:candidate-detail", args=[candidate_set.pk])

    def get_rows_url(self, candidate_set) -> str:
        return reverse("api-evidence-candidate-rows", args=[candidate_set.pk])

    def get_evidence_class(self, candidate_set) -> str:
        return "candidate"


class RegisteredSerializer(CandidateSetSerializer):
    """A registration as POST answers it; `status` comes from the service's outcome (the serializer's context)."""

    status = serializers.SerializerMethodField()

    class Meta(CandidateSetSerializer.Meta):
        fields = [*CandidateSetSerializer.Meta.fields, "status"]

    @extend_schema_field(serializers.ChoiceField(choices=["registered", "unchanged"], help_text=(
        "registered: a new registration (201); unchanged: this dataset, kind and mapping were registered before "
        "(200, nothing stored)")))
    def get_status(self, candidate_set) -> str:
        return self.context["status"]


class CandidateRowSerializer(serializers.ModelSerializer):
    """One row as a record of the kind (decimals and dates as exact text; "" for an unmapped column), with where
    it came from."""

    evidence_class = serializers.SerializerMethodField(help_text=CANDIDATE_HELP)
    load_id = serializers.CharField(source="candidate_set.load_id", read_only=True)
    dataset_id = serializers.CharField(source="candidate_set.dataset_domo_id", read_only=True,
                                       help_text="the Domo dataset id")
    row = serializers.IntegerField(help_text="the row number in the Domo dataset, from 1")
    values = serializers.DictField(child=serializers.CharField(allow_blank=True))

    class Meta:
        model = DomoCandidateRow
        fields = ["row", "load_id", "dataset_id", "evidence_class", "values"]

    def get_evidence_class(self, row) -> str:
        return "candidate"


class ProposedColumnSerializer(serializers.Serializer):
    column = serializers.CharField(help_text="the kind's record column")
    required = serializers.BooleanField()
    domo_column = serializers.CharField(allow_blank=True, help_text='the Domo column proposed, or ""')
    matched_by = serializers.CharField(allow_blank=True, help_text='"name", "synonym" or "" (nothing proposed)')


class ProposalSerializer(serializers.Serializer):
    dataset = serializers.IntegerField()
    kind = serializers.CharField()
    domo_columns = serializers.ListField(child=serializers.CharField(), help_text="the dataset's columns")
    columns = ProposedColumnSerializer(many=True)
    mapping = serializers.DictField(child=serializers.CharField(allow_blank=True),
                                    help_text="the proposal as a mapping to send back (edit it first if need be)")


class ProposalQuerySerializer(serializers.Serializer):
    dataset = serializers.PrimaryKeyRelatedField(queryset=DomoDataset.objects.all(), help_text="the dataset's id")
    kind = serializers.ChoiceField(choices=PacketKind.choices)


class RegisterSerializer(serializers.Serializer):
    dataset = serializers.PrimaryKeyRelatedField(queryset=DomoDataset.objects.select_related("manifest"),
                                                 help_text="the Domo dataset's console id (with silver data)")
    kind = serializers.ChoiceField(choices=PacketKind.choices)
    mapping = serializers.DictField(child=serializers.CharField(allow_blank=True), help_text=(
        '{record column: Domo column, or "" to leave it unmapped}; a column left out is unmapped'))
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=COMMENT_MAX_CHARS)


class CandidateIssueSerializer(serializers.Serializer):
    file = serializers.CharField(allow_blank=True, help_text="the dataset's silver file in the lake")
    object = serializers.CharField(help_text="the dataset")
    field = serializers.CharField(allow_blank=True, help_text="the record column (or kind, mapping)")
    row = serializers.IntegerField(allow_null=True, help_text="the row number in the dataset, for a value")
    column = serializers.CharField(allow_blank=True, help_text="the Domo column")
    message = serializers.CharField()


class CandidateRefusedSerializer(serializers.Serializer):
    """A refused registration: `detail` and every issue located. A body that does not validate (no such dataset,
    an unknown kind) is answered instead with its fields named, each with its errors (DRF's shape)."""

    detail = serializers.CharField(required=False)
    issues = CandidateIssueSerializer(many=True, required=False)
