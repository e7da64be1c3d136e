"""States and kinds of the promotion app."""
from django.db import models


class PromotionTarget(models.TextChoices):
    MIGRATION = "migration", "Migration and reconciliation"
    CONTRACT = "contract", "Backend contract"


class PromotionKind(models.TextChoices):
    PROMOTION = "promotion", "Promotion"
    ROLLBACK = "rollback", "Rollback"


class PromotionState(models.TextChoices):
    DRAFT = "draft", "Draft"
    CHECKING = "checking", "Checking gates"
    BLOCKED = "blocked", "Blocked by a gate"
    READY = "ready", "Ready for approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    LOADING = "loading", "Loading"
    PROMOTED = "promoted", "Promoted"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


PROMOTION_TERMINAL = (
    PromotionState.REJECTED,
    PromotionState.PROMOTED,
    PromotionState.FAILED,
    PromotionState.CANCELLED,
)
# A request in these states holds (or is putting) its datasets in the curated store.
PROMOTION_LOADED = (PromotionState.LOADING, PromotionState.PROMOTED)


class GateOutcome(models.TextChoices):
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    ERROR = "error", "Error"


class FlawDecision(models.TextChoices):
    LEGACY_FIXTURE_ONLY = "legacy_fixture_only", "Kept as a legacy fixture only"
    CORRECTED_IN_CONTRACT = "corrected_in_contract", "Corrected in the backend contract"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


# The object types of promotion's audit rows (AuditEvent.object_type).
REQUEST_TYPE = "promotion.promotionrequest"
MANIFEST_TYPE = "evidence.sourcemanifest"
DISPOSITION_TYPE = "promotion.flawdisposition"
DATASET_TYPE = "evidence.domodataset"
CURATED_TYPE = "curated.dataset"  # a curated dataset key (refused rollbacks have no request yet)
