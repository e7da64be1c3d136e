"""The whole calculation set over the sample export's claims (as the silver stage types them) and the sample
evidence records: DuckDB and PostgreSQL agree to the cent, and the planted cases are found."""
from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from deliverables.calculations import engine
from deliverables.calculations.definitions import COLUMNS
from evidence.intake.silver import Column, csv_to_parquet
from evidence.samples.evidence_records import build_sample_book
from evidence.samples.export import DEFAULT_EXPORTED_AT, write_sample_export
from evidence.samples.world import _SCHEMAS, CLAIMS
from tests.deliverables.calculations.builders import postgres_results

ROWS = 3000
_COLUMNS = {kind: [name for name in engine.SCHEMAS[relation].names if name not in engine.OPTIONAL[relation]]
            for kind, relation in (("contract", "terms"), ("pricing", "prices"), ("rebate", "invoices"))}


def _claims_parquet(tmp_path: Path) -> Path:
    export = write_sample_export(tmp_path / "export", rows=ROWS)
    for data in sorted(Path(export.path).rglob("data.csv")):
        with data.open(encoding="utf-8-sig", newline="") as handle:
            if next(csv.reader(handle))[0] == "Claim ID":
                out = tmp_path / "claims.parquet"
                csv_to_parquet(data, [Column(name, kind) for name, kind in _SCHEMAS[CLAIMS]], out)
                return out
    raise AssertionError("no claims data.csv in the sample export")


def _evidence():
    """The sample packets' records by relation; a superseded contract's rows end the day before the amendment
    starts (what the authority module's supersession will hand over)."""
    book = build_sample_book(seed=7, rows=ROWS, exported_at=DEFAULT_EXPORTED_AT)
    amendment = next(p for p in book.packets if p.packet_id == book.amendment_packet_id)
    amended_from = dt.date.fromisoformat(amendment.fields["period"]["start"])
    records = {"contract": [], "pricing": [], "rebate": []}
    for packet in book.packets:
        if packet.kind not in records:
            continue
        for row in packet.rows:
            record = dict(zip(_COLUMNS[packet.kind], row, strict=True))
            if packet.packet_id == book.contract_packet_id:
                record["period_end"] = (amended_from - dt.timedelta(days=1)).isoformat()
            records[packet.kind].append(record)
    return records["contract"], records["pricing"], records["rebate"]


@pytest.mark.postgres_only
def test_the_sample_gives_the_same_numbers_on_duckdb_and_postgresql(tmp_path):
    terms, prices, invoices = _evidence()
    con = engine.connect(memory_limit="256MB", threads=1)
    try:
        duck = engine.run(con, _claims_parquet(tmp_path), terms, prices, invoices)
        kinds = {row[COLUMNS["pricing_findings"].index("kind")] for row in duck["pricing_findings"]}
        assert {"mac", "dispensing_fee", "duplicate"} <= kinds  # planted in the sample
        levels = {row[3] for row in duck["awp_discount_guarantee"]}
        assert levels == {"component", "combined"}
        assert len(duck["rebate_guarantee"]) >= 12
        assert not any(isinstance(value, float) for rows in duck.values() for row in rows for value in row)
        assert postgres_results(con) == duck
    finally:
        con.close()


def test_the_same_inputs_give_the_same_rows_in_the_same_order(tmp_path):
    terms, prices, invoices = _evidence()
    claims = _claims_parquet(tmp_path)
    results = []
    for threads in (1, 4):
        con = engine.connect(memory_limit="256MB", threads=threads)
        results.append(engine.run(con, claims, terms, prices, invoices))
        con.close()
    assert results[0] == results[1]
