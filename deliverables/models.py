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
from deliverables.choices import RUN_TERMINAL, Decision, Engine, NumberKind, RunState


class CalculationRun(models.Model):
    """One calculation run: what it was asked, what it read (exact inputs), who ran it where, what it found."""

    client_account_id = models.CharField(max_length=18, blank=True, help_text="blank: every client")
    period_start = models.DateField()
    period_end = models.DateField()
    dataset_key = models.CharField(max_length=64, blank=True, help_text="the claims dataset asked for (Domo id)")
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
    error = models.TextField(blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

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
    def is_final(self) -> bool:
        return self.state in RUN_TERMINAL

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
    amount = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    indicative_amount = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
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
