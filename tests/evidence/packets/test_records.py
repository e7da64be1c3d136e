"""The records file: ENCODING_INVALID, HEADER_MISMATCH, ROW_COUNT_MISMATCH, VALUE_INVALID, OUT_OF_PERIOD,
CLIENT_UNLISTED and DUPLICATE_KEY, each at its row and column."""
from __future__ import annotations

import pytest

from evidence.packets.model import COLUMNS, CONTRACT, PRICING, REBATE, SALESFORCE
from evidence.packets.validation import (
    ACCEPTED,
    CLIENT_UNLISTED,
    DUPLICATE_KEY,
    ENCODING_INVALID,
    HEADER_MISMATCH,
    MAX_LISTED,
    OUT_OF_PERIOD,
    REFUSED,
    ROW_COUNT_MISMATCH,
    VALUE_INVALID,
    validate_packet,
)
from tests.evidence.packets.builders import BLUEWATER, PACKETS, contract_packet, csv_bytes, rebate_packet


def _validate(packet, tmp_path):
    return validate_packet(packet.write(tmp_path / "packet"))


def _only(report, code):
    assert report.status == REFUSED
    assert report.codes() == {code}, [(i.code, i.row, i.column, i.message) for i in report.issues]
    assert report.records is None
    return report.issues


def _set(packet, row: int, column: str, value: str):
    packet.rows[row - 1][COLUMNS[packet.kind].index(column)] = value
    return packet


def test_records_not_utf8_are_refused_at_the_row_and_column(tmp_path):
    packet = rebate_packet()
    content = csv_bytes(COLUMNS[REBATE], packet.rows).replace(b"Northfield Pharma", b"Northfield Pharma\xae", 1)
    packet.records_bytes = content

    issues = _only(_validate(packet, tmp_path), ENCODING_INVALID)

    assert [(i.file, i.row, i.column) for i in issues] == [("invoices.csv", 1, "manufacturer")]
    assert "0xAE is not UTF-8" in issues[0].message


@pytest.mark.parametrize("header, words", [
    (["contract_id", "component", "client_account_id", *COLUMNS[CONTRACT][3:]], "header column 2 is 'component'"),
    (list(COLUMNS[CONTRACT][:-1]), "missing period_end"),
    ([*COLUMNS[CONTRACT], "notes"], "unexpected 'notes'"),
    ([c.upper() for c in COLUMNS[CONTRACT]], "missing contract_id"),
])
def test_header_other_than_the_kinds_columns_in_order_is_refused(tmp_path, header, words):
    packet = contract_packet()
    packet.header = tuple(header)
    packet.rows = [row[:len(header)] + [""] * (len(header) - len(row)) for row in packet.rows]

    issues = _only(_validate(packet, tmp_path), HEADER_MISMATCH)

    assert (issues[0].file, issues[0].field) == ("terms.csv", "header")
    assert words in issues[0].message and "contract_id, client_account_id, component" in issues[0].message


def test_empty_records_file_has_no_header(tmp_path):
    packet = contract_packet()
    packet.records_bytes = b""

    issues = _only(_validate(packet, tmp_path), HEADER_MISMATCH)

    assert "no header row" in issues[0].message


def test_other_row_count_than_listed_is_refused(tmp_path):
    packet = contract_packet()
    packet.fields["records"] = {**packet.records_entry(), "rows": 7}

    issues = _only(_validate(packet, tmp_path), ROW_COUNT_MISMATCH)

    assert (issues[0].file, issues[0].field) == ("terms.csv", "records.rows")
    assert "holds 6 rows" in issues[0].message and "says 7" in issues[0].message


@pytest.mark.parametrize("kind, column, value, words", [
    (CONTRACT, "awp_discount_guarantee", "17.5", "is over 1"),
    (CONTRACT, "awp_discount_guarantee", "0.175e0", "without an exponent"),
    (CONTRACT, "awp_discount_guarantee", "17.5%", "is not a fraction"),
    (CONTRACT, "dispensing_fee_guarantee", "$1.25", "no currency signs"),
    (CONTRACT, "rebate_per_brand_claim", "1,850.00", "no thousands separators"),
    (CONTRACT, "rebate_per_brand_claim", "-200.00", "an amount of 0 or more"),
    (CONTRACT, "rebate_per_brand_claim", ".5", "is not an amount"),
    (CONTRACT, "channel", "Retail", "is not one of retail, mail, specialty"),
    (CONTRACT, "drug_class", "specialty", "is not one of brand, generic"),
    (CONTRACT, "guarantee_basis", "per-component", "is not one of combined, per_component"),
    (CONTRACT, "exclusions", "zero_balance;compounds", "'compounds' is not an exclusion"),
    (CONTRACT, "exclusions", "zero_balance;", "an empty item is not an exclusion"),
    (CONTRACT, "exclusions", "compound;compound", "compound is listed twice"),
    (CONTRACT, "client_account_id", "0015e00000Qm7Ac", "not an 18-character Salesforce id"),
    (CONTRACT, "contract_id", "", "is blank; a value is required"),
    (CONTRACT, "price_list", " ", "is blank"),
    (CONTRACT, "period_start", "2025-02-29", "is not a real date"),
    (CONTRACT, "period_end", "12/31/2025", "is not a date YYYY-MM-DD"),
    (PRICING, "ndc", "93505601", "exactly 11 digits"),
    (PRICING, "ndc", "00093-5056-01", "exactly 11 digits"),
    (PRICING, "mac_unit_price", "", "is blank"),
    (PRICING, "mac_unit_price", "0,0712", "no thousands separators"),
    (PRICING, "effective_date", "2025-1-1", "is not a date YYYY-MM-DD"),
    (PRICING, "end_date", "someday", "is not a date YYYY-MM-DD"),
    (REBATE, "quarter", "2025Q5", "is not a quarter YYYYQn"),
    (REBATE, "quarter", "2025-Q1", "is not a quarter YYYYQn"),
    (REBATE, "brand_claims", "412.0", "is not a whole number"),
    (REBATE, "brand_claims", "-3", "is not a whole number"),
    (REBATE, "rebate_amount", "65,920.00", "no thousands separators"),
    (REBATE, "ndc", "0000308942", "exactly 11 digits"),
    (REBATE, "drug_name", "", "is blank"),
    (SALESFORCE, "account_name", "", "is blank"),
    (SALESFORCE, "last_modified", "2026-10-02T08:00:00", "is not a date YYYY-MM-DD"),
])
def test_value_that_does_not_parse_is_refused_at_its_row_and_column(tmp_path, kind, column, value, words):
    packet = _set(PACKETS[kind](), 2, column, value)

    issues = _only(_validate(packet, tmp_path), VALUE_INVALID)

    assert [(i.file, i.row, i.column) for i in issues] == [(packet.records_path, 2, column)]
    assert words in issues[0].message


def test_negative_rebate_amount_is_a_credit_and_allowed(tmp_path):
    report = _validate(_set(rebate_packet(), 2, "rebate_amount", "-1250.00"), tmp_path)

    assert report.status == ACCEPTED
    assert str(report.records[1].rebate_amount) == "-1250.00"


@pytest.mark.parametrize("record, words", [
    (["CLM-2024-0113", "x"], "has 2 fields"),
    ([], "is a blank line"),
])
def test_ragged_row_is_refused(tmp_path, record, words):
    packet = contract_packet()
    packet.rows.insert(2, record)

    report = _validate(packet, tmp_path)

    issues = _only(report, VALUE_INVALID)
    assert [(i.row, i.column) for i in issues] == [(3, None)]
    assert words in issues[0].message and "the header has 13" in issues[0].message


def test_malformed_csv_is_refused_from_its_row(tmp_path):
    packet = contract_packet()
    packet.records_bytes = csv_bytes(COLUMNS[CONTRACT], packet.rows[:1]) + b'"CLM"x,' + b"," * 11 + b"\r\n"
    packet.fields["records"] = {**packet.records_entry(), "rows": 2}

    issues = _only(_validate(packet, tmp_path), VALUE_INVALID)

    assert issues[0].row == 2 and "malformed CSV" in issues[0].message


def test_contract_with_two_guarantee_bases_is_refused_naming_both_rows(tmp_path):
    packet = _set(contract_packet(), 4, "guarantee_basis", "per_component")

    issues = _only(_validate(packet, tmp_path), VALUE_INVALID)

    assert [(i.row, i.column) for i in issues] == [(4, "guarantee_basis")]
    assert "'per_component' here but 'combined' on row 1 of contract CLM-2024-0113" in issues[0].message


@pytest.mark.parametrize("kind, row, changes, column, words", [
    (CONTRACT, 1, {"period_end": "2026-01-31"}, "period_end", "after the packet's period ends (2025-12-31)"),
    (CONTRACT, 1, {"period_start": "2024-12-01"}, "period_start", "before the packet's period starts"),
    (CONTRACT, 1, {"period_start": "2025-07-01", "period_end": "2025-06-30"}, "period_end",
     "period_start 2025-07-01 is after period_end 2025-06-30"),
    (PRICING, 3, {"effective_date": "2026-01-01"}, "effective_date", "after the packet's period ends"),
    (PRICING, 3, {"effective_date": "2024-01-01", "end_date": "2024-12-31"}, "end_date",
     "before the packet's period starts"),
    (PRICING, 3, {"effective_date": "2025-06-01", "end_date": "2025-05-31"}, "end_date",
     "effective_date 2025-06-01 is after end_date 2025-05-31"),
    (REBATE, 1, {"quarter": "2025Q2"}, "quarter", "quarter 2025Q2 (2025-04-01 to 2025-06-30) is not inside"),
    (REBATE, 1, {"invoice_date": "2024-12-20"}, "invoice_date", "before its quarter 2025Q1 begins"),
])
def test_row_outside_the_packets_period_is_refused(tmp_path, kind, row, changes, column, words):
    packet = PACKETS[kind]()
    for name, value in changes.items():
        _set(packet, row, name, value)

    issues = _only(_validate(packet, tmp_path), OUT_OF_PERIOD)

    assert [(i.file, i.row, i.column) for i in issues] == [(packet.records_path, row, column)]
    assert words in issues[0].message


def test_price_in_force_since_before_the_period_is_in_period(tmp_path):
    report = _validate(PACKETS[PRICING](), tmp_path)  # Metformin's price has been in force since 2024-10-01

    assert report.status == ACCEPTED


def test_invoice_dated_after_the_period_is_in_period(tmp_path):
    report = _validate(_set(rebate_packet(), 1, "invoice_date", "2026-02-01"), tmp_path)

    assert report.status == ACCEPTED


@pytest.mark.parametrize("kind, column", [(CONTRACT, "client_account_id"), (REBATE, "client_account_id"),
                                          (SALESFORCE, "account_id")])
def test_row_of_a_client_the_packet_does_not_list_is_refused(tmp_path, kind, column):
    packet = PACKETS[kind]()
    packet.fields["client_account_ids"] = [c for c in packet.fields["client_account_ids"] if c != BLUEWATER]
    _set(packet, 2, column, BLUEWATER)

    issues = _only(_validate(packet, tmp_path), CLIENT_UNLISTED)

    assert [(i.row, i.column) for i in issues] == [(2, column)]
    assert BLUEWATER in issues[0].message


@pytest.mark.parametrize("kind, first, second, changes, words", [
    (CONTRACT, 1, 2, {"drug_class": "brand", "component": "retail brand 90-day"},
     "client_account_id=0015e00000Qm7AcAAJ, channel=retail, drug_class=brand"),
    (PRICING, 1, 2, {"effective_date": "2025-01-01", "end_date": "", "mac_unit_price": "0.0650"},
     "price_list=LEAF-MAC-2025, ndc=00093505601, effective_date=2025-01-01"),
    (REBATE, 1, 2, {"ndc": "00003089421"}, "invoice_id=RBI-2025Q1-0042, ndc=00003089421"),
    (SALESFORCE, 1, 3, {"account_id": "0015e00000Qm7AcAAJ"}, "account_id=0015e00000Qm7AcAAJ"),
])
def test_two_rows_sharing_a_key_are_refused_naming_both(tmp_path, kind, first, second, changes, words):
    packet = PACKETS[kind]()
    for name, value in changes.items():
        _set(packet, second, name, value)
    if kind == SALESFORCE:
        packet.fields["client_account_ids"] = sorted({row[0] for row in packet.rows})

    issues = _only(_validate(packet, tmp_path), DUPLICATE_KEY)

    assert [(i.row, i.column) for i in issues] == [(second, None)]
    assert f"rows {first} and {second} share the key {words}" in issues[0].message


def test_only_the_first_issues_of_a_column_are_listed_and_the_rest_counted(tmp_path):
    packet = PACKETS[PRICING]()
    template = packet.rows[2]
    packet.rows = [[template[0], f"{index:011d}", template[2], "$0.03", "2025-01-01", ""] for index in range(25)]

    issues = _only(_validate(packet, tmp_path), VALUE_INVALID)

    assert len(issues) == MAX_LISTED + 1
    assert [i.row for i in issues[:MAX_LISTED]] == list(range(1, MAX_LISTED + 1))
    summary = issues[-1]
    assert (summary.row, summary.column) == (MAX_LISTED + 1, "mac_unit_price")
    assert summary.message.startswith("5 more VALUE_INVALID issues in column mac_unit_price, the first at row 21")


@pytest.mark.parametrize("first_end, words", [
    ("", "rows 1 and 2 are both in force on 2025-07-01"),
    ("2025-07-01", "rows 1 and 2 are both in force on 2025-07-01"),
])
def test_two_prices_of_an_ndc_in_force_on_one_day_are_refused(tmp_path, first_end, words):
    packet = _set(PACKETS[PRICING](), 1, "end_date", first_end)  # row 2 takes effect 2025-07-01

    issues = _only(_validate(packet, tmp_path), DUPLICATE_KEY)

    assert [(i.row, i.column) for i in issues] == [(2, None)]
    assert words in issues[0].message and "ndc=00093505601" in issues[0].message


def test_malformed_csv_early_in_a_large_file_is_still_hashed_whole(tmp_path):
    packet = contract_packet()
    filler = b"".join(f"CLM-{index},{'x' * 200}\r\n".encode() for index in range(12_000))  # about 2.5 MB
    packet.records_bytes = csv_bytes(COLUMNS[CONTRACT], packet.rows[:1]) + b'"CLM"x,' + b"," * 11 + b"\r\n" + filler
    packet.fields["records"] = {**packet.records_entry(), "rows": 2}

    issues = _only(_validate(packet, tmp_path), VALUE_INVALID)  # no HASH_MISMATCH: every byte was hashed

    assert issues[0].row == 2 and "malformed CSV" in issues[0].message
