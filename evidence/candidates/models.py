"""Domo datasets registered as candidate evidence, and their rows.

Loaded by evidence.models (the app's models module). A registration maps a received Domo dataset (of a
manifest, promoted or not) onto one evidence kind's record columns; its rows are typed as that kind's records
and keep where they came from (the manifest's load id, the dataset's Domo id, the row number in the dataset).
Candidate, always: there is no verification of a registration, and no column or constraint that could make one
governed. The indexed columns are what the flags and the authority selectors look rows up by.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models

from console import clock
from evidence.choices import PacketKind


class DomoCandidateSet(models.Model):
    """One registration: which dataset, as which kind, with which column mapping, by whom."""

    manifest = models.ForeignKey("evidence.SourceManifest", on_delete=models.PROTECT, related_name="+")
    dataset = models.ForeignKey("evidence.DomoDataset", on_delete=models.PROTECT, related_name="+")
    load_id = models.CharField(max_length=64, help_text="the manifest's load id, kept on every row's provenance")
    dataset_domo_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=PacketKind.choices)
    mapping = models.JSONField(help_text='{record column: Domo column or ""}')
    mapping_sha256 = models.CharField(max_length=64)
    silver_sha256 = models.CharField(max_length=64, help_text="the silver file the rows were read from")
    rows = models.PositiveBigIntegerField()
    client_account_ids = models.JSONField(default=list)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    registered_at = models.DateTimeField(default=clock.now)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "kind", "mapping_sha256"], name="domo_candidate_set_unique"),
        ]

    def __str__(self) -> str:
        return f"Domo {self.dataset_domo_id} as candidate {self.kind} (#{self.pk})"


class DomoCandidateRow(models.Model):
    """One row of a registered dataset as a record of its kind: `values` holds the record's fields (decimals
    and dates as text, exactly); the columns beside it are copies for lookups."""

    candidate_set = models.ForeignKey(DomoCandidateSet, on_delete=models.CASCADE, related_name="candidate_rows")
    row = models.PositiveBigIntegerField(help_text="the row number in the Domo dataset, from 1")
    values = models.JSONField()
    client_account_id = models.CharField(max_length=18, blank=True)
    price_list = models.CharField(max_length=255, blank=True)
    ndc = models.CharField(max_length=11, blank=True)
    quarter = models.CharField(max_length=6, blank=True)
    start_date = models.DateField(null=True, blank=True, help_text="period_start or effective_date")
    end_date = models.DateField(null=True, blank=True, help_text="period_end or end_date (null: open)")

    class Meta:
        ordering = ["candidate_set", "row"]
        indexes = [
            models.Index(fields=["client_account_id", "start_date"]),
            models.Index(fields=["price_list", "ndc", "start_date"]),
        ]
        constraints = [models.UniqueConstraint(fields=["candidate_set", "row"], name="domo_candidate_row_unique")]
