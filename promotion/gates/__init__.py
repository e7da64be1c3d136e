"""The promotion gates: named, versioned checks of a request, each with what an operator needs to act.

A gate's `run(request)` returns a GateRun: passed, failed or error, the details ([{what, where,
link}]) and the fingerprint of every input it looked at. A stored result is stale when running the
gate again gives another fingerprint (something it looked at changed), so staleness needs no
bookkeeping of its own: `run_all` again and compare. Bump a gate's version whenever what it
checks changes; results of another version are never current.

Which gates run depends on the request's kind (`gates_for`): a promotion runs GATES, a rollback
ROLLBACK_GATES.
"""
from __future__ import annotations

from promotion.choices import PromotionKind

from .base import (
    CuratedSchema, CuratedSchemaSource, Gate, GateRun, approval_fingerprint, curated_schema_of, detail,
    register_curated_schema_source, requested_datasets, run_gate, schema_columns, sha256_of,
    use_curated_schema_source, _table_scans_set,
)
from .flaws import FlawGroup, dispositions_of, flaw_fingerprint, flaw_groups, flaw_object, flaws_behind
from .golden import golden_held_back
from .promotion import (
    GATES, CalculationFlawsDispositioned, DatasetIds, GoldenReproduced, LoadId, ManifestComplete, SchemaCompatible,
)
from .rollback import PointerMove, RollbackTarget, registry_link, rollback_moves

ROLLBACK_GATES: tuple[Gate, ...] = (ManifestComplete(), RollbackTarget())
ALL_GATES: tuple[Gate, ...] = (*GATES, RollbackTarget())


def gates_for(request) -> tuple[Gate, ...]:
    """The gates a request must pass: its kind's."""
    return ROLLBACK_GATES if request.kind == PromotionKind.ROLLBACK else GATES


def gate_named(name: str) -> Gate:
    return next(g for g in ALL_GATES if g.name == name)


def run_all(request, *, table_scans: bool = True) -> dict[str, GateRun]:
    """Every gate of the request's kind. table_scans=False re-runs them for staleness only (approval,
    the load guard): a gate that re-verifies whole curated tables (rollback_target) checks the registry
    and the pointers but not the tables' rows, which a check already scanned and which the load scans
    again before and while it moves a pointer. A table that fails is failed in its registry row by the
    run that scanned it; a staleness run has nothing to lose when it is rolled back with a refusal."""
    with _table_scans_set(table_scans):
        return {gate.name: run_gate(gate, request) for gate in gates_for(request)}


__all__ = [
    "ALL_GATES", "GATES", "ROLLBACK_GATES", "CalculationFlawsDispositioned", "CuratedSchema", "CuratedSchemaSource",
    "DatasetIds", "FlawGroup", "Gate", "GateRun", "GoldenReproduced", "LoadId", "ManifestComplete", "PointerMove",
    "RollbackTarget", "SchemaCompatible", "approval_fingerprint", "curated_schema_of", "detail", "dispositions_of",
    "flaw_fingerprint", "flaw_groups", "flaw_object", "flaws_behind", "gate_named", "gates_for", "golden_held_back",
    "register_curated_schema_source",
    "registry_link", "requested_datasets", "rollback_moves", "run_all", "run_gate", "schema_columns", "sha256_of",
    "use_curated_schema_source",
]
