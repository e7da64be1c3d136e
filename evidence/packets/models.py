"""Evidence packets as the console received them: the packet, its revisions (accepted or refused, with their
issues) and the typed records of each accepted revision, one table per kind.

Loaded by evidence.models (the app's models module), kept here so that one stays under 500 lines. The record
tables are what the calculations query (client and period, price list + NDC + date, client + quarter + NDC,
account id); money and rates are exact decimals, dates are dates, NDCs 11-digit text.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models

from console import clock
from console.exact import ExactDecimalField
from evidence.choices import (
    RECEIPT_TERMINAL,
    EvidenceClass,
    IntakeSource,
    PacketKind,
    PacketStatus,
    ReceiptStatus,
    Severity,
)

# Every decimal the packets carry is stored exactly: the service refuses a value the column would not keep
# as it is (VALUE_INVALID, console.exact) rather than let the database round it; the fields refuse it too.
MONEY = {"max_digits": 20, "decimal_places": 6}
FRACTION = {"max_digits": 12, "decimal_places": 10}


class EvidencePacket(models.Model):
    """One packet_id: what every revision of it keeps (kind and clients; REVISION_CONFLICT otherwise)."""

    packet_id = models.CharField(max_length=128, unique=True)
    kind = models.CharField(max_length=16, choices=PacketKind.choices)
    client_account_ids = models.JSONField(default=list)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["packet_id"]
        indexes = [models.Index(fields=["kind", "packet_id"])]

    def __str__(self) -> str:
        return self.packet_id


class PacketRevision(models.Model):
    """One receipt of a packet's bytes: an accepted revision (numbered, with typed records) or a refusal
    (its issues, no records). Never changed once recorded, but for verification and withdrawal."""

    packet = models.ForeignKey(
        EvidencePacket, null=True, blank=True, on_delete=models.PROTECT, related_name="revisions",
        help_text="null for a refusal whose packet_id was never accepted (or is unreadable)",
    )
    claimed_packet_id = models.CharField(max_length=255, blank=True, help_text="packet.json's packet_id as sent")
    revision = models.PositiveIntegerField(null=True, blank=True, help_text="1, 2, … for accepted; null if refused")
    status = models.CharField(max_length=16, choices=PacketStatus.choices)
    evidence_class = models.CharField(
        max_length=16, choices=EvidenceClass.choices, blank=True,
        help_text="candidate until verified, governed once verified; blank for a refusal (it is no evidence)",
    )
    kind = models.CharField(max_length=16, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, help_text="of packet.json's bytes; blank if unreadable")
    received_sha256 = models.CharField(max_length=64, help_text="of what arrived: the archive, or the folder's tree")
    original_name = models.CharField(max_length=255)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    header = models.JSONField(default=dict, help_text="packet.json as read (empty when unreadable)")
    bronze_prefix = models.CharField(max_length=1024)
    received_at = models.DateTimeField(default=clock.now)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    received_by_label = models.CharField(max_length=255, help_text="the username or the system actor, as audited")
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawal_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["packet", "-revision"]),
            models.Index(fields=["status", "-id"]),
            models.Index(fields=["received_sha256"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["packet", "revision"], name="packet_revision_unique"),
            models.UniqueConstraint(
                fields=["packet", "sha256"], condition=models.Q(status=PacketStatus.ACCEPTED),
                name="packet_revision_sha256_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(status=PacketStatus.REFUSED, revision__isnull=True, evidence_class="")
                | (models.Q(status=PacketStatus.ACCEPTED, revision__isnull=False, packet__isnull=False)
                   & ~models.Q(evidence_class="")),
                name="packet_revision_numbered_iff_accepted",
            ),
            # Four eyes: the person who received a revision never verifies it.
            models.CheckConstraint(
                condition=models.Q(verified_by__isnull=True) | ~models.Q(verified_by=models.F("received_by")),
                name="packet_revision_verifier_not_receiver",
            ),
            models.CheckConstraint(
                condition=~models.Q(evidence_class=EvidenceClass.GOVERNED)
                | models.Q(status=PacketStatus.ACCEPTED, verified_by__isnull=False, withdrawn_at__isnull=True),
                name="packet_revision_governed_is_verified",
            ),
        ]

    def __str__(self) -> str:
        if self.revision is None:
            return f"{self.claimed_packet_id or '(unreadable packet)'} refused"
        return f"{self.claimed_packet_id} r{self.revision}"


class PacketRevisionIssue(models.Model):
    """One problem found in a received packet, with where it is (as ManifestIssue for exports)."""

    revision = models.ForeignKey(PacketRevision, on_delete=models.CASCADE, related_name="issues")
    position = models.PositiveIntegerField()
    code = models.CharField(max_length=48, db_index=True)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    file = models.CharField(max_length=1024, blank=True)
    field = models.CharField(max_length=255, blank=True)
    row = models.BigIntegerField(null=True, blank=True)
    column = models.CharField(max_length=255, blank=True)
    message = models.TextField()

    class Meta:
        ordering = ["revision", "position"]
        constraints = [
            models.UniqueConstraint(fields=["revision", "position"], name="packet_issue_position_unique"),
        ]


class _RecordRow(models.Model):
    revision = models.ForeignKey(PacketRevision, on_delete=models.PROTECT, related_name="+")
    row = models.PositiveIntegerField(help_text="the Nth record after the header")

    class Meta:
        abstract = True


class ContractTermRow(_RecordRow):
    """A row of a contract packet's terms.csv."""

    contract_id = models.CharField(max_length=255)
    client_account_id = models.CharField(max_length=18)
    component = models.CharField(max_length=255)
    channel = models.CharField(max_length=16)
    drug_class = models.CharField(max_length=16)
    awp_discount_guarantee = ExactDecimalField(null=True, blank=True, **FRACTION)
    dispensing_fee_guarantee = ExactDecimalField(null=True, blank=True, **MONEY)
    rebate_per_brand_claim = ExactDecimalField(null=True, blank=True, **MONEY)
    guarantee_basis = models.CharField(max_length=16)
    exclusions = models.JSONField(default=list)
    price_list = models.CharField(max_length=255)
    period_start = models.DateField()
    period_end = models.DateField()

    class Meta:
        ordering = ["revision", "row"]
        indexes = [models.Index(fields=["client_account_id", "period_start", "period_end"])]
        constraints = [models.UniqueConstraint(fields=["revision", "row"], name="contract_term_row_unique")]


class PriceRow(_RecordRow):
    """A row of a pricing packet's prices.csv."""

    price_list = models.CharField(max_length=255)
    ndc = models.CharField(max_length=11)
    drug_name = models.CharField(max_length=255)
    mac_unit_price = ExactDecimalField(**MONEY)
    effective_date = models.DateField()
    end_date = models.DateField(null=True, blank=True, help_text="null: still in force")

    class Meta:
        ordering = ["revision", "row"]
        indexes = [models.Index(fields=["price_list", "ndc", "effective_date"])]
        constraints = [models.UniqueConstraint(fields=["revision", "row"], name="price_row_unique")]


class RebateInvoiceRow(_RecordRow):
    """A row of a rebate packet's invoices.csv."""

    invoice_id = models.CharField(max_length=255)
    client_account_id = models.CharField(max_length=18)
    quarter = models.CharField(max_length=6)
    ndc = models.CharField(max_length=11)
    drug_name = models.CharField(max_length=255)
    manufacturer = models.CharField(max_length=255)
    brand_claims = models.PositiveBigIntegerField()
    rebate_amount = ExactDecimalField(**MONEY)
    invoice_date = models.DateField()

    class Meta:
        ordering = ["revision", "row"]
        indexes = [models.Index(fields=["client_account_id", "quarter", "ndc"])]
        constraints = [models.UniqueConstraint(fields=["revision", "row"], name="rebate_invoice_row_unique")]


class AccountRow(_RecordRow):
    """A row of a Salesforce packet's accounts.csv."""

    account_id = models.CharField(max_length=18)
    account_name = models.CharField(max_length=255)
    type = models.CharField(max_length=64)
    domo_group = models.CharField(max_length=255, blank=True)
    plan_year_start = models.DateField()
    last_modified = models.DateField()

    class Meta:
        ordering = ["revision", "row"]
        indexes = [models.Index(fields=["account_id"])]
        constraints = [models.UniqueConstraint(fields=["revision", "row"], name="account_row_unique")]


class PacketReceipt(models.Model):
    """One queued receipt of a packet (the upload page, the API, `receive_evidence --queue`): created first, then
    worked by a Celery task that calls the receiving service as the person who asked (the receiver, for four
    eyes). Done: `outcome` is accepted, unchanged or refused and `packet_revision` the revision it answered."""

    source = models.CharField(max_length=16, choices=IntakeSource.choices)
    original_name = models.CharField(max_length=255)
    staged_path = models.CharField(max_length=1024, help_text="where the received bytes wait for the worker")
    upload_sha256 = models.CharField(max_length=64, help_text="of the bytes as they arrived (archive or folder tree)")
    upload_bytes = models.PositiveBigIntegerField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_by_label = models.CharField(max_length=255, help_text="the username or the system actor, as audited")
    status = models.CharField(max_length=16, choices=ReceiptStatus.choices, default=ReceiptStatus.QUEUED)
    outcome = models.CharField(max_length=16, blank=True, help_text="accepted, unchanged or refused, once done")
    packet_revision = models.ForeignKey(
        PacketRevision, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    task_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    queued_at = models.DateTimeField(default=clock.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "-id"])]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status=ReceiptStatus.DONE)
                | (models.Q(packet_revision__isnull=False) & ~models.Q(outcome="")),
                name="packet_receipt_done_has_outcome",
            ),
        ]

    def __str__(self) -> str:
        return f"packet receipt #{self.pk} ({self.original_name})"

    @property
    def is_final(self) -> bool:
        return self.status in RECEIPT_TERMINAL
