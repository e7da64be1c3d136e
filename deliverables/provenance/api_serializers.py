"""The six answers of a number's provenance (deliverables.provenance.answers), as the API documents them.

Shapes only: they validate nothing and save nothing (the views answer the service's dict).
"""
from __future__ import annotations

from rest_framework import serializers


class ProvenanceRowsSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="the contributing rows")
    checksum = serializers.CharField(allow_blank=True, help_text="md5 of their row numbers, ascending")
    relation = serializers.CharField()
    predicate = serializers.CharField()
    of_numbers = serializers.BooleanField(help_text="true: a summary whose rows are other numbers of the run")
    dataset_name = serializers.CharField(allow_blank=True)
    dataset_key = serializers.CharField(allow_blank=True)
    dataset_version = serializers.IntegerField(allow_null=True)
    dataset_rows = serializers.IntegerField(allow_null=True)
    dataset_checksum = serializers.CharField(allow_blank=True)
    promotion_request = serializers.IntegerField(allow_null=True)
    promotion_url = serializers.CharField(allow_blank=True)
    rows_url = serializers.CharField(help_text="the rows page")
    rows_csv = serializers.CharField(help_text="the rows as CSV")


class ProvenanceFlawSerializer(serializers.Serializer):
    code = serializers.CharField()
    severity = serializers.CharField()
    message = serializers.CharField()
    snippet = serializers.CharField(allow_blank=True)
    suggestion = serializers.CharField(allow_blank=True)
    url = serializers.CharField(allow_blank=True, help_text="the export's calculation flaws of this code")


class ProvenanceFormulaSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="Beast Mode, or DataFlow step")
    name = serializers.CharField()
    formula = serializers.CharField(help_text="as exported (may hold HTML: escape it)")
    flaws = ProvenanceFlawSerializer(many=True)


class ProvenanceCardSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="card or dataflow")
    id = serializers.CharField(help_text="the Domo id")
    title = serializers.CharField()
    url = serializers.CharField(allow_blank=True)
    mapping_version = serializers.IntegerField()
    output = serializers.CharField(help_text="the backend output that replaces it")
    output_label = serializers.CharField()
    retired = serializers.BooleanField()
    measures = serializers.ListField(child=serializers.CharField())
    formulas = ProvenanceFormulaSerializer(many=True)


class ProvenanceFormulasSerializer(serializers.Serializer):
    calculation = serializers.CharField()
    name = serializers.CharField()
    version = serializers.CharField(allow_blank=True, help_text="sha256 of the calculation's SQL")
    arithmetic = serializers.CharField(allow_blank=True, help_text="the arithmetic in words")
    cards = ProvenanceCardSerializer(many=True, help_text="the Domo cards and DataFlows this kind of number replaces")


class ProvenanceRevisionSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="contract, pricing, rebate or salesforce")
    kind_label = serializers.CharField()
    # Text, not an enum: the schema's class enums are the authority module's.
    evidence_class = serializers.CharField(help_text="governed or candidate")
    source = serializers.CharField(help_text="packet, or domo (a candidate Domo row)")
    packet_id = serializers.CharField(allow_null=True)
    revision = serializers.IntegerField(allow_null=True)
    sha256 = serializers.CharField(allow_null=True)
    status = serializers.CharField(allow_blank=True)
    dataset_id = serializers.CharField(allow_null=True)
    row = serializers.IntegerField(allow_null=True)
    url = serializers.CharField(allow_blank=True)


class ProvenanceSourceSerializer(serializers.Serializer):
    source = serializers.CharField()
    url = serializers.CharField(allow_blank=True)


class ProvenanceEvidenceSerializer(serializers.Serializer):
    revisions = ProvenanceRevisionSerializer(many=True)
    sources = ProvenanceSourceSerializer(many=True)


class ProvenanceMissingItemSerializer(serializers.Serializer):
    what = serializers.CharField()
    reason = serializers.CharField()
    kind = serializers.CharField(allow_blank=True)
    candidate_exists = serializers.BooleanField()
    flag_key = serializers.CharField(allow_blank=True)
    flag_url = serializers.CharField(allow_blank=True)
    holds_back = serializers.CharField(allow_blank=True, help_text="what it keeps from being concluded")


class ProvenanceMissingSerializer(serializers.Serializer):
    decision = serializers.CharField()
    concluded = serializers.BooleanField(help_text="false: the number shows no amount")
    items = ProvenanceMissingItemSerializer(many=True)
    candidate_only = ProvenanceRevisionSerializer(many=True)
    withheld = serializers.ListField(child=serializers.CharField())


class ProvenanceFindingsSerializer(serializers.Serializer):
    path = serializers.CharField(allow_blank=True)
    sha256 = serializers.CharField(allow_blank=True)
    count = serializers.IntegerField()


class ProvenanceDeliverableSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    kind_label = serializers.CharField()
    state = serializers.CharField()
    client_account_id = serializers.CharField()
    sha256 = serializers.CharField(allow_blank=True)
    path = serializers.CharField(allow_blank=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    url = serializers.CharField(allow_blank=True)


class ProvenanceProductionSerializer(serializers.Serializer):
    run = serializers.IntegerField()
    run_url = serializers.CharField(allow_blank=True)
    state = serializers.CharField()
    queue = serializers.CharField(allow_blank=True)
    worker_host = serializers.CharField(allow_blank=True)
    worker_pid = serializers.IntegerField(allow_null=True)
    task_id = serializers.CharField(allow_blank=True)
    trace_id = serializers.CharField()
    traceparent = serializers.CharField()
    requested_by = serializers.CharField()
    finished_at = serializers.DateTimeField(allow_null=True)
    engine = serializers.CharField(allow_blank=True)
    calculation_version = serializers.CharField(allow_blank=True)
    inputs_sha256 = serializers.CharField(allow_blank=True)
    result_sha256 = serializers.CharField(allow_blank=True)
    findings = ProvenanceFindingsSerializer(help_text="the run's findings artifact in the lake")
    deliverables = ProvenanceDeliverableSerializer(many=True, help_text="built from this run")


class ProvenanceReadSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="the consumer token's name")
    prefix = serializers.CharField(allow_blank=True)
    reads = serializers.IntegerField()
    last_read = serializers.DateTimeField(allow_null=True)


class ProvenancePublicationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    kind_label = serializers.CharField()
    version = serializers.IntegerField(allow_null=True)
    state = serializers.CharField()
    state_label = serializers.CharField()
    deliverable = serializers.IntegerField()
    sha256 = serializers.CharField()
    requested_by = serializers.CharField()
    requested_at = serializers.DateTimeField()
    decided_by = serializers.CharField(allow_blank=True, help_text="the approver (or who rejected it)")
    approved = serializers.BooleanField()
    decided_at = serializers.DateTimeField(allow_null=True)
    published_at = serializers.DateTimeField(allow_null=True)
    retracted_by = serializers.CharField(allow_blank=True)
    retraction_reason = serializers.CharField(allow_blank=True)
    reads = ProvenanceReadSerializer(many=True, help_text="consumer reads, by token")
    read_count = serializers.IntegerField()


class ProvenancePublicationsSerializer(serializers.Serializer):
    client_account_id = serializers.CharField()
    publications = ProvenancePublicationSerializer(many=True)


class ProvenanceAnswersSerializer(serializers.Serializer):
    rows = ProvenanceRowsSerializer(help_text="1. which source rows")
    formulas = ProvenanceFormulasSerializer(help_text="2. which formulas")
    evidence = ProvenanceEvidenceSerializer(help_text="3. which evidence")
    missing = ProvenanceMissingSerializer(help_text="4. what was missing or candidate-only")
    production = ProvenanceProductionSerializer(help_text="5. which queue, worker, task, trace and artifact")
    publications = ProvenancePublicationsSerializer(help_text="6. which publications put it in front of whom")


class ProvenanceSearchResultSerializer(serializers.Serializer):
    run = serializers.IntegerField()
    key = serializers.CharField()
    label = serializers.CharField()
    kind = serializers.CharField()
    client_account_id = serializers.CharField()
    client = serializers.CharField(help_text="the governed Salesforce name and id")
    period = serializers.ListField(child=serializers.DateField(), help_text="the run's period")
    decision = serializers.CharField()
    is_latest = serializers.BooleanField(help_text="from the latest succeeded run of its client and period")
    published = serializers.BooleanField(help_text="a live publication of its client is built from its run")
    was_published = serializers.BooleanField(help_text="one was, since superseded or retracted")
    url = serializers.CharField(help_text="its provenance page")
    api = serializers.CharField()


class ProvenanceSearchSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = ProvenanceSearchResultSerializer(many=True)
