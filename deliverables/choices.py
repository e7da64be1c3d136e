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


# --- golden reconciliation -------------------------------------------------------------------------------------
class SubjectKind(models.TextChoices):
    """What a mapping reconciles: a Domo card's golden packet, or a DataFlow's output dataset."""

    CARD = "card", "Card"
    DATAFLOW = "dataflow", "DataFlow"


class ItemClass(models.TextChoices):
    """The class of one key x measure (deliverables.reconciliation.engine.CLASSES)."""

    MATCH = "match", "Match"
    WITHIN_TOLERANCE = "within_tolerance", "Within tolerance"
    VARIANCE = "variance", "Variance"
    ONLY_BACKEND = "only_backend", "Only in the backend"
    ONLY_DOMO = "only_domo", "Only in Domo"


# The classes a person must account for (explained by a flaw, or adjudicated).
DIFFERING = (ItemClass.VARIANCE, ItemClass.ONLY_BACKEND, ItemClass.ONLY_DOMO)


class Verdict(models.TextChoices):
    ACCEPTED = "accepted", "Accepted: Domo was wrong"
    BACKEND_DEFECT = "backend_defect", "Backend defect: ours is wrong"
    INVESTIGATING = "investigating", "Investigating"


class CardState(models.TextChoices):
    """A card's place on the takeover scoreboard."""

    NOT_MAPPED = "not_mapped", "Not mapped"
    MAPPED = "mapped", "Mapped"
    OPEN = "open", "Reconciled with open variances"
    RECONCILED = "reconciled", "Reconciled"
    RETIRED = "retired", "Retired"


class Trigger(models.TextChoices):
    MANUAL = "manual", "Started by a person"
    AFTER_RUN = "after_run", "After a calculation run"
    DEMO = "demo", "First start (demo)"


MAPPING_TYPE = "deliverables.cardmapping"
RECONCILIATION_TYPE = "deliverables.reconciliation"
ADJUDICATION_TYPE = "deliverables.adjudication"


# --- deliverables ----------------------------------------------------------------------------------------------
class DeliverableKind(models.TextChoices):
    WORKBOOK = "workbook", "Client workbook (xlsx)"
    DASHBOARD_PAYLOAD = "dashboard_payload", "Dashboard payload (JSON, v1)"


DELIVERABLE_TYPE = "deliverables.deliverable"


# --- publication and the consumer API --------------------------------------------------------------------------
class PublicationState(models.TextChoices):
    """A publication request's life: requested, then published or rejected (or withdrawn by its requester); a
    published one is later superseded by the next publication of its client and kind, or retracted with a reason."""

    REQUESTED = "requested", "Requested"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"
    PUBLISHED = "published", "Published"
    SUPERSEDED = "superseded", "Superseded"
    RETRACTED = "retracted", "Retracted"


PUBLICATION_OPEN = (PublicationState.REQUESTED,)
PUBLICATION_LIVE = (PublicationState.PUBLISHED,)

PUBLICATION_TYPE = "deliverables.publication"
CONSUMER_TOKEN_TYPE = "deliverables.consumertoken"
