"""Where a run's SQL runs: DuckDB over the promoted version's Parquet (the embedded default), or pushed down into
the curated PostgreSQL database when the curated store is PostgreSQL. Either way the same definitions, and the
same answer (tests/deliverables compare them to the cent).

`prepare(...)` registers the relations, materialises `cur` and `ct` where the claims are, runs the three line
definitions and leaves the findings as `findings_raw` on the local DuckDB connection; it returns the line rows
and a `query(sql)` that runs further DuckDB-dialect SQL where the claims are.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deliverables.calculations import definitions, engine
from deliverables.calculations.dialects import transpile

LINES = ("awp_discount_guarantee", "dispensing_fee_guarantee", "rebate_guarantee")


@dataclass
class Prepared:
    results: dict[str, list[tuple]]
    query: Callable[[str], list[tuple]]


def clients_in_scope_duckdb(con, parquet: Path, columns: dict, scope: engine.Scope) -> list[str]:
    """The clients with claims lines in the scope (before any evidence is read)."""
    client, fill = engine._q(columns["Client Account ID"]), engine._q(columns["Fill Date"])
    where = [f"CAST({fill} AS DATE) BETWEEN DATE '{scope.period[0]}' AND DATE '{scope.period[1]}'"]
    if scope.client:
        where.append(f"CAST({client} AS VARCHAR) = {engine._literal(scope.client)}")
    rows = con.execute(f"SELECT DISTINCT CAST({client} AS VARCHAR) FROM read_parquet({engine._literal(str(parquet))}) "
                       f"WHERE {' AND '.join(where)} ORDER BY 1").fetchall()
    return [row[0] for row in rows if row[0]]


def prepare_duckdb(con, parquet: Path, tables, scope: engine.Scope) -> Prepared:
    engine.register(con, parquet, tables.terms, tables.prices, tables.invoices, scope=scope)
    for statement in definitions.MATERIALIZE:
        con.execute(statement)
    results = {name: con.execute(definitions.over_materialized(name)).fetchall() for name in LINES}
    con.execute(f"CREATE OR REPLACE TEMP TABLE findings_raw AS {definitions.over_materialized('pricing_findings')}")
    return Prepared(results=results, query=lambda sql: con.execute(sql).fetchall())


def postgres_query(connection) -> Callable[[str], list[tuple]]:
    def query(sql: str) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(transpile(sql, "postgres"))
            return [tuple(row) for row in cursor.fetchall()]
    return query
