"""Every bulk or raw write of the apps, and how the audit trail accounts for it: the one list of them.

A bulk write (`bulk_create`, `bulk_update`, `QuerySet.update()`, `QuerySet.delete()`) and raw SQL skip
`Model.save()` and every signal, so nothing records them unless their service does. Each one found in the
apps' code is named here (module, function, what it writes, the call) with how it is accounted for:

- PER_ROW: the rows it can change are one row (a compare-and-set on a primary key), and the service records
  one event for that row in the same transaction (`how` names the action). Events = rows changed.
- SUMMARY: one event, in the same transaction, lists or counts the rows changed (`how` names the action and
  the key of its details that holds the count or the list). Its count = rows changed.
- EXEMPT: not a business write: job bookkeeping (`JOB_BOOKKEEPING`: claims, heartbeats, attempts, progress,
  task ids; what a job's *outcome* changes is audited by its service), the API's idempotency cache, a usage
  stamp, or SQL that only reads or takes a lock. `how` says why.

tests/console/test_audit_bulk.py scans the apps with `ast` and fails on a bulk or raw call this list does not
name (and on an entry whose call is gone), so a new one cannot land unaccounted for; other tests there run the
business ones for real and compare the audit's count with the rows changed.
"""
from __future__ import annotations

from dataclasses import dataclass

PER_ROW = "per-row"
SUMMARY = "summary"
EXEMPT = "exempt"

# The job bookkeeping columns (console.jobs and the services built on it) that change without an audit event
# of their own: who holds the job and whether it still lives. The changes that matter to an operator (a
# claim that starts a load, a takeover, a failure, a success) are audited by the service that makes them.
JOB_BOOKKEEPING = {
    "promotion.PromotionRequest": ("state", "started_at", "heartbeat_at", "attempts", "load_progress"),
    "evidence.IntakeRun": ("status", "started_at", "heartbeat_at", "attempts", "stage", "task_id"),
    "evidence.PacketReceipt": ("status", "started_at", "attempts", "task_id"),
    "evidence.FlagRun": ("status", "started_at", "finished_at", "attempts", "worker", "task_id", "error",
                         "summary", "inputs", "inputs_sha256", "requested_by_label"),
    "deliverables.CalculationRun": ("state", "started_at", "heartbeat_at", "attempts", "progress", "task_id"),
    "deliverables.Reconciliation": ("state", "started_at", "heartbeat_at", "attempts", "progress", "task_id"),
    "deliverables.Deliverable": ("state", "started_at", "heartbeat_at", "attempts", "progress", "task_id"),
    "evidence.MissingEvidenceFlag": ("last_seen_run",),
    "deliverables.ConsumerToken": ("last_used_at",),
}


@dataclass(frozen=True)
class BulkWrite:
    module: str  # path from the project root
    function: str  # qualified name of the function holding the call
    target: str  # what the call is made on: the model, or the name holding the queryset or connection
    method: str  # bulk_create, bulk_update, update, delete, raw, cursor
    audit: str  # PER_ROW, SUMMARY or EXEMPT
    how: str  # the action (and key of its details) that accounts for the rows, or why it is exempt
    calls: int = 1  # how many such calls the function makes


BULK_WRITES: tuple[BulkWrite, ...] = (
    # --- console -------------------------------------------------------------------------------------------
    BulkWrite("console/dispatch.py", "send", "rows", "update", EXEMPT,
              "records the Celery task id on the job row it was sent for (job bookkeeping)"),
    BulkWrite("console/jobs.py", "claim", "table.model", "update", EXEMPT,
              "job claim (compare-and-set): JOB_BOOKKEEPING; the caller audits what the claim starts"),
    BulkWrite("console/jobs.py", "take_over", "table.rows", "update", EXEMPT,
              "job takeover: JOB_BOOKKEEPING; the caller audits it (promotion.load_resumed, *.taken_over)"),
    BulkWrite("console/jobs.py", "beat", "table.rows", "update", EXEMPT, "heartbeat and progress: JOB_BOOKKEEPING"),
    BulkWrite("console/idempotency.py", "idempotency_claim", "IdempotencyKey", "delete", EXEMPT,
              "the API's replay cache of first answers (expired keys); the create it replays is audited"),
    BulkWrite("console/idempotency.py", "idempotency_answer", "IdempotencyKey", "update", EXEMPT,
              "the API's replay cache: stores the first answer"),
    BulkWrite("console/idempotency.py", "idempotency_release", "IdempotencyKey", "delete", EXEMPT,
              "the API's replay cache: a failed create releases its key"),
    BulkWrite("console/idempotency.py", "idempotency_sweep", "IdempotencyKey", "delete", EXEMPT,
              "the API's replay cache: expired keys swept"),
    BulkWrite("console/services.py", "_login_unlock", "AccessAttempt", "delete", SUMMARY,
              "auth.unlocked: before.attempts lists every attempt row deleted"),
    BulkWrite("console/audit.py", "_lock_chain", "connection", "cursor", EXEMPT,
              "takes the chain's append lock (pg_advisory_xact_lock / sp_getapplock): no row written", calls=2),
    BulkWrite("console/selectors.py", "trail_actions", "connection", "cursor", EXEMPT, "reads the trail's actions"),
    BulkWrite("console/views.py", "healthz", "connection", "cursor", EXEMPT, "SELECT 1"),
    BulkWrite("console/management/commands/flush.py", "Command.handle", "connection", "cursor", EXEMPT,
              "sets session_replication_role for the test database's flush (refused outside DJANGO_ENV=test)",
              calls=2),
    BulkWrite("console/management/commands/flush.py", "Command._empty_test_tables", "connection", "cursor", EXEMPT,
              "empties the test database's tables after a transactional test (only with DJANGO_ENV=test)"),
    # --- promotion -----------------------------------------------------------------------------------------
    BulkWrite("promotion/services/requests.py", "promotion_check", "superseded", "update", SUMMARY,
              "promotion.checked: after.superseded lists the gate results no longer current"),
    BulkWrite("promotion/services/requests.py", "promotion_check", "GateResult", "bulk_create", SUMMARY,
              "promotion.checked: after.gates lists every gate result created, with its id"),
    BulkWrite("promotion/services/requests.py", "promotion_approve", "PromotionRequest", "update", PER_ROW,
              "promotion.approved (one request, compare-and-set on its state)"),
    BulkWrite("promotion/curated/backend.py", "Backend.execute", "self.raw", "cursor", SUMMARY,
              "the curated store's one SQL gateway: versions are loaded invisible and pointers moved by a "
              "promotion load or rollback; promotion.promoted after.datasets gives each version's rows, "
              "promotion.rolled_back the versions moved back"),
    BulkWrite("promotion/curated/load.py", "_bulk_load", "backend.raw", "cursor", SUMMARY,
              "COPY / executemany into a new, not yet visible curated version: promotion.promoted "
              "after.datasets[key].rows", calls=2),
    BulkWrite("promotion/services/reconcile.py", "curated_moves_audit", "connections[using]", "cursor", EXEMPT,
              "pg_advisory_xact_lock: two reconcilers never record one pointer move twice"),
    BulkWrite("promotion/curated/checksum.py", "table_checksum", "backend.raw", "cursor", EXEMPT,
              "reads a loaded table to checksum it"),
    # --- evidence ------------------------------------------------------------------------------------------
    BulkWrite("evidence/calculations/analysis.py", "_record", "replaced", "delete", SUMMARY,
              "calculations.analyzed: before.analyses counts the analyses replaced (their flaws go with them, "
              "before.flaws by code)"),
    BulkWrite("evidence/calculations/analysis.py", "_record", "CalculationAnalysis", "bulk_create", SUMMARY,
              "calculations.analyzed: after.analyses counts the analyses created"),
    BulkWrite("evidence/calculations/analysis.py", "_record", "CalculationFlaw", "bulk_create", SUMMARY,
              "calculations.analyzed: after.flaws counts the flaws created, by code"),
    BulkWrite("evidence/candidates/services.py", "_record", "DomoCandidateRow", "bulk_create", SUMMARY,
              "candidate registration event: after.rows counts the rows created"),
    BulkWrite("evidence/flags/services.py", "request_flags_recompute", "FlagRun", "update", EXEMPT,
              "copies the audit event's actor label onto the queued run (JOB_BOOKKEEPING)"),
    BulkWrite("evidence/flags/services.py", "flag_run_execute", "FlagRun", "update", EXEMPT,
              "flag run claim and end (JOB_BOOKKEEPING); the flags it raises and resolves are audited one by one",
              calls=3),
    BulkWrite("evidence/flags/services.py", "_persist", "ClientNeeds", "bulk_create", EXEMPT,
              "the run's derived needs (recomputed from the claims and evidence every run, kept with the run)"),
    BulkWrite("evidence/flags/services.py", "_persist", "MissingEvidenceFlag", "bulk_update", PER_ROW,
              "evidence.flag.updated for each open flag whose content changed (last_seen_run is JOB_BOOKKEEPING)"),
    BulkWrite("evidence/flags/services.py", "_persist", "FlagRun", "update", EXEMPT,
              "the run's inputs and summary (JOB_BOOKKEEPING)"),
    BulkWrite("evidence/flags/services.py", "_persist", "connection", "cursor", EXEMPT,
              "pg_advisory_xact_lock: one run persists at a time"),
    BulkWrite("evidence/flags/sweep.py", "flag_runs_sweep", "FlagRun", "update", EXEMPT,
              "fails a flag run whose worker was lost (JOB_BOOKKEEPING; the next change queues a new run)"),
    BulkWrite("evidence/intake/objects.py", "record_objects", "DataflowStep", "bulk_create", SUMMARY,
              "intake.finished: after.dataflow_steps counts them (inside the intake's recording transaction)"),
    BulkWrite("evidence/intake/reproduction.py", "record_reproductions", "GoldenReproduction", "bulk_create",
              SUMMARY, "intake.finished: after.reproductions counts them"),
    BulkWrite("evidence/intake/services.py", "_record", "ManifestIssue", "bulk_create", SUMMARY,
              "intake.finished: after.issues counts them"),
    BulkWrite("evidence/intake/services.py", "_record", "ManifestFile", "bulk_create", SUMMARY,
              "intake.finished: after.files counts them"),
    BulkWrite("evidence/intake/services.py", "_give_up", "INTAKE_JOBS.rows", "update", PER_ROW,
              "intake.failed for the run given up on after its last attempt"),
    BulkWrite("evidence/intake/services.py", "intake_sweep_abandoned", "IntakeRun", "update", PER_ROW,
              "intake.failed for the run swept"),
    BulkWrite("evidence/packets/receipts.py", "_claim", "PacketReceipt", "update", EXEMPT,
              "receipt claim (JOB_BOOKKEEPING)"),
    BulkWrite("evidence/packets/receipts.py", "receipt_execute", "PacketReceipt", "update", EXEMPT,
              "the receipt's end (JOB_BOOKKEEPING); what it received is audited (evidence_packet.received "
              "or .refused)"),
    BulkWrite("evidence/packets/receipts.py", "_fail", "PacketReceipt", "update", PER_ROW,
              "evidence_packet.receipt_failed"),
    BulkWrite("evidence/packets/services.py", "_record_rows", "table", "bulk_create", SUMMARY,
              "evidence_packet.received: after.records counts the record rows created"),
    BulkWrite("evidence/packets/services.py", "_record_refused", "PacketRevisionIssue", "bulk_create", SUMMARY,
              "evidence_packet.refused: after.issues counts them"),
    # --- deliverables --------------------------------------------------------------------------------------
    BulkWrite("deliverables/calculations/pushdown.py", "run_postgres", "raw", "cursor", EXEMPT,
              "reads the curated table through temporary views and tables of its own session, dropped after"),
    BulkWrite("deliverables/consumers/services.py", "consumer_token_revoke", "ConsumerToken", "update", PER_ROW,
              "consumer_token.revoked"),
    BulkWrite("deliverables/consumers/services.py", "consumer_read_record", "ConsumerToken", "update", EXEMPT,
              "last_used_at usage stamp (JOB_BOOKKEEPING); each read is its own ConsumerRead row"),
    BulkWrite("deliverables/jobs.py", "fail", "kind.model", "update", PER_ROW, "<kind>.failed"),
    BulkWrite("deliverables/jobs.py", "sweep_stale", "kind.model", "update", PER_ROW, "<kind>.abandoned"),
    BulkWrite("deliverables/publication/services.py", "_publish", "Publication", "update", PER_ROW,
              "publication.published, and publication.superseded for the one it replaces", calls=2),
    BulkWrite("deliverables/publication/services.py", "_decide", "Publication", "update", PER_ROW,
              "publication.rejected / publication.withdrawn"),
    BulkWrite("deliverables/publication/services.py", "publication_retract", "Publication", "update", PER_ROW,
              "publication.retracted"),
    BulkWrite("deliverables/reconciliation/services.py", "_reconcile_and_store", "ReconciliationItem", "delete",
              SUMMARY, "deliverables.reconciliation.succeeded: after.items_replaced counts an earlier attempt's "
              "items (none can be committed: the run is re-checked running under its lock)"),
    BulkWrite("deliverables/reconciliation/services.py", "_reconcile_and_store", "ReconciliationItem",
              "bulk_create", SUMMARY, "deliverables.reconciliation.succeeded: after.items counts them"),
    BulkWrite("deliverables/reconciliation/services.py", "_reconcile_and_store", "Reconciliation", "update",
              PER_ROW, "deliverables.reconciliation.succeeded"),
    BulkWrite("deliverables/reconciliation/services.py", "reconciliation_cancel", "Reconciliation", "update",
              PER_ROW, "deliverables.reconciliation.cancelled"),
    BulkWrite("deliverables/runs/services.py", "run_cancel", "CalculationRun", "update", PER_ROW,
              "deliverables.run.cancelled"),
    BulkWrite("deliverables/runs/services.py", "_store", "RunNumber", "delete", SUMMARY,
              "deliverables.run.succeeded: after.numbers_replaced counts an earlier attempt's numbers (none can "
              "be committed: the run is re-checked running under its lock)"),
    BulkWrite("deliverables/runs/services.py", "_store", "RunNumber", "bulk_create", SUMMARY,
              "deliverables.run.succeeded: after.numbers counts them"),
    BulkWrite("deliverables/runs/services.py", "_store", "CalculationRun", "update", PER_ROW,
              "deliverables.run.succeeded"),
    BulkWrite("deliverables/workbooks/services.py", "_build_and_store", "Deliverable", "update", PER_ROW,
              "deliverables.deliverable.built"),
)
