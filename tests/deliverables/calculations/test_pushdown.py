"""The calculations pushed down into the curated PostgreSQL database: the sample claims loaded with the real
curated loader, then run there, give DuckDB's results over the same Parquet, to the cent and type for type."""
from __future__ import annotations

import datetime as dt

import pyarrow.parquet as pq
import pytest
import sqlglot

from deliverables.calculations import dialects, engine
from deliverables.calculations.definitions import (
    BODIES,
    COLUMNS,
    CONTRIBUTIONS,
    MATERIALIZE,
    contributions_sql,
    over_materialized,
)
from deliverables.calculations.pushdown import run_postgres
from evidence.samples.world import _SCHEMAS, CLAIMS
from promotion import curated
from tests.deliverables.calculations.test_sample import _claims_parquet, _evidence

KEY = "0d0e0f10-1112-4131-8415-161718192021"
SCHEMA = [{"name": name, "type": kind} for name, kind in _SCHEMAS[CLAIMS]]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The sample export's claims as silver types them, and the sample evidence records as Arrow tables."""
    path = _claims_parquet(tmp_path_factory.mktemp("sample"))
    terms, prices, invoices = _evidence()
    return path, engine.evidence_tables(terms, prices, invoices)


@pytest.fixture
def curated_db(request):
    from django.db import connections

    connection = connections["curated"]
    yield connection
    with connection.cursor() as cursor:  # a transactional test's flush leaves the curated tables
        cursor.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'curated\\_%'")
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP TABLE "{name}"')


def load(connection, path, schema=SCHEMA, load_id="pushdown-1") -> curated.LoadResult:
    return curated.load_dataset(connection=connection, dataset_key=KEY, parquet_path=path, schema=schema,
                                load_id=load_id, manifest_sha256="d" * 64)


def duckdb_results(path, tables, scope) -> engine.Results:
    con = engine.connect(memory_limit="256MB", threads=1)
    try:
        return engine.run_duckdb(con, path, tables["terms"], tables["prices"], tables["invoices"], scope)
    finally:
        con.close()


def type_differences(found: engine.Results, expected: engine.Results) -> set:
    """(relation, column position, found type, expected type) wherever a value's Python type differs:
    Decimal('5') == 5, so equality alone would not see a count turned NUMERIC."""
    pairs = [(name, found.results[name], rows) for name, rows in expected.results.items()]
    pairs += [(key, found.contributions[key], rows) for key, rows in expected.contributions.items()]
    return {(name, position, type(a).__name__, type(b).__name__)
            for name, left, right in pairs for row_a, row_b in zip(left, right, strict=True)
            for position, (a, b) in enumerate(zip(row_a, row_b, strict=True)) if type(a) is not type(b)}


def _a_quarter_of_one_client(tables):
    first = tables["terms"].slice(0, 1).to_pylist()[0]
    return engine.Scope(client=first["client_account_id"], period=(dt.date(2025, 1, 1), dt.date(2025, 3, 31)))


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True, databases=["default", "curated"])
@pytest.mark.parametrize("scoped", [False, True], ids=["every client", "one client, one quarter"])
def test_postgres_over_the_curated_table_gives_duckdbs_results(curated_db, sample, scoped):
    path, tables = sample
    scope = _a_quarter_of_one_client(tables) if scoped else None
    table = load(curated_db, path)
    expected = duckdb_results(path, tables, scope)
    assert all(expected.results.values()) and all(expected.contributions.values())  # rows to compare
    if scoped:
        assert {row[COLUMNS[name].index("client_account_id")]
                for name, rows in expected.results.items() for row in rows} == {scope.client}
    curated.promote_version(connection=curated_db, dataset_key=KEY, version=table.version)
    _, schema = curated.current_schema(curated_db, KEY)  # [{name, type, column}]: what a run is given

    found = run_postgres(curated_db, table=curated.read_current(curated_db, KEY).table, schema=schema,
                         terms=tables["terms"], prices=tables["prices"], invoices=tables["invoices"], scope=scope)

    assert found == expected
    assert type_differences(found, expected) == set()
    with curated_db.cursor() as cursor:  # nothing left in the session: no temp relation, the search_path back
        cursor.execute("SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()")
        assert cursor.fetchone()[0] == 0
        cursor.execute("SHOW search_path")
        assert cursor.fetchone()[0] != "pg_temp"


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True, databases=["default", "curated"])
def test_a_missing_claims_column_is_refused_naming_the_column_and_the_table(curated_db, sample, tmp_path):
    path, tables = sample
    without = tmp_path / "claims-without-plan-paid.parquet"
    pq.write_table(pq.read_table(path).drop_columns(["Plan Paid"]), without)
    schema = [column for column in SCHEMA if column["name"] != "Plan Paid"]
    table = load(curated_db, without, schema=schema).table
    with pytest.raises(engine.CalculationInputError, match=rf"curated table {table}: column 'Plan Paid' is missing"):
        run_postgres(curated_db, table=table, schema=schema, terms=tables["terms"], prices=tables["prices"],
                     invoices=tables["invoices"], scope=None)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True, databases=["default", "curated"])
def test_an_exclusion_whose_column_the_curated_table_lacks_is_refused(curated_db, sample):
    path, tables = sample
    table = load(curated_db, path).table
    terms = tables["terms"].to_pylist()
    terms[0]["exclusions"] = "zero_balance;compound"
    with pytest.raises(engine.CalculationInputError,
                       match=rf"curated table {table}: column 'Compound Code' is missing, and the terms exclude"):
        run_postgres(curated_db, table=table, schema=SCHEMA, terms=terms, prices=tables["prices"],
                     invoices=tables["invoices"], scope=None)


def _tsql_statements():
    yield "MATERIALIZE cur", MATERIALIZE[0]
    yield "MATERIALIZE ct", MATERIALIZE[1]
    for name in BODIES:
        yield name, over_materialized(name)
    for name, levels in CONTRIBUTIONS.items():
        for level in levels:
            yield f"{name} {level}", contributions_sql(name, level)


@pytest.mark.parametrize(("step", "sql"), list(_tsql_statements()), ids=[step for step, _ in _tsql_statements()])
def test_the_tsql_form_of_each_step_of_a_run_parses_back(step, sql):
    out = dialects.transpile(sql, "tsql")
    tree = sqlglot.parse_one(out, read="tsql")
    ctes = {cte.alias for cte in tree.find_all(sqlglot.exp.CTE)}
    # The run's tables cur and ct are T-SQL temp tables (#cur, #ct) wherever they are read or made.
    assert not [table for table in tree.find_all(sqlglot.exp.Table) if table.name in {"cur", "ct"}
                and table.name not in ctes and not table.this.args.get("temporary")], (step, out)
    assert "INT128" not in out.upper() and "HUGEINT" not in out.upper() and "DOUBLE" not in out.upper()
    assert tree.find(sqlglot.exp.Group) is None or not any(
        isinstance(key, sqlglot.exp.Literal) for key in tree.find(sqlglot.exp.Group).expressions)  # no GROUP BY 1
