"""Golden reproduction during intake: each card with a golden packet rebuilt over its fresh silver.

The rebuilding itself is evidence.golden (plain DuckDB, no Django); this module picks the
cards, hands golden a card's definition, beast modes and the local Parquet the intake just wrote,
and turns the comparisons into rows. The rows show whether the legacy behaviour is understood,
flaws included; they authorize nothing.
"""
from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings

from evidence import golden
from evidence.formulas import ENGINE_VERSION
from evidence.intake import leafiq
from evidence.models import DomoCard, GoldenReproduction

logger = logging.getLogger(__name__)

SHOWN = 200  # differences and one-sided rows kept per card; the counts are always whole


def _interrupted(exc: Exception) -> bool:
    import duckdb

    return isinstance(exc, duckdb.InterruptException) or (isinstance(exc, RuntimeError) and str(exc) == "Query interrupted")


def reproduce_goldens(manifest: leafiq.Manifest, root: Path, parquet_paths: dict[str, Path]) -> dict[int, golden.GoldenComparison]:
    """Compare every card whose golden packet arrived; keyed by Domo card id."""
    dataset_beast_modes: dict[str, leafiq.BeastMode] = {}
    for entry in manifest.datasets:
        try:
            metadata = leafiq.read_dataset_metadata(root / entry.metadata, file=entry.metadata)
        except (leafiq.LeafIQFormatError, OSError):
            continue
        dataset_beast_modes.update({b.id: b for b in metadata.beast_modes})
    results = {}
    for entry in manifest.cards:
        if not entry.golden or not (root / entry.golden).is_file():
            continue
        try:
            card = leafiq.read_card_definition(root / entry.definition, file=entry.definition)
        except (leafiq.LeafIQFormatError, OSError):
            continue
        beast_modes = {**dataset_beast_modes, **{b.id: b for b in card.beast_modes}}
        try:
            results[card.id] = golden.reproduce_card(
                card, beast_modes=beast_modes, parquet_paths=parquet_paths,
                golden_csv=root / entry.golden, captured_at=entry.golden_captured_at,
                max_field_bytes=settings.INTAKE_MAX_FIELD_BYTES,
            )
        except Exception as exc:  # one card's failure must not stop the intake; it is shown on the card
            if _interrupted(exc):
                # A signal arrived mid-query (the worker cancelling the task at a soft shutdown, Ctrl-C): DuckDB
                # turns it into this error and drops what the signal's handler raised. Leave as that handler meant
                # to (the run stays running, its requeued task takes it over); this is no failure of the card.
                raise SystemExit(f"interrupted during the golden reproduction of card {card.id}") from exc
            logger.exception("golden reproduction of card %s failed", card.id)
            results[card.id] = golden.GoldenComparison(
                card_id=card.id, title=card.title, status="not_reproducible", sql=None, columns=(),
                key_columns=(), golden_rows=0, our_rows=0, matched=0, differing=(), only_in_golden=(),
                only_in_ours=(), problems=(f"the reproduction failed: {type(exc).__name__}: {exc}",),
            )
    return results


def record_reproductions(cards: dict[int, DomoCard], comparisons: dict[int, golden.GoldenComparison]) -> None:
    """Store the comparisons (inside the intake's recording transaction)."""
    GoldenReproduction.objects.bulk_create(
        GoldenReproduction(
            card=cards[card_id],
            status=c.status,
            sql=c.sql or "",
            columns=list(c.columns),
            key_columns=list(c.key_columns),
            golden_rows=c.golden_rows,
            our_rows=c.our_rows,
            matched=c.matched,
            differing_count=len(c.differing),
            only_in_golden_count=len(c.only_in_golden),
            only_in_ours_count=len(c.only_in_ours),
            differing=[
                {"key": list(d.key), "column": d.column, "golden": d.golden, "ours": d.ours,
                 "difference": None if d.difference is None else str(d.difference)}
                for d in c.differing[:SHOWN]
            ],
            only_in_golden=[{"key": list(r.key), "values": list(r.values)} for r in c.only_in_golden[:SHOWN]],
            only_in_ours=[{"key": list(r.key), "values": list(r.values)} for r in c.only_in_ours[:SHOWN]],
            problems=list(c.problems),
            notes=list(c.notes),
            engine_version=ENGINE_VERSION,
        )
        for card_id, c in sorted(comparisons.items())
        if card_id in cards
    )
