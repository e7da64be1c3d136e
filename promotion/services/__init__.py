"""Promotion workflows, one module per sub-domain; every public name is importable from here.

- `requests`: request, check the gates, approve (four eyes), reject, cancel;
- `dispositions`: flaw dispositions and schema-drift acknowledgements;
- `guard`: the guard every load passes first, the load's claim and its finish;
- `load`: the load itself (takeover, heartbeat, retries, the stale-load sweeper);
- `rollback`: a rollback request, and its load (the pointer moves back);
- `reconcile`: the audit trail of the curated pointers' moves (their outbox copied into the trail);
- `_common`: refusals and their audit rows, permissions, the curated registry's reader.
"""
from ._common import (
    APPROVE_PERMISSION, CHECK_TASK, CONTRACT_PERMISSION, LOAD_TASK, REQUEST_PERMISSION, SWEEP_TASK,
    PromotionRefused, curated_reader,
    curated_schema_from_registry,
)
from .dispositions import flaw_disposition_clear, flaw_disposition_set, schema_drift_acknowledge
from .guard import promotion_assert_loadable, promotion_load_finish, promotion_load_start
from .load import (
    MAX_LOAD_ATTEMPTS, LoadHeld, LoadInterrupted, LoadLost, load_requested_datasets, promotion_sweep_stale,
)
from .reconcile import curated_moves_audit, curated_trail_disagreements
from .rollback import original_request, promotion_rollback_request, roll_back_pointers
from .requests import (
    promotion_approve, promotion_cancel, promotion_check, promotion_recheck, promotion_reject, promotion_request,
)

__all__ = [
    "APPROVE_PERMISSION", "CHECK_TASK", "CONTRACT_PERMISSION", "LOAD_TASK", "MAX_LOAD_ATTEMPTS",
    "REQUEST_PERMISSION",
    "SWEEP_TASK", "LoadHeld",
    "LoadInterrupted", "LoadLost", "PromotionRefused", "curated_moves_audit", "curated_reader",
    "curated_schema_from_registry", "curated_trail_disagreements",
    "flaw_disposition_clear", "flaw_disposition_set", "load_requested_datasets", "promotion_approve",
    "promotion_assert_loadable", "promotion_cancel", "promotion_check", "promotion_load_finish",
    "promotion_load_start", "promotion_recheck", "promotion_reject", "promotion_request", "promotion_rollback_request",
    "promotion_sweep_stale", "original_request", "roll_back_pointers", "schema_drift_acknowledge",
]
