"""Identifier injection: names with quotes, brackets, `;`, comment markers and Unicode homoglyphs.

Where the console builds SQL with a dynamic identifier:
- curated table names (promotion.curated): only from a Domo dataset id through an allow-list (dataset_slug), so a
  hostile key is refused before any SQL exists;
- column names from the export (curated tables, the golden reproduction, the reconciliation of golden columns,
  the calculation engine's claims columns): a Domo column may be named anything ("Paid $ (net)"), so these are not
  allow-listed but always quoted by the engine's own helper, doubling the quote; a NUL is refused
  (validate_columns). Each helper is run here on its real engine with the hostile names: the name comes back as
  the column's name, and the sentinel table the name tries to drop is still there.
- the calculation engine selects only the columns of its own CLAIMS_COLUMNS (an allow-list by construction).
And no Django query takes user-controlled keys: no `**` splat into annotate/aggregate/alias, no extra()/RawSQL.
"""
from __future__ import annotations

import ast
import sqlite3
from pathlib import Path

import duckdb
import pytest
from django.db import connection

from deliverables.calculations import engine as calculations
from deliverables.calculations import pushdown
from deliverables.reconciliation import engine as reconciliation
from evidence.golden import query as golden
from promotion import curated
from promotion.curated.backend import Backend

pytestmark = [pytest.mark.catalogue(44)]

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = [
    'x"; DROP TABLE sentinel; --',
    'a" /* comment */ "b',
    "[bracketed]]; DROP TABLE sentinel; --",
    "semi;colon",
    "-- leading comment",
    "\u0440aid",  # Cyrillic "р": looks like "paid"
    "ｐａｉｄ",  # fullwidth
    "quote''s and \"double\"",
]
DUCKDB_QUOTERS = {"reconciliation": reconciliation.q, "calculations": calculations._q, "golden": golden._quote}


@pytest.mark.parametrize("key", [
    *HOSTILE, "0a1b2c3d-4e5f-6789-abcd-ef012345678\u0430", "0a1b2c3d-4e5f-6789-abcd-ef01234567[9]",
    "0a1b2c3d;4e5f", "0a1b--2c3d ", "0a1b/*2c3d*/", "０a1b2c3d",
])
def test_a_hostile_dataset_key_is_refused_before_any_table_name_is_built(key):
    with pytest.raises(curated.InvalidIdentifier, match="is not a Domo id"):
        curated.dataset_slug(key)


@pytest.mark.parametrize("helper", list(DUCKDB_QUOTERS))
def test_duckdb_quoting_keeps_every_hostile_name_a_name(helper):
    quote = DUCKDB_QUOTERS[helper]
    con = duckdb.connect()
    con.execute("CREATE TABLE sentinel (x INTEGER)")
    for name in HOSTILE:
        cursor = con.execute(f"SELECT 1 AS {quote(name)}")
        assert [d[0] for d in cursor.description] == [name]
        con.execute(f"CREATE TABLE t ({quote(name)} INTEGER)")
        con.execute(f"INSERT INTO t ({quote(name)}) VALUES (7)")
        assert con.execute(f"SELECT {quote(name)} FROM t").fetchall() == [(7,)]
        con.execute("DROP TABLE t")
    assert con.execute("SELECT count(*) FROM sentinel").fetchone() == (0,)


def test_postgresql_and_sqlite_quoting_keeps_every_hostile_name_a_name(db, tmp_path):
    targets = [("sqlite", sqlite3.connect(tmp_path / "c.sqlite3", isolation_level=None))]
    if connection.vendor == "postgresql":  # the test's own transaction: the tables go with its rollback
        connection.ensure_connection()
        targets.append(("postgresql", connection.connection))
    for vendor, raw in targets:
        backend = Backend(raw)
        cursor = raw.cursor()
        cursor.execute("CREATE TABLE sentinel_44 (x INTEGER)")
        try:
            for quote in (backend.quote, pushdown._q) if vendor == "postgresql" else (backend.quote,):
                for name in HOSTILE:
                    cursor.execute(f"CREATE TABLE t44 ({quote(name)} INTEGER)")
                    cursor.execute(f"SELECT {quote(name)} FROM t44")
                    assert [d[0] for d in cursor.description] == [name], (vendor, name)
                    cursor.execute("DROP TABLE t44")
            cursor.execute("SELECT count(*) FROM sentinel_44")
            assert cursor.fetchone()[0] == 0
        finally:
            cursor.execute("DROP TABLE IF EXISTS t44")
            cursor.execute("DROP TABLE sentinel_44")


def test_a_reconciliation_over_hostile_column_names_compares_them_as_columns():
    import pyarrow as pa

    con = duckdb.connect()
    con.execute("CREATE TABLE sentinel (x INTEGER)")
    key, measure = HOSTILE[0], HOSTILE[2]
    backend = pa.table({key: ["A", "B"], measure: ["1.00", "2.00"]})
    golden_rows = pa.table({HOSTILE[5]: ["A", "B"], HOSTILE[1]: ["1.00", "2.50"]})
    mapping = reconciliation.Mapping(
        name=HOSTILE[3],
        keys=(reconciliation.KeySpec(name="k", backend_column=key, golden_column=HOSTILE[5]),),
        measures=(reconciliation.MeasureSpec(name="m", backend_column=measure, golden_column=HOSTILE[1]),),
    )
    result = reconciliation.reconcile(con, backend, golden_rows, mapping)
    assert {k: n for k, n in result.summary["total"].items() if n} == {"match": 1, "variance": 1}
    assert con.execute("SELECT count(*) FROM sentinel").fetchone() == (0,)


# --- no user-controlled keys in Django's expressions ----------------------------------------------------------------
APPS = ("console", "evidence", "deliverables", "promotion")
EXPRESSION_METHODS = {"annotate", "aggregate", "alias"}


def expression_calls() -> list[str]:
    """file:line of every `.annotate(**x)`/`.aggregate(**x)`/`.alias(**x)`, `.extra(...)` or `RawSQL(...)`."""
    found = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.Call):
                    continue
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                splat = any(k.arg is None for k in node.keywords)
                if (name in EXPRESSION_METHODS and splat) or name in {"extra", "RawSQL"}:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_query_takes_keys_it_was_given_as_expression_names():
    assert expression_calls() == []


def test_the_scan_sees_a_splat_and_extra(tmp_path, monkeypatch):
    sample = "qs.annotate(**request.GET.dict())\nqs.extra(where=['1=1'])\nqs.annotate(total=Sum('x'))\n"
    calls = [n for n in ast.walk(ast.parse(sample)) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
    flagged = [c.func.attr for c in calls if (c.func.attr in EXPRESSION_METHODS and any(k.arg is None for k in c.keywords))
               or c.func.attr == "extra"]
    assert flagged == ["annotate", "extra"]
