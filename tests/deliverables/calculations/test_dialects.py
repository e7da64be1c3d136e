"""Each definition in PostgreSQL and T-SQL: transpiled and parsed back; the PostgreSQL form run on the real
PostgreSQL over the same inputs as DuckDB, with identical results to the cent."""
from __future__ import annotations

import random
from decimal import Decimal

import pytest
import sqlglot

from deliverables.calculations import dialects, engine
from deliverables.calculations.definitions import DEFINITIONS
from tests.deliverables.calculations.builders import (
    BRAND_NDC,
    BRAND_NDC_2,
    CLIENT,
    GENERIC_NDC,
    OTHER,
    claim,
    invoice,
    postgres_results,
    price,
    term,
    write_claims,
)


@pytest.mark.parametrize("dialect", dialects.DIALECTS)
@pytest.mark.parametrize("name", sorted(DEFINITIONS))
def test_each_definition_transpiles_and_parses_back(name, dialect):
    out = dialects.transpile(DEFINITIONS[name], dialect)
    tree = sqlglot.parse_one(out, read=dialect)
    assert tree.find(sqlglot.exp.With) is not None
    assert "INT128" not in out.upper() and "HUGEINT" not in out.upper() and "DOUBLE" not in out.upper()


def test_an_unknown_dialect_is_refused():
    with pytest.raises(ValueError, match="'mysql'"):
        dialects.transpile("SELECT 1", "mysql")


def _inputs():
    """Every case of the arithmetic tests at once, plus 300 seeded claims over two clients."""
    rng = random.Random(12)
    terms = [
        term("Retail Brand", "retail", "brand", rate="0.1750", fee="1.2500", rebate="200.00",
             exclusions="zero_balance;no_awp"),
        term("Retail Generic", "retail", "generic", rate="0.7800", fee="0.9000", end="2025-06-30",
             exclusions="zero_balance;no_awp"),
        term("Retail Generic", "retail", "generic", rate="0.8000", fee="0.8500", start="2025-07-01",
             exclusions="zero_balance;no_awp"),
        term("Mail Generic", "mail", "generic", rate="0.8200", exclusions="zero_balance;no_awp"),
        term("Retail Brand", "retail", "brand", rate="0.1800", rebate="150.00", basis="combined",
             exclusions="specialty_carve_out", client=OTHER),
        term("Retail Generic", "retail", "generic", rate="0.7500", fee="1.0000", basis="combined",
             exclusions="specialty_carve_out", client=OTHER),
        term("Specialty Brand", "specialty", "brand", rate="0.1500", basis="combined",
             exclusions="specialty_carve_out", client=OTHER),
    ]
    prices = [price(GENERIC_NDC, "0.310000", "2025-01-01", "2025-05-14"), price(GENERIC_NDC, "0.255000", "2025-05-15")]
    invoices = [invoice("INV-1", "2025Q1", BRAND_NDC, "4200.00"), invoice("INV-2", "2025Q2", BRAND_NDC, "3000.00"),
                invoice("INV-3", "2025Q3", BRAND_NDC_2, "1000.00"),
                invoice("INV-4", "2025Q1", BRAND_NDC, "900.00", client=OTHER)]
    claims = []
    for number in range(300):
        client = rng.choice((CLIENT, OTHER))
        channel = rng.choice(("retail", "retail", "mail", "specialty"))
        brand = rng.random() < 0.3
        ndc = rng.choice((BRAND_NDC, BRAND_NDC_2)) if brand else GENERIC_NDC
        qty = rng.choice(("30", "90", "12.5", "1"))
        awp_unit = None if rng.random() < 0.05 else f"{rng.randrange(10, 200000) / 1000:.3f}"
        base = Decimal(awp_unit or "1") * Decimal(qty)
        icp = (base * Decimal(rng.randrange(10, 95)) / 100).quantize(Decimal("0.01"))
        fee = rng.choice(("0.85", "0.90", "1.25", "2.00"))
        zero = rng.random() < 0.05
        fill = f"2025-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        claims.append(claim(claim_id=f"RX{number:06d}", client=client, member=f"M{rng.randrange(40):07d}",
                            npi=f"10000000{rng.randrange(3):02d}", channel=channel, ndc=ndc,
                            drug_class="Brand" if brand else "Generic", fill=fill, qty=qty, awp_unit=awp_unit,
                            icp=str(icp), fee=fee, plan_paid="0" if zero else None))
    claims.append(dict(claims[7], **{"Claim ID": "RX-DUP"}))  # a duplicate
    claims.append(dict(claims[8], **{"Claim Status": "REVERSED"}))  # a reversal at the same moment
    return claims, terms, prices, invoices


@pytest.mark.postgres_only
def test_postgres_gives_duckdbs_results_to_the_cent(tmp_path):
    claims, terms, prices, invoices = _inputs()
    con = engine.connect(memory_limit="256MB", threads=1)
    try:
        expected = engine.run(con, write_claims(tmp_path / "claims.parquet", claims), terms, prices, invoices)
        assert all(expected[name] for name in DEFINITIONS)  # every calculation has rows to compare
        assert postgres_results(con) == expected
    finally:
        con.close()
