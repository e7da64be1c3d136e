"""The golden reconciliation API's serializers: what comes in (validated bodies) and what goes out (the
scoreboard, subjects, mappings, reconciliations, differences with their status, verdicts). Views: api.py."""
from __future__ import annotations

from django.http import Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from console.api.fields import ExactDecimalField
from deliverables.choices import CardState, ItemClass, RunState, SubjectKind, Verdict
from deliverables.models import Adjudication, CalculationRun, CardMapping, Reconciliation, ReconciliationItem
from deliverables.reconciliation import outputs, selectors, sources
from deliverables.reconciliation.mappings import KEY_KINDS
from deliverables.runs.selectors import step_rows

BIGINT = 2**63 - 1
STATES = f"the card's state: one of {', '.join(CardState.values)}"
ITEM_CLASSES = tuple(c for c in ItemClass.values if c != ItemClass.MATCH)  # exact matches are not items
ITEM_STATUSES = ("all", "open", "explained", "within_tolerance", *Verdict.values)


def _absolute(request, path: str) -> str:
    return request.build_absolute_uri(path) if request is not None else path


def _subject_url(request, kind: str, subject_id: str, suffix: str = "") -> str:
    return _absolute(request, reverse(f"api-reconciliation-subject{suffix}", args=[kind, subject_id]))


def _recon_url(request, pk: int) -> str:
    return _absolute(request, reverse("api-reconciliation-detail", args=[pk]))


def _mapping_url(request, mapping: CardMapping) -> str:
    return _absolute(request, reverse("api-reconciliation-mapping-detail",
                                      args=[mapping.subject_kind, mapping.subject_id, mapping.version]))


def _who(user) -> str | None:
    return user.get_username() if user is not None else None


def _subject_or_404(kind: str, subject_id: str) -> sources.Subject:
    if kind not in SubjectKind.values:
        raise Http404(f"{kind!r} is not a kind of subject (one of {', '.join(SubjectKind.values)})")
    found = sources.subject(kind, subject_id)
    if found is None:
        raise Http404(f"{kind} {subject_id}: not in any received export")
    return found


# --- serializers: what comes in ------------------------------------------------------------------------------
class KeyInSerializer(serializers.Serializer):
    golden = serializers.CharField(max_length=255, help_text="the golden column (as Domo names it)")
    backend = serializers.CharField(max_length=64, help_text="a key of the backend output")
    kind = serializers.ChoiceField(choices=KEY_KINDS, required=False,
                                   help_text="how the key is normalised; default: the backend key's kind")
    casefold = serializers.BooleanField(default=False, help_text="compare text case-insensitively")


class MeasureInSerializer(serializers.Serializer):
    golden = serializers.CharField(max_length=255, help_text="the golden column (as Domo names it)")
    backend = serializers.CharField(max_length=64, help_text="a measure of the backend output")
    scale = serializers.IntegerField(min_value=0, max_value=18, required=False,
                                     help_text="decimal places compared; default: the backend measure's")
    abs_tolerance = ExactDecimalField(max_digits=30, decimal_places=18, min_value=0, required=False,
                                      allow_null=True, help_text='absolute tolerance ("0.01": one cent, a JSON '
                                                                 'string); null: none')
    rel_tolerance = ExactDecimalField(max_digits=30, decimal_places=18, min_value=0, required=False,
                                      allow_null=True, help_text='relative tolerance ("0.001": a tenth of a '
                                                                 'percent, a JSON string); null: none')
    flaws = serializers.ListField(child=serializers.CharField(max_length=64), required=False, default=list,
                                  help_text="fingerprints of flaws recorded on the card (see the proposal) that "
                                            "explain a variance of this measure")


class MappingInSerializer(serializers.Serializer):
    output = serializers.ChoiceField(choices=outputs.choices(), help_text="the backend output compared")
    keys = KeyInSerializer(many=True, allow_empty=False)
    measures = MeasureInSerializer(many=True, allow_empty=False)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)
    golden_dataset = serializers.CharField(required=False, allow_blank=True, default="", max_length=64,
                                           help_text="a DataFlow's output dataset (Domo id); blank: its first")


class ReconciliationStartSerializer(serializers.Serializer):
    run = serializers.IntegerField(min_value=1, max_value=BIGINT, required=False, allow_null=True,
                                   help_text="a succeeded calculation run's id; default: the newest succeeded run "
                                             "over every client")

    def validate_run(self, value):
        if value is None:
            return None
        run = CalculationRun.objects.filter(pk=value).first()
        if run is None:
            raise serializers.ValidationError(f"no calculation run #{value}")
        return run


class AdjudicationInSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=Verdict.choices)
    comment = serializers.CharField(max_length=10_000, help_text="why: a verdict without a reason is not kept")


class RetireInSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)


# --- serializers: what goes out ------------------------------------------------------------------------------
class LinkSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()


class ReconciliationLinkSerializer(LinkSerializer):
    state = serializers.ChoiceField(choices=RunState.choices)


class RetiredSerializer(serializers.Serializer):
    by = serializers.CharField()
    at = serializers.DateTimeField()
    comment = serializers.CharField(allow_blank=True)
    reconciliation = LinkSerializer()


class ScoreboardRowSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="card or dataflow")
    id = serializers.CharField(help_text="the Domo card id, or the DataFlow id")
    title = serializers.CharField()
    state = serializers.CharField(help_text=STATES)
    state_label = serializers.CharField()
    manifests = serializers.ListField(child=serializers.IntegerField(), help_text="the exports it appears in")
    has_golden = serializers.BooleanField()
    open = serializers.IntegerField(help_text="differences not explained and not accepted")
    explained = serializers.IntegerField(help_text="differences a calculation flaw recorded on the card accounts for")
    accepted = serializers.IntegerField(help_text="differences an approver accepted (Domo was wrong); with open and "
                                                  "explained, every difference (variance, only_backend, only_domo)")
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="{class: key x measures}")
    mapping_version = serializers.IntegerField(allow_null=True)
    reconciliation = ReconciliationLinkSerializer(allow_null=True,
                                                  help_text="the newest succeeded one of the current mapping")
    latest = ReconciliationLinkSerializer(allow_null=True, help_text="the newest of any state")
    retired = RetiredSerializer(allow_null=True)
    url = serializers.URLField()


class ScoreboardCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    not_mapped = serializers.IntegerField()
    mapped = serializers.IntegerField()
    open = serializers.IntegerField()
    reconciled = serializers.IntegerField()
    retired = serializers.IntegerField()


class ScoreboardSerializer(serializers.Serializer):
    counts = ScoreboardCountsSerializer(help_text="per state, over the export's subjects (before the state filter)")
    subjects = ScoreboardRowSerializer(many=True)


def _link(request, recon: Reconciliation | None) -> dict | None:
    if recon is None:
        return None
    return {"id": recon.pk, "url": _recon_url(request, recon.pk), "state": recon.state}


def _row(request, row: selectors.CardStateRow) -> dict:
    retired = None
    if row.retirement is not None:
        r = row.retirement
        retired = {"by": _who(r.retired_by), "at": r.retired_at, "comment": r.comment,
                   "reconciliation": {"id": r.reconciliation_id, "url": _recon_url(request, r.reconciliation_id)}}
    return {"kind": row.kind, "id": row.id, "title": row.title, "state": row.state, "state_label": row.state_label,
            "manifests": list(row.manifests), "has_golden": row.has_golden, "open": row.open,
            "explained": row.explained, "accepted": row.accepted,
            "counts": dict(row.counts), "mapping_version": row.mapping.version if row.mapping else None,
            "reconciliation": _link(request, row.reconciliation), "latest": _link(request, row.latest),
            "retired": retired, "url": _subject_url(request, row.kind, row.id)}


class MappingSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    subject_url = serializers.SerializerMethodField()
    created_by = serializers.SerializerMethodField()
    keys = serializers.JSONField(help_text="[{name, golden, backend, kind, casefold}]")
    measures = serializers.JSONField(
        help_text="[{name, golden, backend, scale, abs_tolerance, rel_tolerance, flaws: [{fingerprint, code, "
                  "where, beast_mode, formula, snippet, message}]}]")

    class Meta:
        model = CardMapping
        fields = ("url", "subject_kind", "subject_id", "title", "version", "output", "golden_dataset", "keys",
                  "measures", "note", "created_by", "created_at", "source", "subject_url")
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, mapping) -> str:
        return _mapping_url(self.context.get("request"), mapping)

    @extend_schema_field(OpenApiTypes.URI)
    def get_subject_url(self, mapping) -> str:
        return _subject_url(self.context.get("request"), mapping.subject_kind, mapping.subject_id)

    def get_created_by(self, mapping) -> str:
        return mapping.created_by.get_username()


class MappingSavedSerializer(MappingSerializer):
    outcome = serializers.SerializerMethodField(help_text="saved (a new version) or unchanged (the current one)")

    class Meta(MappingSerializer.Meta):
        fields = ("outcome", *MappingSerializer.Meta.fields)
        read_only_fields = fields

    def get_outcome(self, mapping) -> str:
        return self.context["outcome"]


class GoldenSerializer(serializers.Serializer):
    source = serializers.CharField(help_text="golden.csv (a card) or dataflow output")
    manifest = serializers.IntegerField(help_text="the export it came from")
    load_id = serializers.CharField()
    path = serializers.CharField(help_text="in the lake")
    sha256 = serializers.CharField()
    rows = serializers.IntegerField()
    captured_at = serializers.CharField(allow_blank=True)
    dataset = serializers.CharField(allow_blank=True)
    columns = serializers.ListField(child=serializers.CharField())
    as_of = serializers.IntegerField(allow_null=True, help_text="the reconciliation that read them (recorded); null: "
                                                                "read now, as a reconciliation would")


class ReconciliationRowSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    step = serializers.SerializerMethodField(help_text="the step now (done once it succeeded)")
    requested_by = serializers.SerializerMethodField()
    mapping_version = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField(help_text="key x measures per class (once succeeded)")

    class Meta:
        model = Reconciliation
        fields = ("id", "url", "subject_kind", "subject_id", "state", "step", "trigger", "run", "mapping_version",
                  "requested_by", "requested_at", "started_at", "finished_at", "total", "artifact_sha256")
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, recon) -> str:
        return _recon_url(self.context.get("request"), recon.pk)

    def get_step(self, recon) -> str:
        step = (recon.progress or {}).get("step", "")
        if recon.is_final:
            step = "done" if recon.state == RunState.SUCCEEDED else (step or recon.state)
        return step

    def get_requested_by(self, recon) -> str:
        return recon.requested_by.get_username()

    def get_mapping_version(self, recon) -> int:
        return recon.mapping.version

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField()))
    def get_total(self, recon):
        return (recon.summary or {}).get("total", {})


class SubjectSerializer(ScoreboardRowSerializer):
    outputs = serializers.ListField(child=serializers.DictField(), help_text="a DataFlow's output datasets: "
                                                                             "[{id, name}]")
    golden = GoldenSerializer(allow_null=True, help_text="the golden rows: those its reconciliation read, or "
                                                         "else the newest usable export's")
    golden_problem = serializers.CharField(allow_blank=True, help_text="why the golden rows cannot be read")
    mapping = MappingSerializer(allow_null=True, help_text="the current version")
    mappings = MappingSerializer(many=True, help_text="every version, newest first")
    reconciliations = ReconciliationRowSerializer(many=True, help_text="the newest 20, newest first")
    reconciliations_url = serializers.URLField(help_text="all of them (keyset pages)")
    proposal_url = serializers.URLField()
    mappings_url = serializers.URLField(help_text="POST a mapping here")
    start_url = serializers.URLField(help_text="POST here to queue a reconciliation")
    retire_url = serializers.URLField(help_text="POST here to retire the card once reconciled")


class ReconciliationInputsSerializer(serializers.Serializer):
    run = LinkSerializer()
    mapping = serializers.URLField(help_text="the mapping version compared")
    mapping_version = serializers.IntegerField()
    golden = serializers.JSONField(help_text="{source, manifest, load_id, path, sha256, rows, captured_at, dataset, "
                                             "columns} (once read)")
    backend = serializers.JSONField(help_text="{output, rows, numbers, clients, run, sha256} (once read)")


class SubjectRefSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="card or dataflow")
    id = serializers.CharField()
    title = serializers.CharField()
    url = serializers.URLField()


class StepSerializer(serializers.Serializer):
    name = serializers.CharField()
    state = serializers.CharField(help_text="pending, running, done (or how the reconciliation ended)")
    at = serializers.CharField(required=False, help_text="ISO 8601, UTC")
    detail = serializers.CharField(required=False)


class ReconciliationDetailSerializer(ReconciliationRowSerializer):
    subject = serializers.SerializerMethodField()
    steps = serializers.SerializerMethodField()
    cancelled_by = serializers.SerializerMethodField()
    inputs = serializers.SerializerMethodField()
    open = serializers.SerializerMethodField(help_text="differences not explained and not accepted (once succeeded)")
    items_url = serializers.SerializerMethodField()

    class Meta(ReconciliationRowSerializer.Meta):
        fields = (*ReconciliationRowSerializer.Meta.fields, "subject", "steps", "heartbeat_at", "task_id", "queue",
                  "worker_host", "worker_pid", "attempts", "traceparent", "trace_id", "error", "cancelled_by",
                  "inputs", "summary", "rows", "open", "artifact_path", "items_url")
        read_only_fields = fields

    @extend_schema_field(SubjectRefSerializer)
    def get_subject(self, recon):
        return {"kind": recon.subject_kind, "id": recon.subject_id, "title": recon.mapping.title,
                "url": _subject_url(self.context.get("request"), recon.subject_kind, recon.subject_id)}

    @extend_schema_field(StepSerializer(many=True))
    def get_steps(self, recon):
        return [{k: v for k, v in step.items() if k != "badge"} for step in step_rows(recon)]

    def get_cancelled_by(self, recon) -> str | None:
        return _who(recon.cancelled_by)

    @extend_schema_field(ReconciliationInputsSerializer)
    def get_inputs(self, recon):
        request = self.context.get("request")
        return {"run": {"id": recon.run_id, "url": _absolute(request, reverse("api-run-detail", args=[recon.run_id]))},
                "mapping": _mapping_url(request, recon.mapping), "mapping_version": recon.mapping.version,
                "golden": recon.golden, "backend": recon.backend}

    def get_open(self, recon) -> int | None:
        return selectors.items_with_status(recon, "open").count() if recon.state == RunState.SUCCEEDED else None

    @extend_schema_field(OpenApiTypes.URI)
    def get_items_url(self, recon) -> str:
        return _absolute(self.context.get("request"), reverse("api-reconciliation-items", args=[recon.pk]))


class AdjudicationSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    verdict_label = serializers.CharField(source="get_verdict_display")
    decided_by = serializers.SerializerMethodField()
    reconciliation = serializers.SerializerMethodField()

    class Meta:
        model = Adjudication
        fields = ("id", "url", "subject_kind", "subject_id", "verdict", "verdict_label", "comment", "decided_by",
                  "decided_at", "key_label", "keys", "measure", "item_class", "backend_value", "golden_value",
                  "fingerprint", "locator", "reconciliation")
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, adjudication) -> str:
        return _absolute(self.context.get("request"), reverse("api-adjudication-detail", args=[adjudication.pk]))

    def get_decided_by(self, adjudication) -> str:
        return adjudication.decided_by.get_username()

    @extend_schema_field(LinkSerializer)
    def get_reconciliation(self, adjudication):
        return {"id": adjudication.reconciliation_id,
                "url": _recon_url(self.context.get("request"), adjudication.reconciliation_id)}


class ItemSerializer(serializers.ModelSerializer):
    item_class = serializers.ChoiceField(choices=ItemClass.choices, read_only=True)
    status = serializers.SerializerMethodField(
        help_text="explained, within_tolerance, the verdict in force (accepted, backend_defect, investigating), or "
                  "open")
    is_open = serializers.SerializerMethodField(help_text="keeps the card open (not explained, not accepted)")
    can_adjudicate = serializers.SerializerMethodField(help_text="a difference no flaw explains")
    explanation = serializers.JSONField(
        allow_null=True, help_text="the recorded flaw that explains the variance, and how: {flaw_id, fingerprint, "
                                   "code, where, beast_mode, formula, snippet, message, how, others}")
    adjudication = serializers.SerializerMethodField(help_text="the verdict in force on this difference")
    earlier = serializers.SerializerMethodField(
        help_text="a verdict on the same place (card, keys, measure) under other values: the difference came back "
                  "as new")
    adjudications_url = serializers.SerializerMethodField(help_text="POST a verdict here")

    class Meta:
        model = ReconciliationItem
        fields = ("id", "position", "keys", "key_label", "measure", "item_class", "backend_value", "golden_value",
                  "difference", "backend_decision", "fingerprint", "locator", "status", "is_open", "can_adjudicate",
                  "explanation", "adjudication", "earlier", "adjudications_url")
        read_only_fields = fields

    def _status(self, item) -> selectors.ItemStatus:
        return self.context["statuses"][item.pk]

    def get_status(self, item) -> str:
        return self._status(item).status

    def get_is_open(self, item) -> bool:
        return self._status(item).is_open

    def get_can_adjudicate(self, item) -> bool:
        return self._status(item).can_adjudicate

    def _adjudication(self, found):
        return AdjudicationSerializer(found, context=self.context).data if found is not None else None

    @extend_schema_field(AdjudicationSerializer(allow_null=True))
    def get_adjudication(self, item):
        return self._adjudication(self._status(item).adjudication)

    @extend_schema_field(AdjudicationSerializer(allow_null=True))
    def get_earlier(self, item):
        return self._adjudication(self._status(item).earlier)

    @extend_schema_field(OpenApiTypes.URI)
    def get_adjudications_url(self, item) -> str:
        return _absolute(self.context.get("request"), reverse("api-reconciliation-item-adjudications",
                                                              args=[item.pk]))


class OutputColumnSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    kind = serializers.CharField(help_text="text, date, integer or decimal")
    scale = serializers.IntegerField()


class OutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField()
    keys = OutputColumnSerializer(many=True)
    measures = OutputColumnSerializer(many=True)


class MappingProposalSerializer(serializers.Serializer):
    output = serializers.CharField(help_text="the backend output proposed (the one with the most matches, unless "
                                             "asked)")
    keys = serializers.JSONField(help_text="[{golden, backend, kind, casefold}]")
    measures = serializers.JSONField(help_text="[{golden, backend, scale, abs_tolerance, rel_tolerance, flaws: "
                                               "[{fingerprint, code, where, ...}]}]")
    golden_columns = serializers.ListField(child=serializers.CharField())
    golden_dataset = serializers.CharField(allow_blank=True)
    flaws = serializers.JSONField(help_text="every flaw recorded on the card (or DataFlow) in its export")
    outputs = OutputSerializer(many=True, help_text="every backend output a card can be mapped to")


class RetirementSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="card or dataflow")
    id = serializers.CharField()
    title = serializers.CharField()
    state = serializers.CharField(help_text=STATES)
    retired = RetiredSerializer()
    url = serializers.URLField()
