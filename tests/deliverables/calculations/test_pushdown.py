"""The calculations pushed down into the curated PostgreSQL database: the sample claims loaded with the real
curated loader, then run there, give DuckDB's results over the same Parquet, to the cent and type for type.
The PostgreSQL tests are transactional: the curated loader runs its own transactions, never inside atomic()."""
from __future__ import annotations

import datetime as dt

import pyarrow as pa
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
from tests.deliverables.calculations.builders import term, write_claims
from tests.deliverables.calculations.test_arithmetic import edge_claims
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


LONG = "A column name longer than PostgreSQL's sixty-three bytes, curated under a shortened identifier"
FLAGS = {"Basis of Cost": ("04", "01", 17), "Compound Code": ("2", "0", 23), "Network Status": ("out", "in", 29),
         LONG: ("x", "y", 2)}


def _with_flags(path, tmp_path, tables):
    """The sample with the optional exclusion columns (every 17th claim U&C, 23rd compound, 29th out of network)
    and a long-named column, and terms excluding all three."""
    table = pq.read_table(path)
    for name, (hit, miss, every) in FLAGS.items():
        table = table.append_column(name, pa.array([hit if row % every == 0 else miss for row in range(len(table))]))
    flagged = tmp_path / "claims-flagged.parquet"
    pq.write_table(table, flagged)
    terms = tables["terms"].to_pylist()
    for record in terms:
        record["exclusions"] = ";".join(filter(None, [record["exclusions"], "usual_and_customary", "compound",
                                                      "out_of_network"]))
    schema = SCHEMA + [{"name": name, "type": "STRING"} for name in FLAGS]
    return flagged, schema, dict(tables, terms=engine.arrow_table("terms", terms))


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True, databases=["default", "curated"])
@pytest.mark.parametrize("variant", ["every client", "one client, one quarter", "optional exclusion columns"])
def test_postgres_over_the_curated_table_gives_duckdbs_results(curated_db, sample, tmp_path, variant):
    path, tables = sample
    schema, scope = SCHEMA, None
    if variant == "one client, one quarter":
        scope = _a_quarter_of_one_client(tables)
    if variant == "optional exclusion columns":
        unflagged = duckdb_results(path, tables, None)
        path, schema, tables = _with_flags(path, tmp_path, tables)
    expected = duckdb_results(path, tables, scope)
    assert all(expected.results.values()) and all(expected.contributions.values())  # rows to compare
    if scope is not None:
        assert {row[COLUMNS[name].index("client_account_id")]
                for name, rows in expected.results.items() for row in rows} == {scope.client}
    if variant == "optional exclusion columns":  # the flags exclude claims
        assert expected.results["awp_discount_guarantee"] != unflagged.results["awp_discount_guarantee"]
    loaded = load(curated_db, path, schema=schema)
    curated.promote_version(connection=curated_db, dataset_key=KEY, version=loaded.version)
    _, schema = curated.current_schema(curated_db, KEY)  # [{name, type, column}]: what a run is given
    assert any(column["column"] != column["name"] for column in schema) == (variant == "optional exclusion columns")

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
def test_postgres_decides_ties_and_twin_duplicate_groups_as_duckdb_does(curated_db, tmp_path):
    """A tie on time and status goes to the later line, and groups differing only by a member that is none in one
    and empty in the other are numbered apart, on PostgreSQL as on DuckDB."""
    path = write_claims(tmp_path / "edge.parquet", edge_claims())
    tables = engine.evidence_tables([term("Retail Generic", "retail", "generic", rate="0.5000")], [], [])
    expected = duckdb_results(path, tables, None)
    assert [row[2] for row in expected.results["pricing_findings"]] == ["RX-E2", "RX-N2"]
    loaded = load(curated_db, path)
    curated.promote_version(connection=curated_db, dataset_key=KEY, version=loaded.version)
    _, schema = curated.current_schema(curated_db, KEY)

    found = run_postgres(curated_db, table=curated.read_current(curated_db, KEY).table, schema=schema,
                         terms=tables["terms"], prices=tables["prices"], invoices=tables["invoices"], scope=None)

    assert found == expected


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


@pytest.mark.parametrize("scoped", [False, True], ids=["every client", "one client, one quarter"])
def test_a_duckdb_run_gives_the_whole_definitions_rows_and_each_lines_row_count(sample, scoped):
    path, tables = sample
    scope = _a_quarter_of_one_client(tables) if scoped else None
    run = duckdb_results(path, tables, scope)
    con = engine.connect(memory_limit="256MB", threads=1)
    try:
        assert run.results == engine.run(con, path, tables["terms"], tables["prices"], tables["invoices"],
                                         scope=scope)
    finally:
        con.close()
    # Each line's contributing rows are as many as the line counts, and come with a 32-digit MD5.
    counted = {
        ("awp_discount_guarantee", "component"): ("claims", lambda line: line["level"] == "component",
                                                  ("client_account_id", "period_start", "period_end", "component",
                                                   "channel", "drug_class")),
        ("awp_discount_guarantee", "combined"): ("claims", lambda line: line["level"] == "combined",
                                                 ("client_account_id",)),
        ("dispensing_fee_guarantee", "component"): ("scripts", lambda line: True,
                                                    ("client_account_id", "period_start", "period_end",
                                                     "component", "channel", "drug_class")),
        ("rebate_guarantee", "quarter"): ("brand_claims", lambda line: True, ("client_account_id", "quarter")),
    }
    assert set(counted) == set(run.contributions)
    for (name, level), (count, chosen, keys) in counted.items():
        lines = [dict(zip(COLUMNS[name], row, strict=True)) for row in run.results[name]]
        expected = {tuple(line[key] for key in keys): line[count] for line in lines if chosen(line)}
        found = {row[:-2]: row[-2] for row in run.contributions[(name, level)]}
        assert found == expected, (name, level)
        assert all(len(row[-1]) == 32 for row in run.contributions[(name, level)])
