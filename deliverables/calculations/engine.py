"""Run the calculation definitions on DuckDB over a claims Parquet and the evidence records. Plain module, no Django.

`run(con, claims_parquet, terms, prices, invoices)` reads the claims Parquet (the PBM Claims columns of
evidence/samples/world.py, matched case-insensitively) as the `claims` view, registers the evidence records as
Arrow tables (money and rates decimal128(38, s), dates date32; never float) and executes each definition,
returning {name: [row tuples]} in each definition's ORDER BY. `connect()` is evidence.flags.needs.connect.
`run_duckdb(...)` is a run as the runs service makes it: definitions.MATERIALIZE, each body over cur and ct, each
line's contributions (`calculate`), returned as Results; pushdown.run_postgres makes the same run in the curated
PostgreSQL database and returns the same Results.

The `claims` relation is one projection for every source (`claims_query` over a ClaimsSource: the Parquet here,
a curated table in pushdown), written in DuckDB SQL and transpiled for PostgreSQL: the column mapping, the casts,
the flags, the refusals and the Scope filter exist once.

Claims columns read: Claim ID, Claim Status, Client Account ID, Member ID, Pharmacy NPI, Channel, NDC,
Brand/Generic, Fill Date, Adjudicated At, Quantity, AWP Unit Price (empty = no AWP), Ingredient Cost Paid,
Dispensing Fee Paid, Plan Paid. Optional, for the exclusions that need them: `Basis of Cost` (usual_and_customary
when it is `04`, the NCPDP code, or `U&C`), `Compound Code` (compound when `2`), `Network Status`
(out_of_network when `out` or `out_of_network`). A term row naming an exclusion whose column is absent is
refused (CalculationInputError), never silently ignored. Quantity (a DOUBLE in the sample) is cast to
DECIMAL(38, 3) on read.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from pathlib import Path

import pyarrow as pa

from deliverables.calculations import dialects
from deliverables.calculations.definitions import (
    ANCILLARY,
    BODIES,
    CONTRIBUTIONS,
    DEFINITIONS,
    EXCLUSIONS,
    FEE_SCALE,
    MATERIALIZE,
    MONEY_SCALE,
    QUANTITY_SCALE,
    UNIT_SCALE,
    contributions_sql,
    on_duckdb,
    over_materialized,
)
from evidence.flags.needs import connect  # noqa: F401  (re-exported: the same bounded DuckDB)


class CalculationInputError(ValueError):
    """The inputs cannot be calculated on: names the relation (or file), the row and the column."""


def _string():
    return pa.string()


def _decimal(scale: int):
    return pa.decimal128(38, scale)


TERMS_SCHEMA = pa.schema([
    ("contract_id", _string()), ("client_account_id", _string()), ("component", _string()),
    ("channel", _string()), ("drug_class", _string()), ("awp_discount_guarantee", _decimal(UNIT_SCALE)),
    ("dispensing_fee_guarantee", _decimal(FEE_SCALE)), ("rebate_per_brand_claim", _decimal(FEE_SCALE)),
    ("guarantee_basis", _string()), ("exclusions", _string()), ("price_list", _string()),
    ("period_start", pa.date32()), ("period_end", pa.date32()),
    ("source", _string()), ("evidence_class", _string()),
])
PRICES_SCHEMA = pa.schema([
    ("price_list", _string()), ("ndc", _string()), ("drug_name", _string()),
    ("mac_unit_price", _decimal(UNIT_SCALE)), ("effective_date", pa.date32()), ("end_date", pa.date32()),
    ("source", _string()), ("client_account_id", _string()),
])
INVOICES_SCHEMA = pa.schema([
    ("invoice_id", _string()), ("client_account_id", _string()), ("quarter", _string()), ("ndc", _string()),
    ("drug_name", _string()), ("manufacturer", _string()), ("brand_claims", pa.int64()),
    ("rebate_amount", _decimal(MONEY_SCALE)), ("invoice_date", pa.date32()),
    ("source", _string()),
])
SCHEMAS = {"terms": TERMS_SCHEMA, "prices": PRICES_SCHEMA, "invoices": INVOICES_SCHEMA}
# Where an evidence row came from ("<packet id>#<revision>", a Domo candidate row) and its class (governed,
# candidate): optional in the records (blank), carried into the findings for their decisions. A price row's
# client_account_id (optional; blank: every client) limits it to the client whose governance it was cut for.
OPTIONAL = {"terms": {"source", "evidence_class"}, "prices": {"source", "client_account_id"},
            "invoices": {"source"}}

CLAIMS_COLUMNS = {
    "claim_id": "Claim ID", "claim_status": "Claim Status", "client_account_id": "Client Account ID",
    "member_id": "Member ID", "pharmacy_npi": "Pharmacy NPI", "channel": "Channel", "ndc": "NDC",
    "drug_class": "Brand/Generic", "fill_date": "Fill Date", "adjudicated_at": "Adjudicated At",
    "quantity": "Quantity", "awp_unit_price": "AWP Unit Price", "ingredient_cost_paid": "Ingredient Cost Paid",
    "dispensing_fee_paid": "Dispensing Fee Paid", "plan_paid": "Plan Paid",
}
# exclusion -> (optional claims column, the SQL predicate over it)
OPTIONAL_FLAGS = {
    "usual_and_customary": ("Basis of Cost", "UPPER(TRIM(CAST({col} AS VARCHAR))) IN ('04', 'U&C')"),
    "compound": ("Compound Code", "TRIM(CAST({col} AS VARCHAR)) = '2'"),
    "out_of_network": ("Network Status", "LOWER(TRIM(CAST({col} AS VARCHAR))) IN ('out', 'out_of_network')"),
}
_SCALES = {"quantity": QUANTITY_SCALE, "awp_unit_price": UNIT_SCALE, "ingredient_cost_paid": MONEY_SCALE,
           "dispensing_fee_paid": MONEY_SCALE, "plan_paid": MONEY_SCALE}
_CASTS = {
    "claim_status": "UPPER(TRIM(CAST({col} AS VARCHAR)))",
    "fill_date": "CAST({col} AS DATE)", "adjudicated_at": "CAST({col} AS TIMESTAMP)",
    "quantity": f"CAST({{col}} AS DECIMAL(38, {QUANTITY_SCALE}))",
    "awp_unit_price": f"CAST(NULLIF(TRIM(CAST({{col}} AS VARCHAR)), '') AS DECIMAL(38, {UNIT_SCALE}))",
    "ingredient_cost_paid": f"CAST({{col}} AS DECIMAL(38, {MONEY_SCALE}))",
    "dispensing_fee_paid": f"CAST({{col}} AS DECIMAL(38, {MONEY_SCALE}))",
    "plan_paid": f"CAST({{col}} AS DECIMAL(38, {MONEY_SCALE}))",
}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _value(relation: str, row: int, column: str, kind: pa.DataType, value):
    where = f"{relation} row {row}, column {column!r}"
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float):
        raise CalculationInputError(f"{where}: {value!r} is a float; money and rates must be exact decimals")
    if pa.types.is_decimal(kind):
        try:
            number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
        except InvalidOperation:
            raise CalculationInputError(f"{where}: {value!r} is not a decimal") from None
        if not number.is_finite():
            raise CalculationInputError(f"{where}: {value!r} is not a finite decimal")
        if number.as_tuple().exponent < -kind.scale:
            exact = number.quantize(Decimal(1).scaleb(-kind.scale))
            if exact != number:  # trailing zeros (a database's scale) are not more places
                raise CalculationInputError(f"{where}: {value!r} has more than {kind.scale} decimal places")
            number = exact
        return number
    if pa.types.is_date32(kind):
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value).strip())
        except ValueError:
            raise CalculationInputError(f"{where}: {value!r} is not a YYYY-MM-DD date") from None
    if pa.types.is_integer(kind):
        try:
            return int(str(value).strip())
        except ValueError:
            raise CalculationInputError(f"{where}: {value!r} is not an integer") from None
    return str(value)


def arrow_table(relation: str, records: Iterable[Mapping]) -> pa.Table:
    """The records of one evidence relation as an Arrow table of its schema (missing column: an error)."""
    schema = SCHEMAS[relation]
    columns: dict[str, list] = {field.name: [] for field in schema}
    for row, record in enumerate(records, start=1):
        for field in schema:
            if field.name not in record and field.name not in OPTIONAL[relation]:
                raise CalculationInputError(f"{relation} row {row}: column {field.name!r} is missing")
            columns[field.name].append(_value(relation, row, field.name, field.type, record.get(field.name)))
    return pa.Table.from_pydict(columns, schema=schema)


@dataclass(frozen=True)
class Scope:
    """Which claims a run calculates on: one client's (or every client's, `client` None) with fill dates in
    `period` (inclusive; None: every fill date). All lines of a claim share its client and fill date, so the
    current line of each claim is found within the scope."""

    client: str | None = None
    period: tuple[dt.date, dt.date] | None = None


@dataclass(frozen=True)
class ClaimsSource:
    """Where a run reads the claims: the relation (DuckDB SQL: a Parquet file, a curated table), its 0-based
    row number, and its columns, each exported (Domo) name with the SQL identifier it has there and its decimal
    scale where it is a decimal. `label` names the source in errors ("claims file x.parquet")."""

    label: str
    relation: str
    row: str
    columns: Mapping[str, str]
    scales: Mapping[str, int]


def claims_query(source: ClaimsSource, needed: set[str], scope: Scope | None = None) -> str:
    """The `claims` relation the definitions read, as DuckDB SQL over `source` (PostgreSQL: transpiled): the
    CLAIMS_COLUMNS found by their exported names (case-insensitively) and cast, the OPTIONAL_FLAGS as 0/1, the
    rows within `scope`. Refuses a missing column, a decimal column with more places than it is calculated
    with, and an exclusion in `needed` whose column is absent."""
    lowered = {name.lower(): name for name in source.columns}

    def column(theirs: str) -> str | None:
        found = lowered.get(theirs.lower())
        return None if found is None else _q(source.columns[found])

    select = []
    for ours, theirs in CLAIMS_COLUMNS.items():
        found = lowered.get(theirs.lower())
        if found is None:
            raise CalculationInputError(f"{source.label}: column {theirs!r} is missing")
        if (source.scales.get(found) or 0) > _SCALES.get(ours, 38):
            raise CalculationInputError(f"{source.label}: column {theirs!r} has {source.scales[found]} decimal "
                                        f"places, more than the {_SCALES[ours]} it is calculated with")
        cast = _CASTS.get(ours, "CAST({col} AS VARCHAR)").format(col=column(theirs))
        select.append(f"{cast} AS {ours}")
    for exclusion, (theirs, predicate) in OPTIONAL_FLAGS.items():
        found = column(theirs)
        if found is None and exclusion in needed:
            raise CalculationInputError(f"{source.label}: column {theirs!r} is missing, and the terms "
                                        f"exclude {exclusion} claims, which that column identifies")
        flag = "0" if found is None else f"CASE WHEN {predicate.format(col=found)} THEN 1 ELSE 0 END"
        select.append(f"{flag} AS {exclusion}")
    where = []
    if scope is not None and scope.client:
        where.append(f"CAST({column(CLAIMS_COLUMNS['client_account_id'])} AS VARCHAR) = {_literal(scope.client)}")
    if scope is not None and scope.period is not None:
        where.append(f"CAST({column(CLAIMS_COLUMNS['fill_date'])} AS DATE) BETWEEN "
                     f"DATE '{scope.period[0].isoformat()}' AND DATE '{scope.period[1].isoformat()}'")
    return (f"SELECT {source.row} AS _row, {', '.join(select)} FROM {source.relation}"
            + (f" WHERE {' AND '.join(where)}" if where else ""))


def _parquet_source(con, path: Path) -> ClaimsSource:
    leaves = con.execute(f"SELECT name, scale FROM parquet_schema({_literal(str(path))}) "
                         "WHERE num_children IS NULL OR num_children = 0").fetchall()
    return ClaimsSource(label=f"claims file {path.name}",
                        relation=f"read_parquet({_literal(str(path))}, file_row_number = true)",
                        row="file_row_number", columns={name: name for name, _ in leaves},
                        scales={name: scale for name, scale in leaves if scale is not None})


def check_terms(terms: pa.Table) -> set[str]:
    """The exclusions the terms name (each a known one), after checking that no two rows of one client,
    channel and drug class overlap in time (the terms are a few rows: checked here, not in SQL). Channel and
    drug class are compared as the definitions join them: spaces trimmed, lower case."""
    needed: set[str] = set()
    spans: dict[tuple, list] = {}

    def key(text):
        return None if text is None else text.strip(" ").lower()

    for row, record in enumerate(terms.select(["client_account_id", "channel", "drug_class", "period_start",
                                               "period_end", "exclusions"]).to_pylist(), start=1):
        start, end = record["period_start"], record["period_end"]
        for name in filter(None, (part.strip() for part in (record["exclusions"] or "").split(";"))):
            if name not in EXCLUSIONS:
                raise CalculationInputError(f"terms row {row}, column 'exclusions': {name!r} is not one of "
                                            f"{', '.join(EXCLUSIONS)}")
            needed.add(name)
        if start is None or end is None or start > end:
            raise CalculationInputError(f"terms row {row}, column 'period_start': the period {start} to {end} "
                                        "is not a period")
        spans.setdefault((record["client_account_id"], key(record["channel"]), key(record["drug_class"])),
                         []).append((start, end, row))
    for (client, channel, drug_class), periods in sorted(
            spans.items(), key=lambda item: tuple("" if part is None else part for part in item[0])):
        periods.sort()
        for (_, end, first), (start, _, second) in pairwise(periods):
            if start <= end:
                raise CalculationInputError(
                    f"terms rows {first} and {second} (client {client}, {channel} {drug_class}) overlap; an "
                    "amendment's row must start after the row it replaces ends (resolve supersession first)")
    return needed


def evidence_tables(terms, prices, invoices) -> dict[str, pa.Table]:
    """The three evidence relations as Arrow tables (records are converted with arrow_table; tables pass)."""
    return {name: records if isinstance(records, pa.Table) else arrow_table(name, records)
            for name, records in (("terms", terms), ("prices", prices), ("invoices", invoices))}


def register(con, claims_parquet, terms, prices, invoices, *, scope: Scope | None = None) -> None:
    """Register the four relations on `con` (claims as a view over the Parquet, within `scope`)."""
    tables = evidence_tables(terms, prices, invoices)
    needed = check_terms(tables["terms"])
    for name, table in tables.items():
        con.register(name, table)
    query = claims_query(_parquet_source(con, Path(claims_parquet)), needed, scope)
    con.execute(f"CREATE OR REPLACE TEMP VIEW claims AS {query}")


def run(con, claims_parquet, terms, prices, invoices, *, scope: Scope | None = None) -> dict[str, list[tuple]]:
    """Every definition's rows, in its own ORDER BY (each definition whole, as written)."""
    register(con, claims_parquet, terms, prices, invoices, scope=scope)
    return {name: con.execute(sql).fetchall() for name, sql in DEFINITIONS.items()}


@dataclass(frozen=True)
class Results:
    """A run's rows: each definition's (`results`, by name; the findings None when kept where they were computed),
    each line's contributing rows (`contributions`, by (name, level): the line's key columns, row_count,
    rows_checksum) and the ancillary answers the decisions need (definitions.ANCILLARY, by name)."""

    results: dict[str, list[tuple] | None]
    contributions: dict[tuple[str, str], list[tuple]]
    ancillary: dict[str, list[tuple]]


def calculate(query: Callable[[str], list[tuple]], dialect: str | None = None, *,
              findings_into: str | None = None) -> Results:
    """A run over the four relations of a connection: MATERIALIZE (cur, ct), each definition's body over them,
    each line's contributions, the ancillary answers. `query(sql)` executes one statement and returns its rows;
    `dialect` None runs the DuckDB text (definitions.on_duckdb: its rows checksums computed DuckDB's faster way),
    otherwise its dialects.transpile form. `findings_into` (DuckDB
    only) keeps the findings in a table of that name instead of fetching them (there can be millions)."""
    def say(sql: str) -> str:
        return on_duckdb(sql) if dialect is None else dialects.transpile(sql, dialect)

    for statement in MATERIALIZE:
        query(say(statement))
    results: dict[str, list[tuple] | None] = {}
    for name in BODIES:
        if name == "pricing_findings" and findings_into:
            query(f"CREATE OR REPLACE TEMP TABLE {findings_into} AS {over_materialized(name, ordered=False)}")
            results[name] = None
        else:
            results[name] = query(say(over_materialized(name)))
    return Results(
        results=results,
        contributions={(name, level): query(say(contributions_sql(name, level)))
                       for name, levels in CONTRIBUTIONS.items() for level in levels},
        ancillary={name: query(say(sql)) for name, sql in ANCILLARY.items()},
    )


def run_duckdb(con, claims_parquet, terms, prices, invoices, scope: Scope | None = None, *,
               findings_into: str | None = None) -> Results:
    """A run on DuckDB over the claims Parquet: the same steps and the same Results as
    pushdown.run_postgres over the curated table."""
    register(con, claims_parquet, terms, prices, invoices, scope=scope)
    return calculate(lambda sql: con.execute(sql).fetchall(), findings_into=findings_into)
