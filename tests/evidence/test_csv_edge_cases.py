"""Hostile CSVs in a Leaf IQ export, received for real (ingest_export: validation, the receipt in the database,
silver in the lake): each is refused with a specific issue naming file, dataset, row and column, or kept under a
documented normalisation (evidence/intake/validation/csvcheck.py). The receipt is written to the database, so
the PostgreSQL and the SQLite passes of CI both run these and must agree.
"""
from __future__ import annotations

import pytest

from tests.evidence import exports
from tests.evidence.test_csv_field_limit import claims_with, receive, silver_members

pytestmark = [pytest.mark.catalogue(41, 50)]

HEADER = [name for name, _ in exports.CLAIMS_COLUMNS]
CLAIMS = f"dataset {exports.CLAIMS}"


def rows() -> list[list[str]]:
    return [list(row) for row in exports.CLAIMS_ROWS]


def refused(result: dict, code: str) -> dict:
    assert result["status"] == "invalid" and result["silver"] is None, result
    found = [i for i in result["issues"] if i["code"] == code]
    assert len(found) == 1, result["issues"]
    assert found[0]["file"] == exports.CLAIMS_CSV and found[0]["object"] == CLAIMS
    return found[0]


def test_a_bom_is_dropped_and_reported_as_information(db, tmp_path):
    raw = b"\xef\xbb\xbf" + exports.csv_bytes(HEADER, rows())
    result = receive(claims_with(tmp_path, raw=raw))
    assert result["status"] == "complete"
    assert [(i["code"], i["severity"], i["file"]) for i in result["issues"]] == [("CSV_BOM", "info", exports.CLAIMS_CSV)]
    assert silver_members() == [row[1] for row in exports.CLAIMS_ROWS]  # no U+FEFF left on anything


def test_a_windows_1252_byte_is_an_encoding_error_at_its_row_and_column(db, tmp_path):
    raw = exports.csv_bytes(HEADER, rows()).replace(b"M-002", "M\u2013002".encode("cp1252"))
    issue = refused(receive(claims_with(tmp_path, raw=raw)), "CSV_ENCODING")
    assert (issue["row"], issue["column"]) == (2, "member")
    assert "0x96" in issue["message"] and "Windows-1252" in issue["message"]


@pytest.mark.parametrize(("change", "fields"), [(lambda row: row.pop(), "5 fields"),
                                                 (lambda row: row.append("extra"), "7 fields")], ids=["short", "long"])
def test_a_ragged_row_is_refused_with_its_record_number(db, tmp_path, change, fields):
    data = rows()
    change(data[1])
    issue = refused(receive(claims_with(tmp_path, raw=exports.csv_bytes(HEADER, data))), "CSV_RAGGED_ROW")
    assert issue["row"] == 2 and issue["message"] == f"row has {fields}, the header 6"


def test_a_header_naming_a_column_twice_is_refused_naming_it(db, tmp_path):
    header = list(HEADER)
    header[2] = "member"
    issue = refused(receive(claims_with(tmp_path, raw=exports.csv_bytes(header, rows()))), "CSV_HEADER_MISMATCH")
    assert (issue["field"], issue["column"]) == ("header", "member")
    assert issue["message"] == "header names 'member' twice (columns 2 and 3)"


def test_a_nul_byte_is_refused_at_its_row_and_column(db, tmp_path):
    issue = refused(receive(claims_with(tmp_path, "M-001", "M-0\x0002")), "CSV_NUL_BYTE")
    assert (issue["row"], issue["column"]) == (2, "member")
    assert "NUL byte (0x00) at character 4" in issue["message"]


def test_crlf_inside_quotes_is_kept_exactly(db, tmp_path):
    values = ["line one\r\nline two", "\r\n", 'quoted "CRLF"\r\n, and a comma']
    result = receive(claims_with(tmp_path, *values))
    assert result["status"] == "complete", result["issues"]
    assert silver_members() == values


@pytest.mark.parametrize("size", [200_000, 2 * 1024 * 1024], ids=["200k-characters", "2-MiB"])
def test_a_long_field_under_the_limit_is_kept_whole(db, tmp_path, size):
    value = ("Long note, \"quoted\", é; " * (size // 20))[:size]
    result = receive(claims_with(tmp_path, "M-001", value))
    assert result["status"] == "complete", result["issues"]
    assert silver_members()[1] == value


def test_a_long_field_over_the_limit_is_refused_at_its_row_and_column(db, tmp_path, settings):
    settings.INTAKE_MAX_FIELD_BYTES = 1024 * 1024
    issue = refused(receive(claims_with(tmp_path, "M-001", "M-002", "x" * (2 * 1024 * 1024))), "CSV_FIELD_TOO_LARGE")
    assert (issue["row"], issue["column"]) == (3, "member")
    assert "2,097,152 bytes" in issue["message"]
