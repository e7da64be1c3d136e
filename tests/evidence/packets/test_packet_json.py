"""packet.json and the packet's files: PACKET_UNREADABLE, FORMAT_UNKNOWN, FIELD_INVALID, UNSAFE_PATH,
FILE_MISSING, UNLISTED_FILE, HASH_MISMATCH and REVISION_CONFLICT, each located."""
from __future__ import annotations

import json

import pytest

from evidence.packets.validation import (
    FIELD_INVALID,
    FILE_MISSING,
    FORMAT_UNKNOWN,
    HASH_MISMATCH,
    MAX_LISTED,
    PACKET_UNREADABLE,
    REFUSED,
    REVISION_CONFLICT,
    UNLISTED_FILE,
    UNSAFE_PATH,
    EarlierRevision,
    salesforce_id_problem,
    validate_packet,
)
from tests.evidence.packets.builders import (
    ACME,
    BLUEWATER,
    CONTRACT_PDF,
    contract_packet,
    pricing_packet,
    rebate_packet,
)


def _validate(packet, tmp_path, **kwargs):
    return validate_packet(packet.write(tmp_path / "packet"), **kwargs)


def _only(report, code):
    assert report.status == REFUSED
    assert report.codes() == {code}, [(i.code, i.field, i.message) for i in report.issues]
    assert report.records is None
    return report.issues


def test_missing_packet_json_is_unreadable(tmp_path):
    root = contract_packet().write(tmp_path / "packet")
    (root / "packet.json").unlink()

    issues = _only(validate_packet(root), PACKET_UNREADABLE)

    assert issues[0].file == "packet.json" and "no packet.json" in issues[0].message


@pytest.mark.parametrize("content, words", [
    (b"[1, 2]", "must hold a JSON object, holds a list"),
    (b"{\"format\": ", "not valid JSON"),
    (b"{\"kind\": \"contract\", \"kind\": \"rebate\"}", "'kind' appears twice"),
    (b"\xff\xfe{}", "not UTF-8"),
])
def test_packet_json_that_is_not_a_json_object_is_unreadable(tmp_path, content, words):
    root = contract_packet().write(tmp_path / "packet")
    (root / "packet.json").write_bytes(content)

    report = validate_packet(root)

    issues = _only(report, PACKET_UNREADABLE)
    assert words in issues[0].message
    assert report.sha256 is not None  # bytes were read: the refusal records what arrived


@pytest.mark.parametrize("value", ["leaf-evidence/2", None, 1])
def test_other_format_is_unknown_and_nothing_else_is_checked(tmp_path, value):
    packet = contract_packet()
    packet.fields["format"] = value
    packet.fields["kind"] = "invoice"  # would be FIELD_INVALID in a leaf-evidence/1 packet

    issues = _only(_validate(packet, tmp_path), FORMAT_UNKNOWN)

    assert (issues[0].file, issues[0].field) == ("packet.json", "format")
    assert "leaf-evidence/1" in issues[0].message


def test_missing_format_is_unknown(tmp_path):
    packet = contract_packet()
    del packet.fields["format"]

    assert _only(_validate(packet, tmp_path), FORMAT_UNKNOWN)[0].message.startswith("format is missing")


def _break(path: str, value):
    """Set (or with ... delete) the packet.json field at a dotted path."""
    def apply(data):
        *parents, last = path.split(".")
        for key in parents:
            data = data[int(key)] if isinstance(data, list) else data[key]
        if value is ...:
            del data[last]
        else:
            data[last] = value
    return apply


@pytest.mark.parametrize("field, value, where, words", [
    ("kind", "invoice", "kind", "not a kind; expected one of contract, pricing, rebate, salesforce"),
    ("kind", ..., "kind", "is required"),
    ("packet_id", ..., "packet_id", "is required"),
    ("packet_id", "EVP/../x", "packet_id", "is not a packet id"),
    # The lake reserves names ending in .sha256 for its hash files: refused here, not by the lake mid-write.
    ("packet_id", "EVP-CONTRACT-2025.SHA256", "packet_id", "ends in '.sha256', which the lake keeps"),
    ("packet_id", 42, "packet_id", "must be a string, is an integer"),
    ("period.start", "2025-13-01", "period.start", "is not a real date"),
    ("period.end", "31/12/2025", "period.end", "is not a date YYYY-MM-DD"),
    ("period.start", "2026-01-01", "period", "starts 2026-01-01 after it ends 2025-12-31"),
    ("client_account_ids", [ACME[:15]], "client_account_ids[0]", "not an 18-character Salesforce id"),
    ("client_account_ids", ["0015e00000Qm7AcAAA"], "client_account_ids[0]", "does not end in its checksum AAJ"),
    ("client_account_ids", [ACME, ACME], "client_account_ids[1]", "listed twice"),
    ("client_account_ids", [], "client_account_ids", "must name the clients"),
    ("client_account_ids", "0015e00000Qm7AcAAJ", "client_account_ids", "must be a list, is a string"),
    ("source.received_at", "2026-11-18T14:02:00", "source.received_at", "has no time zone"),
    ("source.system", "  ", "source.system", "must not be blank"),
    ("source.channel", "email", "source.channel", "is not a field of source"),
    ("keyed_by", ..., "keyed_by", "is required"),
    ("supersedes", f"EVP-CONTRACT-{ACME}-2025", "supersedes", "names the packet's own packet_id"),
    ("supersedes", ..., "supersedes", "is required (a string)"),  # null says "supersedes nothing"
    ("supersedes", 7, "supersedes", "must be a string or null, is an integer"),
    ("documents", None, "documents", "must be a list, is null"),
    ("signed_by", "someone", "signed_by", "is not a field of leaf-evidence/1"),
    ("records", {"path": "terms.csv", "sha256": "AB" * 32, "rows": 6}, "records.sha256", "64 lowercase"),
    ("records", {"path": "terms.csv", "sha256": "0" * 63, "rows": 6}, "records.sha256", "is not a SHA-256"),
    ("records", {"path": "terms.csv", "sha256": "0" * 64, "rows": -1}, "records.rows", "0 or more"),
    ("records", {"path": "terms.csv", "sha256": "0" * 64, "rows": True}, "records.rows", "is a boolean"),
    ("records", {"path": "terms.csv", "sha256": "0" * 64, "rows": "6"}, "records.rows", "must be an integer"),
    ("records", {"path": "prices.csv", "sha256": "0" * 64, "rows": 6}, "records.path", "records are 'terms.csv'"),
    ("documents.0.bytes", 1.5, "documents[0].bytes", "must be an integer, is a number"),
    ("documents.0.path", "executed-contract.pdf", "documents[0].path", "documents live under documents/"),
])
def test_invalid_field_is_refused_naming_it(tmp_path, field, value, where, words):
    packet = contract_packet()
    data = packet.packet_json()
    _break(field, value)(data)
    packet.fields = data
    if field == "documents.0.path":
        packet.files = {}

    report = _validate(packet, tmp_path)

    invalid = [i for i in report.issues if i.code == FIELD_INVALID]
    assert [(i.file, i.field) for i in invalid] == [("packet.json", where)], report.issues
    assert words in invalid[0].message
    assert report.status == REFUSED and report.header is None and report.records is None


def test_invalid_field_is_reported_with_the_packets_other_problems(tmp_path):
    packet = contract_packet()
    packet.fields["keyed_by"] = ""
    packet.rows[0][3] = "postal"

    report = _validate(packet, tmp_path)

    assert {(i.code, i.field or i.column) for i in report.issues} == {
        (FIELD_INVALID, "keyed_by"), ("VALUE_INVALID", "channel")}
    assert report.packet_id == f"EVP-CONTRACT-{ACME}-2025" and report.kind == "contract"


def test_pricing_packet_may_leave_the_clients_empty(tmp_path):
    assert _validate(pricing_packet(), tmp_path).issues == ()


def test_salesforce_id_checksum_is_case_sensitive():
    assert salesforce_id_problem(ACME) is None
    assert salesforce_id_problem("0015e00000qm7AcAAJ") is not None


@pytest.mark.parametrize("path, words", [
    ("/etc/passwd", "is absolute"),
    ("documents/../../secret.pdf", "leaves its root"),
    ("documents\\contract.pdf", "backslash"),
])
def test_unsafe_document_path_is_refused(tmp_path, path, words):
    packet = contract_packet()
    data = packet.packet_json()
    data["documents"][0]["path"] = path
    packet.fields = data
    packet.files = {}

    issues = _only(_validate(packet, tmp_path), UNSAFE_PATH)

    assert (issues[0].file, issues[0].field) == (path, "documents[0].path")
    assert words in issues[0].message


def test_symbolic_link_in_the_packet_folder_is_unsafe(tmp_path):
    root = contract_packet().write(tmp_path / "packet")
    (root / "documents" / "executed-contract.pdf").unlink()
    (root / "documents" / "executed-contract.pdf").symlink_to("/etc/hostname")

    report = validate_packet(root)

    assert {(i.code, i.file) for i in report.issues} == {(UNSAFE_PATH, CONTRACT_PDF)}
    assert "symbolic link" in report.issues[0].message


def test_listed_document_absent_is_missing(tmp_path):
    root = contract_packet().write(tmp_path / "packet")
    (root / CONTRACT_PDF).unlink()

    issues = _only(validate_packet(root), FILE_MISSING)

    assert issues[0].file == CONTRACT_PDF and "not in the packet" in issues[0].message


def test_records_file_absent_is_missing(tmp_path):
    root = rebate_packet().write(tmp_path / "packet")
    (root / "invoices.csv").unlink()

    issues = _only(validate_packet(root), FILE_MISSING)

    assert issues[0].file == "invoices.csv"


def test_file_not_listed_is_refused(tmp_path):
    packet = contract_packet()
    packet.files["notes/keying-notes.txt"] = b"keyed from the signed PDF"

    issues = _only(_validate(packet, tmp_path), UNLISTED_FILE)

    assert issues[0].file == "notes/keying-notes.txt"


def test_records_file_with_other_bytes_than_listed_is_a_hash_mismatch(tmp_path):
    packet = contract_packet()
    packet.fields["records"] = packet.records_entry()
    packet.rows[0][5] = "0.1800"  # the guarantee changed after packet.json was written

    issues = _only(_validate(packet, tmp_path), HASH_MISMATCH)

    assert (issues[0].file, issues[0].field) == ("terms.csv", "records.sha256")
    assert packet.fields["records"]["sha256"] in issues[0].message


def test_document_with_other_size_and_hash_is_a_hash_mismatch(tmp_path):
    packet = contract_packet()
    packet.fields["documents"] = packet.document_entries()
    packet.files[CONTRACT_PDF] += b"appended page"

    issues = _only(_validate(packet, tmp_path), HASH_MISMATCH)

    assert {i.file for i in issues} == {CONTRACT_PDF}
    assert sorted(i.message.split(",")[0].split(" ")[0] for i in issues) == ["SHA-256", "has"]


def test_document_with_the_right_size_but_another_hash_is_a_hash_mismatch(tmp_path):
    packet = contract_packet()
    packet.fields["documents"] = packet.document_entries()
    packet.files[CONTRACT_PDF] = packet.files[CONTRACT_PDF].replace(b"C", b"D")

    issues = _only(_validate(packet, tmp_path), HASH_MISMATCH)

    assert len(issues) == 1 and issues[0].message.startswith("SHA-256 is")


@pytest.mark.parametrize("earlier, field", [
    (EarlierRevision(f"EVP-CONTRACT-{ACME}-2025", "rebate", (ACME,)), "kind"),
    (EarlierRevision(f"EVP-CONTRACT-{ACME}-2025", "contract", (ACME, BLUEWATER)), "client_account_ids"),
])
def test_revision_changing_kind_or_clients_conflicts(tmp_path, earlier, field):
    issues = _only(_validate(contract_packet(), tmp_path, earlier=earlier), REVISION_CONFLICT)

    assert [(i.file, i.field) for i in issues] == [("packet.json", field)]
    assert earlier.packet_id in issues[0].message


def test_revision_with_the_same_kind_and_clients_is_accepted(tmp_path):
    earlier = EarlierRevision(f"EVP-CONTRACT-{ACME}-2025", "contract", (ACME,))

    assert _validate(contract_packet(), tmp_path, earlier=earlier).issues == ()


def test_earlier_revision_is_looked_up_by_the_packets_id(tmp_path):
    asked = []

    def lookup(packet_id):
        asked.append(packet_id)
        return EarlierRevision(packet_id, "pricing", (ACME,))

    report = _validate(contract_packet(), tmp_path, earlier=lookup)

    assert asked == [f"EVP-CONTRACT-{ACME}-2025"]
    assert report.codes() == {REVISION_CONFLICT}


def test_earlier_revision_of_another_packet_id_is_no_conflict(tmp_path):
    earlier = EarlierRevision("EVP-CONTRACT-OTHER", "rebate", (BLUEWATER,))

    assert _validate(contract_packet(), tmp_path, earlier=earlier).issues == ()


def test_issues_are_sorted_by_file_then_row(tmp_path):
    packet = contract_packet()
    packet.files["zz-extra.txt"] = b"x"
    packet.rows[3][3] = "postal"
    packet.rows[1][4] = "biosimilar"
    packet.fields["keyed_by"] = ""

    report = _validate(packet, tmp_path)

    assert [(i.file, i.row) for i in report.issues] == [
        ("packet.json", None), ("terms.csv", 2), ("terms.csv", 4), ("zz-extra.txt", None)]
    assert json.loads(json.dumps(report.to_dict()))["issues"][0]["field"] == "keyed_by"


def test_only_the_first_field_issues_are_listed_and_the_rest_counted(tmp_path):
    packet = rebate_packet()
    packet.fields["client_account_ids"] = [f"0015e00000Qm7A{index:04d}" for index in range(MAX_LISTED + 3)]

    report = _validate(packet, tmp_path)

    invalid = [i for i in report.issues if i.code == FIELD_INVALID]
    assert len(invalid) == MAX_LISTED + 1
    assert invalid[-1].field == f"client_account_ids[{MAX_LISTED}]"
    assert [i.field for i in invalid[:3]] == ["client_account_ids[0]", "client_account_ids[1]", "client_account_ids[2]"]
    assert invalid[-1].message.startswith(
        f"3 more FIELD_INVALID issues, the first at field client_account_ids[{MAX_LISTED}]")
