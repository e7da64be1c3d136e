"""Where a run's SQL runs: DuckDB over the promoted version's Parquet (the embedded default), or pushed down into
the curated PostgreSQL database when the curated store is PostgreSQL. Either way the same definitions, and the
same answer (tests/deliverables compare them to the cent).

`on_duckdb` and `on_postgres` return the engine's Results (the lines, each line's contributing rows, the
ancillary answers the decisions need) and leave the findings as `findings_raw` on the run's local DuckDB.
"""
from __future__ import annotations

from pathlib import Path

from deliverables.calculations import engine

FINDINGS = "findings_raw"


def clients_in_scope_duckdb(con, parquet: Path, columns: dict, scope: engine.Scope) -> list[str]:
    """The clients with claims lines in the scope (before any evidence is read)."""
    client, fill = engine._q(columns["Client Account ID"]), engine._q(columns["Fill Date"])
    where = [f"CAST({fill} AS DATE) BETWEEN DATE '{scope.period[0]}' AND DATE '{scope.period[1]}'"]
    if scope.client:
        where.append(f"CAST({client} AS VARCHAR) = {engine._literal(scope.client)}")
    rows = con.execute(f"SELECT DISTINCT CAST({client} AS VARCHAR) FROM read_parquet({engine._literal(str(parquet))}) "
                       f"WHERE {' AND '.join(where)} ORDER BY 1").fetchall()
    return [row[0] for row in rows if row[0]]


def on_duckdb(con, parquet: Path, tables, scope: engine.Scope) -> engine.Results:
    """The calculations on DuckDB over the silver Parquet; the findings stay on `con` as `findings_raw`."""
    return engine.run_duckdb(con, parquet, tables.terms, tables.prices, tables.invoices, scope,
                             findings_into=FINDINGS)


def on_postgres(con, claims, tables, scope: engine.Scope) -> engine.Results:
    """The calculations pushed down into the curated PostgreSQL database, over the promoted version's table; the
    findings come back and are put on `con` as `findings_raw` (the decisions and the hash are computed there)."""
    import pyarrow as pa

    from deliverables.calculations.definitions import COLUMNS
    from deliverables.calculations.pushdown import run_postgres
    from promotion.curated.aliases import curated_reader

    calculated = run_postgres(curated_reader(), table=claims.table_name, schema=claims.schema, terms=tables.terms,
                              prices=tables.prices, invoices=tables.invoices, scope=scope)
    rows = calculated.results["pricing_findings"] or []
    columns = COLUMNS["pricing_findings"]
    findings = pa.Table.from_pylist([dict(zip(columns, row, strict=True)) for row in rows], schema=_findings_schema())
    con.register("findings_arrow", findings)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {FINDINGS} AS SELECT * FROM findings_arrow")
    con.unregister("findings_arrow")
    return calculated


def _findings_schema():
    import pyarrow as pa

    from deliverables.calculations.definitions import ALLOWED_SCALE, MONEY_SCALE

    money = pa.decimal128(38, MONEY_SCALE)
    return pa.schema([
        ("kind", pa.string()), ("client_account_id", pa.string()), ("claim_id", pa.string()),
        ("fill_date", pa.date32()), ("ndc", pa.string()), ("pharmacy_npi", pa.string()), ("paid", money),
        ("allowed", money), ("reference", pa.string()), ("channel", pa.string()),
        ("drug_class", pa.string()), ("claim_row", pa.int64()), ("term_source", pa.string()),
        ("term_class", pa.string()), ("price_source", pa.string()), ("overpayment", money),
        ("overpayment_exact", pa.decimal128(38, ALLOWED_SCALE)),
    ])
