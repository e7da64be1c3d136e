"""Small claims Parquet files and evidence records for the calculation tests (pyarrow, Decimal, no float money)."""
from __future__ import annotations

import datetime as dt
import os
import re
from decimal import Decimal

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

CLIENT = "0015e00000AAAAAAAA"
OTHER = "0015e00000BBBBBBBB"
BRAND_NDC, BRAND_NDC_2, GENERIC_NDC = "00002123401", "00002567801", "00093000110"

CLAIMS_SCHEMA = pa.schema([
    ("Claim ID", pa.string()), ("Claim Status", pa.string()), ("Client Account ID", pa.string()),
    ("Client Account", pa.string()), ("Member ID", pa.string()), ("Pharmacy NPI", pa.string()),
    ("Channel", pa.string()), ("NDC", pa.string()), ("Drug Name", pa.string()), ("Brand/Generic", pa.string()),
    ("Fill Date", pa.date32()), ("Adjudicated At", pa.timestamp("us")), ("Days Supply", pa.int64()),
    ("Quantity", pa.float64()),  # a DOUBLE in the sample export: cast to DECIMAL(38, 3) on read
    ("AWP Unit Price", pa.decimal128(38, 6)), ("Ingredient Cost Paid", pa.decimal128(38, 2)),
    ("Dispensing Fee Paid", pa.decimal128(38, 2)), ("Member Paid", pa.decimal128(38, 2)),
    ("Plan Paid", pa.decimal128(38, 2)),
])

_counter = iter(range(1, 1_000_000))


def claim(*, claim_id=None, status="PAID", client=CLIENT, member="M0000001", npi="1000000001",
          channel="retail", ndc=GENERIC_NDC, drug_class="Generic", fill="2025-03-01", at=None, qty="10",
          awp_unit="10", icp="0", fee="0", member_paid="5", plan_paid=None) -> dict:
    fill_date = dt.date.fromisoformat(fill)
    dec = (lambda v: None if v is None else Decimal(v))
    return {
        "Claim ID": claim_id or f"RX{next(_counter):012d}", "Claim Status": status, "Client Account ID": client,
        "Client Account": "Acme", "Member ID": member, "Pharmacy NPI": npi, "Channel": channel, "NDC": ndc,
        "Drug Name": "drug", "Brand/Generic": drug_class, "Fill Date": fill_date,
        "Adjudicated At": at or dt.datetime.combine(fill_date, dt.time(9, 0)), "Days Supply": 30,
        "Quantity": float(qty), "AWP Unit Price": dec(awp_unit), "Ingredient Cost Paid": dec(icp),
        "Dispensing Fee Paid": dec(fee), "Member Paid": dec(member_paid),
        "Plan Paid": dec(plan_paid) if plan_paid is not None else Decimal(icp) + Decimal(fee),
    }


def write_claims(path, claims, extra: dict[str, pa.DataType] | None = None):
    schema = CLAIMS_SCHEMA
    for name, kind in (extra or {}).items():
        schema = schema.append(pa.field(name, kind))
    columns = {field.name: [row.get(field.name) for row in claims] for field in schema}
    pq.write_table(pa.Table.from_pydict(columns, schema=schema), path)
    return path


def term(component, channel, drug_class, *, rate="", fee="", rebate="", basis="per_component", exclusions="",
         start="2025-01-01", end="2025-12-31", client=CLIENT, price_list="LEAF-MAC") -> dict:
    # CSV text as keyed in terms.csv: blank means "guarantees nothing there".
    return {"contract_id": "CLM-1", "client_account_id": client, "component": component, "channel": channel,
            "drug_class": drug_class, "awp_discount_guarantee": rate, "dispensing_fee_guarantee": fee,
            "rebate_per_brand_claim": rebate, "guarantee_basis": basis, "exclusions": exclusions,
            "price_list": price_list, "period_start": start, "period_end": end}


def price(ndc, unit, effective, end="", price_list="LEAF-MAC") -> dict:
    return {"price_list": price_list, "ndc": ndc, "drug_name": "drug", "mac_unit_price": unit,
            "effective_date": effective, "end_date": end}


def invoice(invoice_id, quarter, ndc, amount, client=CLIENT) -> dict:
    return {"invoice_id": invoice_id, "client_account_id": client, "quarter": quarter, "ndc": ndc,
            "drug_name": "drug", "manufacturer": "Maker", "brand_claims": "1", "rebate_amount": amount,
            "invoice_date": "2025-05-01"}


def as_dicts(name, rows):
    from deliverables.calculations.definitions import COLUMNS
    return [dict(zip(COLUMNS[name], row, strict=True)) for row in rows]


def _pg_type(duck: str) -> str:
    if match := re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", duck.replace(" ", "")):
        return f"NUMERIC({match[1]}, {match[2]})"
    return {"VARCHAR": "TEXT", "DATE": "DATE", "TIMESTAMP": "TIMESTAMP", "INTEGER": "INTEGER",
            "BIGINT": "BIGINT"}[duck]


def postgres_results(con) -> dict[str, list[tuple]]:
    """The PostgreSQL form of every definition run on the real PostgreSQL, over copies of the four relations
    registered on the DuckDB connection `con` (tables of the same types, in a schema of this process, dropped
    after). No float on the way: NUMERIC in, Decimal out."""
    from deliverables.calculations import dialects
    from deliverables.calculations.definitions import DEFINITIONS
    schema = f"calc_test_{os.getpid()}"
    results = {}
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as pg:
        try:
            pg.execute(f"CREATE SCHEMA {schema}")
            pg.execute(f"SET search_path TO {schema}")
            for relation in ("claims", "terms", "prices", "invoices"):
                described = con.execute(f"DESCRIBE {relation}").fetchall()
                names = [row[0] for row in described]
                pg.execute(f"CREATE TABLE {relation} ("
                           + ", ".join(f"{row[0]} {_pg_type(row[1])}" for row in described) + ")")
                with pg.cursor() as cursor:
                    cursor.executemany(
                        f"INSERT INTO {relation} ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})",
                        con.execute(f"SELECT * FROM {relation}").fetchall())
            for name, sql in DEFINITIONS.items():
                rows = [tuple(row) for row in pg.execute(dialects.transpile(sql, "postgres")).fetchall()]
                assert not any(isinstance(value, float) for row in rows for value in row), name
                results[name] = rows
        finally:
            pg.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    return results
