"""States and kinds of the deliverables app."""
from django.db import models


class RunState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


RUN_TERMINAL = (RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED)
RUN_ACTIVE = (RunState.QUEUED, RunState.RUNNING)


class Decision(models.TextChoices):
    """The authority module's answer for a number (evidence.packets.authority.decision)."""

    AUTHORIZED = "authorized", "Authorized"
    INDICATIVE = "indicative", "Indicative"
    NOT_CONCLUDED = "not_concluded", "Not concluded"


class NumberKind(models.TextChoices):
    AWP_GUARANTEE = "awp_guarantee", "AWP discount guarantee"
    FEE_GUARANTEE = "fee_guarantee", "Dispensing-fee guarantee"
    REBATE_GUARANTEE = "rebate_guarantee", "Rebate guarantee"
    FINDING = "finding", "Pricing audit finding"
    SAVINGS = "savings", "Savings summary"


class FindingKind(models.TextChoices):
    MAC = "mac", "Generic paid above MAC"
    BRAND_AWP = "brand_awp", "Brand paid above AWP × (1 − rate)"
    DISPENSING_FEE = "dispensing_fee", "Dispensing fee above the contracted fee"
    DUPLICATE = "duplicate", "Duplicate claim"


class Engine(models.TextChoices):
    DUCKDB = "duckdb", "DuckDB over the promoted version's Parquet"
    POSTGRES = "postgres", "Pushed down into the curated PostgreSQL database"


# The object types of the app's audit rows.
RUN_TYPE = "deliverables.calculationrun"
