"""validate_export: each status and each issue code, on small hand-made exports broken one way each."""
from __future__ import annotations

import hashlib
import json
import stat
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from evidence.intake import validation
from evidence.intake.validation import ArchiveLimits, safe_extract, validate_export
from tests.evidence import exports
from tests.evidence.exports import (
    CARD, CARD2_DEFINITION, CARD_DEFINITION, CARD_GOLDEN, CARD_ON_DATASET_FORMULA, CLAIMS, CLAIMS_CSV,
    CLAIMS_METADATA, CLAIMS_POLICIES, DATAFLOW_DEFINITION, DOMO_CARD_KEYS, PHARMACIES, USERS, Export,
)


def validate(export: Export, tmp_path: Path) -> validation.ValidationReport:
    return validate_export(export.write(tmp_path / "export"))


def codes(report: validation.ValidationReport) -> list[str]:
    return [i.code for i in report.issues]


def only(report: validation.ValidationReport, code: str) -> validation.Issue:
    found = [i for i in report.issues if i.code == code]
    assert len(found) == 1, report.issues
    return found[0]


def claims_csv(rows: list[list[str]]) -> bytes:
    return exports.csv_bytes([name for name, _ in exports.CLAIMS_COLUMNS], rows)


def with_claims_rows(rows: list[list[str]], *, metadata_rows: int | None = None, raw: bytes | None = None) -> Export:
    export = Export()
    export.files[CLAIMS_CSV] = raw if raw is not None else claims_csv(rows)
    export.files[CLAIMS_METADATA] = exports.claims_metadata(len(rows) if metadata_rows is None else metadata_rows)
    return export


# --- the table of codes --------------------------------------------------------------------------
def test_every_code_of_the_format_is_in_the_table_with_a_class_and_a_description():
    format_codes = {
        "MANIFEST_UNREADABLE", "MANIFEST_SCHEMA", "UNKNOWN_FORMAT", "BAD_LOAD_ID", "LOAD_ID_CONFLICT", "UNSAFE_PATH",
        "ARCHIVE_UNSAFE", "FILE_MISSING", "UNLISTED_FILE", "HASH_MISMATCH", "SIZE_MISMATCH", "DUPLICATE_ID",
        "DANGLING_REFERENCE", "DECLARED_PARTIAL", "CSV_ENCODING", "CSV_HEADER_MISMATCH", "CSV_RAGGED_ROW",
        "CSV_ROW_COUNT_MISMATCH", "CSV_BAD_VALUE",
    }

    assert format_codes <= set(validation.ISSUE_CODES)
    for code, entry in validation.ISSUE_CODES.items():
        assert entry.code == code and entry.description.endswith(".")
        expected = {"invalid": {"error"}, "partial": {"warning"}, "none": {"warning", "info"}}[entry.status_class]
        assert entry.severity in expected
    partial = {c for c, e in validation.ISSUE_CODES.items() if e.status_class == "partial"}
    assert partial == {"FILE_MISSING", "DANGLING_REFERENCE", "DECLARED_PARTIAL"}
    assert validation.ISSUE_CODES["UNLISTED_FILE"].severity == "warning"
    assert validation.LOAD_ID_CONFLICT == "LOAD_ID_CONFLICT"


# --- complete ------------------------------------------------------------------------------------
def test_sample_export_is_complete(tmp_path):
    root = Export().write(tmp_path / "export")

    report = validate_export(root)

    assert report.status == "complete"
    assert report.issues == ()
    assert report.claimed_status == "complete"
    assert report.load_id == "LIQ-20261120-0001"
    assert report.manifest_sha256 == hashlib.sha256((root / "manifest.json").read_bytes()).hexdigest()
    assert report.manifest.load_id == "LIQ-20261120-0001"
    assert [d.id for d in report.manifest.datasets] == [CLAIMS, PHARMACIES]
    assert report.manifest.cards[0].golden == CARD_GOLDEN
    assert report.root == root
    assert json.loads(json.dumps(report.to_dict()))["status"] == "complete"


def test_zip_of_the_export_is_complete_and_extracted_nowhere_kept(tmp_path):
    report = validate_export(Export().zip(tmp_path / "export.zip"))

    assert (report.status, report.issues, report.root) == ("complete", (), None)


def test_zip_wrapping_the_export_folder_is_read_from_that_folder(tmp_path):
    staging = tmp_path / "staging"

    report = validate_export(Export().zip(tmp_path / "export.zip", folder="leafiq-run"), staging_dir=staging)

    assert report.status == "complete"
    assert report.root == staging / "leafiq-run"
    assert (staging / "leafiq-run" / CLAIMS_CSV).is_file()


def test_validating_twice_gives_the_same_report(tmp_path):
    export = with_claims_rows([["x", "M", "2026-02-30", "1", "1", "bad"]] * 3, metadata_rows=5)
    export.files["extra/notes.txt"] = b"hello"
    root = export.write(tmp_path / "export")

    first, second = validate_export(root), validate_export(root)

    assert first == second
    assert list(first.issues) == sorted(first.issues, key=validation.Issue.sort_key)


# --- the manifest --------------------------------------------------------------------------------
def test_export_without_manifest_is_invalid(tmp_path):
    root = Export().write(tmp_path / "export")
    (root / "manifest.json").unlink()

    report = validate_export(root)

    assert report.status == "invalid"
    assert codes(report) == ["MANIFEST_UNREADABLE"]
    assert report.manifest is None and report.manifest_sha256 is None


def test_manifest_that_is_not_json_is_unreadable(tmp_path):
    root = Export().write(tmp_path / "export")
    (root / "manifest.json").write_bytes(b'{"format": "leafiq-export/1",')

    report = validate_export(root)

    issue = only(report, "MANIFEST_UNREADABLE")
    assert issue.file == "manifest.json" and "not valid JSON" in issue.message
    assert report.manifest_sha256 == hashlib.sha256(b'{"format": "leafiq-export/1",').hexdigest()


def test_manifest_missing_a_key_names_the_field(tmp_path):
    export = Export()
    del export.manifest["exporter"]["version"]
    export.manifest["datasets"][0]["metadata"] = 17

    report = validate(export, tmp_path)

    assert report.status == "invalid"
    fields = {(i.code, i.field, i.message) for i in report.issues}
    assert ("MANIFEST_SCHEMA", "exporter.version", "required") in fields
    assert ("MANIFEST_SCHEMA", "datasets[0].metadata", "expected a string, got an integer") in fields
    assert report.manifest is None


def test_manifest_claiming_complete_with_missing_objects_contradicts_itself(tmp_path):
    export = Export()
    export.manifest["missing"] = [{"kind": "card", "id": 5, "reason": "timeout"}]

    issue = only(validate(export, tmp_path), "MANIFEST_SCHEMA")

    assert issue.field == "missing" and "status is 'complete'" in issue.message


def test_missing_entry_of_unknown_kind_is_a_schema_error(tmp_path):
    export = Export()
    export.manifest["status"] = "partial"
    export.manifest["missing"] = [{"kind": "page", "id": 5, "reason": "timeout"}]

    issue = only(validate(export, tmp_path), "MANIFEST_SCHEMA")

    assert issue.field == "missing[0].kind"


def test_unknown_format_stops_the_checks(tmp_path):
    export = Export()
    export.manifest["format"] = "leafiq-export/2"
    export.manifest["load_id"] = "nonsense"

    report = validate(export, tmp_path)

    assert report.status == "invalid"
    assert codes(report) == ["UNKNOWN_FORMAT"]
    assert report.issues[0].field == "format"


@pytest.mark.parametrize("load_id", [
    "LIQ-2026112-0001", "liq-20261120-0001", "LIQ-20261120-01", "LIQ-20261340-0001", "LIQ-20261120-0001\n",
    "LIQ-２０２６1120-0001",
])
def test_bad_load_id(tmp_path, load_id):
    export = Export()
    export.manifest["load_id"] = load_id

    report = validate(export, tmp_path)

    assert report.status == "invalid"
    assert only(report, "BAD_LOAD_ID").field == "load_id"
    assert report.load_id == load_id


def test_path_leaving_the_root_in_the_manifest_is_unsafe(tmp_path):
    export = Export()
    export.manifest["files"] = [exports.file_entry(p, export.content(p)) for p in sorted(export.files)]
    export.manifest["files"].append({"path": "../outside.txt", "sha256": "0" * 64, "bytes": 1})
    (tmp_path / "outside.txt").write_bytes(b"x")

    report = validate(export, tmp_path)

    issue = only(report, "UNSAFE_PATH")
    assert (report.status, issue.file, issue.field) == ("invalid", "../outside.txt", "files[12].path")


@pytest.mark.parametrize("path", ["/etc/passwd", "datasets\\x.csv", "a//b.csv", "./manifest.json", "C:/x"])
def test_absolute_backslash_and_odd_paths_are_unsafe(tmp_path, path):
    export = Export()
    export.manifest["datasets"][0]["data"] = path

    report = validate(export, tmp_path)

    assert only(report, "UNSAFE_PATH").field == "datasets[0].data"
    assert report.status == "invalid"


def test_symbolic_link_in_an_export_folder_is_unsafe(tmp_path):
    root = Export().write(tmp_path / "export")
    (root / "datasets" / "link.csv").symlink_to("/etc/hostname")

    report = validate_export(root)

    assert (only(report, "UNSAFE_PATH").file, report.status) == ("datasets/link.csv", "invalid")


# --- files ---------------------------------------------------------------------------------------
def test_listed_file_absent_makes_the_export_partial(tmp_path):
    root = Export().write(tmp_path / "export")
    (root / CARD_GOLDEN).unlink()

    report = validate_export(root)

    assert report.status == "partial"
    assert (only(report, "FILE_MISSING").file, codes(report)) == (CARD_GOLDEN, ["FILE_MISSING"])


def test_unlisted_file_is_a_warning_only(tmp_path):
    root = Export().write(tmp_path / "export")
    (root / "notes.txt").write_text("left behind")

    report = validate_export(root)

    issue = only(report, "UNLISTED_FILE")
    assert (report.status, issue.severity, issue.file) == ("complete", "warning", "notes.txt")


def test_changed_byte_is_a_hash_mismatch(tmp_path):
    root = Export().write(tmp_path / "export")
    content = (root / CLAIMS_CSV).read_bytes()
    (root / CLAIMS_CSV).write_bytes(content.replace(b"M-001", b"M-009"))

    report = validate_export(root)

    assert report.status == "invalid"
    assert codes(report) == ["HASH_MISMATCH"]
    assert (only(report, "HASH_MISMATCH").file, report.issues[0].object) == (CLAIMS_CSV, f"dataset {CLAIMS}")


def test_appended_byte_is_a_size_mismatch(tmp_path):
    root = Export().write(tmp_path / "export")
    with (root / USERS).open("ab") as handle:
        handle.write(b"\n")

    report = validate_export(root)

    assert report.status == "invalid"
    assert sorted(codes(report)) == ["HASH_MISMATCH", "SIZE_MISMATCH"]
    assert "the manifest says" in only(report, "SIZE_MISMATCH").message


def test_referenced_file_not_listed_in_files_is_a_schema_error(tmp_path):
    export = Export()
    export.manifest["files"] = [exports.file_entry(p, export.content(p)) for p in sorted(export.files)
                                if p != USERS]

    report = validate(export, tmp_path)

    assert only(report, "MANIFEST_SCHEMA").field == "directory.users"
    assert report.status == "invalid"


# --- ids and references --------------------------------------------------------------------------
def test_dataset_listed_twice_is_a_duplicate_id(tmp_path):
    export = Export()
    export.manifest["datasets"].append(dict(export.manifest["datasets"][0]))

    report = validate(export, tmp_path)

    issue = only(report, "DUPLICATE_ID")
    assert (issue.field, issue.object, report.status) == ("datasets[2].id", f"dataset {CLAIMS}", "invalid")


def test_policy_id_repeated_in_a_dataset_is_a_duplicate_id(tmp_path):
    export = Export()
    export.files[CLAIMS_POLICIES][1]["id"] = 1

    issue = only(validate(export, tmp_path), "DUPLICATE_ID")

    assert (issue.file, issue.object) == (CLAIMS_POLICIES, "policy 1")


def test_card_reading_a_dataset_not_in_the_export_is_a_dangling_reference(tmp_path):
    export = Export()
    other = "00000000-0000-4000-8000-000000000000"
    export.files[CARD_DEFINITION]["datasources"][0]["dataSourceId"] = other

    report = validate(export, tmp_path)

    assert report.status == "partial"
    issue = next(i for i in report.issues if i.field == "datasources[0].dataSourceId")
    assert (issue.code, issue.object, issue.file) == ("DANGLING_REFERENCE", f"card {CARD}", CARD_DEFINITION)
    assert other in issue.message


def test_an_unreadable_dataset_id_comes_first_naming_the_manifest_before_the_references_it_leaves_dangling(tmp_path):
    export = Export()
    export.manifest["datasets"][0]["id"] = 12345  # an integer: the cards reading that dataset then dangle

    report = validate(export, tmp_path)

    first = report.issues[0]
    assert (first.code, first.severity, first.file, first.object, first.field) == (
        "MANIFEST_SCHEMA", "error", "manifest.json", "manifest", "datasets[0].id")
    assert first.message == "expected a string, got an integer"
    dangling = [i for i in report.issues if i.code == "DANGLING_REFERENCE"]
    assert dangling and all(report.issues.index(i) > 0 for i in dangling)
    severities = [i.severity for i in report.issues]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)  # errors, then warnings
    # What the broken manifest claims is still read, for its page.
    assert report.manifest is None and report.status == "invalid"
    assert report.claims["domo_instance"] == export.manifest["domo_instance"] and report.claims["exported_at"]
    assert report.claims["exporter"] == f'{export.manifest["exporter"]["name"]} {export.manifest["exporter"]["version"]}'


def test_card_column_naming_an_unknown_beast_mode_is_a_dangling_reference(tmp_path):
    export = Export()
    export.files[CARD_DEFINITION]["definition"]["subscriptions"]["main"]["columns"][1]["formulaId"] = "calculation_gone"

    report = validate(export, tmp_path)

    issue = only(report, "DANGLING_REFERENCE")
    assert (report.status, issue.field) == ("partial", "definition.subscriptions.main.columns[1].formulaId")


def test_real_card_definitions_with_every_domo_key_make_a_complete_export(tmp_path):
    export = Export()
    for path in (CARD_DEFINITION, CARD2_DEFINITION):
        card = export.files[path]
        for key in DOMO_CARD_KEYS:  # Domo puts some at the top, some in the definition: here, every one in both
            card.setdefault(key, card["definition"].get(key))
            card["definition"].setdefault(key, card[key])
        assert card["columns"] and all({"id", "name", "type", "sourceId"} <= set(c) for c in card["columns"])

    report = validate(export, tmp_path)

    assert (report.status, report.issues) == ("complete", ())


def test_card_dataset_column_that_is_no_column_is_an_invalid_object(tmp_path):
    export = Export()
    del export.files[CARD2_DEFINITION]["columns"][1]["name"]

    report = validate(export, tmp_path)

    issue = only(report, "OBJECT_INVALID")
    assert (report.status, issue.file, issue.object, issue.field) == (
        "invalid", CARD2_DEFINITION, f"card {CARD_ON_DATASET_FORMULA}", "columns[1].name")


def test_a_card_whose_own_id_cannot_be_read_is_named_by_the_id_the_manifest_gives_it(tmp_path):
    export = Export()
    export.files[CARD_DEFINITION]["id"] = "abc"

    issue = only(validate(export, tmp_path), "OBJECT_INVALID")

    assert (issue.file, issue.object, issue.field) == (CARD_DEFINITION, f"card {CARD}", "id")


def test_beast_mode_deleted_from_its_dataset_is_a_dangling_reference(tmp_path):
    export = Export()
    formulas = export.files[CARD_DEFINITION]["definition"]["formulas"]
    formulas["dsDeleted"], formulas["card"] = formulas["card"], []

    report = validate(export, tmp_path)

    assert report.status == "partial"
    assert all("deleted from its dataset" in i.message for i in report.issues)
    assert {i.field for i in report.issues} == {"definition.subscriptions.main.columns[1].formulaId"}


def test_dataflow_output_not_in_the_export_is_a_dangling_reference(tmp_path):
    export = Export()
    export.manifest["datasets"].pop(1)
    for path in (exports.PHARMACIES_CSV, exports.PHARMACIES_METADATA, exports.PHARMACIES_POLICIES):
        del export.files[path]

    report = validate(export, tmp_path)

    assert report.status == "partial"
    fields = {(i.object, i.field) for i in report.issues if i.code == "DANGLING_REFERENCE"}
    assert ("dataflow 412", "outputs[0].dataSourceId") in fields
    assert (f"card {exports.CARD_ON_DATASET_FORMULA}", "datasources[0].dataSourceId") in fields


def test_policy_naming_users_and_groups_the_directory_lacks_is_a_dangling_reference(tmp_path):
    export = Export()
    export.files[CLAIMS_POLICIES][1]["users"] = [101, 555]
    export.files[CLAIMS_POLICIES][1]["groups"] = [8]

    report = validate(export, tmp_path)

    assert report.status == "partial"
    assert [(i.object, i.field) for i in report.issues] == [("policy 2", "groups"), ("policy 2", "users")]
    assert "555" in report.issues[1].message


def test_policy_users_without_a_directory_dangle(tmp_path):
    export = Export()
    del export.manifest["directory"]
    del export.files[exports.USERS], export.files[exports.GROUPS]

    report = validate(export, tmp_path)

    assert report.status == "partial"
    assert {i.code for i in report.issues} == {"DANGLING_REFERENCE"}
    assert "no directory" in report.issues[0].message


def test_metadata_of_another_dataset_is_an_invalid_object(tmp_path):
    export = Export()
    export.files[CLAIMS_METADATA]["id"] = PHARMACIES

    issue = only(validate(export, tmp_path), "OBJECT_INVALID")

    assert (issue.file, issue.field, issue.object) == (CLAIMS_METADATA, "id", f"dataset {CLAIMS}")


def test_unreadable_dataflow_names_file_object_and_field(tmp_path):
    export = Export()
    export.files[DATAFLOW_DEFINITION]["databaseType"] = "SPARK"

    report = validate(export, tmp_path)

    issue = only(report, "OBJECT_INVALID")
    assert (report.status, issue.file, issue.object, issue.field) == (
        "invalid", DATAFLOW_DEFINITION, "dataflow 412", "databaseType")


# --- declared partial ----------------------------------------------------------------------------
def test_exporter_declaring_partial_makes_the_export_partial(tmp_path):
    export = Export()
    export.manifest["status"] = "partial"
    export.manifest["missing"] = [{"kind": "golden", "id": CARD, "reason": "card timed out"}]

    report = validate(export, tmp_path)

    issue = only(report, "DECLARED_PARTIAL")
    assert (report.status, report.claimed_status) == ("partial", "partial")
    assert (issue.object, issue.field) == (f"golden {CARD}", "missing[0]")
    assert "card timed out" in issue.message


# --- CSV -----------------------------------------------------------------------------------------
def test_utf8_bom_is_accepted_with_an_info_issue(tmp_path):
    export = Export()
    export.files[CLAIMS_CSV] = b"\xef\xbb\xbf" + export.files[CLAIMS_CSV]

    report = validate(export, tmp_path)

    issue = only(report, "CSV_BOM")
    assert (report.status, issue.severity, issue.file) == ("complete", "info", CLAIMS_CSV)


def test_cp1252_byte_is_an_encoding_error_with_row_and_column(tmp_path):
    rows = [list(r) for r in exports.CLAIMS_ROWS]
    raw = claims_csv(rows).replace(b"M-002", "M\u2019002".encode("cp1252"))
    export = with_claims_rows(rows, raw=raw)

    report = validate(export, tmp_path)

    issue = only(report, "CSV_ENCODING")
    assert (report.status, issue.row, issue.column, issue.object) == ("invalid", 2, "member", f"dataset {CLAIMS}")
    assert "0x92" in issue.message
    assert codes(report) == ["CSV_ENCODING"]


def test_header_unlike_the_schema_is_a_header_mismatch(tmp_path):
    export = Export()
    export.files[CLAIMS_CSV] = export.files[CLAIMS_CSV].replace(b"fill_date,paid", b"paid,fill_date", 1)

    issue = only(validate(export, tmp_path), "CSV_HEADER_MISMATCH")

    assert (issue.field, issue.column) == ("header", "fill_date")


def test_golden_header_follows_the_card_columns(tmp_path):
    export = Export()
    export.files[CARD_GOLDEN] = exports.csv_bytes(["member", "share"], [["M-001", "1"]])

    issue = only(validate(export, tmp_path), "CSV_HEADER_MISMATCH")

    assert (issue.file, issue.object) == (CARD_GOLDEN, f"card {CARD}")
    assert "'share'" in issue.message and "'Paid share'" in issue.message


def test_ragged_row_is_reported_by_record_number(tmp_path):
    rows = [
        ["1", "M-1\nsecond line", "2026-01-01", "1", "1", "2026-01-01T00:00:00"],  # one record over two lines
        ["2", "M-2", "2026-01-02", "1", "1"],
        ["3", "M-3", "2026-01-03", "1", "1", "2026-01-03T00:00:00"],
    ]
    export = with_claims_rows(rows)

    report = validate(export, tmp_path)

    issue = only(report, "CSV_RAGGED_ROW")
    assert (report.status, issue.row, codes(report)) == ("invalid", 2, ["CSV_RAGGED_ROW"])
    assert "5 fields" in issue.message


def test_blank_line_is_a_ragged_row(tmp_path):
    export = with_claims_rows(exports.CLAIMS_ROWS, metadata_rows=4, raw=claims_csv(exports.CLAIMS_ROWS) + b"\r\n")

    issue = only(validate(export, tmp_path), "CSV_RAGGED_ROW")

    assert (issue.row, "blank line" in issue.message) == (4, True)


def test_rolled_over_date_is_a_bad_value_with_row_and_column(tmp_path):
    rows = [list(r) for r in exports.CLAIMS_ROWS]
    rows[1][2] = "2026-02-30"
    report = validate(with_claims_rows(rows), tmp_path)

    issue = only(report, "CSV_BAD_VALUE")
    assert (report.status, issue.row, issue.column) == ("invalid", 2, "fill_date")
    assert "'2026-02-30'" in issue.message


@pytest.mark.parametrize(("column", "value"), [
    (0, "12.5"), (0, "9223372036854775808"), (0, "+5"), (3, "1e3"), (3, "1,5"), (4, "ten"),
    (5, "2026-01-05 10:11:12"), (5, "2026-01-05T24:00:00"), (2, "2026-1-5"),
])
def test_values_that_do_not_parse_as_their_type(tmp_path, column, value):
    rows = [list(r) for r in exports.CLAIMS_ROWS]
    rows[2][column] = value

    issue = only(validate(with_claims_rows(rows), tmp_path), "CSV_BAD_VALUE")

    assert (issue.row, issue.column) == (3, exports.CLAIMS_COLUMNS[column][0])


def test_values_that_parse_and_empty_nulls_are_accepted(tmp_path):
    rows = [
        ["-9223372036854775808", "", "2024-02-29", "-.5", "-1.5E-3", "2026-12-31T23:59:59"],
        ["007", " ", "", "+3.", "NaN", ""],
        ["", "x", "0001-01-01", "", "inf", "2026-01-01T00:00:00"],
    ]

    assert validate(with_claims_rows(rows), tmp_path).issues == ()


def test_bad_values_are_listed_up_to_the_cap_then_counted(tmp_path):
    rows = [[str(i), "M", "not a date", "1", "1", ""] for i in range(1, 31)]

    report = validate(with_claims_rows(rows), tmp_path)

    listed = [i for i in report.issues if i.code == "CSV_BAD_VALUE"]
    assert len(listed) == validation.MAX_LISTED + 1
    assert [i.row for i in listed[:20]] == list(range(1, 21))
    assert listed[-1].row == 21 and listed[-1].message.startswith("10 more values not DATE in column fill_date")


def test_short_row_count_is_a_row_count_mismatch(tmp_path):
    export = with_claims_rows(exports.CLAIMS_ROWS, metadata_rows=4)

    report = validate(export, tmp_path)

    issue = only(report, "CSV_ROW_COUNT_MISMATCH")
    assert (report.status, issue.file) == ("invalid", CLAIMS_CSV)
    assert issue.message == "holds 3 data rows, the metadata says 4"


def test_header_only_csv_has_zero_rows(tmp_path):
    export = with_claims_rows([])

    assert validate(export, tmp_path).issues == ()


def test_empty_csv_has_no_header(tmp_path):
    export = with_claims_rows([], raw=b"")

    issue = only(validate(export, tmp_path), "CSV_HEADER_MISMATCH")

    assert "no header" in issue.message


def write_big_claims_csv(path: Path, rows: int, *, ragged_at: int | None = None) -> None:
    with path.open("w", newline="") as handle:
        handle.write(",".join(name for name, _ in exports.CLAIMS_COLUMNS) + "\r\n")
        for i in range(1, rows + 1):
            if i == ragged_at:
                handle.write(f"{i},M-{i:06d}\r\n")
                continue
            handle.write(f"{i},M-{i:06d},2026-{i % 12 + 1:02d}-{i % 28 + 1:02d},{i % 997}.{i % 100:02d},"
                         f"{i / 7:.6f},2026-01-{i % 28 + 1:02d}T{i % 24:02d}:{i % 60:02d}:00\r\n")


@pytest.mark.parametrize("ragged_at", [None, 7], ids=["arrow-stream", "record-by-record"])
def test_validating_a_large_csv_keeps_python_memory_flat(tmp_path, ragged_at):
    rows = 300_000
    csv_path = tmp_path / "data.csv"
    write_big_claims_csv(csv_path, rows, ragged_at=ragged_at)
    size = csv_path.stat().st_size
    root = with_claims_rows([], metadata_rows=rows, raw=csv_path.read_bytes()).write(tmp_path / "export")

    tracemalloc.start()
    try:
        report = validate_export(root)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert [(i.code, i.row) for i in report.issues] == ([] if ragged_at is None else [("CSV_RAGGED_ROW", 7)])
    assert size > 20_000_000
    assert peak < size / 8, f"peak {peak} bytes for a {size}-byte CSV"


# --- archives ------------------------------------------------------------------------------------
def zip_with(path: Path, members: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", Export().manifest_bytes())
        for info, content in members:
            archive.writestr(info, content)
    return path


def assert_refused_untouched(report, tmp_path: Path) -> None:
    assert report.status == "invalid"
    assert set(codes(report)) == {"ARCHIVE_UNSAFE"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.zip"]


@pytest.mark.catalogue(40)
def test_zip_member_leaving_the_root_is_refused_before_extraction(tmp_path):
    archive = zip_with(tmp_path / "export.zip", [("../evil.txt", b"pwned"), ("datasets/ok.txt", b"ok")])

    report = validate_export(archive)

    assert_refused_untouched(report, tmp_path)
    assert only(report, "ARCHIVE_UNSAFE").file == "../evil.txt"


@pytest.mark.catalogue(40)
@pytest.mark.parametrize("name", ["/etc/evil", "dir\\evil.txt", "a/../../evil", "../../x", "C:\\x", "C:/x", "//host/x"])
def test_zip_member_with_an_unsafe_name_is_refused(tmp_path, name):
    report = validate_export(zip_with(tmp_path / "export.zip", [(name, b"x")]))

    assert_refused_untouched(report, tmp_path)


@pytest.mark.catalogue(40)
def test_zip_symlink_member_is_refused(tmp_path):
    link = zipfile.ZipInfo("datasets/link.csv")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = zip_with(tmp_path / "export.zip", [(link, b"/etc/passwd")])

    report = validate_export(archive)

    assert_refused_untouched(report, tmp_path)
    assert "symbolic link" in only(report, "ARCHIVE_UNSAFE").message


@pytest.mark.catalogue(38)
def test_zip_bomb_over_the_ratio_limit_is_refused(tmp_path):
    archive_path = tmp_path / "export.zip"
    with zipfile.ZipFile(archive_path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("datasets/zeros.csv", "w") as member:
            chunk = b"\0" * (1024 * 1024)
            for _ in range(20):
                member.write(chunk)
    assert archive_path.stat().st_size < 100_000

    tracemalloc.start()
    report = validate_export(archive_path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert_refused_untouched(report, tmp_path)
    assert "compression ratio" in only(report, "ARCHIVE_UNSAFE").message
    assert peak < 2 * 1024 * 1024  # refused from the central directory: the 20 MiB are never inflated


@pytest.mark.catalogue(38)
def test_zip_over_the_member_and_size_limits_is_refused(tmp_path):
    archive = zip_with(tmp_path / "export.zip", [(f"f{i}.txt", b"1234567890") for i in range(5)])

    too_many = validate_export(archive, limits=ArchiveLimits(max_members=3))
    too_big = validate_export(archive, limits=ArchiveLimits(max_total_bytes=100))
    member_too_big = validate_export(archive, limits=ArchiveLimits(max_member_bytes=5))

    assert "6 members" in only(too_many, "ARCHIVE_UNSAFE").message
    assert "over the limit of 100" in only(too_big, "ARCHIVE_UNSAFE").message
    assert len([i for i in member_too_big.issues if i.code == "ARCHIVE_UNSAFE"]) == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.zip"]


@pytest.mark.catalogue(40)
def test_safe_extract_writes_nothing_when_refusing(tmp_path):
    archive = zip_with(tmp_path / "export.zip", [("ok.txt", b"ok"), ("../evil.txt", b"pwned")])
    staging = tmp_path / "staging"

    problems = safe_extract(archive, staging, ArchiveLimits())

    assert [p.code for p in problems] == ["ARCHIVE_UNSAFE"]
    assert not staging.exists() and not (tmp_path / "evil.txt").exists()


def test_safe_extract_extracts_a_safe_archive(tmp_path):
    staging = tmp_path / "staging"

    problems = safe_extract(Export().zip(tmp_path / "export.zip"), staging, ArchiveLimits())

    assert problems == []
    assert json.loads((staging / "manifest.json").read_bytes())["load_id"] == "LIQ-20261120-0001"


def test_file_that_is_not_a_zip_is_reported_not_raised(tmp_path):
    path = tmp_path / "export.zip"
    path.write_bytes(b"PK\x03\x04 not really a zip")

    report = validate_export(path)

    assert (report.status, codes(report)) == ("invalid", ["ARCHIVE_UNSAFE"])


def test_missing_source_is_reported_not_raised(tmp_path):
    report = validate_export(tmp_path / "nowhere")

    assert (report.status, codes(report)) == ("invalid", ["MANIFEST_UNREADABLE"])


@pytest.mark.parametrize("manifest", [b"[]", b'"x"', b"null", b'{"format": 7}', b'{"files": {}}', b"\xff\xfe"])
def test_manifest_of_the_wrong_shape_is_reported_not_raised(tmp_path, manifest):
    root = Export().write(tmp_path / "export")
    (root / "manifest.json").write_bytes(manifest)

    report = validate_export(root)

    assert report.status == "invalid"
    assert set(codes(report)) <= {"MANIFEST_SCHEMA", "MANIFEST_UNREADABLE", "UNLISTED_FILE"}


# --- the sample generator ------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["complete", "partial", "invalid"])
def test_sample_generator_variants_come_out_as_named(tmp_path, variant):
    from evidence.samples.export import write_sample_export

    summary = write_sample_export(tmp_path / variant, rows=400, seed=7, variant=variant)

    report = validate_export(tmp_path / variant)

    assert report.status == variant
    assert report.load_id == summary.load_id
    if variant == "complete":
        assert report.issues == ()
    if variant == "partial":
        assert {i.object for i in report.issues} == {f"{m['kind']} {m['id']}" for m in summary.missing}
        assert set(codes(report)) == {"DECLARED_PARTIAL"}
    if variant == "invalid":
        assert sorted(f"{i.code} {i.file}" for i in report.issues) == sorted(
            " ".join(defect.split()[:2]) for defect in summary.defects)


def test_header_byte_that_is_not_utf8_is_reported_printably(tmp_path):
    export = Export()
    export.files[CLAIMS_CSV] = export.files[CLAIMS_CSV].replace(b"member", b"memb\xe9r", 1)

    report = validate(export, tmp_path)

    assert sorted(codes(report)) == ["CSV_ENCODING", "CSV_HEADER_MISMATCH"]
    assert only(report, "CSV_ENCODING").field == "header"
    for found in report.issues:
        found.message.encode("utf-8")  # no lone surrogate reaches a message


def test_zip_with_a_member_twice_is_refused(tmp_path):
    with pytest.warns(UserWarning, match="Duplicate name"):
        archive = zip_with(tmp_path / "export.zip", [("notes.txt", b"one"), ("notes.txt", b"two")])

    report = validate_export(archive)

    assert_refused_untouched(report, tmp_path)
    assert "twice" in only(report, "ARCHIVE_UNSAFE").message
