"""The data of a client workbook: the run's record (RunFacts), the client's numbers (NumberLine), the findings
artifact and the flags' descriptions (WorkbookData), and what a build returns (WorkbookResult). Plain module:
deliverables.workbooks.data fills a WorkbookData from a run; the bench and the tests build one directly."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

AUTHORIZED, INDICATIVE, NOT_CONCLUDED = "authorized", "indicative", "not_concluded"
DECISION_LABELS = {AUTHORIZED: "Authorized", INDICATIVE: "Indicative (candidate evidence, not a conclusion)",
                   NOT_CONCLUDED: "Not concluded"}
FINDING_LABELS = {"mac": "Generic paid above MAC", "brand_awp": "Brand paid above AWP × (1 − rate)",
                  "dispensing_fee": "Dispensing fee above the contracted fee", "duplicate": "Duplicate claim"}


@dataclass(frozen=True)
class NumberLine:
    """One stored number of the run (RunNumber), as the workbook needs it."""

    key: str
    kind: str
    label: str
    decision: str
    figures: dict
    evidence: dict
    amount: Decimal | None = None
    indicative_amount: Decimal | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    calculation: str = ""
    calculation_version: str = ""
    dataset_key: str = ""
    dataset_version: int | None = None
    row_count: int = 0
    rows_checksum: str = ""

    @property
    def headline(self) -> Decimal | None:
        return self.amount if self.decision == AUTHORIZED else (
            self.indicative_amount if self.decision == INDICATIVE else None)


@dataclass(frozen=True)
class RunFacts:
    """Who ran the run where, and what it read (CalculationRun's record)."""

    run_id: int
    state: str
    finished_at: dt.datetime
    client_scope: str = ""
    engine: str = ""
    calculation_version: str = ""
    inputs: dict = field(default_factory=dict)  # what it read; its 'evidence': only the revisions of the client
    inputs_sha256: str = ""
    result_sha256: str = ""
    findings_path: str = ""
    findings_sha256: str = ""
    findings_count: int = 0
    queue: str = ""
    worker_host: str = ""
    worker_pid: int | None = None
    task_id: str = ""
    trace_id: str = ""
    traceparent: str = ""
    requested_by: str = ""
    requested_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    attempts: int = 0


@dataclass
class WorkbookData:
    """Everything a client's workbook shows: the run, the client's numbers in the run's order, the findings
    artifact (a local Parquet file, read a batch at a time) and the reasons of the missing-evidence flags."""

    run: RunFacts
    client_account_id: str
    period_start: dt.date
    period_end: dt.date
    numbers: list[NumberLine]
    findings_file: Path | None = None
    client_name: str = ""
    flag_reasons: dict[str, str] = field(default_factory=dict)
    numbers_path: str = ""  # the provenance pages' path prefix; default /runs/<run id>/numbers/

    def number_path(self, key: str) -> str:
        prefix = self.numbers_path or f"/runs/{self.run.run_id}/numbers/"
        return f"{prefix}{quote(key, safe=':')}/"


@dataclass(frozen=True)
class WorkbookResult:
    sha256: str
    bytes: int
    sheets: tuple[str, ...]
    rows: dict[str, int]  # rows written per sheet (headings included)
    # The cells whose text held control characters (0x00-0x1F but tab and line feed; U+FFFE, U+FFFF), written as
    # Excel's _xHHHH_ escapes and read back exactly: (sheet, column heading, cells), in workbook order. Empty when
    # the data held none.
    escaped: tuple[tuple[str, str, int], ...] = ()

    @property
    def escaped_cells(self) -> int:
        return sum(count for _, _, count in self.escaped)


def escaped_report(escaped) -> str:
    """The build's report of its escaped cells in a sentence ("" when there are none): "3 cells held control
    characters; they are written as Excel escapes (_xHHHH_) and read back exactly: Findings › Drug (2), Summary ›
    Client (1)". `escaped` is WorkbookResult.escaped, or the lists a deliverable's summary stores."""
    escaped = [(str(sheet), str(column), int(count)) for sheet, column, count in escaped or ()]
    cells = sum(count for _, _, count in escaped)
    if not cells:
        return ""
    held = "1 cell held control characters; it is" if cells == 1 else f"{cells} cells held control characters; they are"
    where = ", ".join(f"{sheet} › {column} ({count})" for sheet, column, count in escaped)
    return f"{held} written as Excel escapes (_xHHHH_) and read back exactly: {where}"
