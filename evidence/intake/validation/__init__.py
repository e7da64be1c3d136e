"""Validation of Leaf IQ exports: complete, partial or invalid, with every problem named.

Plain package, no Django. validate_export() takes an export folder or a .zip of it and returns a
ValidationReport; it never raises on a broken export, whatever arrives. The rules are those of
../shared/leafiq-export-v1.md: an issue code belongs to the invalid class (something present is
corrupt or unsafe) or the partial class (something is missing); ISSUE_CODES says which, with the one
line the console shows. LOAD_ID_CONFLICT needs the database, so the intake service raises it.

Files are never read whole: hashes and CSVs stream, so memory stays flat as files grow. A CSV is
read with Arrow's streaming reader (every column as text, types checked with vectorised kernels);
a file the fast reader cannot take as it stands (a ragged row, a byte that is not UTF-8, a blank
line) is read again, record by record, to say exactly where.

Rows: row N of a CSV is its Nth record after the header, counting records, not lines (a quoted
value may span lines); a blank line is a record with one empty field.

issues.py holds the issue codes, Issue and ValidationReport; archive.py the zip checks and
safe_extract; manifest.py the manifest's checks; csvcheck.py the CSV checks; export.py
validate_export and the checks of the files and objects of one export folder.
"""

from evidence.intake.validation.archive import (
    DEFAULT_LIMITS,
    GIB,
    MIB,
    ArchiveLimits,
    path_problem,
    safe_extract,
)
from evidence.intake.validation.csvcheck import (
    MAX_LISTED,
    SLOW_BATCH_ROWS,
    bad_values,
    check_csv,
)
from evidence.intake.validation.export import validate_export
from evidence.intake.validation.issues import (
    ARCHIVE_UNSAFE,
    BAD_LOAD_ID,
    CSV_BAD_VALUE,
    CSV_BOM,
    CSV_ENCODING,
    CSV_FIELD_TOO_LARGE,
    CSV_HEADER_MISMATCH,
    CSV_NUL_BYTE,
    CSV_RAGGED_ROW,
    CSV_ROW_COUNT_MISMATCH,
    DANGLING_REFERENCE,
    DECLARED_PARTIAL,
    DUPLICATE_ID,
    ERROR,
    FILE_MISSING,
    HASH_MISMATCH,
    INFO,
    INVALID,
    ISSUE_CODES,
    LOAD_ID_CONFLICT,
    MANIFEST_SCHEMA,
    MANIFEST_UNREADABLE,
    NO_EFFECT,
    OBJECT_INVALID,
    PARTIAL,
    SIZE_MISMATCH,
    UNKNOWN_FORMAT,
    UNLISTED_FILE,
    UNSAFE_PATH,
    WARNING,
    Issue,
    IssueCode,
    ValidationReport,
    export_status,
    issue,
)
from evidence.intake.validation.manifest import (
    DATASET_ID,
    LOAD_ID,
    MANIFEST,
    MAX_MANIFEST_BYTES,
    SHA256,
    load_id_problem,
)

__all__ = [
    "ARCHIVE_UNSAFE",
    "BAD_LOAD_ID",
    "CSV_BAD_VALUE",
    "CSV_BOM",
    "CSV_ENCODING",
    "CSV_FIELD_TOO_LARGE",
    "CSV_HEADER_MISMATCH",
    "CSV_NUL_BYTE",
    "CSV_RAGGED_ROW",
    "CSV_ROW_COUNT_MISMATCH",
    "DANGLING_REFERENCE",
    "DATASET_ID",
    "DECLARED_PARTIAL",
    "DEFAULT_LIMITS",
    "DUPLICATE_ID",
    "ERROR",
    "FILE_MISSING",
    "GIB",
    "HASH_MISMATCH",
    "INFO",
    "INVALID",
    "ISSUE_CODES",
    "LOAD_ID",
    "LOAD_ID_CONFLICT",
    "MANIFEST",
    "MANIFEST_SCHEMA",
    "MANIFEST_UNREADABLE",
    "MAX_LISTED",
    "MAX_MANIFEST_BYTES",
    "MIB",
    "NO_EFFECT",
    "OBJECT_INVALID",
    "PARTIAL",
    "SHA256",
    "SIZE_MISMATCH",
    "SLOW_BATCH_ROWS",
    "UNKNOWN_FORMAT",
    "UNLISTED_FILE",
    "UNSAFE_PATH",
    "WARNING",
    "ArchiveLimits",
    "Issue",
    "IssueCode",
    "ValidationReport",
    "bad_values",
    "check_csv",
    "export_status",
    "issue",
    "load_id_problem",
    "path_problem",
    "safe_extract",
    "validate_export",
]
