"""The reconciliation engine on small tables: every class, keys normalised alike, tolerance boundaries, money
text, refusals, fingerprints, exact types. No database: an in-memory DuckDB."""
from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest

from deliverables.reconciliation.engine import KeySpec, Mapping, MeasureSpec, ReconciliationError, reconcile


def backend(rows: list[tuple]) -> pa.Table:
    """A run's output: client, quarter (DATE), paid (DECIMAL(38, 2))."""
    return pa.table({"client": [r[0] for r in rows], "quarter": pa.array([r[1] for r in rows], pa.date32()),
                     "paid": pa.array([None if r[2] is None else Decimal(r[2]) for r in rows], pa.decimal128(38, 2))})


def golden(rows: list[tuple]) -> pa.Table:
    """A card's golden rows: every column text, as the golden CSV loads."""
    return pa.table({"Client": [r[0] for r in rows], "Quarter": [r[1] for r in rows], "Paid": [r[2] for r in rows]},
                    schema=pa.schema([("Client", pa.string()), ("Quarter", pa.string()), ("Paid", pa.string())]))


def mapping(*, abs_tolerance=None, rel_tolerance=None, casefold=True, name="card-7 v1") -> Mapping:
    return Mapping(name, keys=(KeySpec("client", "client", "Client", "text", casefold),
                               KeySpec("quarter", "quarter", "Quarter", "date")),
                   measures=(MeasureSpec("paid", "paid", "Paid", 2, abs_tolerance, rel_tolerance),))


Q1 = dt.date(2025, 1, 1)


def rows(con, order="client") -> list[dict]:
    cursor = con.execute(f"SELECT * FROM reconciliation ORDER BY {order}")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def classes(con) -> dict[str, str]:
    return {r["client"]: r["class"] for r in rows(con)}


def test_each_class_with_its_difference():
    con = duckdb.connect()
    result = reconcile(con, backend([("A", Q1, "10.00"), ("B", Q1, "20.00"), ("C", Q1, "30.00"), ("D", Q1, "5.00")]),
                       golden([("A", "2025-01-01", "10.00"), ("B", "2025-01-01", "20.01"),
                               ("C", "2025-01-01", "31.00"), ("E", "2025-01-01", "7.00")]),
                       mapping(abs_tolerance=Decimal("0.01")))
    got = {r["client"]: (r["class"], r["difference"]) for r in rows(con)}
    assert got == {"a": ("match", Decimal("0.00")), "b": ("within_tolerance", Decimal("-0.01")),
                   "c": ("variance", Decimal("-1.00")), "d": ("only_backend", None), "e": ("only_domo", None)}
    assert result.summary["total"] == {"match": 1, "within_tolerance": 1, "variance": 1, "only_backend": 1,
                                       "only_domo": 1}
    assert result.summary["measures"]["paid"]["variance"] == 1 and result.rows == 5


def test_keys_differing_by_case_or_whitespace_match_when_casefold_and_not_otherwise():
    con = duckdb.connect()
    b = backend([("Acme Corp", Q1, "1.00"), ("  beta", Q1, "2.00")])
    g = golden([("acme corp ", "2025-01-01", "1.00"), ("BETA", "2025-01-01", "2.00")])
    reconcile(con, b, g, mapping())
    assert classes(con) == {"acme corp": "match", "beta": "match"}
    reconcile(con, b, g, mapping(casefold=False))
    assert classes(con) == {"Acme Corp": "only_backend", "acme corp": "only_domo", "beta": "only_backend",
                            "BETA": "only_domo"}  # trimmed still, but case kept


def test_text_keys_are_trimmed_as_trim_does_whether_ascii_or_not():
    """Only Unicode space separators are trimmed (the ASCII space, no-break and ideographic spaces), not tabs nor a
    zero-width space, whether the text is ASCII (passed as it is when it has no space at either end) or not."""
    con = duckdb.connect()
    texts = ["plain", " lead", "trail ", "\tTab", "tab\t", "\u00a0nbsp", "ideo\u3000", "\u200bzw", " é ", " "]
    b = backend([(t, Q1, "1.00") for t in texts])
    reconcile(con, b, golden([("x", "2025-01-01", "1.00")]), mapping(casefold=False))
    got = {r["client"] for r in rows(con) if r["class"] == "only_backend"} - {None}
    want = {v for t in texts if (v := con.execute("SELECT NULLIF(TRIM(?), '')", [t]).fetchone()[0]) is not None}
    assert got == want and {"\tTab", "tab\t", "nbsp", "ideo", "\u200bzw", "é"} <= got
    assert [r["class"] for r in rows(con) if r["client"] is None] == ["only_backend"]  # ' ' is the NULL key


def test_dates_in_two_formats_and_a_timestamp_match_the_backend_date():
    con = duckdb.connect()
    dates = [dt.date(2025, 1, 1), dt.date(2025, 4, 1), dt.date(2025, 7, 1)]
    reconcile(con, backend([("A", d, "1.00") for d in dates]),
              golden([("A", "01/01/2025", "1.00"), ("A", "2025-04-01", "1.00"), ("A", "2025-07-01 00:00:00", "1.00")]),
              mapping())
    assert [(r["quarter"], r["class"]) for r in rows(con, "quarter")] == [(d, "match") for d in dates]


@pytest.mark.parametrize(("golden_paid", "expected"), [("100.05", "within_tolerance"), ("99.95", "within_tolerance"),
                                                       ("100.06", "variance"), ("99.94", "variance")])
def test_absolute_tolerance_boundary_is_inclusive_and_one_cent_past_is_a_variance(golden_paid, expected):
    con = duckdb.connect()
    reconcile(con, backend([("A", Q1, "100.00")]), golden([("A", "2025-01-01", golden_paid)]),
              mapping(abs_tolerance=Decimal("0.05")))
    assert classes(con) == {"a": expected}


@pytest.mark.parametrize(("backend_paid", "expected"), [("1001.00", "within_tolerance"), ("999.00", "within_tolerance"),
                                                        ("1001.01", "variance"), ("998.99", "variance")])
def test_relative_tolerance_boundary_is_inclusive_and_one_cent_past_is_a_variance(backend_paid, expected):
    con = duckdb.connect()  # 0.1% of the golden 1000.00 is 1.00
    reconcile(con, backend([("A", Q1, backend_paid)]), golden([("A", "2025-01-01", "1000.00")]),
              mapping(rel_tolerance=Decimal("0.001")))
    assert classes(con) == {"a": expected}


def test_money_text_with_dollar_commas_spaces_and_parentheses_is_parsed_exactly():
    con = duckdb.connect()
    reconcile(con, backend([("A", Q1, "1234.50"), ("B", Q1, "-12.00"), ("C", Q1, "-1000.10")]),
              golden([("A", "2025-01-01", "$1,234.50"), ("B", "2025-01-01", "(12.00)"),
                      ("C", "2025-01-01", " ($1,000.10) ")]), mapping())
    got = rows(con)
    assert [r["class"] for r in got] == ["match", "match", "match"]
    assert [r["golden_value"] for r in got] == [Decimal("1234.50"), Decimal("-12.00"), Decimal("-1000.10")]


def test_duplicate_keys_are_refused_naming_the_key_and_the_count():
    con = duckdb.connect()
    with pytest.raises(ReconciliationError, match=r"golden: duplicate key \(client=a, quarter=2025-01-01\) "
                                                  r"appears 2 times"):
        reconcile(con, backend([("A", Q1, "1.00")]),
                  golden([("A", "2025-01-01", "1.00"), (" a", "01/01/2025", "2.00")]), mapping())


def test_an_unparseable_measure_value_is_refused_naming_side_column_and_value():
    con = duckdb.connect()
    with pytest.raises(ReconciliationError, match=r"golden: measure 'paid' \(column \"Paid\"\): 2 value\(s\).*"
                                                  r"first '12\.0O'"):
        reconcile(con, backend([("A", Q1, "1.00"), ("B", Q1, "1.00")]),
                  golden([("A", "2025-01-01", "12.0O"), ("B", "2025-01-01", "n/a")]), mapping())


def test_an_unparseable_date_key_is_refused_naming_the_column():
    con = duckdb.connect()
    with pytest.raises(ReconciliationError, match=r"golden: key 'quarter' \(column \"Quarter\"\): 1 value\(s\) "
                                                  r"that cannot be parsed as a date, first 'Q1 2025'"):
        reconcile(con, backend([("A", Q1, "1.00")]), golden([("A", "Q1 2025", "1.00")]), mapping())


def test_a_missing_column_is_refused_naming_it():
    con = duckdb.connect()
    g = golden([("A", "2025-01-01", "1.00")]).rename_columns(["Client", "Quarter", "Amount"])
    with pytest.raises(ReconciliationError, match="golden: no column 'Paid'"):
        reconcile(con, backend([("A", Q1, "1.00")]), g, mapping())


def test_fingerprints_are_stable_across_calls_and_change_when_one_value_changes():
    con = duckdb.connect()
    b = [("A", Q1, "10.00"), ("B", Q1, "20.00")]
    g = [("A", "2025-01-01", "10.50"), ("B", "2025-01-01", "$20.00")]
    reconcile(con, backend(b), golden(g), mapping())
    first = {r["client"]: r["fingerprint"] for r in rows(con)}
    reconcile(con, backend(b), golden([("A", "01/01/2025", "10.50"), ("B", "2025-01-01", "20.00")]), mapping())
    assert {r["client"]: r["fingerprint"] for r in rows(con)} == first  # same values, other spellings
    reconcile(con, backend(b), golden([("A", "2025-01-01", "10.51"), ("B", "2025-01-01", "20.00")]), mapping())
    again = {r["client"]: r["fingerprint"] for r in rows(con)}
    assert again["b"] == first["b"] and again["a"] != first["a"]
    assert all(len(f) == 64 for f in first.values())
    reconcile(con, backend(b), golden(g), mapping(name="card-7 v2"))
    assert not set(first.values()) & {r["fingerprint"] for r in rows(con)}  # the mapping is part of it


def test_a_null_value_against_a_value_is_a_variance_and_two_nulls_match():
    con = duckdb.connect()
    reconcile(con, backend([("A", Q1, None), ("B", Q1, None)]), golden([("A", "2025-01-01", "1.00"),
                                                                        ("B", "2025-01-01", "")]), mapping())
    assert classes(con) == {"a": "variance", "b": "match"}


def test_nothing_is_float_and_the_rows_are_ordered_by_keys_and_measure():
    con = duckdb.connect()
    con.execute("CREATE TABLE run_out AS SELECT * FROM (VALUES ('B', DATE '2025-01-01', 2.50::DECIMAL(18, 2), 7), "
                "('A', DATE '2025-04-01', 1.25::DECIMAL(18, 2), 3)) t(client, quarter, paid, claims)")
    con.execute("CREATE TABLE card AS SELECT * FROM (VALUES ('a', '04/01/2025', '1.25', '3'), "
                "('b', '2025-01-01', '2.4', '7')) t(Client, Quarter, Paid, Claims)")
    m = Mapping("card-9", keys=(KeySpec("client", "client", "Client", "text", True),
                                KeySpec("quarter", "quarter", "Quarter", "date")),
                measures=(MeasureSpec("paid", "paid", "Paid", 2, None, Decimal("0.05")),
                          MeasureSpec("claims", "claims", "Claims", 0, Decimal(0), None)))
    result = reconcile(con, "run_out", "card", m)
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'reconciliation'").fetchall())
    assert types == {"client": "VARCHAR", "quarter": "DATE", "measure": "VARCHAR", "backend_value": "DECIMAL(38,2)",
                     "golden_value": "DECIMAL(38,2)", "difference": "DECIMAL(38,2)", "class": "VARCHAR",
                     "fingerprint": "VARCHAR"}
    got = con.execute("SELECT client, measure, class, difference FROM reconciliation").fetchall()
    assert got == [("a", "claims", "match", Decimal(0)), ("a", "paid", "match", Decimal(0)),
                   ("b", "claims", "match", Decimal(0)), ("b", "paid", "within_tolerance", Decimal("0.10"))]
    assert result.summary["measures"]["claims"]["match"] == 2


def test_a_float_measure_is_refused():
    con = duckdb.connect()
    b = pa.table({"client": ["A"], "quarter": pa.array([Q1], pa.date32()), "paid": [1.0]})
    with pytest.raises(ReconciliationError, match=r"backend: measure 'paid' .* DOUBLE"):
        reconcile(con, b, golden([("A", "2025-01-01", "1.00")]), mapping())


@pytest.mark.parametrize("materialise", [False, True])
@pytest.mark.parametrize("keep_order", [True, False])
def test_many_shuffled_keys_come_out_ordered_by_keys_and_measure(keep_order, materialise):
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute(f"SET preserve_insertion_order = {str(keep_order).lower()}")
    con.execute("CREATE TABLE run_out AS SELECT 'C' || (i % 997) AS client, DATE '2025-01-01' + (i // 997)::INTEGER "
                "AS quarter, (i % 5000)::DECIMAL(18, 2) AS paid, i::DECIMAL(18, 2) AS fee FROM range(60000) r(i) "
                "ORDER BY hash(i)")
    con.execute("CREATE TABLE card AS SELECT lower(client) AS Client, strftime(quarter, '%m/%d/%Y') AS Quarter, "
                "paid::VARCHAR AS Paid, fee::VARCHAR AS Fee FROM run_out ORDER BY hash(paid, fee)")
    m = Mapping("card-3", keys=(KeySpec("client", "client", "Client", "text", True),
                                KeySpec("quarter", "quarter", "Quarter", "date")),
                measures=(MeasureSpec("paid", "paid", "Paid", 2), MeasureSpec("fee", "fee", "Fee", 2)))
    result = reconcile(con, "run_out", "card", m, materialise=materialise)
    assert result.summary["total"]["match"] == 120000
    got = con.execute("SELECT client, quarter, measure FROM reconciliation").fetchall()
    assert got == sorted(got) and got[:2] == [("c0", Q1, "fee"), ("c0", Q1, "paid")]
    setting = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    assert setting is keep_order  # the connection's own setting, put back


def test_the_fingerprint_is_sha256_of_mapping_keys_measure_and_both_values_with_null_as_tilde():
    con = duckdb.connect()
    reconcile(con, backend([("A", Q1, "10.00"), ("B", Q1, "1.00")]),
              golden([("A", "2025-01-01", "$10.50"), ("C", "01/01/2025", "2.5")]), mapping())
    got = {r["client"]: r["fingerprint"] for r in rows(con)}
    expected = {"a": "card-7 v1|a|2025-01-01|paid|10.00|10.50", "b": "card-7 v1|b|2025-01-01|paid|1.00|~",
                "c": "card-7 v1|c|2025-01-01|paid|~|2.50"}
    assert got == {k: hashlib.sha256(v.encode()).hexdigest() for k, v in expected.items()}


def test_values_too_large_for_18_digits_are_compared_exactly_typed_or_text():
    con = duckdb.connect()
    big = "12345678901234567890.12"
    reconcile(con, backend([("A", Q1, big), ("B", Q1, "1.00")]),
              golden([("A", "2025-01-01", "$12,345,678,901,234,567,890.13"), ("B", "2025-01-01", "1.00")]),
              mapping(abs_tolerance=Decimal("0.01")))
    got = {r["client"]: (r["class"], r["backend_value"], r["difference"], r["fingerprint"]) for r in rows(con)}
    text = f"card-7 v1|a|2025-01-01|paid|{big}|12345678901234567890.13"
    assert got["a"] == ("within_tolerance", Decimal(big), Decimal("-0.01"), hashlib.sha256(text.encode()).hexdigest())
    assert got["b"][0] == "match"
    reconcile(con, backend([("A", Q1, "1.00")]), golden([("A", "2025-01-01", "99999999999999999999.99")]), mapping())
    assert [(r["class"], r["difference"]) for r in rows(con)] == [("variance", Decimal("-99999999999999999998.99"))]


def test_a_key_duplicated_on_the_backend_and_missing_from_the_golden_rows_is_refused():
    con = duckdb.connect()
    with pytest.raises(ReconciliationError, match=r"backend: duplicate key \(client=z, quarter=2025-01-01\) "
                                                  r"appears 3 times \(1 duplicated key\(s\) in all\)"):
        reconcile(con, backend([("A", Q1, "1.00"), ("Z", Q1, "1.00"), ("z ", Q1, "2.00"), ("Z", Q1, "3.00")]),
                  golden([("A", "2025-01-01", "1.00")]), mapping())


def test_an_unparseable_backend_value_is_named_before_a_golden_duplicate():
    con = duckdb.connect()
    b = pa.table({"client": ["A"], "quarter": ["2025-01-01"], "paid": ["1.0x"]})
    with pytest.raises(ReconciliationError, match=r"backend: measure 'paid' .* first '1\.0x'"):
        reconcile(con, b, golden([("A", "2025-01-01", "1.00"), ("a", "2025-01-01", "1.00")]), mapping())


def test_the_rows_are_a_view_over_one_row_per_key_and_materialise_gives_the_same_rows_as_a_table():
    con = duckdb.connect()
    b = backend([("A", Q1, "10.00"), ("B", Q1, "20.00"), ("D", Q1, "5.00")])
    g = golden([("A", "2025-01-01", "10.00"), ("B", "2025-01-01", "20.01"), ("E", "2025-01-01", "7.00")])
    result = reconcile(con, b, g, mapping())
    assert result.by_key == "reconciliation__by_key"
    assert con.execute(f"SELECT COUNT(*) FROM {result.by_key}").fetchall() == [(4,)]  # a, b, d, e
    lazy = con.execute("SELECT * FROM reconciliation").fetchall()
    again = reconcile(con, b, g, mapping(), materialise=True)
    assert again.by_key is None and again.summary == result.summary and again.rows == result.rows == 4
    kinds = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall())
    assert kinds["reconciliation"] == "BASE TABLE"
    assert con.execute("SELECT * FROM reconciliation").fetchall() == lazy
    reconcile(con, b, g, mapping())  # and back to the view over its table
    assert con.execute("SELECT * FROM reconciliation").fetchall() == lazy


def test_a_failed_reconciliation_leaves_no_table_of_its_own_behind():
    con = duckdb.connect()
    with pytest.raises(ReconciliationError):
        reconcile(con, backend([("A", Q1, "1.00")]), golden([("A", "2025-01-01", "n/a")]), mapping())
    assert con.execute("SELECT table_name FROM information_schema.tables").fetchall() == []


def test_each_fingerprint_writes_values_at_their_own_measure_scale_when_scales_differ():
    con = duckdb.connect()
    con.execute("CREATE TABLE run_out AS SELECT 'A' AS client, DATE '2025-04-01' AS quarter, 1.25::DECIMAL(18, 2) AS paid, "
                "3 AS claims")
    con.execute("CREATE TABLE card AS SELECT 'a' AS Client, '04/01/2025' AS Quarter, '1.25' AS Paid, '4' AS Claims")
    m = Mapping("card-9", keys=(KeySpec("client", "client", "Client", "text", True),
                                KeySpec("quarter", "quarter", "Quarter", "date")),
                measures=(MeasureSpec("paid", "paid", "Paid", 2), MeasureSpec("claims", "claims", "Claims", 0)))
    reconcile(con, "run_out", "card", m)
    got = dict(con.execute("SELECT measure, fingerprint FROM reconciliation").fetchall())
    expected = {"claims": "card-9|a|2025-04-01|claims|3|4", "paid": "card-9|a|2025-04-01|paid|1.25|1.25"}
    assert got == {k: hashlib.sha256(v.encode()).hexdigest() for k, v in expected.items()}


@pytest.mark.parametrize("materialise", [False, True])
def test_unordered_rows_are_the_same_rows(materialise):
    con = duckdb.connect()
    b = backend([("B", Q1, "20.00"), ("A", Q1, "10.00"), ("D", Q1, "5.00")])
    g = golden([("E", "2025-01-01", "7.00"), ("A", "2025-01-01", "10.00"), ("B", "2025-01-01", "20.01")])
    reconcile(con, b, g, mapping())
    ordered = con.execute("SELECT * FROM reconciliation").fetchall()
    result = reconcile(con, b, g, mapping(), materialise=materialise, ordered=False)
    assert sorted(con.execute("SELECT * FROM reconciliation").fetchall()) == ordered and result.rows == 4
