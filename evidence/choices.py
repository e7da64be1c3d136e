"""Statuses and kinds of the evidence app."""
from django.db import models


class IntakeStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Received"  # done: the export is recorded; its manifest's verdict says how good it is
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


class CalculationKind(models.TextChoices):
    """What a calculation analysis is of."""

    BEAST_MODE = "beast_mode", "Beast mode"
    SQL = "sql", "DataFlow SQL statement"
    EXPRESSION = "expression", "Magic ETL expression"


class CalculationUse(models.TextChoices):
    """How a calculation is used, which decides some flaws (the engine's USES, in its order)."""

    CARD_VALUE = "card_value", "Card value"
    CARD_DIMENSION = "card_dimension", "Card axis or series"
    FILTER = "filter", "Filter"
    DATAFLOW = "dataflow", "DataFlow"
    DATASET = "dataset", "Saved on the dataset, on no card"


class CalculationLevel(models.TextChoices):
    """The aggregation level the engine found; blank when the text does not parse."""

    ROW = "row", "Row"
    AGGREGATE = "aggregate", "Aggregate"
    WINDOW = "window", "Window"
    FIXED = "fixed", "FIXED"


class PacketStatus(models.TextChoices):
    """The console's verdict on a received evidence packet revision."""

    ACCEPTED = "accepted", "Accepted"
    REFUSED = "refused", "Refused"


class EvidenceClass(models.TextChoices):
    """The evidence classes of evidence-packets-v1 a revision can hold (missing is a flag, not a revision)."""

    CANDIDATE = "candidate", "Candidate"
    GOVERNED = "governed", "Governed"


class PacketKind(models.TextChoices):
    CONTRACT = "contract", "Contract"
    PRICING = "pricing", "Pricing"
    REBATE = "rebate", "Rebate"
    SALESFORCE = "salesforce", "Salesforce"


class ReceiptStatus(models.TextChoices):
    """Where a queued receipt of an evidence packet stands (its outcome is on the receipt once done)."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


RECEIPT_TERMINAL = (ReceiptStatus.DONE, ReceiptStatus.FAILED)
