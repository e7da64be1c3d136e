"""Models of the console shell: role capabilities, the audit trail, idempotency keys and decision-role grants."""
import hashlib

from django.conf import settings
from django.db import models
from rest_framework.authtoken.models import TokenProxy

from console import chain
from console.choices import GrantState


class Capability(models.Model):
    """Holder of the console's role capabilities (permissions only; no table)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("receive_export", "Receive Leaf IQ exports"),
            ("request_promotion", "Request promotions for migration and reconciliation"),
            ("request_contract_promotion", "Request promotions into backend contracts"),
            ("approve_promotion", "Approve or reject promotions"),
            ("build_deliverable", "Build deliverables and dashboard outputs"),
            ("publish_output", "Request publication of dashboard outputs"),
            ("approve_publication", "Approve or reject publications"),
            ("view_provenance", "Browse manifests, evidence and provenance"),
            ("view_audit", "Read the audit trail"),
            ("export_audit", "Export the audit trail"),
            ("unlock_login", "Unlock a username or address locked after failed logins"),
            ("receive_evidence", "Receive evidence packets from the systems of record"),
            ("verify_evidence", "Verify or withdraw evidence packet revisions (four eyes)"),
            ("manage_consumer_tokens", "Create and revoke consumer tokens of presentation surfaces (Domo)"),
        ]


class AuditTrailImmutable(Exception):
    """The audit trail is append-only: its rows are never updated or deleted."""


class AuditEventQuerySet(models.QuerySet):
    """Refuses every bulk write: events are appended one by one through `console.audit.audit_record`."""

    def update(self, **kwargs):
        raise AuditTrailImmutable("audit events are never updated")

    def delete(self):
        raise AuditTrailImmutable("audit events are never deleted")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AuditTrailImmutable("audit events are never updated")

    def bulk_create(self, objs, *args, **kwargs):
        raise AuditTrailImmutable("audit events are appended one by one, through audit_record")


class AuditEvent(models.Model):
    """One link of the append-only, hash-chained audit trail."""

    # Assigned by audit_record under the append lock (last seq + 1), never by the database: the
    # hash covers it, and SQL Server refuses explicit values in an IDENTITY column.
    seq = models.BigIntegerField(primary_key=True)
    # Never earlier than the previous event's: time along the chain follows seq, so a time range is a
    # seq range (console.filtersets). Stamped from the one clock under the append lock; when the clock
    # reads earlier than the previous event (a clock stepped back, another host's skew), occurred_at
    # is held at the previous event's time and the clock's own reading is kept in clock_reading.
    occurred_at = models.DateTimeField()
    clock_reading = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The clock's own reading when it was behind the previous event (occurred_at then holds that event's time); null otherwise.",
    )
    # PROTECT: a user who acted is never deleted (SET_NULL would be an UPDATE, refused anyway).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # What is hashed and shown: the username, "anonymous", or "system:command:<name>" / "system:task:<id>".
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=255)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    correlation_id = models.CharField(max_length=128)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        default_permissions = ()  # reading is the "console.view_audit" capability
        get_latest_by = "seq"
        constraints = [
            # Two events can never claim the same predecessor: the chain cannot fork.
            models.UniqueConstraint(fields=["prev_hash"], name="console_auditevent_prev_hash_unique"),
            models.CheckConstraint(condition=models.Q(seq__gte=1), name="console_auditevent_seq_positive"),
        ]
        # Each filter of the trail page has an index ending in seq, so a filtered page is an index
        # range read backwards (ORDER BY seq DESC LIMIT n), not a sort of every matching row.
        indexes = [
            models.Index(fields=["actor_label", "seq"], name="console_audit_actor_seq"),
            # The actor filter is a prefix (LIKE 'x%'): a pattern-ops index serves it under any collation
            # (PostgreSQL only; other backends ignore the operator class).
            models.Index(
                fields=["actor_label", "seq"],
                name="console_audit_actor_prefix",
                opclasses=["varchar_pattern_ops", "int8_ops"],
            ),
            models.Index(fields=["action", "seq"], name="console_audit_action_seq"),
            models.Index(fields=["object_type", "object_id", "seq"], name="console_audit_object_seq"),
            models.Index(fields=["correlation_id", "seq"], name="console_audit_corr_seq"),
            # Translates a time range into a seq range (first seq at or after a time): one index probe.
            models.Index(fields=["occurred_at", "seq"], name="console_audit_occurred_seq"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.actor_label} {self.action} {self.object_type}:{self.object_id}"

    def payload(self) -> dict:
        return chain.event_payload(
            seq=self.seq,
            occurred_at=self.occurred_at,
            actor_id=self.actor_id,
            actor_label=self.actor_label,
            action=self.action,
            object_type=self.object_type,
            object_id=self.object_id,
            before=self.before,
            after=self.after,
            correlation_id=self.correlation_id,
            clock_reading=self.clock_reading,
        )

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditTrailImmutable(f"audit event {self.seq} is already recorded; events are never changed")
        if self.hash != chain.link_hash(self.prev_hash, self.payload()):
            raise AuditTrailImmutable("append audit events through audit_record (this one's hash does not match)")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditTrailImmutable(f"audit event {self.seq} cannot be deleted")


class IdempotencyKey(models.Model):
    """An API create's first answer to an Idempotency-Key, replayed to its retries (console.idempotency)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # SHA-256 of the method, path, query and canonical body (file bytes included): what "the same
    # request" means. The method and path are kept to name them in a refusal.
    fingerprint = models.CharField(max_length=64)
    method = models.CharField(max_length=10)
    path = models.TextField()  # a curated key is part of a path: no length of ours bounds it
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField(null=True, blank=True)
    location = models.TextField(blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        default_permissions = ()
        constraints = [
            # Two requests with one key at once: the second insert waits for the first transaction and
            # then fails, and the second request replays the first's answer (console.idempotency).
            models.UniqueConstraint(fields=["user", "key"], name="console_idempotencykey_once_per_user"),
        ]
        indexes = [models.Index(fields=["expires_at"], name="console_idempotency_expires")]

    def __str__(self) -> str:
        return f"{self.key} ({self.method} {self.path})"


class RoleGrant(models.Model):
    """A decision role (approver, admin) proposed for a person by one admin, confirmed or cancelled by another."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="role_grants")
    role = models.CharField(max_length=150)  # the group's name
    # The person's groups when the grant was proposed, and the hash binding a confirmation to them.
    groups_at_proposal = models.JSONField(default=list)
    change_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=GrantState.choices, default=GrantState.PENDING)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        default_permissions = ()
        constraints = [
            models.CheckConstraint(condition=~models.Q(proposed_by=models.F("user")), name="grant_not_for_proposer"),
            models.CheckConstraint(
                condition=models.Q(decided_by__isnull=True) | ~models.Q(decided_by=models.F("proposed_by"))
                | models.Q(state=GrantState.CANCELLED),
                name="grant_confirmer_not_proposer",
            ),
            models.CheckConstraint(
                condition=models.Q(decided_by__isnull=True) | ~models.Q(decided_by=models.F("user")),
                name="grant_not_decided_by_grantee",
            ),
            models.CheckConstraint(condition=models.Q(state__in=GrantState.values), name="grant_state_known"),
            models.CheckConstraint(
                condition=models.Q(state=GrantState.PENDING, decided_by__isnull=True, decided_at__isnull=True)
                | (~models.Q(state=GrantState.PENDING) & models.Q(decided_by__isnull=False, decided_at__isnull=False)),
                name="grant_decided_when_final",
            ),
            models.UniqueConstraint(
                fields=["user", "role"], condition=models.Q(state=GrantState.PENDING), name="grant_one_pending"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} for {self.user} ({self.state})"

    @property
    def is_pending(self) -> bool:
        return self.state == GrantState.PENDING

    def decide(self, *, state: str, by, at) -> None:
        if self.state != GrantState.PENDING:
            raise ValueError(f"grant {self.pk} is already {self.state}")
        self.state, self.decided_by, self.decided_at = state, by, at


def token_fingerprint(key: str) -> str:
    """What tells API tokens apart in the trail and Django admin: the first 12 hex digits of the key's sha256."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


class ApiToken(TokenProxy):
    """A person's API token as Django admin shows it: by its owner and fingerprint, never its key."""

    class Meta:
        proxy = True
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"API token of {self.user} ({token_fingerprint(self.key)})"
