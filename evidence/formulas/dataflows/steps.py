"""What DataFlow analysis returns, and the tables it knows.

Tables. Domo's MySQL DataFlows name an input's table after the dataset (`PBM Claims 2025` is
`pbm_claims_2025`); the reader keeps the input's name, not the table name, so a table is matched to
`schemas` by id, by name, or by that lower-case, underscore form of the name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from evidence.formulas import Analysis, Flaw
from evidence.intake import leafiq

KINDS = ("sql", "expression")


@dataclass(frozen=True)
class ExpressionAnalysis:
    """One expression of a step: `clause` says where it sits ("select", "where", "having", "join",
    "set" in SQL; "filter", "expression", "group_by" in Magic ETL); [start, end) is its place in the
    step's text; the Analysis's own offsets are relative to analysis.formula."""

    clause: str
    start: int | None
    end: int | None
    analysis: Analysis


@dataclass(frozen=True)
class StepAnalysis:
    """One SQL statement text, or one Magic ETL expression, of a DataFlow action.

    `part` is its index among the action's statements or expressions; `flaws` are every finding of
    the step with offsets in `text` (the expressions' flaws plus step-level ones: UNPARSEABLE,
    UNKNOWN_COLUMN per SQL scope, MAGIC_NULL_COMPARISON_DROPS_ROWS); `tables` are the tables (SQL)
    or input datasets (Magic ETL) the step reads, `writes` the tables it creates or changes.
    """

    action_index: int
    action_type: str
    action_name: str | None
    kind: str  # one of KINDS
    part: int
    text: str
    analyses: tuple[ExpressionAnalysis, ...]
    flaws: tuple[Flaw, ...]
    tables: tuple[str, ...]
    writes: tuple[str, ...]
    columns: tuple[str, ...]

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(flaw.code for flaw in self.flaws)


Schema = dict[str, str]


def table_name(name: str) -> str:
    """The table a MySQL DataFlow gives a dataset: `PBM Claims 2025` -> `pbm_claims_2025`."""
    return re.sub(r"[^0-9a-z]+", "_", name.casefold()).strip("_")


class SchemaBook:
    """The known tables and datasets of one flow, found by id, name or table name."""

    def __init__(self, flow: leafiq.Dataflow, schemas: Mapping[str, Mapping[str, str]]):
        self._by_key: dict[str, Schema] = {}
        for key, columns in schemas.items():
            self.add(key, dict(columns))
        for endpoint in flow.inputs:  # name the inputs known by id under their names too
            schema = self._by_key.get(endpoint.dataset_id.casefold())
            if schema is not None and endpoint.name:
                self.add(endpoint.name, schema)

    def add(self, name: str, schema: Schema) -> None:
        for key in {name.casefold(), table_name(name)}:
            self._by_key.setdefault(key, schema)

    def get(self, name: str | None) -> Schema | None:
        if not name:
            return None
        return self._by_key.get(name.casefold()) or self._by_key.get(table_name(name))


def register_input(flow: leafiq.Dataflow, book: SchemaBook, name: str) -> None:
    """A LoadFromVault tile names its dataset; with a single input, that input is it."""
    if book.get(name) is None and len(flow.inputs) == 1:
        schema = book.get(flow.inputs[0].dataset_id) or book.get(flow.inputs[0].name)
        if schema is not None:
            book.add(name, schema)


def ordered_flaws(flaws: Iterable[Flaw]) -> tuple[Flaw, ...]:
    """Each finding once, in the order of its place in the text."""
    unique: dict[tuple, Flaw] = {}
    for flaw in flaws:
        unique.setdefault((flaw.code, flaw.start, flaw.end, flaw.snippet), flaw)
    return tuple(sorted(unique.values(), key=lambda f: (f.start if f.start is not None else -1, f.code)))
