"""The calculation definitions run inside the curated PostgreSQL database, over a curated table. Plain module.

`run_postgres(connection, table=..., schema=..., terms=..., prices=..., invoices=..., scope=...)` takes a
connection of the curated database (psycopg 3, or a Django connection wrapper around one) and a loaded dataset
version: its table (`curated_<slug>__v<N>`, with the `_row` row number) and its schema record ([{name, ...}],
pointer.current_schema). In one transaction of that connection it

- copies the evidence records into TEMP tables `terms`, `prices`, `invoices` (COPY, NUMERIC(38, s) at each
  Arrow decimal's scale, DATE, TEXT, BIGINT: no float on the way);
- creates the TEMP VIEW `claims` over the curated table: engine.claims_query (the projection the DuckDB run
  reads, with the same casts, flags, refusals and Scope filter), over the curated columns the schema's names
  map to (promotion.curated.sql_identifiers), transpiled to PostgreSQL;
- runs engine.calculate with the PostgreSQL dialect (MATERIALIZE into TEMP tables cur and ct, each body, each
  line's contributions) and drops what it created.

While it runs the session's search_path is `pg_temp` only (restored after), so the definitions' unqualified
names can only mean these temp relations; the curated table is read by its schema-qualified name. On an error
the transaction (or, inside a caller's transaction, its savepoint) rolls back, and the temp relations with it.

The values come back as DuckDB gives them (Decimal, date, str, int): every result column has the same type in
both (the definitions cast where the two would differ, e.g. a SUM of counts, NUMERIC in PostgreSQL).
"""
from __future__ import annotations

import pyarrow as pa
from psycopg.rows import tuple_row

from deliverables.calculations import dialects, engine
from promotion.curated.backend import ROW_COLUMN, sql_identifiers

Results = engine.Results
_CREATED = ("VIEW claims", "TABLE ct", "TABLE cur", "TABLE invoices", "TABLE prices", "TABLE terms")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _psycopg(connection):
    """The psycopg connection of a Django connection wrapper, or the connection itself."""
    if hasattr(connection, "ensure_connection") and hasattr(connection, "vendor"):
        if connection.vendor != "postgresql":
            raise ValueError(f"the pushdown runs on PostgreSQL, not {connection.vendor}")
        connection.ensure_connection()
        return connection.connection
    if type(connection).__module__.split(".")[0] != "psycopg":
        raise ValueError(f"the pushdown needs a psycopg connection, not {type(connection).__name__}")
    return connection


def _column_type(relation: str, field: pa.Field) -> str:
    kind = field.type
    if pa.types.is_decimal(kind):
        return f"NUMERIC(38, {kind.scale})"
    if pa.types.is_date32(kind):
        return "DATE"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "TEXT"
    if pa.types.is_integer(kind):
        return "BIGINT"
    raise engine.CalculationInputError(f"{relation}, column {field.name!r}: {kind} is not calculated on (exact "
                                       "decimals, dates, text and integers only)")


def _copy_in(cursor, relation: str, table: pa.Table) -> None:
    columns = ", ".join(f"{_q(field.name)} {_column_type(relation, field)}" for field in table.schema)
    cursor.execute(f"CREATE TEMP TABLE {_q(relation)} ({columns})")
    names = ", ".join(_q(name) for name in table.column_names)
    with cursor.copy(f"COPY {_q(relation)} ({names}) FROM STDIN") as copy:
        for row in zip(*(column.to_pylist() for column in table.columns), strict=True):
            copy.write_row(row)


def _curated_source(cursor, table: str, schema: list[dict]) -> engine.ClaimsSource:
    """The curated table as a claims source: each schema name that has its curated column in the table, with
    that column's NUMERIC scale (a name whose column is not there counts as missing)."""
    cursor.execute("SELECT n.nspname, c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace "
                   "WHERE c.oid = to_regclass(%s)", (_q(table),))
    found = cursor.fetchone()
    if found is None:
        raise engine.CalculationInputError(f"curated table {table} does not exist")
    relation = f"{_q(found[0])}.{_q(found[1])}"
    cursor.execute("SELECT attname, CASE WHEN atttypid = 'numeric'::regtype AND atttypmod >= 4 "
                   "THEN (atttypmod - 4) & 65535 END FROM pg_attribute "
                   "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped", (relation,))
    scales = dict(cursor.fetchall())
    if ROW_COLUMN not in scales:
        raise engine.CalculationInputError(f"curated table {table}: column {ROW_COLUMN!r} is missing")
    names = [column["name"] for column in schema]
    columns = {name: ident for name, ident in zip(names, sql_identifiers(names), strict=True) if ident in scales}
    return engine.ClaimsSource(
        label=f"curated table {table}", relation=relation, row=_q(ROW_COLUMN), columns=columns,
        scales={name: scales[ident] for name, ident in columns.items() if scales[ident] is not None})


def run_postgres(connection, *, table: str, schema: list[dict], terms, prices, invoices,
                 scope: engine.Scope | None = None) -> engine.Results:
    """Every definition's rows and every line's contributions, computed in PostgreSQL over the curated
    `table` (see the module docstring); the same Results as engine.run_duckdb over the silver Parquet."""
    raw = _psycopg(connection)
    tables = engine.evidence_tables(terms, prices, invoices)
    needed = engine.check_terms(tables["terms"])
    with raw.transaction(), raw.cursor(row_factory=tuple_row) as cursor:
        source = _curated_source(cursor, table, schema)
        claims = dialects.transpile(engine.claims_query(source, needed, scope), "postgres")
        cursor.execute("SELECT current_setting('search_path')")
        search_path = cursor.fetchone()[0]
        cursor.execute("SELECT set_config('search_path', 'pg_temp', true)")
        for relation, arrow in tables.items():
            _copy_in(cursor, relation, arrow)
        cursor.execute(f"CREATE TEMP VIEW claims AS {claims}")

        def query(sql: str) -> list[tuple]:
            cursor.execute(sql)
            return cursor.fetchall() if cursor.description else []

        results = engine.calculate(query, "postgres")
        for created in _CREATED:
            cursor.execute(f"DROP {created}")
        cursor.execute("SELECT set_config('search_path', %s, true)", (search_path,))
    return results
