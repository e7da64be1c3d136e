"""Promotion requests, the gate results they were checked against, and the operators' flaw dispositions."""
from __future__ import annotations

from django.conf import settings
from django.db import models

from console import clock
from promotion import policy
from promotion.choices import (
    PROMOTION_TERMINAL,
    FlawDecision,
    GateOutcome,
    PromotionKind,
    PromotionState,
    PromotionTarget,
)


class IllegalTransition(Exception):
    """A state change was asked of a request in a state that does not allow it."""


class PromotionRequest(models.Model):
    """An operator's request to promote datasets of one complete manifest (or to roll one curated dataset
    back to an earlier version loaded from it), with its four-eyes approval."""

    kind = models.CharField(max_length=16, choices=PromotionKind.choices, default=PromotionKind.PROMOTION)
    manifest = models.ForeignKey("evidence.SourceManifest", on_delete=models.PROTECT, related_name="+")
    datasets = models.ManyToManyField("evidence.DomoDataset", related_name="+")
    target = models.CharField(max_length=16, choices=PromotionTarget.choices, default=PromotionTarget.MIGRATION)
    # A rollback's pointer move: readers of rollback_key go from rollback_from_version (current when it
    # was requested) back to rollback_version, an earlier verified version loaded from `manifest`.
    rollback_key = models.CharField(max_length=100, blank=True, help_text="curated dataset key rolled back")
    rollback_version = models.PositiveIntegerField(null=True, blank=True, help_text="the earlier version to point at")
    rollback_from_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="the current version when the rollback was requested"
    )
    state = models.CharField(max_length=16, choices=PromotionState.choices, default=PromotionState.DRAFT)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=clock.now)
    check_started_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approval_comment = models.TextField(blank=True)
    approval_fingerprint = models.CharField(
        max_length=64, blank=True,
        help_text="sha256 of the manifest hash and the gate results (name, version, outcome, inputs) approved",
    )
    approved_gate_results = models.JSONField(default=list, blank=True, help_text="the gate results the approver saw")
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rejected_at = models.DateTimeField(null=True, blank=True)
    rejection_comment = models.TextField(blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    load_started_at = models.DateTimeField(null=True, blank=True)
    load_progress = models.JSONField(
        default=dict, blank=True, help_text="{stage, dataset, rows, datasets: {domo id: {version, rows}}} of the load"
    )
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="last sign of life of the loading worker")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="load attempts claimed (first + takeovers)")
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["state", "-id"]),
            # The stale-heartbeat sweeper scans loading requests by heartbeat.
            models.Index(fields=["state", "heartbeat_at"], name="promotion_state_heartbeat"),
        ]
        constraints = [
            # Four eyes, in the database too: nobody approves their own request.
            models.CheckConstraint(
                condition=models.Q(approved_by__isnull=True) | ~models.Q(approved_by=models.F("requested_by")),
                name="promotion_approver_not_requester",
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=PromotionState.values), name="promotion_state_known"
            ),
            models.CheckConstraint(
                condition=models.Q(target__in=PromotionTarget.values), name="promotion_target_known"
            ),
            models.CheckConstraint(condition=models.Q(kind__in=PromotionKind.values), name="promotion_kind_known"),
            # The rollback target is set exactly on rollbacks, and points back in time.
            models.CheckConstraint(
                condition=(
                    models.Q(kind=PromotionKind.PROMOTION, rollback_key="", rollback_version__isnull=True,
                             rollback_from_version__isnull=True)
                    | (
                        models.Q(kind=PromotionKind.ROLLBACK, rollback_version__isnull=False,
                                 rollback_from_version__isnull=False,
                                 rollback_from_version__gt=models.F("rollback_version"))
                        & ~models.Q(rollback_key="")
                    )
                ),
                name="promotion_rollback_fields_iff_rollback",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == PromotionKind.ROLLBACK:
            return f"rollback #{self.pk} of {self.rollback_key} to v{self.rollback_version}"
        return f"promotion #{self.pk} ({self.state})"

    @property
    def is_rollback(self) -> bool:
        return self.kind == PromotionKind.ROLLBACK

    @property
    def is_final(self) -> bool:
        return self.state in PROMOTION_TERMINAL

    def _move(self, action: str, state: str, **fields) -> None:
        """The transition of `action` (its source states are promotion.policy's) to `state`."""
        if self.state not in policy.from_states(action):
            raise IllegalTransition(f"{self} cannot become {state} from {self.state}")
        self.state = state
        for name, value in fields.items():
            setattr(self, name, value)
        self.save(update_fields=["state", *fields])

    def start_check(self) -> None:
        """Draft, or an earlier verdict (an approval included, which the new check replaces), to checking."""
        self._move(
            policy.START_CHECK,
            PromotionState.CHECKING,
            check_started_at=clock.now(),
            approved_by=None,
            approved_at=None,
            approval_comment="",
            approval_fingerprint="",
            approved_gate_results=[],
        )

    def finish_check(self, *, passed: bool) -> None:
        self._move(
            policy.FINISH_CHECK,
            PromotionState.READY if passed else PromotionState.BLOCKED,
            checked_at=clock.now(),
        )

    def reject(self, *, actor, comment: str) -> None:
        self._move(
            policy.REJECT,
            PromotionState.REJECTED,
            rejected_by=actor,
            rejected_at=clock.now(),
            rejection_comment=comment,
        )

    def cancel(self, *, actor) -> None:
        self._move(
            policy.CANCEL,
            PromotionState.CANCELLED,
            cancelled_by=actor,
            cancelled_at=clock.now(),
        )

    def finish_load(self) -> None:
        self._move(policy.FINISH_LOAD, PromotionState.PROMOTED, finished_at=clock.now())

    def fail_load(self, error: str) -> None:
        self._move(policy.FINISH_LOAD, PromotionState.FAILED, finished_at=clock.now(), error=error)

    # Approval and the start of a load are claims (compare-and-set on the state): see
    # promotion.services.promotion_approve and promotion_load_claim.


class GateResult(models.Model):
    """What one gate, at one version, found for a request against the manifest's content hash."""

    request = models.ForeignKey(PromotionRequest, on_delete=models.CASCADE, related_name="gate_results")
    gate = models.CharField(max_length=64)
    version = models.CharField(max_length=16)
    outcome = models.CharField(max_length=16, choices=GateOutcome.choices)
    details = models.JSONField(default=list, blank=True, help_text="[{what, where, link}] for the operator")
    inputs_fingerprint = models.CharField(max_length=64, help_text="sha256 of everything the gate looked at")
    manifest_sha256 = models.CharField(max_length=64)
    ran_at = models.DateTimeField(default=clock.now)
    current = models.BooleanField(default=True, help_text="of the request's latest check")

    class Meta:
        ordering = ["request", "gate", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(outcome__in=GateOutcome.values), name="gate_outcome_known"),
            models.UniqueConstraint(
                fields=["request", "gate"], condition=models.Q(current=True), name="gate_one_current_per_request"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gate} v{self.version}: {self.outcome}"


class FlawDisposition(models.Model):
    """An operator's decision on one calculation flaw of a manifest, keyed by the flaw's stable fingerprint.

    The fingerprint (not the flaw row, which re-analysis replaces) is what survives a re-analysis
    that finds the same flaw again.
    """

    manifest = models.ForeignKey("evidence.SourceManifest", on_delete=models.PROTECT, related_name="+")
    fingerprint = models.CharField(max_length=64)
    code = models.CharField(max_length=48)
    decision = models.CharField(max_length=32, choices=FlawDecision.choices)
    note = models.TextField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["manifest", "code", "id"]
        constraints = [
            models.UniqueConstraint(fields=["manifest", "fingerprint"], name="disposition_one_per_flaw"),
            models.CheckConstraint(condition=~models.Q(note=""), name="disposition_note_required"),
            models.CheckConstraint(
                condition=models.Q(decision__in=FlawDecision.values), name="disposition_decision_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.decision}"


class SchemaDriftAcknowledgement(models.Model):
    """An operator's acceptance that a dataset's schema differs from the current curated version's.

    It holds for that exact drift only: another curated version or another schema needs a new one.
    """

    dataset = models.ForeignKey("evidence.DomoDataset", on_delete=models.PROTECT, related_name="+")
    curated_version = models.CharField(max_length=64)
    schema_sha256 = models.CharField(max_length=64, help_text="of the dataset's schema acknowledged")
    note = models.TextField()
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    acknowledged_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "curated_version", "schema_sha256"], name="drift_ack_one_per_drift"
            ),
            models.CheckConstraint(condition=~models.Q(note=""), name="drift_ack_note_required"),
        ]

    def __str__(self) -> str:
        return f"drift of {self.dataset_id} from curated {self.curated_version}"
