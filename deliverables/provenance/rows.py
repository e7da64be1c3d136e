"""Provenance of a run's numbers: which dataset rows each number adds up, re-derived from what the run read.

Plain service module (views and API stay thin):

- `number_of(run, key)`: the RunNumber with that key, or a finding (`finding:<kind>:<claim_id>`) read from the
  run's findings artifact, shaped like a RunNumber (its contributing row is its claim line: relation `cur`,
  predicate `_row = <claim_row>`, one row, checksum md5("<claim_row>"));
- `contributing_rows(run, number, after, limit)`: the rows the number adds up, keyset-paged by `_row`, with the
  dataset's own (Domo) columns;
- `rederive(run, number)`: recount and rechecksum those rows from the dataset version and the evidence tables
  the run stored, recompute the number's figures and amount from them (provenance.figures), and compare with
  what the run stored;
- `rows_csv(run, number)`: every contributing row as CSV lines (formula-injection safe).

How the rows are found: the dataset version's silver Parquet is copied from the lake (the version the run read,
not today's), the run's own evidence tables are read from the lake (run.inputs["evidence_tables"]), the engine
registers them within the run's scope, definitions.MATERIALIZE builds `cur` and `ct`, and the number's predicate
selects its `_row`s there. A findings total (relation `findings`) adds up the claim rows of its findings in the
findings artifact; a savings summary (relation `numbers`) adds up other numbers of the run (its "rows" are those
numbers). The prepared row set of a number is cached as a local Parquet under VAR_DIR/provenance/<inputs
sha256>/ so paging a large set does not recompute it for every page; the cache is safe to delete.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.conf import settings

from console.csvcells import csv_line
from deliverables import caches
from deliverables.calculations import definitions, engine
from deliverables.choices import Decision, NumberKind
from deliverables.models import CalculationRun, RunNumber
from deliverables.provenance.figures import differences, finding_figures, rederive_figures, text_of

FINDING_PREFIX = "finding:"
PAGE_LIMIT = 50
MAX_LIMIT = 500
ROW = "_row"


class ProvenanceError(ValueError):
    """The rows of a number cannot be found from what the run stored; the message says what is missing."""


class BadRowsQuery(ProvenanceError):
    """`after` or `limit` of a rows page is not valid; the message names the parameter."""


# --- the number -----------------------------------------------------------------------------------------------
@dataclass
class FindingNumber:
    """One finding of a run's findings artifact, with the attributes of a RunNumber a page needs."""

    run: CalculationRun
    key: str
    finding: dict  # the artifact's row
    label: str = ""
    kind: str = NumberKind.FINDING
    calculation: str = "pricing_findings"
    calculation_version: str = ""
    client_account_id: str = ""
    decision: str = ""
    amount: Decimal | None = None
    indicative_amount: Decimal | None = None
    figures: dict = field(default_factory=dict)
    evidence: dict = field(default_factory=dict)
    dataset_key: str = ""
    dataset_version: int | None = None
    relation: str = "cur"
    predicate: str = ""
    row_count: int = 1
    rows_checksum: str = ""
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    position: int = 0
    is_finding: bool = True

    def get_kind_display(self) -> str:
        return NumberKind(self.kind).label

    def get_decision_display(self) -> str:
        return Decision(self.decision).label


def checksum_of(rows) -> str:
    """definitions.rows_checksum in Python: MD5 of the row numbers in ascending order, comma-separated ("" for
    none: the SQL aggregate is NULL over no rows, and the run stores "")."""
    ordered = sorted(int(r) for r in rows)
    if not ordered:
        return ""
    return hashlib.md5(",".join(str(r) for r in ordered).encode()).hexdigest()


def parse_finding_key(key: str) -> tuple[str, str] | None:
    """(kind, claim_id) of `finding:<kind>:<claim_id>`; None for any other key."""
    if not key.startswith(FINDING_PREFIX):
        return None
    parts = key.split(":", 2)
    if len(parts) != 3 or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def _folder() -> Path:
    folder = Path(settings.VAR_DIR) / "provenance"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _connect():
    return engine.connect(memory_limit=settings.RUN_DUCKDB_MEMORY, temp_directory=str(_folder()))


def _literal(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _finding(run: CalculationRun, kind: str, claim_id: str) -> dict | None:
    if not run.findings_path:
        return None
    path = _findings_path(run)
    con = _connect()
    try:
        cursor = con.execute(f"SELECT * FROM read_parquet({_literal(str(path))}) WHERE kind = ? AND claim_id = ? "
                             "ORDER BY client_account_id LIMIT 1", [kind, claim_id])
        row = cursor.fetchone()
        return None if row is None else dict(zip([d[0] for d in cursor.description], row, strict=True))
    finally:
        con.close()


def number_of(run: CalculationRun, key: str):
    """The RunNumber of `run` with `key`, or for `finding:<kind>:<claim_id>` the finding as a FindingNumber;
    None when the run has no such number."""
    parsed = parse_finding_key(key)
    if parsed is None:
        return RunNumber.objects.filter(run=run, key=key).first()
    row = _finding(run, *parsed)
    if row is None:
        return None
    claims = (run.inputs or {}).get("claims", {})
    decision = row["decision"]
    claim_row = int(row["claim_row"])
    figures = finding_figures(row)
    missing = []
    if row.get("flag_key"):
        missing.append({"kind": "pricing" if row["kind"] == "mac" else "contract", "flag_key": row["flag_key"],
                        "reason": _finding_reason(row)})
    return FindingNumber(
        run=run, key=key, finding=row, client_account_id=row["client_account_id"],
        label=f"Pricing audit finding, {row['kind'].replace('_', ' ')}, claim {row['claim_id']}",
        calculation_version=(run.inputs or {}).get("calculations", {}).get("pricing_findings", ""),
        decision=decision,
        amount=row["overpayment"] if decision == Decision.AUTHORIZED else None,
        indicative_amount=row["indicative_overpayment"] if decision == Decision.INDICATIVE else None,
        figures=figures, evidence={"used": [], "seen": [], "missing": missing,
                                   "sources": [s for s in (row.get("term_source"), row.get("price_source")) if s]},
        dataset_key=claims.get("dataset_key", ""), dataset_version=claims.get("version"),
        relation="cur", predicate=f"{ROW} = {claim_row}", row_count=1, rows_checksum=checksum_of([claim_row]),
        period_start=row.get("fill_date"), period_end=row.get("fill_date"))


def _finding_reason(row: dict) -> str:
    if row.get("conflict"):
        return "governed prices in force on the fill date disagree"
    if row["kind"] == "mac":
        return "the price list is a candidate's: no governed pricing evidence covers this NDC and month"
    return "the terms are a candidate's: no governed contract covers this component and year"


# --- the contributing rows ----------------------------------------------------------------------------------
def _claims_version(run: CalculationRun) -> dict:
    claims = (run.inputs or {}).get("claims")
    if not claims:
        raise ProvenanceError(f"run #{run.pk} recorded no claims input (it did not succeed)")
    return {"dataset_key": claims["dataset_key"], "version": claims["version"], "rows": claims["rows"],
            "checksum": claims["checksum"], "load_id": claims["load_id"],
            "manifest_sha256": claims["manifest_sha256"], "columns": {}}


def _evidence_tables(run: CalculationRun) -> dict:
    """The terms, prices and invoices the run calculated with, read from the lake, with whether their bytes still
    hash to what the run recorded (the lake verifies on read too)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from console.lake import get_lake

    stored = (run.inputs or {}).get("evidence_tables") or {}
    tables, checked = {}, {}
    for relation in ("terms", "prices", "invoices"):
        entry = stored.get(relation)
        if not entry or not entry.get("path"):
            raise ProvenanceError(f"run #{run.pk}: the {relation} table it calculated with is not recorded")
        data = get_lake().read(entry["path"])
        checked[relation] = hashlib.sha256(data).hexdigest() == entry.get("sha256")
        tables[relation] = pq.read_table(pa.BufferReader(data))
    return {"tables": tables, "checked": checked}


@contextmanager
def _prepared(run: CalculationRun, *, hash_silver: bool = False):
    """A DuckDB connection with `claims`, the evidence tables, `cur` and `ct` of the run, and `raw`: the silver
    Parquet with its row numbers. Yields (con, facts)."""
    from console.lake import LakeError
    from evidence.flags.needs import FlagInputError
    from evidence.flags.services import claims_sources
    from evidence.models import DomoDataset

    version = _claims_version(run)
    try:
        evidence = _evidence_tables(run)
    except LakeError as exc:
        raise ProvenanceError(f"run #{run.pk}: its evidence tables cannot be read from the lake ({exc})") from exc
    facts = {"evidence_tables_intact": evidence["checked"]}
    with ExitStack() as stack:
        try:
            sources = stack.enter_context(claims_sources([version]))
        except (FlagInputError, LakeError) as exc:
            raise ProvenanceError(f"run #{run.pk}: the claims version it read cannot be copied ({exc})") from exc
        parquet = sources[0].path
        if hash_silver:
            dataset = DomoDataset.objects.filter(
                manifest__load_id=version["load_id"], manifest__manifest_sha256=version["manifest_sha256"],
                domo_id=version["dataset_key"]).exclude(silver_path="").first()
            digest = hashlib.sha256()
            with open(parquet, "rb") as stream:
                for chunk in iter(lambda: stream.read(1 << 20), b""):
                    digest.update(chunk)
            facts["silver_sha256"] = digest.hexdigest()
            facts["silver_sha256_recorded"] = dataset.silver_sha256 if dataset else ""
        con = _connect()
        stack.callback(con.close)
        tables = evidence["tables"]
        engine.register(con, parquet, tables["terms"], tables["prices"], tables["invoices"],
                        scope=engine.Scope(client=run.client_account_id or None,
                                           period=(run.period_start, run.period_end)))
        for statement in definitions.MATERIALIZE:
            con.execute(statement)
        con.execute(f"CREATE OR REPLACE TEMP VIEW raw AS SELECT * FROM read_parquet({_literal(str(parquet))}, "
                    "file_row_number = true)")
        yield con, facts


def _row_numbers_sql(run: CalculationRun, number, findings_path: Path | None) -> str:
    """SQL giving the `_row` of each contributing row of `number` (relations cur, ct or findings)."""
    if number.relation in ("cur", "ct"):
        return f"SELECT {ROW} FROM {number.relation} WHERE {number.predicate}"
    if number.relation == "findings":
        return (f"SELECT claim_row AS {ROW} FROM read_parquet({_literal(str(findings_path))}) "
                f"WHERE {number.predicate}")
    raise ProvenanceError(f"number {number.key}: relation {number.relation!r} has no dataset rows")


def _findings_path(run: CalculationRun) -> Path:
    """The run's findings artifact, through the runs' local cache (copied once, checked against its SHA-256)."""
    from deliverables.runs.selectors import FindingsUnavailable, findings_file

    try:
        return findings_file(run)
    except FindingsUnavailable as missing:
        raise ProvenanceError(str(missing)) from None


@contextmanager
def _findings_file(run: CalculationRun, number):
    if number.relation == "findings":
        if not run.findings_path:
            raise ProvenanceError(f"run #{run.pk} stored no findings artifact")
        yield _findings_path(run)
    else:
        yield None


def _cache_path(run: CalculationRun, number) -> Path:
    # The key names the number; its relation and predicate say which rows: all three name the file.
    name = hashlib.sha256(f"{number.key}\n{number.relation}\n{number.predicate}".encode()).hexdigest()
    return _folder() / (run.inputs_sha256 or f"run-{run.pk}") / f"{name}.parquet"


def _columns_of(con) -> list[str]:
    return [row[0] for row in con.execute("DESCRIBE raw").fetchall() if row[0] != "file_row_number"]


def _prepare_cache(run: CalculationRun, number) -> Path:
    """The contributing rows of a dataset-row number as a local Parquet (every Domo column, then `_row`), ordered
    by `_row`: made once per (run inputs, key)."""
    path = _cache_path(run, number)
    if path.exists():
        return caches.used(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _findings_file(run, number) as findings, _prepared(run) as (con, _facts):
        wanted = _row_numbers_sql(run, number, findings)
        columns = ", ".join('r."' + c.replace('"', '""') + '"' for c in _columns_of(con))
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".parquet.tmp")
        os.close(handle)
        try:
            con.execute(f"COPY (SELECT {columns}, r.file_row_number AS {ROW} FROM raw AS r "
                        f"WHERE r.file_row_number IN ({wanted}) ORDER BY r.file_row_number) "
                        f"TO {_literal(temporary)} (FORMAT PARQUET)")
            os.replace(temporary, path)  # atomic: a reader sees the whole set or none
        finally:
            Path(temporary).unlink(missing_ok=True)
    return path


def _number_rows(run: CalculationRun, number) -> list[dict]:
    """A savings summary's "rows": the numbers it adds up, in the run's order, `_row` their position."""
    keys = (number.evidence or {}).get("numbers", [])
    rows = []
    for n in RunNumber.objects.filter(run=run, key__in=keys).order_by("position"):
        rows.append({ROW: n.position, "key": n.key, "label": n.label, "decision": n.decision,
                     "amount": text_of(n.amount), "indicative_amount": text_of(n.indicative_amount),
                     "row_count": n.row_count, "rows_checksum": n.rows_checksum})
    return rows


@dataclass
class RowsPage:
    columns: list[str]
    rows: list[dict]
    next_after: int | None  # the `_row` to continue after; None on the last page
    total: int


def _limit(limit) -> int:
    try:
        value = int(limit if limit is not None else PAGE_LIMIT)
    except (TypeError, ValueError):
        raise BadRowsQuery(f"limit: {limit!r} is not a whole number") from None
    if not 1 <= value <= MAX_LIMIT:
        raise BadRowsQuery(f"limit: {value} is not between 1 and {MAX_LIMIT}")
    return value


def parse_after(after) -> int | None:
    if after in (None, ""):
        return None
    try:
        return int(after)
    except (TypeError, ValueError):
        raise BadRowsQuery(f"after: {after!r} is not a row number") from None


def contributing_rows(run: CalculationRun, number, after=None, limit=PAGE_LIMIT) -> RowsPage:
    """One keyset page of the rows `number` adds up: `_row` > `after`, ascending, at most `limit`."""
    after, limit = parse_after(after), _limit(limit)
    if number.relation == "numbers":
        rows = _number_rows(run, number)
        later = [r for r in rows if after is None or r[ROW] > after]
        page = later[:limit]
        columns = [ROW, "key", "label", "decision", "amount", "indicative_amount", "row_count", "rows_checksum"]
        return RowsPage(columns=columns, rows=page, next_after=page[-1][ROW] if len(later) > limit else None,
                        total=len(rows))
    path = _prepare_cache(run, number)
    import duckdb

    con = duckdb.connect()
    try:
        source = f"read_parquet({_literal(str(path))})"
        total = con.execute(f"SELECT COUNT(*) FROM {source}").fetchone()[0]
        where = "" if after is None else f"WHERE {ROW} > {after}"
        cursor = con.execute(f"SELECT * FROM {source} {where} ORDER BY {ROW} LIMIT {limit + 1}")
        columns = [d[0] for d in cursor.description]
        fetched = cursor.fetchall()
    finally:
        con.close()
    rows = [{c: text_of(v) if c != ROW else v for c, v in zip(columns, row, strict=True)} for row in fetched[:limit]]
    ordered = [ROW, *[c for c in columns if c != ROW]]
    return RowsPage(columns=ordered, rows=rows, next_after=rows[-1][ROW] if len(fetched) > limit else None,
                    total=total)


# --- re-derivation ------------------------------------------------------------------------------------------
def rederive(run: CalculationRun, number) -> dict:
    """Recount and rechecksum the rows of `number` from the dataset version and the evidence tables the run
    stored (never the cache), recompute its figures and amount from those rows (figures.rederive_figures), and
    compare both with what the run stored: `differences` names each figure that differs (figure, stored,
    rederived), `difference` says it all in words."""
    stored = {"rows": int(number.row_count), "checksum": number.rows_checksum or ""}
    notes: list[str] = []
    if number.relation == "numbers":
        again = rederive_figures(run, number)
        rows = _number_rows(run, number)
        derived = {"rows": sum(int(r["row_count"]) for r in rows), "checksum": ""}
        expected = set((number.evidence or {}).get("numbers", []))
        if len(rows) != len(expected):
            notes.append(f"{len(expected) - len(rows)} of the numbers it adds up are not stored in the run")
    else:
        with _findings_file(run, number) as findings, _prepared(run, hash_silver=True) as (con, facts):
            wanted = _row_numbers_sql(run, number, findings)
            count, checksum = con.execute(
                f"SELECT COUNT(*), {definitions.rows_checksum()} FROM ({wanted}) AS w").fetchone()
            derived = {"rows": int(count), "checksum": checksum or ""}
            again = rederive_figures(run, number, con)
            if number.relation == "findings":
                outside = con.execute(f"SELECT COUNT(*) FROM ({wanted}) AS w WHERE {ROW} NOT IN "
                                      f"(SELECT {ROW} FROM cur)").fetchone()[0]
                if outside:
                    notes.append(f"{outside} finding claim row(s) are not current paid claim lines of the dataset")
                if findings is not None:
                    digest = hashlib.sha256(findings.read_bytes()).hexdigest()
                    if digest != run.findings_sha256:
                        notes.append("the findings artifact no longer hashes to what the run recorded")
        recorded = facts.get("silver_sha256_recorded")
        if recorded:
            same = facts["silver_sha256"] == recorded
            notes.append("the silver Parquet still hashes to what intake recorded" if same else
                         f"the silver Parquet hashes to {facts['silver_sha256']}, intake recorded {recorded}")
            if not same:
                derived["silver_changed"] = True
        else:
            notes.append("intake recorded no hash of the silver Parquet to compare with")
        broken = [name for name, intact in facts["evidence_tables_intact"].items() if not intact]
        if broken:
            notes.append(f"the stored {', '.join(broken)} table(s) no longer hash to what the run recorded")
    differ = differences(number, again)
    parts = []
    if derived["rows"] != stored["rows"]:
        parts.append(f"the run stored {stored['rows']} rows, the dataset version gives {derived['rows']}")
    if derived["checksum"] != stored["checksum"]:
        parts.append(f"the run stored checksum {stored['checksum'] or '(none)'}, the rows give "
                     f"{derived['checksum'] or '(none)'}")
    if again is None:
        parts.append("its rows give no such line to re-derive its figures from")
    parts += [f"{d['figure'].replace('_', ' ')}: the run stored {d['stored'] or '(none)'}, re-derived "
              f"{d['rederived'] or '(none)'}" for d in differ]
    return {"matches": not parts, "stored": stored, "derived": {"rows": derived["rows"],
                                                                "checksum": derived["checksum"]},
            "difference": "; ".join(parts), "notes": notes, "differences": differ,
            "rederived": None if again is None else {
                "figures": again["figures"], "amount": text_of(again["amount"]),
                "indicative_amount": text_of(again["indicative_amount"])}}


# --- CSV ------------------------------------------------------------------------------------------------------
def rows_csv(run: CalculationRun, number) -> Iterator[str]:
    """Every contributing row as CSV lines: a header (the Domo column names, then `_row`), then one line a row."""
    line = csv_line()
    after = None
    header = None
    while True:
        page = contributing_rows(run, number, after=after, limit=MAX_LIMIT)
        if header is None:
            header = [c for c in page.columns if c != ROW] + [ROW]
            yield line(header)
        for row in page.rows:
            yield line([row.get(c) for c in header])
        if page.next_after is None:
            return
        after = page.next_after
