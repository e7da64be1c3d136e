"""Statuses and kinds of the evidence app."""
from django.db import models


class IntakeStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


INTAKE_TERMINAL = (IntakeStatus.SUCCEEDED, IntakeStatus.FAILED)


class IntakeSource(models.TextChoices):
    COMMAND = "command", "Command line"
    UPLOAD = "upload", "Console upload"
    API = "api", "API upload"


class ManifestStatus(models.TextChoices):
    """The console's verdict on an export (the exporter's own claim is kept beside it)."""

    COMPLETE = "complete", "Complete"
    PARTIAL = "partial", "Partial"
    INVALID = "invalid", "Invalid"


class Severity(models.TextChoices):
    ERROR = "error", "Error"
    WARNING = "warning", "Warning"
    INFO = "info", "Info"


class BeastModeScope(models.TextChoices):
    CARD = "card", "Saved on the card"
    DATASET = "dataset", "Saved on the dataset"
