"""No DOUBLE anywhere on the money path: every CTE and every result of every definition, typed by DuckDB."""
from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from deliverables.calculations import engine
from deliverables.calculations.definitions import ALLOWED_SCALE, DEFINITIONS
from tests.deliverables.calculations.builders import claim, term, write_claims


def _steps(sql: str):
    """The definition itself, then one query per CTE selecting all of it."""
    yield "result", sql
    with_ = sqlglot.parse_one(sql, read="duckdb").find(exp.With)
    for cte in with_.expressions:
        yield cte.alias, f"{with_.sql(dialect='duckdb')} SELECT * FROM {cte.alias}"


@pytest.mark.parametrize("name", sorted(DEFINITIONS))
def test_no_step_of_a_definition_is_typed_double(tmp_path, name):
    con = engine.connect(memory_limit="256MB", threads=1)
    engine.register(con, write_claims(tmp_path / "claims.parquet", [claim(icp="1")]),
                    [term("Retail Generic", "retail", "generic", rate="0.5")], [], [])
    checked = {}
    for step, sql in _steps(DEFINITIONS[name]):
        for column, kind, *_ in con.execute(f"DESCRIBE {sql}").fetchall():
            assert not any(word in kind for word in ("DOUBLE", "FLOAT", "REAL")), (name, step, column, kind)
            checked[(step, column)] = kind
    assert ("cur", "quantity") in checked and ("result", "client_account_id") in checked
    if name == "pricing_findings":  # the UNION keeps the allowed amount exact (not rounded to cents by the union)
        assert checked[("found", "allowed")] == f"DECIMAL(38,{ALLOWED_SCALE})"
    con.close()
