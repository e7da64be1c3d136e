"""The calculation definitions in other SQL dialects, with sqlglot. Plain module, no Django.

`transpile(sql, "postgres" | "tsql")` turns a DuckDB definition into PostgreSQL (run and compared with DuckDB's
results in the tests) or T-SQL for Azure SQL (parsed back only: there is no SQL Server here).

One rewrite on top of sqlglot's: DuckDB's HUGEINT (the exact integers of the effective-rate division) becomes
NUMERIC(38, 0) in both, where sqlglot would write INT128 (PostgreSQL has no such type; PostgreSQL's DIV on
NUMERIC is the exact integer quotient that DuckDB's `//` on HUGEINT is). In T-SQL sqlglot writes `//` as a
division cast to BIGINT, which overflows past 9.2e18: on SQL Server the effective rate of a line whose AWP passes
about 9.2 million dollars needs another form (not built; noted in the README).
"""
from __future__ import annotations

import sqlglot
from sqlglot import exp

DIALECTS = ("postgres", "tsql")


def _widen(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.INT128:
        return exp.DataType.build("DECIMAL(38, 0)")
    return node


def transpile(sql: str, dialect: str) -> str:
    """`sql` (DuckDB) written for `dialect`."""
    if dialect not in DIALECTS:
        raise ValueError(f"dialect {dialect!r}: one of {', '.join(DIALECTS)}")
    tree = sqlglot.parse_one(sql, read="duckdb").transform(_widen)
    return tree.sql(dialect=dialect)
