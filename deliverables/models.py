"""Calculation runs and the numbers they store.

A run takes a client (or every client) and a reporting period, reads the claims of a dataset promoted into a
backend contract and the evidence the authority module hands over, and stores each number with its decision
and provenance. Guarantee lines, rebate lines and savings summaries are RunNumber rows; the findings (up to
millions) are the run's findings artifact, a Parquet file written once in the lake under its SHA-256
(deliverables.runs.findings), with one RunNumber per client summing them.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models

from console import clock
from console.exact import ExactDecimalField
from deliverables.choices import (
    RUN_TERMINAL,
    Decision,
    DeliverableKind,
    Engine,
    ItemClass,
    NumberKind,
    PublicationState,
    RunState,
    SubjectKind,
    Trigger,
    Verdict,
)


class QueuedWork(models.Model):
    """What a queue-backed run records about its request and its worker: claimed, beating, taken over when its
    worker is lost, never run twice at once (deliverables.jobs)."""

    state = models.CharField(max_length=16, choices=RunState.choices, default=RunState.QUEUED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=clock.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    progress = models.JSONField(default=dict, blank=True, help_text="{step, steps: [{name, state, at, detail}]}")
    task_id = models.CharField(max_length=64, blank=True)
    queue = models.CharField(max_length=64, blank=True)
    worker_host = models.CharField(max_length=255, blank=True)
    worker_pid = models.PositiveIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="claims of the run (first + takeovers)")
    traceparent = models.CharField(max_length=55, help_text="W3C traceparent minted at the request")
    trace_id = models.CharField(max_length=32, db_index=True)
    error = models.TextField(blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        abstract = True

    @property
    def is_final(self) -> bool:
        return self.state in RUN_TERMINAL


class CalculationRun(QueuedWork):
    """One calculation run: what it was asked, what it read (exact inputs), who ran it where, what it found."""

    client_account_id = models.CharField(max_length=18, blank=True, help_text="blank: every client")
    period_start = models.DateField()
    period_end = models.DateField()
    dataset_key = models.CharField(max_length=64, blank=True, help_text="the claims dataset asked for (Domo id)")
    engine = models.CharField(max_length=16, choices=Engine.choices, blank=True)
    calculation_version = models.CharField(max_length=64, blank=True, help_text="sha256 of the calculations' source")
    inputs = models.JSONField(default=dict, blank=True,
                              help_text="{claims, evidence, domo, calculations, parameters}: the exact inputs")
    inputs_sha256 = models.CharField(max_length=64, blank=True)
    result_sha256 = models.CharField(max_length=64, blank=True, help_text="sha256 of every stored result")
    findings_path = models.CharField(max_length=512, blank=True, help_text="the findings artifact in the lake")
    findings_sha256 = models.CharField(max_length=64, blank=True)
    findings_count = models.PositiveBigIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True, help_text="counts by kind and decision, phase times")

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["state", "-id"]),
            models.Index(fields=["client_account_id", "-id"]),
            models.Index(fields=["state", "heartbeat_at"], name="calcrun_state_heartbeat"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(state__in=RunState.values), name="calcrun_state_known"),
            models.CheckConstraint(condition=models.Q(period_start__lte=models.F("period_end")),
                                   name="calcrun_period_ordered"),
        ]

    def __str__(self) -> str:
        return f"run #{self.pk} ({self.state})"

    @property
    def scope_label(self) -> str:
        who = self.client_account_id or "every client"
        return f"{who}, {self.period_start.isoformat()} to {self.period_end.isoformat()}"


class RunNumber(models.Model):
    """One stored number of a run (a guarantee line, a rebate line, a client's findings, a savings summary):
    its figures, its decision and everything that proves it."""

    run = models.ForeignKey(CalculationRun, on_delete=models.CASCADE, related_name="numbers")
    key = models.CharField(max_length=200, help_text="stable within the run and across runs of the same scope")
    kind = models.CharField(max_length=24, choices=NumberKind.choices)
    client_account_id = models.CharField(max_length=18)
    label = models.CharField(max_length=255)
    calculation = models.CharField(max_length=64, help_text="the definition that computed it")
    calculation_version = models.CharField(max_length=64, help_text="sha256 of that definition's SQL")
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    decision = models.CharField(max_length=16, choices=Decision.choices)
    # The headline amount, as a conclusion only when authorized; an indicative amount is kept apart; a number
    # not concluded has neither (figures hold only what does not depend on the missing evidence).
    amount = ExactDecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    indicative_amount = ExactDecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    figures = models.JSONField(default=dict, help_text="{column: exact text} of the calculation's line")
    evidence = models.JSONField(default=dict, help_text="{used, seen, missing: [{..., flag_key}], reasons}")
    dataset_key = models.CharField(max_length=64, blank=True)
    dataset_version = models.PositiveIntegerField(null=True, blank=True)
    relation = models.CharField(max_length=16, blank=True, help_text="the engine relation the predicate reads")
    predicate = models.TextField(blank=True, help_text="SQL over the relation: the contributing rows")
    row_count = models.PositiveBigIntegerField(default=0)
    rows_checksum = models.CharField(max_length=64, blank=True, help_text="md5 of the sorted row numbers")
    position = models.PositiveIntegerField(default=0, help_text="order within the run")

    class Meta:
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "key"], name="runnumber_key_unique"),
            models.CheckConstraint(condition=models.Q(decision__in=Decision.values), name="runnumber_decision_known"),
            # Only an authorized number is a conclusion.
            models.CheckConstraint(condition=models.Q(amount__isnull=True) | models.Q(decision=Decision.AUTHORIZED),
                                   name="runnumber_amount_only_authorized"),
            models.CheckConstraint(
                condition=models.Q(indicative_amount__isnull=True) | models.Q(decision=Decision.INDICATIVE),
                name="runnumber_indicative_only_indicative"),
        ]
        indexes = [models.Index(fields=["run", "kind", "client_account_id", "position"])]

    def __str__(self) -> str:
        return f"{self.key} ({self.decision})"


# --- golden reconciliation -------------------------------------------------------------------------------------
class CardMapping(models.Model):
    """One version of how a Domo card's golden packet (or a DataFlow's output dataset) maps onto a backend output
    of the calculation runs: keys, measures, the backend field each measure compares with, tolerances, and the
    recorded calculation flaws that may explain a variance. Versions are never changed: a new one is added."""

    subject_kind = models.CharField(max_length=16, choices=SubjectKind.choices)
    subject_id = models.CharField(max_length=64, help_text="the Domo card id, or the DataFlow id")
    title = models.CharField(max_length=255, help_text="the card's title or the DataFlow's name when mapped")
    version = models.PositiveIntegerField()
    output = models.CharField(max_length=64, help_text="the backend output (deliverables.reconciliation.outputs)")
    golden_dataset = models.CharField(max_length=64, blank=True,
                                      help_text="a DataFlow's output dataset compared (Domo id); blank for a card")
    keys = models.JSONField(help_text="[{name, backend, golden, kind, casefold}]")
    measures = models.JSONField(
        help_text="[{name, backend, golden, scale, abs_tolerance, rel_tolerance, flaws: [{fingerprint, code, ...}]}]")
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=clock.now)
    source = models.CharField(max_length=16, default="console", help_text="console, api or shipped (sample data)")

    class Meta:
        ordering = ["subject_kind", "subject_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["subject_kind", "subject_id", "version"], name="cardmapping_version_unique"),
            models.CheckConstraint(condition=models.Q(subject_kind__in=SubjectKind.values),
                                   name="cardmapping_kind_known"),
        ]

    def __str__(self) -> str:
        return f"{self.subject_kind} {self.subject_id} mapping v{self.version}"

    @property
    def subject_name(self) -> str:
        return f"{self.subject_kind}:{self.subject_id}"


class Reconciliation(QueuedWork):
    """One reconciliation of a mapped card against a calculation run: its inputs (run, mapping version, the golden
    packet and its hash), its summary, and the rows that differ (ReconciliationItem); every row, matches included,
    is the Parquet artifact in the lake."""

    mapping = models.ForeignKey(CardMapping, on_delete=models.PROTECT, related_name="reconciliations")
    run = models.ForeignKey(CalculationRun, on_delete=models.PROTECT, related_name="reconciliations")
    subject_kind = models.CharField(max_length=16, choices=SubjectKind.choices)
    subject_id = models.CharField(max_length=64)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    manifest = models.ForeignKey("evidence.SourceManifest", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+", help_text="the export the golden packet came from")
    golden = models.JSONField(default=dict, blank=True, help_text="{source, path, sha256, rows, captured_at}")
    backend = models.JSONField(default=dict, blank=True, help_text="{output, rows, sha256}")
    summary = models.JSONField(default=dict, blank=True,
                               help_text="{total: {class: n}, measures, explained, accepted, open, seconds}")
    rows = models.PositiveBigIntegerField(default=0)
    artifact_path = models.CharField(max_length=512, blank=True, help_text="every classified row, in the lake")
    artifact_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["subject_kind", "subject_id", "-id"]),
            models.Index(fields=["state", "heartbeat_at"], name="recon_state_heartbeat"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(state__in=RunState.values), name="recon_state_known"),
        ]

    def __str__(self) -> str:
        return f"reconciliation #{self.pk} ({self.state})"


class ReconciliationItem(models.Model):
    """One key x measure of a reconciliation that is not an exact match: within tolerance, a variance, or a key
    on one side only; with its exact values, its fingerprint and, for a variance a recorded flaw accounts for,
    the explanation."""

    reconciliation = models.ForeignKey(Reconciliation, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    keys = models.JSONField(help_text="{key name: normalised text}")
    key_label = models.CharField(max_length=512)
    measure = models.CharField(max_length=128)
    item_class = models.CharField(max_length=16, choices=ItemClass.choices)
    backend_value = models.CharField(max_length=64, blank=True, help_text="exact decimal text; blank: none")
    golden_value = models.CharField(max_length=64, blank=True)
    difference = models.CharField(max_length=64, blank=True, help_text="backend - golden, exact")
    backend_decision = models.CharField(max_length=16, blank=True, help_text="the backend row's decision")
    fingerprint = models.CharField(max_length=64, db_index=True, help_text="card, keys, measure, both values")
    locator = models.CharField(max_length=64, db_index=True, help_text="card, keys, measure: the same place")
    explanation = models.JSONField(null=True, blank=True,
                                   help_text="{flaw_id, fingerprint, code, beast_mode, formula, how}")

    class Meta:
        ordering = ["reconciliation", "position"]
        constraints = [
            models.UniqueConstraint(fields=["reconciliation", "position"], name="reconitem_position_unique"),
            models.CheckConstraint(condition=models.Q(item_class__in=ItemClass.values), name="reconitem_class_known"),
        ]

    def __str__(self) -> str:
        return f"{self.key_label} {self.measure} ({self.item_class})"


class Adjudication(models.Model):
    """A person's verdict on a difference, remembered by its fingerprint: it holds for every later
    reconciliation while the card, keys, measure and both values are unchanged. Never changed: a new verdict on
    the same fingerprint is a new row (the latest holds)."""

    subject_kind = models.CharField(max_length=16, choices=SubjectKind.choices)
    subject_id = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64, db_index=True)
    locator = models.CharField(max_length=64, db_index=True)
    measure = models.CharField(max_length=128)
    keys = models.JSONField()
    key_label = models.CharField(max_length=512)
    item_class = models.CharField(max_length=16, choices=ItemClass.choices)
    backend_value = models.CharField(max_length=64, blank=True)
    golden_value = models.CharField(max_length=64, blank=True)
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    comment = models.TextField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(default=clock.now)
    reconciliation = models.ForeignKey(Reconciliation, on_delete=models.PROTECT, related_name="adjudications")

    class Meta:
        ordering = ["-decided_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(verdict__in=Verdict.values), name="adjudication_verdict_known"),
            models.CheckConstraint(condition=~models.Q(comment=""), name="adjudication_comment_required"),
        ]

    def __str__(self) -> str:
        return f"{self.verdict} on {self.key_label} {self.measure}"


class CardRetirement(models.Model):
    """An approver's mark that a reconciled card is retired: the backend output is the one to use."""

    subject_kind = models.CharField(max_length=16, choices=SubjectKind.choices)
    subject_id = models.CharField(max_length=64)
    reconciliation = models.ForeignKey(Reconciliation, on_delete=models.PROTECT, related_name="+")
    retired_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    retired_at = models.DateTimeField(default=clock.now)
    comment = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subject_kind", "subject_id"], name="cardretirement_subject_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.subject_kind} {self.subject_id} retired"


# --- deliverables ----------------------------------------------------------------------------------------------
class Deliverable(QueuedWork):
    """One built deliverable of a client and period from a succeeded run: a workbook or a dashboard payload, built on
    the worker and stored write-once in the lake under `deliverables/<client>/<period>/<sha256>.<ext>`; its hash is
    checked whenever it is read back."""

    kind = models.CharField(max_length=24, choices=DeliverableKind.choices)
    run = models.ForeignKey(CalculationRun, on_delete=models.PROTECT, related_name="deliverables")
    client_account_id = models.CharField(max_length=18)
    period_start = models.DateField()
    period_end = models.DateField()
    path = models.CharField(max_length=512, blank=True, help_text="in the lake, written once")
    sha256 = models.CharField(max_length=64, blank=True)
    bytes = models.PositiveBigIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True, help_text="sheets and rows, or the payload's figures")
    builder_version = models.CharField(max_length=64, blank=True,
                                       help_text="sha256 of the builder's source and its library versions")

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["client_account_id", "kind", "-id"]),
            models.Index(fields=["state", "heartbeat_at"], name="deliverable_state_heartbeat"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(state__in=RunState.values), name="deliverable_state_known"),
            models.CheckConstraint(condition=models.Q(kind__in=DeliverableKind.values), name="deliverable_kind_known"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.state})"

    @property
    def period_label(self) -> str:
        return f"{self.period_start.isoformat()}_{self.period_end.isoformat()}"


# --- publication -----------------------------------------------------------------------------------------------
class Publication(models.Model):
    """A request to publish one built deliverable (a workbook or a dashboard payload) to a client, bound to the
    artifact's hash, and what came of it (deliverables.publication.services).

    Four eyes: the approver is never the requester (checked by the service and by the database). Publishing copies
    the artifact, write-once, to the lake under `published/<client>/<kind>/<version>/<file>`; the next publication
    of the same client and kind supersedes it; a retraction keeps the row (and the file) with its reason."""

    deliverable = models.ForeignKey(Deliverable, on_delete=models.PROTECT, related_name="publications")
    client_account_id = models.CharField(max_length=18)
    kind = models.CharField(max_length=24, choices=DeliverableKind.choices)
    sha256 = models.CharField(max_length=64, help_text="the artifact's hash the request (and the approval) is bound to")
    state = models.CharField(max_length=16, choices=PublicationState.choices, default=PublicationState.REQUESTED)
    version = models.PositiveIntegerField(null=True, blank=True,
                                          help_text="per client and kind, 1, 2, ... given when published")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=clock.now)
    request_comment = models.TextField(blank=True)
    gates = models.JSONField(default=list, blank=True,
                             help_text="[{gate, passed, detail}] as checked at the request and again at approval")
    reconciliation = models.JSONField(default=dict, blank=True,
                                      help_text="the card reconciliation state at the request (shown, not gating)")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.TextField(blank=True)
    path = models.CharField(max_length=512, blank=True, help_text="in the lake under published/, written once")
    published_at = models.DateTimeField(null=True, blank=True)
    superseded_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    superseded_at = models.DateTimeField(null=True, blank=True)
    retracted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    retracted_at = models.DateTimeField(null=True, blank=True)
    retraction_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["client_account_id", "kind", "state", "-id"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(state__in=PublicationState.values),
                                   name="publication_state_known"),
            models.CheckConstraint(condition=models.Q(kind__in=DeliverableKind.values), name="publication_kind_known"),
            models.CheckConstraint(
                condition=models.Q(decided_by__isnull=True) | ~models.Q(decided_by=models.F("requested_by")),
                name="publication_four_eyes",
            ),
            models.UniqueConstraint(fields=["client_account_id", "kind", "version"], name="publication_version_unique",
                                    condition=models.Q(version__isnull=False)),
            models.UniqueConstraint(fields=["client_account_id", "kind"], name="publication_one_live",
                                    condition=models.Q(state=PublicationState.PUBLISHED)),
            models.UniqueConstraint(fields=["deliverable"], name="publication_one_requested",
                                    condition=models.Q(state=PublicationState.REQUESTED)),
        ]

    def __str__(self) -> str:
        version = f" v{self.version}" if self.version else ""
        return f"Publication #{self.pk} {self.client_account_id} {self.kind}{version} ({self.state})"


class ConsumerToken(models.Model):
    """A presentation surface's (Domo's) credential for the consumer API: bound to a set of clients, created by an
    admin, shown once; only its SHA-256 is stored. Revocable; expires."""

    name = models.CharField(max_length=120)
    prefix = models.CharField(max_length=16, unique=True, help_text="the token's first characters, shown to find it")
    token_sha256 = models.CharField(max_length=64, unique=True)
    clients = models.JSONField(default=list, help_text="the Salesforce account ids it may read, sorted")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=clock.now)
    expires_at = models.DateTimeField()
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.TextField(blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class ConsumerRead(models.Model):
    """One read through the consumer API: which token, which client and endpoint, which publication it was
    served (none when refused), the answer's status, when and from where."""

    token = models.ForeignKey(ConsumerToken, null=True, blank=True, on_delete=models.PROTECT, related_name="reads")
    client_account_id = models.CharField(max_length=18, blank=True)
    endpoint = models.CharField(max_length=64)
    publication = models.ForeignKey(Publication, null=True, blank=True, on_delete=models.PROTECT, related_name="reads")
    status = models.PositiveSmallIntegerField()
    at = models.DateTimeField(default=clock.now)
    remote_addr = models.CharField(max_length=64, blank=True)
    trace_id = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["token", "-id"]), models.Index(fields=["publication", "-id"])]
