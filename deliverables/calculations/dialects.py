"""The calculation definitions in other SQL dialects, with sqlglot. Plain module, no Django.

`transpile(sql, "postgres" | "tsql")` turns a DuckDB definition into PostgreSQL (run and compared with DuckDB's
results in the tests) or T-SQL for Azure SQL (parsed back only: there is no SQL Server here).

One rewrite on top of sqlglot's: DuckDB's HUGEINT (the exact integers of the effective-rate division) becomes
NUMERIC(38, 0) in both, where sqlglot would write INT128 (PostgreSQL has no such type; PostgreSQL's DIV on
NUMERIC is the exact integer quotient that DuckDB's `//` on HUGEINT is). In T-SQL sqlglot writes `//` as a
division cast to BIGINT, which overflows past 9.2e18: on SQL Server the effective rate of a line whose AWP passes
about 9.2 million dollars needs another form (not built; noted in the README).

The materialised run (definitions.MATERIALIZE, then each body over `cur` and `ct`) needs three more:
PostgreSQL has no CREATE OR REPLACE TABLE, so MATERIALIZE's temp tables are plain CREATE TEMPORARY TABLE there
(a run creates them once, in its own session); T-SQL names a temp table `#cur` (sqlglot writes MATERIALIZE
as SELECT ... INTO #cur), so the bodies' references to the tables `cur` and `ct` become `#cur AS cur`, `#ct AS
ct`; T-SQL's HASHBYTES('MD5', ...) is binary, so the rows checksum is converted to PostgreSQL's and DuckDB's
lower-case hex text.
"""
from __future__ import annotations

import sqlglot
from sqlglot import exp

DIALECTS = ("postgres", "tsql")
TEMP_TABLES = ("cur", "ct")  # made by definitions.MATERIALIZE
_TSQL_HEX_MD5 = "LOWER(CONVERT(VARCHAR(32), HASHBYTES('MD5', __text__), 2))"


def _widen(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.INT128:
        return exp.DataType.build("DECIMAL(38, 0)")
    return node


def _tsql_temp_tables(tree: exp.Expression) -> exp.Expression:
    """References to the tables `cur` and `ct` (not to a CTE of that name, not the table being created) read
    `#cur AS cur`, `#ct AS ct`."""
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
    target = tree.this if isinstance(tree, exp.Create) else None

    def rename(node: exp.Expression) -> exp.Expression:
        if (isinstance(node, exp.Table) and node.name in TEMP_TABLES and node.name not in ctes and not node.db
                and node is not target and not (target is not None and node is target.find(exp.Table))):
            alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(node.name))
            return exp.Table(this=exp.Identifier(this=node.name, temporary=True), alias=alias)
        return node

    return tree.transform(rename)


def _tsql_hex_md5(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.MD5):
        converted = sqlglot.parse_one(_TSQL_HEX_MD5, read="tsql")
        converted.find(exp.MD5).set("this", node.this)
        return converted
    return node


def transpile(sql: str, dialect: str) -> str:
    """`sql` (DuckDB) written for `dialect`."""
    if dialect not in DIALECTS:
        raise ValueError(f"dialect {dialect!r}: one of {', '.join(DIALECTS)}")
    tree = sqlglot.parse_one(sql, read="duckdb").transform(_widen)
    if dialect == "postgres" and isinstance(tree, exp.Create) and tree.args.get("replace"):
        tree.set("replace", False)
    if dialect == "tsql":
        tree = _tsql_temp_tables(tree).transform(_tsql_hex_md5)
    return tree.sql(dialect=dialect)
