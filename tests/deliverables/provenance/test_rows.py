"""The provenance service over a run of the sample: the rows a number adds up, paged, checksummed, re-derived."""
from __future__ import annotations

import hashlib

import duckdb
import pytest
from django.db import connections

from deliverables.models import RunNumber
from deliverables.provenance import rows
from tests.deliverables.provenance.conftest import CURATED_DB, run_over_sample


def shortfall_line(run) -> RunNumber:
    return (RunNumber.objects.filter(run=run, kind="awp_guarantee", decision="authorized", relation="ct",
                                     amount__gt=0).order_by("position").first()
            or RunNumber.objects.filter(run=run, kind="awp_guarantee", decision="authorized", relation="ct")
            .order_by("position").first())


def all_rows(run, number, limit=7) -> list[dict]:
    found, after = [], None
    while True:
        page = rows.contributing_rows(run, number, after=after, limit=limit)
        found += page.rows
        assert len(page.rows) <= limit
        if page.next_after is None:
            return found
        after = page.next_after


def test_the_python_checksum_is_the_sql_checksum_of_one_row():
    con = duckdb.connect()
    sql = con.execute("SELECT MD5(STRING_AGG(CAST(_row AS VARCHAR), ',' ORDER BY _row)) FROM (SELECT 417 AS _row)")
    assert sql.fetchone()[0] == rows.checksum_of([417]) == hashlib.md5(b"417").hexdigest()
    many = con.execute("SELECT MD5(STRING_AGG(CAST(_row AS VARCHAR), ',' ORDER BY _row)) "
                       "FROM (SELECT unnest([12, 3, 100]) AS _row)").fetchone()[0]
    assert many == rows.checksum_of([100, 3, 12])


@CURATED_DB
@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_a_shortfall_lines_rows_are_its_row_count_and_checksum_page_by_page(contract_sample, olivia, settings,
                                                                              var_dir, engine):
    if engine == "postgres" and connections["curated"].vendor != "postgresql":
        pytest.skip("the curated store is not PostgreSQL")
    run = run_over_sample(olivia, engine, settings)
    number = shortfall_line(run)
    assert number is not None and number.row_count > 7
    found = all_rows(run, number)
    assert len(found) == number.row_count
    numbers = [r["_row"] for r in found]
    assert numbers == sorted(set(numbers))
    assert rows.checksum_of(numbers) == number.rows_checksum
    assert "Claim ID" in found[0] and found[0]["Client Account ID"] == number.client_account_id
    result = rows.rederive(run, number)
    assert result["matches"], result
    assert result["derived"] == {"rows": number.row_count, "checksum": number.rows_checksum}


@CURATED_DB
def test_rederive_names_the_difference_after_the_stored_row_count_is_tampered(sample_run):
    number = shortfall_line(sample_run)
    RunNumber.objects.filter(pk=number.pk).update(row_count=number.row_count + 1)
    tampered = rows.number_of(sample_run, number.key)
    result = rows.rederive(sample_run, tampered)
    assert not result["matches"]
    assert result["difference"] == (f"the run stored {number.row_count + 1} rows, the dataset version gives "
                                    f"{number.row_count}")
    assert "the silver Parquet still hashes to what intake recorded" in result["notes"]


@CURATED_DB
def test_the_csv_has_a_line_a_row_and_the_domo_header(sample_run):
    import csv

    number = shortfall_line(sample_run)
    lines = list(csv.reader("".join(rows.rows_csv(sample_run, number)).splitlines()))
    assert lines[0][-1] == "_row" and "Claim ID" in lines[0]
    assert len(lines) - 1 == number.row_count


@pytest.mark.catalogue(36)
def test_csv_cells_that_look_like_formulas_are_defused():
    from console.csvcells import safe_cell

    assert [safe_cell(v) for v in ("=SUM(A1)", "+1", "-2", "@x", "\tx", "\rx", "\x00=1", "ok", None, 5)] == [
        "'=SUM(A1)", "'+1", "'-2", "'@x", "'\tx", "'\rx", "'\x00=1", "ok", "", "5"]


@CURATED_DB
def test_a_finding_is_one_claim_row(sample_run):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from console.lake import get_lake

    findings = pq.read_table(pa.BufferReader(get_lake().read(sample_run.findings_path))).to_pylist()
    first = findings[0]
    number = rows.number_of(sample_run, f"finding:{first['kind']}:{first['claim_id']}")
    assert number.row_count == 1 and number.predicate == f"_row = {first['claim_row']}"
    assert number.rows_checksum == hashlib.md5(str(first["claim_row"]).encode()).hexdigest()
    page = rows.contributing_rows(sample_run, number)
    assert [r["_row"] for r in page.rows] == [first["claim_row"]]
    assert page.rows[0]["Claim ID"] == first["claim_id"]
    assert rows.rederive(sample_run, number)["matches"]


@CURATED_DB
def test_a_findings_total_adds_up_its_findings_claim_rows(sample_run):
    number = RunNumber.objects.filter(run=sample_run, relation="findings").order_by("position").first()
    found = all_rows(sample_run, number, limit=50)
    assert len(found) == number.row_count
    assert rows.checksum_of(r["_row"] for r in found) == number.rows_checksum
    assert rows.rederive(sample_run, number)["matches"]


@CURATED_DB
def test_a_savings_summary_lists_the_numbers_it_adds_up(sample_run):
    number = RunNumber.objects.filter(run=sample_run, kind="savings", decision="authorized").first()
    found = all_rows(sample_run, number, limit=3)
    assert sorted(r["key"] for r in found) == sorted(number.evidence["numbers"])
    assert rows.rederive(sample_run, number)["matches"]


@CURATED_DB
def test_an_unknown_key_is_no_number(sample_run):
    assert rows.number_of(sample_run, "awp:nobody:retail-brand:2025-01-01") is None
    assert rows.number_of(sample_run, "finding:mac:NO-SUCH-CLAIM") is None


@CURATED_DB
def test_the_prepared_rows_are_cached_under_var_dir_and_safe_to_delete(sample_run, var_dir):
    number = shortfall_line(sample_run)
    first = rows.contributing_rows(sample_run, number, limit=3)
    cached = list((var_dir / "provenance" / sample_run.inputs_sha256).glob("*.parquet"))
    assert len(cached) == 1
    inode = cached[0].stat().st_ino
    assert rows.contributing_rows(sample_run, number, after=first.next_after, limit=3).rows
    assert cached[0].stat().st_ino == inode  # the next page read the cache, it did not rebuild it (a new file)
    cached[0].unlink()
    assert rows.contributing_rows(sample_run, number, limit=3).rows == first.rows
