"""Golden reproduction: rebuild a card's query over silver data in DuckDB and compare with the
rows Domo showed (golden.csv).

Plain Python and DuckDB, no Django. `reproduce_card(card, beast_modes=..., parquet_paths=...,
golden_csv=..., captured_at=...)` returns a GoldenComparison: "reproduced" when every golden row is
matched, "differs" with the differing cells and the rows only one side has, or "not_reproducible"
with the reason (a beast mode without a faithful translation, a card shape this package does not
rebuild).
Matching the golden, flaws included, shows the legacy behaviour is understood.

- query.py: the card's query, with Domo's semantics;
- translation.py: its beast modes as DuckDB SQL;
- comparison.py: its rows against the golden's;
- model.py: what a reproduction finds.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from evidence.golden.comparison import compare, compare_cell, format_value, read_golden
from evidence.golden.model import STATUSES, CellDifference, GoldenComparison, NotReproducible, Row
from evidence.golden.query import (
    AGGREGATIONS,
    DATE_TYPES,
    GRAINS,
    NUMERIC_TYPES,
    CardQuery,
    parquet_schema,
)
from evidence.golden.translation import Translated, at_capture, mysql_semantics, translate_for_card
from evidence.intake import leafiq
from evidence.intake.csvfields import DEFAULT_MAX_FIELD_BYTES

__all__ = [
    "AGGREGATIONS",
    "DATE_TYPES",
    "GRAINS",
    "NUMERIC_TYPES",
    "STATUSES",
    "CardQuery",
    "CellDifference",
    "GoldenComparison",
    "NotReproducible",
    "Row",
    "Translated",
    "at_capture",
    "compare",
    "compare_cell",
    "format_value",
    "mysql_semantics",
    "parquet_schema",
    "read_golden",
    "reproduce_card",
    "translate_for_card",
]


def reproduce_card(
    card: leafiq.CardDefinition,
    *,
    beast_modes: Mapping[str, leafiq.BeastMode],
    parquet_paths: Mapping[str, Path],
    golden_csv: Path,
    captured_at: datetime,
    max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES,
) -> GoldenComparison:
    """Rebuild `card`'s main query over the silver Parquet of its dataset and compare it with
    its golden.csv, captured at `captured_at`."""
    header, golden = read_golden(golden_csv, max_field_bytes)
    try:
        query = CardQuery(
            card, {**{bm.id: bm for bm in card.beast_modes}, **beast_modes}, parquet_paths, captured_at
        )
        if tuple(query.labels) != tuple(header):
            raise NotReproducible(
                f"golden.csv is headed {', '.join(header)}, but the card's columns are {', '.join(query.labels)}."
            )
        ours = query.run()
    except NotReproducible as error:
        return GoldenComparison(
            card.id, card.title, "not_reproducible", error.sql, tuple(header), (),
            len(golden), 0, 0, (), (), (), (str(error),),
        )  # fmt: skip
    return compare(card, query, header, golden, ours)
