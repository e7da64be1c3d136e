"""Golden reconciliation API (serializers and views), mounted under /api/: parity with the scoreboard and the
reconciliation pages.

- GET  /api/reconciliation/scoreboard/: every Domo card and DataFlow with its state, the counts per state on top;
  filtered by manifest (an export's id) and state;
- GET  /api/reconciliation/subjects/<kind>/<id>/: one card or DataFlow: state, golden source, current mapping,
  mapping versions, newest reconciliations, retirement;
- GET  /api/reconciliation/subjects/<kind>/<id>/proposal/: a mapping proposed by names (?output=, ?golden_dataset=);
- GET  /api/reconciliation/subjects/<kind>/<id>/mappings/: the mapping's versions, newest first (keyset pages);
- POST /api/reconciliation/subjects/<kind>/<id>/mappings/: save a mapping -> 201 (a new version, at its Location)
  or 200 {"outcome": "unchanged"} (the same as the current version);
- GET  /api/reconciliation/subjects/<kind>/<id>/mappings/<version>/: one version;
- POST /api/reconciliation/subjects/<kind>/<id>/reconciliations/: queue a reconciliation {run} -> 201;
- POST /api/reconciliation/subjects/<kind>/<id>/retire/: retire a reconciled card {comment} -> 201;
- GET  /api/reconciliations/: reconciliations, newest first (keyset pages), filtered by kind, subject, state;
- GET  /api/reconciliations/<id>/: inputs, progress by step, summary, worker and trace, artifact sha256;
- GET  /api/reconciliations/<id>/items/: every key x measure that is not an exact match, in the reconciliation's
  order (keyset pages by position), filtered by status and class; each with its status, the flaw that explains
  it, the adjudication in force and an earlier one on the same place;
- POST /api/reconciliations/<id>/cancel/: cancel a queued or running reconciliation;
- POST /api/reconciliation-items/<id>/adjudications/: an approver's verdict {verdict, comment} -> 201;
- GET  /api/adjudications/<id>/: one verdict.

Reading needs console.view_provenance. Writes are open to any signed-in user; the service decides and audits:
403 {"detail"} for who asks (mapping and starting need console.build_deliverable; adjudicating and retiring an
approver who mapped no version of the card), 409 {"detail"} for what or when (a golden column the card does not
have, no succeeded run, a variance a flaw explains, a card with open variances). 400 names the fields of a body or
the filters of a query that do not validate (no service was asked). The creates take an Idempotency-Key
(console.api.creates); starting takes a W3C `traceparent` header (its trace id is kept for the reconciliation).
"""
from __future__ import annotations

from django.db.models import OuterRef, Q, Subquery
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from console.api.creates import IdempotentCreate, created
from console.api.pagination import KeysetPagination
from console.api.permissions import capability
from console.api.serializers import ErrorSerializer
from deliverables.choices import DIFFERING, CardState, ItemClass, RunState, SubjectKind, Verdict
from deliverables.models import Adjudication, CalculationRun, CardMapping, Reconciliation, ReconciliationItem
from deliverables.reconciliation import outputs, selectors, services, sources
from deliverables.reconciliation.services import KEY_KINDS
from deliverables.runs.selectors import step_rows

CanRead = capability("console.view_provenance")
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
    abs_tolerance = serializers.DecimalField(max_digits=30, decimal_places=18, min_value=0, required=False,
                                             allow_null=True, coerce_to_string=True,
                                             help_text="absolute tolerance (0.01: one cent); null: none")
    rel_tolerance = serializers.DecimalField(max_digits=30, decimal_places=18, min_value=0, required=False,
                                             allow_null=True, coerce_to_string=True,
                                             help_text="relative tolerance (0.001: a tenth of a percent); null: none")
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
        return items_with_status(recon, "open").count() if recon.state == RunState.SUCCEEDED else None

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


# --- views ---------------------------------------------------------------------------------------------------
REFUSED = {
    403: OpenApiResponse(ErrorSerializer, description="refused for who asks (audited): a missing permission, or "
                                                      "the approver mapped the card (four eyes)"),
    409: OpenApiResponse(ErrorSerializer, description="refused for what or when (audited): e.g. a golden column "
                                                      "the card does not have, no succeeded run, a variance a flaw "
                                                      "explains, a card with open variances"),
}
INVALID = {400: OpenApiResponse(OpenApiTypes.OBJECT, description="invalid body: {field: [what is wrong]}")}
NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="no such card, DataFlow or object")}
READ_REFUSED = {403: OpenApiResponse(ErrorSerializer, description="not signed in, or without "
                                                                  "console.view_provenance")}
BAD_QUERY = {400: OpenApiResponse(OpenApiTypes.OBJECT, description="a filter value that is not valid: "
                                                                   "{filter: [what is wrong]}")}
SUBJECT = [
    OpenApiParameter("kind", OpenApiTypes.STR, OpenApiParameter.PATH, enum=SubjectKind.values,
                     description="card (a Domo card's golden packet) or dataflow (a DataFlow's output dataset)"),
    OpenApiParameter("subject_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="the Domo card or DataFlow id"),
]
TRACEPARENT = OpenApiParameter("traceparent", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
                               description="W3C trace context: the reconciliation keeps its trace id (a new span "
                                           "id)")


class _ReconciliationView:
    """Refusals of the reconciliation service as answers: 403 for who asks, 409 for what or when."""

    def handle_exception(self, exc):
        if isinstance(exc, services.Forbidden):
            return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
        if isinstance(exc, services.Refused | sources.SourceError):
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return super().handle_exception(exc)


def _bad(problems: dict) -> Response:
    return Response(problems, status=status.HTTP_400_BAD_REQUEST)


class Scoreboard(APIView):
    """The takeover scoreboard: every Domo card and DataFlow of the received exports with its state, the counts
    per state on top (over the export's subjects, before the state filter)."""

    permission_classes = (CanRead,)

    @extend_schema(
        operation_id="reconciliation_scoreboard", summary="The takeover scoreboard",
        parameters=[
            OpenApiParameter("manifest", OpenApiTypes.INT, description="an export's id: its cards and DataFlows"),
            OpenApiParameter("state", OpenApiTypes.STR, enum=CardState.values),
        ],
        responses={200: ScoreboardSerializer, **BAD_QUERY, **READ_REFUSED},
    )
    def get(self, request):
        from evidence.models import SourceManifest

        query, problems = request.query_params, {}
        manifest = query.get("manifest", "").strip()
        if manifest:
            if not (manifest.isascii() and manifest.isdigit() and 1 <= int(manifest) <= BIGINT):
                problems["manifest"] = [f"{manifest[:40]!r} is not an export's id (a whole number)"]
            elif not SourceManifest.objects.filter(pk=int(manifest)).exists():
                problems["manifest"] = [f"no export #{manifest}"]
        state = query.get("state", "").strip()
        if state and state not in CardState.values:
            problems["state"] = [f"{state[:40]!r} is not one of {', '.join(CardState.values)}"]
        if problems:
            return _bad(problems)
        rows, counts = selectors.scoreboard(manifest=int(manifest) if manifest else None, state=state or None)
        return Response(ScoreboardSerializer({"counts": counts,
                                              "subjects": [_row(request, r) for r in rows]}).data)


def _recent(kind: str, subject_id: str):
    return (Reconciliation.objects.filter(subject_kind=kind, subject_id=subject_id)
            .select_related("mapping", "requested_by", "cancelled_by").order_by("-pk"))


class SubjectDetail(APIView):
    """One card or DataFlow: its state, the golden rows it is compared with, its mapping and every version of it,
    its newest reconciliations, its retirement."""

    permission_classes = (CanRead,)

    @extend_schema(operation_id="reconciliation_subject", summary="A card or DataFlow on the scoreboard",
                   parameters=SUBJECT, responses={200: SubjectSerializer, **READ_REFUSED, **NOT_FOUND})
    def get(self, request, kind: str, subject_id: str):
        subject = _subject_or_404(kind, subject_id)
        row = selectors.card_state(subject.kind, subject.id)
        versions = list(CardMapping.objects.filter(subject_kind=kind, subject_id=subject.id)
                        .select_related("created_by").order_by("-version"))
        golden, problem = None, ""
        if row.reconciliation is not None and (row.reconciliation.golden or {}).get("sha256"):
            golden = {**row.reconciliation.golden, "as_of": row.reconciliation.pk}  # as read: no re-read of a file
        else:
            try:
                golden = {**sources.golden(kind, subject.id, versions[0].golden_dataset if versions else "").as_json(),
                          "as_of": None}
            except sources.SourceError as unusable:
                problem = str(unusable)
        context = {"request": request}
        body = {**_row(request, row), "outputs": list(subject.outputs), "golden": golden, "golden_problem": problem,
                "mapping": versions[0] if versions else None, "mappings": versions,
                "reconciliations": list(_recent(kind, subject.id)[:20]),
                "reconciliations_url": _absolute(request, reverse("api-reconciliation-list")
                                                 + f"?kind={kind}&subject={subject.id}"),
                "proposal_url": _subject_url(request, kind, subject.id, "-proposal"),
                "mappings_url": _subject_url(request, kind, subject.id, "-mappings"),
                "start_url": _subject_url(request, kind, subject.id, "-reconciliations"),
                "retire_url": _subject_url(request, kind, subject.id, "-retire")}
        return Response(SubjectSerializer(body, context=context).data)


class SubjectProposal(_ReconciliationView, APIView):
    """A mapping proposed by names: the golden columns matched to a backend output's keys and measures (the output
    with the most matches unless one is asked), tolerances of one cent, the flaws recorded on each column; and
    every backend output with its keys and measures. POST it (edited) to the mappings to save it."""

    permission_classes = (CanRead,)

    @extend_schema(
        operation_id="reconciliation_proposal", summary="A mapping proposed by names",
        parameters=[*SUBJECT,
                    OpenApiParameter("output", OpenApiTypes.STR, enum=list(outputs.OUTPUTS),
                                     description="propose onto this output; default: the best matching one"),
                    OpenApiParameter("golden_dataset", OpenApiTypes.STR,
                                     description="a DataFlow's output dataset (Domo id); default: its first")],
        responses={200: MappingProposalSerializer, **BAD_QUERY, **READ_REFUSED, **NOT_FOUND,
                   409: OpenApiResponse(ErrorSerializer, description="the golden rows cannot be read (why)")},
    )
    def get(self, request, kind: str, subject_id: str):
        subject = _subject_or_404(kind, subject_id)
        output = request.query_params.get("output", "").strip()
        if output and output not in outputs.OUTPUTS:
            return _bad({"output": [f"{output[:40]!r} is not one of {', '.join(outputs.OUTPUTS)}"]})
        dataset = request.query_params.get("golden_dataset", "").strip()
        proposal = services.mapping_proposal(subject.kind, subject.id, output, dataset)
        listed = [{"name": o.name, "label": o.label, "description": o.description,
                   "keys": [vars(c) for c in o.keys], "measures": [vars(c) for c in o.measures]}
                  for o in outputs.OUTPUTS.values()]
        return Response(MappingProposalSerializer({**proposal, "outputs": listed}).data)


class VersionPagination(KeysetPagination):
    ordering = "-version"


class MappingList(IdempotentCreate, _ReconciliationView, generics.ListAPIView):
    """The versions of a card's mapping, newest first; POST saves a new version (audited, never changing one)."""

    serializer_class = MappingSerializer
    pagination_class = VersionPagination
    filterset_class = None
    queryset = CardMapping.objects.none()  # the schema's model; get_queryset reads the subject's

    def get_permissions(self):
        return [IsAuthenticated()] if self.request.method == "POST" else [CanRead()]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CardMapping.objects.none()
        subject = _subject_or_404(self.kwargs["kind"], self.kwargs["subject_id"])
        return (CardMapping.objects.filter(subject_kind=subject.kind, subject_id=subject.id)
                .select_related("created_by"))

    @extend_schema(operation_id="reconciliation_mappings_list", summary="A card's mapping versions",
                   parameters=SUBJECT, responses={200: MappingSerializer(many=True), **READ_REFUSED, **NOT_FOUND})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="reconciliation_mappings_save", summary="Map a card onto a backend output",
        description=("Saves a new version of the card's mapping: keys, measures, the backend field each measure "
                     "compares with, tolerances, and the recorded flaws that explain a variance (by fingerprint, "
                     "see the proposal). 201 with the new version at `url` (also the Location header); 200 with "
                     "`outcome: unchanged` when it is the same as the current version."),
        parameters=SUBJECT, request=MappingInSerializer,
        responses={201: MappingSavedSerializer, 200: MappingSavedSerializer, **INVALID, **REFUSED, **NOT_FOUND},
    )
    def post(self, request, kind: str, subject_id: str):
        subject = _subject_or_404(kind, subject_id)
        body = MappingInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        mapping, saved = services.mapping_save(
            actor=request.user, kind=subject.kind, subject_id=subject.id, output=data["output"],
            keys=[dict(key) for key in data["keys"]], measures=[dict(measure) for measure in data["measures"]], note=data["note"], golden_dataset=data["golden_dataset"], source="api")
        answer = MappingSavedSerializer(mapping, context={"request": request,
                                                          "outcome": "saved" if saved else "unchanged"}).data
        if saved:
            return created(answer, answer["url"])
        return Response(answer)


class MappingDetail(APIView):
    """One version of a card's mapping."""

    permission_classes = (CanRead,)

    @extend_schema(operation_id="reconciliation_mapping", summary="A mapping version",
                   parameters=SUBJECT, responses={200: MappingSerializer, **READ_REFUSED, **NOT_FOUND})
    def get(self, request, kind: str, subject_id: str, version: int):
        subject = _subject_or_404(kind, subject_id)
        mapping = get_object_or_404(CardMapping.objects.select_related("created_by"), subject_kind=subject.kind,
                                    subject_id=subject.id, version=version)
        return Response(MappingSerializer(mapping, context={"request": request}).data)


def _detail(request, recon: Reconciliation, code: int = status.HTTP_200_OK) -> Response:
    recon = Reconciliation.objects.select_related("mapping", "requested_by", "cancelled_by").get(pk=recon.pk)
    body = ReconciliationDetailSerializer(recon, context={"request": request}).data
    if code == status.HTTP_201_CREATED:
        return created(body, body["url"])
    return Response(body, status=code)


class ReconciliationStart(IdempotentCreate, _ReconciliationView, APIView):
    """Queue a reconciliation of the card's current mapping against a calculation run."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(
        operation_id="reconciliation_start", summary="Start a reconciliation",
        description=("Queues a reconciliation of the card's current mapping against the run (default: the newest "
                     "succeeded run over every client). Follow it at the returned `url` (also the Location header)."),
        parameters=[*SUBJECT, TRACEPARENT], request=ReconciliationStartSerializer,
        responses={201: ReconciliationDetailSerializer, **INVALID, **REFUSED, **NOT_FOUND},
    )
    def post(self, request, kind: str, subject_id: str):
        subject = _subject_or_404(kind, subject_id)
        body = ReconciliationStartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        recon = services.reconciliation_start(actor=request.user, kind=subject.kind, subject_id=subject.id,
                                              run=body.validated_data.get("run"),
                                              traceparent=request.headers.get("traceparent", ""))
        return _detail(request, recon, status.HTTP_201_CREATED)


class SubjectRetire(IdempotentCreate, _ReconciliationView, APIView):
    """Retire a reconciled card: the backend output is then the one to use."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(
        operation_id="reconciliation_retire", summary="Retire a reconciled card",
        description=("An approver who mapped no version of the card marks it retired, once reconciled (every "
                     "difference matched, within tolerance, explained or accepted). 201 with the card at its `url` "
                     "(also the Location header)."),
        parameters=SUBJECT, request=RetireInSerializer,
        responses={201: RetirementSerializer, **INVALID, **REFUSED, **NOT_FOUND},
    )
    def post(self, request, kind: str, subject_id: str):
        subject = _subject_or_404(kind, subject_id)
        body = RetireInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        retirement = services.retire(actor=request.user, kind=subject.kind, subject_id=subject.id,
                                     comment=body.validated_data["comment"])
        url = _subject_url(request, subject.kind, subject.id)
        answer = {"kind": subject.kind, "id": subject.id, "title": subject.title, "state": CardState.RETIRED,
                  "url": url,
                  "retired": {"by": _who(retirement.retired_by), "at": retirement.retired_at,
                              "comment": retirement.comment,
                              "reconciliation": {"id": retirement.reconciliation_id,
                                                 "url": _recon_url(request, retirement.reconciliation_id)}}}
        return created(RetirementSerializer(answer).data, url)


class ReconciliationFilterSet(filters.FilterSet):
    kind = filters.ChoiceFilter(field_name="subject_kind", choices=SubjectKind.choices)
    subject = filters.CharFilter(field_name="subject_id", max_length=64, help_text="the Domo card or DataFlow id")
    state = filters.ChoiceFilter(choices=RunState.choices)

    class Meta:
        model = Reconciliation
        fields = ("kind", "subject", "state")


class ReconciliationList(generics.ListAPIView):
    """Reconciliations, newest first, filtered by the card (kind and subject) and state."""

    queryset = Reconciliation.objects.select_related("mapping", "requested_by")
    serializer_class = ReconciliationRowSerializer
    filterset_class = ReconciliationFilterSet
    pagination_class = KeysetPagination
    permission_classes = (CanRead,)

    @extend_schema(operation_id="reconciliations_list", summary="List reconciliations",
                   responses={200: ReconciliationRowSerializer(many=True), **READ_REFUSED})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ReconciliationDetail(generics.RetrieveAPIView):
    """One reconciliation: its inputs (run, mapping version, golden packet and its hash, backend rows), progress
    by step, worker and trace, summary per class and measure, the artifact of every classified row."""

    queryset = Reconciliation.objects.select_related("mapping", "requested_by", "cancelled_by")
    serializer_class = ReconciliationDetailSerializer
    permission_classes = (CanRead,)
    filterset_class = None

    @extend_schema(operation_id="reconciliations_retrieve", summary="A reconciliation",
                   responses={200: ReconciliationDetailSerializer, **READ_REFUSED, **NOT_FOUND})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ItemPagination(KeysetPagination):
    ordering = "position"


def _latest_verdict(recon: Reconciliation):
    """The verdict in force on each item's fingerprint (the latest on the card), as selectors.item_statuses
    reads it."""
    return Subquery(Adjudication.objects.filter(subject_kind=recon.subject_kind, subject_id=recon.subject_id,
                                                fingerprint=OuterRef("fingerprint"))
                    .order_by("-decided_at", "-id").values("verdict")[:1])


def items_with_status(recon: Reconciliation, wanted: str):
    """The reconciliation's items whose status is `wanted` (selectors.item_statuses's, as a query): `open` is
    every item that keeps the card open (no verdict, backend_defect or investigating)."""
    items = ReconciliationItem.objects.filter(reconciliation=recon)
    if wanted == "all":
        return items
    if wanted == "explained":
        return items.filter(explanation__isnull=False)
    if wanted == "within_tolerance":
        return items.filter(explanation__isnull=True, item_class=ItemClass.WITHIN_TOLERANCE)
    differing = items.filter(explanation__isnull=True, item_class__in=DIFFERING).annotate(
        verdict=_latest_verdict(recon))
    if wanted == "open":
        return differing.filter(Q(verdict__isnull=True) | ~Q(verdict=Verdict.ACCEPTED))
    return differing.filter(verdict=wanted)


class ReconciliationItems(generics.ListAPIView):
    """Every key x measure of a reconciliation that is not an exact match, in its order (by keys, then measure),
    50 a page (page_size up to 500): its exact values and difference, its status, the recorded flaw that explains
    it and how, the verdict in force on it, and an earlier verdict on the same place when a value changed."""

    serializer_class = ItemSerializer
    permission_classes = (CanRead,)
    pagination_class = ItemPagination
    filterset_class = None
    queryset = ReconciliationItem.objects.none()  # the schema's model; get_queryset reads the reconciliation's

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ReconciliationItem.objects.none()
        recon = self._recon = get_object_or_404(Reconciliation, pk=self.kwargs["pk"])
        return items_with_status(recon, self._query["status"])

    def list(self, request, *args, **kwargs):
        query, problems = request.query_params, {}
        wanted = query.get("status", "").strip() or "all"
        if wanted not in ITEM_STATUSES:
            problems["status"] = [f"{wanted[:40]!r} is not one of {', '.join(ITEM_STATUSES)}"]
        klass = query.get("class", "").strip()
        if klass and klass not in ITEM_CLASSES:
            problems["class"] = [f"{klass[:40]!r} is not one of {', '.join(ITEM_CLASSES)}"]
        if problems:
            get_object_or_404(Reconciliation, pk=self.kwargs["pk"])
            return _bad(problems)
        self._query = {"status": wanted}
        queryset = self.get_queryset()
        if klass:
            queryset = queryset.filter(item_class=klass)
        page = self.paginate_queryset(queryset)
        statuses = {s.item.pk: s for s in selectors.item_statuses(self._recon, page)}
        body = ItemSerializer(page, many=True, context={**self.get_serializer_context(), "statuses": statuses}).data
        return self.get_paginated_response(body)

    @extend_schema(
        operation_id="reconciliations_items", summary="A reconciliation's differences",
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=[*ITEM_STATUSES],
                             description="all (default); open: what keeps the card open (no verdict, backend_defect "
                                         "or investigating); or one status"),
            OpenApiParameter("class", OpenApiTypes.STR, enum=[*ITEM_CLASSES],
                             description="the item's class (exact matches are not items)"),
        ],
        responses={200: ItemSerializer(many=True), **BAD_QUERY, **READ_REFUSED, **NOT_FOUND},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ReconciliationCancel(_ReconciliationView, APIView):
    """Cancel a queued or running reconciliation: its worker stops at its next step and stores nothing."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(operation_id="reconciliations_cancel", summary="Cancel a reconciliation", request=None,
                   responses={200: ReconciliationDetailSerializer, **REFUSED, **NOT_FOUND})
    def post(self, request, pk: int):
        recon = get_object_or_404(Reconciliation, pk=pk)
        return _detail(request, services.reconciliation_cancel(actor=request.user, reconciliation=recon))


class AdjudicationCreate(IdempotentCreate, _ReconciliationView, APIView):
    """An approver's verdict on a difference no flaw explains, remembered by its fingerprint (card, keys, measure,
    both values): it holds for later reconciliations while both values are unchanged."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(
        operation_id="reconciliation_items_adjudicate", summary="Adjudicate a difference",
        description=("accepted (Domo was wrong: say why), backend_defect (ours is wrong: the card stays open until a "
                     "later run matches) or investigating; a comment is required; not by anyone who mapped the card "
                     "(four eyes). 201 with the verdict at its `url` (also the Location header)."),
        request=AdjudicationInSerializer,
        responses={201: AdjudicationSerializer, **INVALID, **REFUSED, **NOT_FOUND},
    )
    def post(self, request, pk: int):
        item = get_object_or_404(ReconciliationItem.objects.select_related("reconciliation"), pk=pk)
        body = AdjudicationInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        adjudication = services.adjudicate(actor=request.user, item=item, verdict=body.validated_data["verdict"],
                                           comment=body.validated_data["comment"])
        answer = AdjudicationSerializer(adjudication, context={"request": request}).data
        return created(answer, answer["url"])


class AdjudicationDetail(generics.RetrieveAPIView):
    """One verdict on a difference."""

    queryset = Adjudication.objects.select_related("decided_by")
    serializer_class = AdjudicationSerializer
    permission_classes = (CanRead,)
    filterset_class = None

    @extend_schema(operation_id="adjudications_retrieve", summary="An adjudication",
                   responses={200: AdjudicationSerializer, **READ_REFUSED, **NOT_FOUND})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
