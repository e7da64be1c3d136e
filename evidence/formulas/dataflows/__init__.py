"""DataFlow analysis: the formula engine's rules over every step of a Domo DataFlow.

`analyze_dataflow(flow, schemas=...)` returns one StepAnalysis per SQL statement of a MySQL or
Redshift DataFlow (GenerateTableAction.selectStatement and SQL actions) and per expression of a
Magic ETL DataFlow (Filter, ExpressionEvaluator, GroupBy tiles).

- steps.py: what the analysis returns (StepAnalysis, ExpressionAnalysis) and the tables it knows;
- parsing.py: SQL text to statements, MySQL with the engine's parser, Redshift with Redshift's
  given the same records (source spans, written function names), or an UNPARSEABLE flaw;
- sql.py: the rules over every clause of a statement, UNKNOWN_COLUMN per SELECT scope;
- magic.py: the rules over each Magic ETL expression, and Filter's NULL comparisons.

Plain Python on sqlglot, no Django.
"""

from __future__ import annotations

from collections.abc import Mapping

from evidence.formulas.dataflows.magic import MAGIC_ACTIONS, NULL_RULE, magic_steps, null_comparisons
from evidence.formulas.dataflows.parsing import RedshiftSpans, Unparseable, parse_statements
from evidence.formulas.dataflows.sql import SQL_ACTIONS, SQL_SKIPPED_CODES, sql_steps
from evidence.formulas.dataflows.steps import (
    KINDS,
    ExpressionAnalysis,
    Schema,
    SchemaBook,
    StepAnalysis,
    table_name,
)
from evidence.intake import leafiq

__all__ = [
    "KINDS",
    "MAGIC_ACTIONS",
    "NULL_RULE",
    "SQL_ACTIONS",
    "SQL_SKIPPED_CODES",
    "ExpressionAnalysis",
    "RedshiftSpans",
    "Schema",
    "StepAnalysis",
    "Unparseable",
    "analyze_dataflow",
    "null_comparisons",
    "parse_statements",
    "table_name",
]


def analyze_dataflow(
    flow: leafiq.Dataflow, *, schemas: Mapping[str, Mapping[str, str]] | None = None
) -> tuple[StepAnalysis, ...]:
    """Every SQL statement or Magic ETL expression of `flow`, analyzed.

    schemas: the input datasets' columns (name -> Domo type), keyed by dataset id or name.
    """
    book = SchemaBook(flow, schemas or {})
    if flow.database_type == "MAGIC":
        return tuple(magic_steps(flow, book))
    return tuple(sql_steps(flow, book))
