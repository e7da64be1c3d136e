"""The missing-evidence flags and the runs that compute them.

Loaded by evidence.models (the app's models module). A flag is one need without governed coverage, at a fixed
grain so that a recomputation finds the same flag again:

| kind | one flag per | holds back |
|---|---|---|
| contract | client, reporting period, component (channel/drug class) with claims | contract_guarantee (that component and combined) |
| pricing | client, generic NDC, month of fill dates | pricing_finding (the month's claims of that NDC) |
| rebate | client, brand NDC, quarter | rebate_claim |
| salesforce | client | client_scope |

`key` is the SHA-256 of (kind, client, period, component, ndc, quarter): at most one open flag per key (a
database constraint). A flag is never deleted: covered by a verified revision it is resolved (by that
revision, audited); raised again later (a withdrawal, new claims) it is a new flag with the same key.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models

from console import clock
from evidence.choices import PacketKind


class FlagRunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class FlagStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class FlagResolution(models.TextChoices):
    COVERED = "covered", "Covered by a verified revision"
    NO_LONGER_NEEDED = "no_longer_needed", "No longer needed (the claims that needed it are gone)"


class FlagRun(models.Model):
    """One recomputation of every flag: what triggered it, what it read (curated versions, evidence revisions,
    with their hashes), which worker ran it, and what it raised and resolved."""

    trigger = models.CharField(max_length=64, help_text="what asked for it: packet.verified, curated.promoted, …")
    trigger_ref = models.CharField(max_length=255, blank=True, help_text="the object that triggered it")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_by_label = models.CharField(max_length=255, help_text="the username or the system actor, as audited")
    status = models.CharField(max_length=16, choices=FlagRunStatus.choices, default=FlagRunStatus.QUEUED)
    queued_at = models.DateTimeField(default=clock.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=255, blank=True, help_text="the worker's hostname")
    attempts = models.PositiveSmallIntegerField(default=0)
    inputs = models.JSONField(
        default=dict, blank=True,
        help_text='{"curated": [{dataset_key, version, rows, checksum}], "revisions": [{packet_id, revision, '
                  'sha256, class}], "domo": [{set, rows}]}',
    )
    inputs_sha256 = models.CharField(max_length=64, blank=True)
    summary = models.JSONField(default=dict, blank=True, help_text="{raised, resolved, open, needs}")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "-id"])]

    def __str__(self) -> str:
        return f"flag run #{self.pk} ({self.status})"


class ClientNeeds(models.Model):
    """What the current claims need for one client and reporting period (the overview's rows and months)."""

    client_account_id = models.CharField(max_length=18)
    client_name = models.CharField(max_length=255, blank=True)
    period_start = models.DateField()
    period_end = models.DateField()
    claims = models.PositiveBigIntegerField(help_text="claims of the client in the period")
    months = models.JSONField(default=list, help_text='["2025-01", …]: months with claims')
    components = models.JSONField(default=list, help_text='[["retail", "brand"], …]: components with claims')
    generic_ndcs = models.PositiveIntegerField(default=0)
    brand_ndcs = models.PositiveIntegerField(default=0)
    sources = models.JSONField(default=list, help_text="[{dataset_key, version}]: the claims datasets read")
    run = models.ForeignKey(FlagRun, on_delete=models.PROTECT, related_name="needs")

    class Meta:
        ordering = ["client_account_id", "period_start"]
        verbose_name = "client needs"
        verbose_name_plural = "client needs"
        constraints = [
            models.UniqueConstraint(fields=["run", "client_account_id", "period_start"], name="client_needs_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.client_account_id} {self.period_start}…{self.period_end}"


class MissingEvidenceFlag(models.Model):
    """One need of the current claims that no governed evidence covers."""

    key = models.CharField(max_length=64, help_text="sha256 of kind, client, period, component, NDC, quarter")
    kind = models.CharField(max_length=16, choices=PacketKind.choices)
    client_account_id = models.CharField(max_length=18)
    period_start = models.DateField(help_text="reporting period, month or quarter of the need")
    period_end = models.DateField()
    component = models.CharField(max_length=32, blank=True, help_text="channel/drug_class, for contract flags")
    ndc = models.CharField(max_length=11, blank=True)
    quarter = models.CharField(max_length=6, blank=True)
    holds_back = models.JSONField(default=list, help_text="the outputs it keeps from being concluded")
    reason = models.TextField(help_text="what is missing, in words")
    detail = models.JSONField(default=dict, blank=True, help_text="claims, fill dates uncovered, …")
    candidate_exists = models.BooleanField(default=False)
    candidates = models.JSONField(default=list, blank=True, help_text="the candidate evidence seen for it")
    status = models.CharField(max_length=16, choices=FlagStatus.choices, default=FlagStatus.OPEN)
    first_raised_at = models.DateTimeField(default=clock.now)
    raised_by_run = models.ForeignKey(FlagRun, on_delete=models.PROTECT, related_name="+")
    last_seen_run = models.ForeignKey(FlagRun, on_delete=models.PROTECT, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by_run = models.ForeignKey(FlagRun, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    resolved_by_revision = models.ForeignKey(
        "evidence.PacketRevision", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
    )
    resolution = models.CharField(max_length=32, choices=FlagResolution.choices, blank=True)

    class Meta:
        ordering = ["first_raised_at", "id"]
        indexes = [
            models.Index(fields=["status", "client_account_id", "kind", "first_raised_at", "id"]),
            models.Index(fields=["status", "-resolved_at", "-id"]),
            models.Index(fields=["key"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["key"], condition=models.Q(status=FlagStatus.OPEN),
                                    name="missing_flag_one_open_per_key"),
            models.CheckConstraint(
                condition=models.Q(status=FlagStatus.OPEN, resolved_at__isnull=True, resolution="")
                | (models.Q(status=FlagStatus.RESOLVED, resolved_at__isnull=False, resolved_by_run__isnull=False)
                   & ~models.Q(resolution="")),
                name="missing_flag_resolved_iff_resolution",
            ),
            models.CheckConstraint(
                condition=~models.Q(resolution=FlagResolution.COVERED) | models.Q(resolved_by_revision__isnull=False),
                name="missing_flag_covered_names_revision",
            ),
        ]

    def __str__(self) -> str:
        what = self.component or self.ndc or ""
        return f"missing {self.kind} {self.client_account_id} {what} {self.period_start}…{self.period_end}".strip()
