"""What a golden reproduction finds: a GoldenComparison, or NotReproducible while rebuilding."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

STATUSES = ("reproduced", "differs", "not_reproducible")


class NotReproducible(Exception):
    """The card's query cannot be rebuilt faithfully; the message says which part and why."""

    def __init__(self, message: str, *, sql: str | None = None):
        super().__init__(message)
        self.sql = sql


@dataclass(frozen=True)
class CellDifference:
    """One golden cell that our query does not give: `difference` is ours - golden for numbers."""

    key: tuple[str, ...]
    column: str
    golden: str
    ours: str
    difference: Decimal | None


@dataclass(frozen=True)
class Row:
    """A row only one side has: its key and its cells in the golden's column order."""

    key: tuple[str, ...]
    values: tuple[str, ...]


@dataclass(frozen=True)
class GoldenComparison:
    card_id: int
    title: str
    status: str  # one of STATUSES
    sql: str | None
    columns: tuple[str, ...]  # the golden's header
    key_columns: tuple[str, ...]
    golden_rows: int
    our_rows: int
    matched: int
    differing: tuple[CellDifference, ...]
    only_in_golden: tuple[Row, ...]
    only_in_ours: tuple[Row, ...]
    problems: tuple[str, ...] = ()  # why not reproducible
    notes: tuple[str, ...] = field(default=())  # conditions the reproduction rests on

    @property
    def differing_rows(self) -> int:
        return len({difference.key for difference in self.differing})
