"""Leaf IQ exports as the console received them: intake runs, manifests, and the Domo objects inside."""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models

from console import clock, jobs
from evidence.choices import (
    INTAKE_TERMINAL,
    BeastModeScope,
    CalculationKind,
    CalculationLevel,
    CalculationUse,
    IntakeSource,
    IntakeStatus,
    ManifestStatus,
    Severity,
)


class IllegalTransition(Exception):
    """A state change was asked of an object in a state that does not allow it."""


class IntakeRun(models.Model):
    """One attempt to receive an export: created first, then worked by a Celery task or a command."""

    source = models.CharField(max_length=16, choices=IntakeSource.choices)
    original_name = models.CharField(max_length=255)
    staged_path = models.CharField(max_length=1024, help_text="where the received bytes wait for the intake")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_by_label = models.CharField(
        max_length=255, help_text="who asked: the username, or the system actor (e.g. system:command:ingest_export)"
    )
    status = models.CharField(max_length=16, choices=IntakeStatus.choices, default=IntakeStatus.QUEUED)
    stage = models.CharField(max_length=64, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    task_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    manifest = models.ForeignKey("SourceManifest", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    queued_at = models.DateTimeField(default=clock.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "-id"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="intake_progress_le_100"),
        ]

    def __str__(self) -> str:
        return f"intake #{self.pk} ({self.original_name})"

    @property
    def is_final(self) -> bool:
        return self.status in INTAKE_TERMINAL

    @property
    def repeat_of_id(self) -> int | None:
        """The run that first received this run's export, when this run was a repeat receipt of it."""
        if self.manifest_id is None or self.manifest.intake_run_id == self.pk:
            return None
        return self.manifest.intake_run_id

    def claim(self, *, stale_after: dt.timedelta) -> bool:
        """Compare-and-set to running (console.jobs): a queued run, or a running one whose worker stopped beating.

        False when another live worker holds it or it is final ("someone else got there").
        """
        claimable = models.Q(status=IntakeStatus.QUEUED) | models.Q(
            status=IntakeStatus.RUNNING, heartbeat_at__lt=clock.now() - stale_after
        )
        claimed = jobs.claim(INTAKE_JOBS, self.pk, claimable, stage="starting", progress=0)
        self.refresh_from_db()
        return claimed

    def report(self, stage: str, progress: int) -> None:
        """Record progress and a heartbeat (its own short write, visible to pages at once). A stage longer
        than the column (a long dataset name) is cut with an ellipsis, never refused."""
        limit = IntakeRun._meta.get_field("stage").max_length
        stage = stage if len(stage) <= limit else stage[: limit - 1] + "…"
        self.stage, self.progress, self.heartbeat_at = stage, max(0, min(progress, 100)), clock.now()
        jobs.beat(INTAKE_JOBS, self, at=self.heartbeat_at, stage=self.stage, progress=self.progress)

    def succeed(self, manifest: "SourceManifest") -> None:
        if self.status != IntakeStatus.RUNNING:
            raise IllegalTransition(f"{self} cannot succeed from {self.status}")
        self.status, self.manifest, self.progress, self.stage = IntakeStatus.SUCCEEDED, manifest, 100, "done"
        self.finished_at = clock.now()
        self.save(update_fields=["status", "manifest", "progress", "stage", "finished_at"])

    def fail(self, error: str) -> None:
        if self.is_final:
            raise IllegalTransition(f"{self} is already {self.status}")
        self.status, self.error, self.finished_at = IntakeStatus.FAILED, error, clock.now()
        self.save(update_fields=["status", "error", "finished_at"])


# Where an intake run keeps its claim (console.jobs).
INTAKE_JOBS = jobs.JobTable(IntakeRun, state="status", running=IntakeStatus.RUNNING)


class SourceManifest(models.Model):
    """One received export, identified by its load id and the SHA-256 of its manifest.json."""

    load_id = models.CharField(max_length=64, db_index=True)
    manifest_sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=ManifestStatus.choices)
    claimed_status = models.CharField(max_length=32, blank=True, help_text="the exporter's own claim")
    exported_at = models.DateTimeField(null=True, blank=True)
    domo_instance = models.CharField(max_length=255, blank=True)
    exporter = models.CharField(max_length=128, blank=True)
    missing = models.JSONField(default=list, blank=True, help_text="what the exporter said it could not capture")
    bronze_prefix = models.CharField(max_length=512)
    silver_prefix = models.CharField(max_length=512, blank=True)
    received_at = models.DateTimeField(default=clock.now)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    intake_run = models.ForeignKey(IntakeRun, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["load_id", "manifest_sha256"], name="manifest_unique_content"),
        ]
        indexes = [models.Index(fields=["status", "-id"]), models.Index(fields=["received_at"])]

    def __str__(self) -> str:
        return f"{self.load_id} ({self.status})"


class ManifestIssue(models.Model):
    """One problem the console found in an export, with where it is."""

    manifest = models.ForeignKey(SourceManifest, on_delete=models.CASCADE, related_name="issues")
    position = models.PositiveIntegerField()
    code = models.CharField(max_length=48, db_index=True)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    file = models.CharField(max_length=1024, blank=True)
    object = models.CharField(max_length=255, blank=True)
    field = models.CharField(max_length=255, blank=True)
    row = models.BigIntegerField(null=True, blank=True)
    column = models.CharField(max_length=255, blank=True)
    message = models.TextField()

    class Meta:
        ordering = ["manifest", "position"]
        constraints = [models.UniqueConstraint(fields=["manifest", "position"], name="issue_position_unique")]


class ManifestFile(models.Model):
    """A file of an export: what the manifest claimed and what arrived."""

    manifest = models.ForeignKey(SourceManifest, on_delete=models.CASCADE, related_name="files")
    path = models.CharField(max_length=1024)
    listed_sha256 = models.CharField(max_length=64, blank=True)
    listed_bytes = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, help_text="of the bytes received; blank if absent")
    bytes = models.BigIntegerField(null=True, blank=True)
    bronze_path = models.CharField(max_length=1024, blank=True)

    class Meta:
        ordering = ["manifest", "path"]
        constraints = [models.UniqueConstraint(fields=["manifest", "path"], name="file_path_unique")]


class DomoDataset(models.Model):
    """A Domo DataSet of a manifest: metadata as exported and, when it passed its checks, silver data."""

    manifest = models.ForeignKey(SourceManifest, on_delete=models.CASCADE, related_name="datasets")
    domo_id = models.CharField(max_length=64)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    api_shape = models.CharField(max_length=16, help_text="public or internal Domo API")
    declared_rows = models.BigIntegerField(null=True, blank=True)
    schema = models.JSONField(default=list, help_text="[{name, type}] in schema order")
    owner_name = models.CharField(max_length=255, blank=True)
    pdp_enabled = models.BooleanField(null=True)
    silver_path = models.CharField(max_length=1024, blank=True)
    silver_sha256 = models.CharField(max_length=64, blank=True)
    silver_rows = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = "Domo dataset"
        ordering = ["manifest", "name"]
        constraints = [models.UniqueConstraint(fields=["manifest", "domo_id"], name="dataset_unique_in_manifest")]

    def __str__(self) -> str:
        return self.name


class DomoCard(models.Model):
    """A Domo card: its definition and, if captured, its golden output."""

    manifest = models.ForeignKey(SourceManifest, on_delete=models.CASCADE, related_name="cards")
    domo_id = models.BigIntegerField()
    title = models.CharField(max_length=255)
    datasets = models.ManyToManyField(DomoDataset, related_name="cards", blank=True)
    datasource_ids = models.JSONField(default=list)
    main = models.JSONField(default=dict, help_text="the main subscription: columns, filters, groupBy, orderBy, dateGrain")
    golden_path = models.CharField(max_length=1024, blank=True)
    golden_captured_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "Domo card"
        ordering = ["manifest", "title"]
        constraints = [models.UniqueConstraint(fields=["manifest", "domo_id"], name="card_unique_in_manifest")]

    def __str__(self) -> str:
        return self.title


class BeastMode(models.Model):
    """A Beast Mode formula, saved on a card or on a dataset."""

    manifest = models.ForeignKey(SourceManifest, on_delete=models.CASCADE, related_name="beast_modes")
    card = models.ForeignKey(DomoCard, null=True, blank=True, on_delete=models.CASCADE, related_name="beast_modes")
    dataset = models.ForeignKey(DomoDataset, null=True, blank=True, on_delete=models.CASCADE, related_name="beast_modes")
    scope = models.CharField(max_length=16, choices=BeastModeScope.choices)
    formula_id = models.CharField(max_length=128)
    name = models.CharField(max_length=255)
    formula = models.TextField()
    data_type = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=32, blank=True)
    persisted_on_dataset = models.BooleanField(default=False)

    class Meta:
        ordering = ["manifest", "name", "id"]
        indexes = [models.Index(fields=["manifest", "formula_id"])]


class DomoDataflow(models.Model):
    """A DataFlow: MySQL, Redshift or Magic ETL, with its inputs and outputs."""

    manifest = models.ForeignKey(SourceManifest, on_delete=models.CASCADE, related_name="dataflows")
    domo_id = models.BigIntegerField()
    name = models.CharField(max_length=255)
    database_type = models.CharField(max_length=16)
    input_ids = models.JSONField(default=list)
    output_ids = models.JSONField(default=list)

    class Meta:
        verbose_name = "Domo dataflow"
        ordering = ["manifest", "name"]
        constraints = [models.UniqueConstraint(fields=["manifest", "domo_id"], name="dataflow_unique_in_manifest")]

    def __str__(self) -> str:
        return self.name


class DataflowStep(models.Model):
    """One action of a DataFlow with its SQL statements or Magic ETL expressions."""

    dataflow = models.ForeignKey(DomoDataflow, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    action_type = models.CharField(max_length=64)
    name = models.CharField(max_length=255, blank=True)
    sql = models.JSONField(default=list)
    expressions = models.JSONField(default=list)

    class Meta:
        ordering = ["dataflow", "position"]
        constraints = [models.UniqueConstraint(fields=["dataflow", "position"], name="step_position_unique")]


class PdpPolicy(models.Model):
    """A PDP policy of a dataset, normalized from either Domo API shape."""

    dataset = models.ForeignKey(DomoDataset, on_delete=models.CASCADE, related_name="policies")
    policy_id = models.BigIntegerField()
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=16)
    filters = models.JSONField(default=list, help_text="[{column, operator, values, negated, ignore_case, dynamic}]")
    user_ids = models.JSONField(default=list)
    group_ids = models.JSONField(default=list)
    api_shape = models.CharField(max_length=16)

    class Meta:
        ordering = ["dataset", "name"]
        verbose_name = "PDP policy"
        verbose_name_plural = "PDP policies"


class DirectoryEntry(models.Model):
    """A Domo user or group named by the export's directory."""

    manifest = models.ForeignKey(SourceManifest, on_delete=models.CASCADE, related_name="directory")
    kind = models.CharField(max_length=8, choices=[("user", "User"), ("group", "Group")])
    domo_id = models.BigIntegerField()
    name = models.CharField(max_length=255, blank=True)
    email = models.CharField(max_length=255, blank=True)
    member_ids = models.JSONField(default=list)

    class Meta:
        ordering = ["manifest", "kind", "name"]
        verbose_name_plural = "directory entries"
        constraints = [models.UniqueConstraint(fields=["manifest", "kind", "domo_id"], name="directory_unique")]


class CalculationAnalysis(models.Model):
    """What the formula engine found in one beast mode, or one statement or expression of a DataFlow step.

    One current row per (object, part): re-analysis at a new engine version replaces the object's
    rows in one transaction (evidence.calculations.analysis).
    """

    manifest = models.ForeignKey(SourceManifest, on_delete=models.CASCADE, related_name="calculation_analyses")
    beast_mode = models.ForeignKey(
        BeastMode, null=True, blank=True, on_delete=models.CASCADE, related_name="analyses"
    )
    dataflow_step = models.ForeignKey(
        DataflowStep, null=True, blank=True, on_delete=models.CASCADE, related_name="analyses"
    )
    kind = models.CharField(max_length=16, choices=CalculationKind.choices)
    part = models.PositiveIntegerField(
        default=0, help_text="which statement or expression of the step (0 for a beast mode)"
    )
    used_as = models.CharField(max_length=16, choices=CalculationUse.choices)
    formula = models.TextField(help_text="the text analyzed, as exported (it may hold HTML: always escape it)")
    engine_version = models.CharField(max_length=16)
    level = models.CharField(max_length=16, choices=CalculationLevel.choices, blank=True)
    columns = models.JSONField(default=list, help_text="the columns it reads, as the schema spells them")
    sql = models.TextField(blank=True, help_text="the normalized text; the text as given when it does not parse")
    translations = models.JSONField(default=dict, help_text="{target: {sql, faithful, problems}}")
    analyzed_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["manifest", "id"]
        verbose_name_plural = "calculation analyses"
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(
                        kind=CalculationKind.BEAST_MODE,
                        beast_mode__isnull=False,
                        dataflow_step__isnull=True,
                        part=0,
                    )
                    | models.Q(
                        kind__in=[CalculationKind.SQL, CalculationKind.EXPRESSION],
                        beast_mode__isnull=True,
                        dataflow_step__isnull=False,
                    )
                ),
                name="calc_analysis_of_one_object",
            ),
            models.CheckConstraint(
                condition=models.Q(used_as__in=CalculationUse.values), name="calc_analysis_used_as_known"
            ),
            models.CheckConstraint(
                condition=models.Q(level__in=[*CalculationLevel.values, ""]), name="calc_analysis_level_known"
            ),
            models.CheckConstraint(
                condition=~models.Q(engine_version=""), name="calc_analysis_engine_version"
            ),
            # Conditional, so that the NULLs of the other object never collide (SQL Server counts
            # NULLs as equal in a plain unique constraint).
            models.UniqueConstraint(
                fields=["beast_mode"],
                condition=models.Q(beast_mode__isnull=False),
                name="calc_analysis_one_per_beast_mode",
            ),
            models.UniqueConstraint(
                fields=["dataflow_step", "part"],
                condition=models.Q(dataflow_step__isnull=False),
                name="calc_analysis_one_per_step_part",
            ),
        ]
        indexes = [models.Index(fields=["manifest", "engine_version"])]

    def __str__(self) -> str:
        return f"analysis #{self.pk} ({self.kind}, engine {self.engine_version})"


class CalculationFlaw(models.Model):
    """One flaw the engine found in an analyzed calculation, at [start, end) of its text when known."""

    analysis = models.ForeignKey(CalculationAnalysis, on_delete=models.CASCADE, related_name="flaws")
    manifest = models.ForeignKey(
        SourceManifest, on_delete=models.CASCADE, related_name="calculation_flaws",
        help_text="the analysis's manifest, kept here for the flaws page's filters",
    )
    position = models.PositiveIntegerField(
        help_text="its place among the analysis's flaws, as the engine ordered them"
    )
    # No choices: the engine owns the codes (evidence.formulas.FLAW_CODES and STEP_FLAW_CODES).
    code = models.CharField(max_length=48)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    snippet = models.TextField(blank=True)
    message = models.TextField()
    suggestion = models.TextField(blank=True)
    start = models.PositiveIntegerField(null=True, blank=True)
    end = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["analysis", "position"]
        constraints = [
            models.UniqueConstraint(fields=["analysis", "position"], name="calc_flaw_position_unique"),
            models.CheckConstraint(
                condition=models.Q(severity__in=Severity.values), name="calc_flaw_severity_known"
            ),
            models.CheckConstraint(
                condition=models.Q(start__isnull=True)
                | models.Q(end__isnull=True)
                | models.Q(start__lte=models.F("end")),
                name="calc_flaw_span_ordered",
            ),
        ]
        indexes = [
            models.Index(fields=["manifest", "code", "id"]),
            models.Index(fields=["manifest", "severity", "id"]),
        ]

    def __str__(self) -> str:
        return f"{self.code} in analysis #{self.analysis_id}"


class GoldenReproduction(models.Model):
    """A card's golden packet rebuilt from silver in DuckDB and compared with what Domo showed."""

    card = models.OneToOneField(DomoCard, on_delete=models.CASCADE, related_name="reproduction")
    status = models.CharField(max_length=24, help_text="reproduced, differs or not_reproducible")
    sql = models.TextField(blank=True, help_text="the DuckDB query that rebuilt the card")
    columns = models.JSONField(default=list)
    key_columns = models.JSONField(default=list)
    golden_rows = models.PositiveIntegerField(default=0)
    our_rows = models.PositiveIntegerField(default=0)
    matched = models.PositiveIntegerField(default=0)
    differing_count = models.PositiveIntegerField(default=0)
    only_in_golden_count = models.PositiveIntegerField(default=0)
    only_in_ours_count = models.PositiveIntegerField(default=0)
    differing = models.JSONField(default=list, help_text="the first differences: key, column, golden, ours, difference")
    only_in_golden = models.JSONField(default=list)
    only_in_ours = models.JSONField(default=list)
    problems = models.JSONField(default=list, help_text="why the card could not be rebuilt")
    notes = models.JSONField(default=list, help_text="conditions the reproduction rests on")
    engine_version = models.CharField(max_length=32)
    reproduced_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["reproduced", "differs", "not_reproducible"]),
                name="golden_reproduction_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.card} golden: {self.status}"


# The evidence packets' models live in their own module (this one stays under 500 lines); importing them
# here registers them with the evidence app.
from evidence.packets.models import (  # noqa: F401
    AccountRow,
    ContractTermRow,
    EvidencePacket,
    PacketReceipt,
    PacketRevision,
    PacketRevisionIssue,
    PriceRow,
    RebateInvoiceRow,
)
from evidence.candidates.models import DomoCandidateRow, DomoCandidateSet  # noqa: F401, E402
from evidence.flags.models import ClientNeeds, FlagRun, MissingEvidenceFlag  # noqa: F401, E402
