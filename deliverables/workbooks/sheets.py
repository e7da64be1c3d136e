"""The seven sheets of a client workbook (Summary, Guarantees, Rebates, Findings, Evidence, Not concluded,
Provenance), written from a WorkbookData through deliverables.workbooks.xlsx. Plain module."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import BinaryIO
from urllib.parse import quote

from deliverables.workbooks import xlsx
from deliverables.workbooks.model import (
    AUTHORIZED,
    DECISION_LABELS,
    FINDING_LABELS,
    INDICATIVE,
    NOT_CONCLUDED,
    NumberLine,
    WorkbookData,
)

CREATOR = "Leaf Health deliverables console"
OWN_HASH = "recorded in the console with the deliverable (a file cannot hold its own hash)"
LEGEND = ("Authorized: a conclusion on governed evidence. Indicative: computed on candidate evidence, not a "
          "conclusion. Not concluded: evidence is missing; the cell names it, never a zero.")
FINDINGS_BATCH = 8192
# Excel keeps at most 65,530 hyperlinks on a worksheet and, past that, "repairs" the file by dropping every one:
# the findings (one link a row) continue on "Findings 2", "Findings 3", ... every FINDINGS_PER_SHEET rows.
FINDINGS_PER_SHEET = 65_000
NOT_SHOWN = "—"  # an amount the finding's decision does not give (never a zero)
FINDINGS_WIDTHS = [30, 16, 12, 14, 24, 14, 24, 10, 10, 28, 30, 14, 14, 14, 14, 16, 60]

# The figures of each kind of number, in order: (figure, heading, type); type is money, rate, count or text.
GUARANTEE_FIGURES = {
    "awp_guarantee": (("guarantee_basis", "Guarantee basis", "text"), ("claims", "Claims", "count"),
                      ("awp", "AWP", "money"), ("ingredient_cost_paid", "Ingredient cost paid", "money"),
                      ("guaranteed_discount", "Guaranteed discount", "money"),
                      ("actual_discount", "Actual discount", "money"), ("effective_rate", "Effective rate", "rate"),
                      ("shortfall", "Shortfall", "money"), ("shortfall_owed", "Shortfall owed", "money")),
    "fee_guarantee": (("scripts", "Scripts", "count"), ("contracted_fee", "Contracted fee", "money"),
                      ("fees_paid", "Fees paid", "money"), ("guaranteed_fees", "Guaranteed fees", "money"),
                      ("shortfall", "Shortfall", "money")),
    "rebate_guarantee": (("quarter", "Quarter", "text"), ("brand_claims", "Brand claims", "count"),
                         ("ndcs", "NDCs", "count"), ("ndcs_without_invoice", "NDCs without invoice", "count"),
                         ("guaranteed_rebates", "Guaranteed rebates", "money"),
                         ("rebates_received", "Rebates received", "money"), ("shortfall", "Shortfall", "money"),
                         ("unmatched_invoices", "Unmatched invoices", "money")),
    "savings": (("guarantee_shortfalls", "Guarantee shortfalls", "money"),
                ("rebate_shortfalls", "Rebate shortfalls", "money"), ("overpayments", "Overpayments", "money"),
                ("overpayments_not_added", "Overpayments shown, not added", "money"),
                ("numbers", "Numbers", "count"), ("flags", "Missing-evidence flags", "count"),
                ("total", "Total", "money")),
    "finding": (("findings", "Findings", "count"), ("paid", "Paid", "money"),
                ("overpayment", "Overpayment", "money")),
}
# The figures that depend on the evidence (compute.AMOUNT_FIGURES): a number not concluded names what is missing.
AMOUNT_FIGURES = ("shortfall", "shortfall_owed", "overpayment", "indicative_overpayment", "total")

# The findings sheet: text columns, then the money columns (one link a row spans them), then the missing evidence.
FINDING_TEXT = (("kind", "Kind"), ("claim_id", "Claim id"), ("fill_date", "Fill date"), ("ndc", "NDC"),
                ("drug_name", "Drug"), ("pharmacy_npi", "Pharmacy NPI"), ("pharmacy_name", "Pharmacy"),
                ("channel", "Channel"), ("drug_class", "Drug class"), ("reference", "Reference"),
                ("decision", "Decision"))
FINDING_MONEY = (("paid", "Paid"), ("allowed", "Allowed"), ("overpayment", "Overpayment"),
                 ("indicative_overpayment", "Indicative overpayment"))
OPTIONAL_FINDING_COLUMNS = ("drug_name", "pharmacy_name")  # shown when the artifact has them


def _dec(value) -> Decimal | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _day(value) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)


class Builder:
    """Writes one workbook: the sheets in order, each a write-only sheet (deliverables.workbooks.xlsx.Sheet)."""

    def __init__(self, data: WorkbookData, base_url: str, progress: Callable[[str, int], None] | None = None):
        self.data = data
        self.base_url = base_url
        self.progress = progress or (lambda sheet, rows: None)
        self.rows: dict[str, int] = {}
        # (sheet, column, cells) whose text held control characters written as Excel escapes, in workbook order
        self.escaped: tuple[tuple[str, str, int], ...] = ()
        self.numbers = {kind: [n for n in data.numbers if n.kind == kind]
                        for kind in ("awp_guarantee", "fee_guarantee", "rebate_guarantee", "finding", "savings")}

    def url(self, key: str) -> str:
        return self.base_url + self.data.number_path(key)

    def missing_text(self, number: NumberLine) -> str:
        """What a not-concluded number waits on, in words (never a zero)."""
        reasons = []
        for m in number.evidence.get("missing") or []:
            reason = m.get("reason") or self.data.flag_reasons.get(m.get("flag_key") or "", "")
            if reason and reason not in reasons:
                reasons.append(reason)
        if not reasons:
            flags = [m.get("flag_key") for m in number.evidence.get("missing") or [] if m.get("flag_key")]
            reasons.append("evidence is missing" + (f" (flags: {', '.join(flags)})" if flags else ""))
        return "Not concluded: " + "; ".join(reasons)

    def write(self, out: BinaryIO, folder: str) -> None:
        book = xlsx.new_book()
        stamp = xlsx.excel_datetime(self.data.run.finished_at)
        props = book.properties
        props.creator = CREATOR
        props.lastModifiedBy = CREATOR
        props.created = stamp
        props.modified = stamp
        props.title = xlsx.xstring(f"{self.client_title()}, {_day(self.data.period_start)} to "
                                   f"{_day(self.data.period_end)}")
        props.subject = f"Calculation run #{self.data.run.run_id}"
        props.identifier = f"run-{self.data.run.run_id}-{self.data.client_account_id}"
        styles = xlsx.Styles(book)
        sheets = []

        def sheet(title: str, widths: list[float], freeze: str | None = None) -> xlsx.Sheet:
            if sheets:
                self.progress(sheets[-1].title, sheets[-1].rows)
            made = xlsx.Sheet(book, styles, title, widths, folder, freeze=freeze)
            sheets.append(made)
            return made

        try:
            self.summary(sheet("Summary", [44, 26, 18, 18, 18, 18, 18, 14, 14, 18, 60]))
            self.guarantees(sheet("Guarantees", [58, 14, 12, 12] + [18] * 10 + [60]))
            self.rebates(sheet("Rebates", [30, 14] + [16] * 8 + [60]))
            self.findings(sheet)
            self.evidence(sheet("Evidence", [12, 30, 10, 14, 66, 60]))
            self.not_concluded(sheet("Not concluded", [58, 16, 12, 80, 48, 14, 60]))
            self.provenance(sheet("Provenance", [28, 40, 90]))
        except BaseException:
            for made in sheets:
                made.abandon()
            raise
        self.progress(sheets[-1].title, sheets[-1].rows)
        xlsx.save(book, sheets, out, stamp=stamp)
        self.rows = {s.title: s.rows for s in sheets}
        self.escaped = tuple((s.title, name, count) for s in sheets for name, count in s.escaped.items())

    def client_title(self) -> str:
        name = self.data.client_name
        return f"{name} ({self.data.client_account_id})" if name else self.data.client_account_id

    def heading(self, sheet: xlsx.Sheet, names) -> None:
        sheet.append([sheet.text(n, sheet.styles.header) for n in names])
        sheet.columns = tuple(names)  # the rows that follow are this table's

    def title(self, sheet: xlsx.Sheet, text: str) -> None:
        sheet.append([sheet.text(text, sheet.styles.title)], names=("Title",))

    def figure_cell(self, sheet: xlsx.Sheet, number: NumberLine, name: str, kind: str):
        """One figure of a number: a linked number, the missing evidence where a not-concluded figure would be,
        or text."""
        sheet.field = f"{number.key} {name}"
        value = number.figures.get(name)
        if number.decision == NOT_CONCLUDED and name in AMOUNT_FIGURES:
            return sheet.text(self.missing_text(number), sheet.styles.missing)
        if value is None or value == "":
            return None
        if kind == "money":
            return sheet.money(_dec(value), link=True)
        if kind == "rate":
            return sheet.rate(_dec(value), link=True)
        if kind == "count":
            return sheet.count(int(value), link=True)
        return sheet.text(value)

    def headline_cells(self, sheet: xlsx.Sheet, number: NumberLine) -> list:
        """Amount (authorized) and indicative amount; a not-concluded number names its missing evidence."""
        sheet.field = f"{number.key} amount"
        if number.decision == NOT_CONCLUDED:
            return [sheet.text(self.missing_text(number), sheet.styles.missing), None]
        return [sheet.money(number.amount, link=True) if number.decision == AUTHORIZED else None,
                sheet.money(number.indicative_amount, link=True) if number.decision == INDICATIVE else None]

    def number_row(self, sheet: xlsx.Sheet, number: NumberLine, lead: list, figures) -> None:
        """lead cells, decision, amount, indicative amount, the figures, the provenance URL; every number cell
        linked to the number's page."""
        url = self.url(number.key)
        cells = [*lead, sheet.text(DECISION_LABELS.get(number.decision, number.decision)),
                 *self.headline_cells(sheet, number)]
        cells += [self.figure_cell(sheet, number, name, kind) for name, _, kind in figures]
        cells.append(sheet.text(url))
        links = [(i, i, url) for i, cell in enumerate(cells, 1) if _is_number(cell) or _is_missing(sheet, cell)]
        links.append((len(cells), len(cells), url))
        sheet.append(cells, links)

    # Summary
    def summary(self, sheet: xlsx.Sheet) -> None:
        d = self.data
        self.title(sheet, f"Pharmacy-benefit audit: {self.client_title()}")
        for label, value in (("Client", d.client_name or d.client_account_id),
                             ("Client account id", d.client_account_id),
                             ("Period", f"{_day(d.period_start)} to {_day(d.period_end)}"),
                             ("Calculation run", f"#{d.run.run_id}, finished {_day(xlsx.excel_datetime(d.run.finished_at))} UTC"),
                             ("Calculation version", d.run.calculation_version),
                             ("Result SHA-256", d.run.result_sha256),
                             ("Decisions", LEGEND)):
            sheet.append([sheet.text(label, sheet.styles.header), sheet.text(value)], names=(label, label))
        sheet.blank()
        self.title(sheet, "Savings")
        figures = GUARANTEE_FIGURES["savings"]
        self.heading(sheet, ["Savings", "Decision", "Amount", "Indicative amount", *(h for _, h, _ in figures),
                             "Provenance"])
        for number in self.numbers["savings"]:
            self.number_row(sheet, number, [sheet.text(number.label)], figures)
        sheet.blank()
        self.title(sheet, "Pricing audit findings")
        figures = GUARANTEE_FIGURES["finding"]
        self.heading(sheet, ["Findings", "Decision", "Amount", "Indicative amount", *(h for _, h, _ in figures),
                             "Provenance"])
        for number in self.numbers["finding"]:
            self.number_row(sheet, number, [sheet.text(number.label)], figures)

    # Guarantees
    def guarantees(self, sheet: xlsx.Sheet) -> None:
        for kind, title in (("awp_guarantee", "AWP discount guarantees"),
                            ("fee_guarantee", "Dispensing-fee guarantees")):
            figures = GUARANTEE_FIGURES[kind]
            self.title(sheet, title)
            self.heading(sheet, ["Guarantee", "Period start", "Period end", "Decision", "Amount",
                                 "Indicative amount", *(h for _, h, _ in figures), "Provenance"])
            for number in self.numbers[kind]:
                lead = [sheet.text(number.label), sheet.date(number.period_start), sheet.date(number.period_end)]
                self.number_row(sheet, number, lead, figures)
            if not self.numbers[kind]:
                sheet.append([sheet.text("None in this run for this client.")])
            sheet.blank()

    # Rebates
    def rebates(self, sheet: xlsx.Sheet) -> None:
        figures = GUARANTEE_FIGURES["rebate_guarantee"]
        self.title(sheet, "Rebate guarantees")
        self.heading(sheet, ["Rebate guarantee", "Decision", "Amount", "Indicative amount",
                             *(h for _, h, _ in figures), "Provenance"])
        for number in self.numbers["rebate_guarantee"]:
            self.number_row(sheet, number, [sheet.text(number.label)], figures)
        if not self.numbers["rebate_guarantee"]:
            sheet.append([sheet.text("None in this run for this client.")])

    # Findings
    def findings(self, new_sheet) -> None:
        path = self.data.findings_file
        columns = [c for c in FINDING_TEXT if c[0] not in OPTIONAL_FINDING_COLUMNS]
        sheet = new_sheet("Findings", FINDINGS_WIDTHS, "A2")
        if path is None:
            self.heading(sheet, [h for _, h in columns])
            sheet.append([sheet.text("This run has no findings artifact.")])
            return
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        names = set(parquet.schema_arrow.names)
        columns = [c for c in FINDING_TEXT if c[0] not in OPTIONAL_FINDING_COLUMNS or c[0] in names]
        wanted = [c for c, _ in columns] + [c for c, _ in FINDING_MONEY] + ["client_account_id", "flag_key",
                                                                             "conflict"]
        missing = [c for c in wanted if c not in names]
        if missing:
            raise xlsx.WorkbookError(f"findings artifact {path}: no column {', '.join(missing)}")
        # The link of a row spans its amounts and its provenance URL: a range with no blank cell in it (a reader
        # such as openpyxl fills a blank linked cell with the URL), so an amount the decision leaves out is "—".
        headings = [h for _, h in columns] + ["Missing evidence"] + [h for _, h in FINDING_MONEY] + ["Provenance"]
        self.heading(sheet, headings)
        part = 1
        first_money = len(columns) + 2
        provenance_col = first_money + len(FINDING_MONEY)
        kind_labels = dict(FINDING_LABELS)
        decision_labels = dict(DECISION_LABELS)
        text, money, date = sheet.text, sheet.money, sheet.date
        missing_style = sheet.styles.missing
        base = self.base_url + self.data.number_path("finding:")[:-1]  # ".../numbers/finding:" + kind:claim/
        client = self.data.client_account_id
        text_names = [c for c, _ in columns]
        for batch in parquet.iter_batches(batch_size=FINDINGS_BATCH, columns=wanted):
            if client:
                batch = batch.filter(pc.equal(batch.column("client_account_id"), client))
                if not batch.num_rows:
                    continue
            values = {name: batch.column(name).to_pylist() for name in wanted}
            for i in range(batch.num_rows):
                if sheet.rows > FINDINGS_PER_SHEET:  # the heading and FINDINGS_PER_SHEET findings
                    part += 1
                    sheet = new_sheet(f"Findings {part}", FINDINGS_WIDTHS, "A2")
                    text, money, date = sheet.text, sheet.money, sheet.date
                    self.heading(sheet, headings)
                kind, claim, decision = values["kind"][i], values["claim_id"][i], values["decision"][i]
                sheet.field = f"finding {kind}:{claim}"
                row = []
                for name in text_names:
                    value = values[name][i]
                    if name == "fill_date":
                        row.append(date(value))
                    elif name == "kind":
                        row.append(text(kind_labels.get(value, value)))
                    elif name == "decision":
                        row.append(text(decision_labels.get(value, value)))
                    else:
                        row.append(text(value))
                flag = values["flag_key"][i] or ""
                if decision == NOT_CONCLUDED:
                    reason = self.data.flag_reasons.get(flag) or (
                        "governed prices disagree for this claim" if values["conflict"][i] else "evidence is missing")
                    note = f"Not concluded: {reason}" + (f" (flag {flag})" if flag else "")
                    row += [text(note, missing_style), money(values["paid"][i], link=True),
                            text(note, missing_style), text(note, missing_style), NOT_SHOWN]
                else:
                    row += [text(flag), money(values["paid"][i], link=True),
                            money(values["allowed"][i], link=True) if values["allowed"][i] is not None else NOT_SHOWN,
                            money(values["overpayment"][i], link=True) if decision == AUTHORIZED else NOT_SHOWN,
                            money(values["indicative_overpayment"][i], link=True) if decision == INDICATIVE
                            else NOT_SHOWN]
                url = f"{base}{quote(f'{kind}:{claim}', safe=':')}/"
                row.append(text(url))
                sheet.append(row, ((first_money, provenance_col, url),))
            self.progress(sheet.title, sheet.rows)

    # Evidence
    def evidence(self, sheet: xlsx.Sheet) -> None:
        used: dict[tuple, list[str]] = {}
        seen: dict[tuple, list[str]] = {}
        for number in self.data.numbers:
            for u in number.evidence.get("used") or []:
                used.setdefault((u.get("kind", ""), u.get("packet_id", ""), u.get("revision"), u.get("sha256", "")),
                                []).append(number.key)
            for s in number.evidence.get("seen") or []:
                where = (f"{s.get('packet_id')}#{s.get('revision')}" if s.get("source") == "packet"
                         else f"domo {s.get('load_id')}/{s.get('dataset_id')} row {s.get('row')}")
                seen.setdefault((s.get("kind", ""), where, s.get("status") or "", s.get("sha256") or ""),
                                []).append(number.key)
        self.title(sheet, "Governed evidence used")
        self.heading(sheet, ["Kind", "Packet", "Revision", "Class", "SHA-256", "Used by"])
        for (kind, packet, revision, sha), keys in sorted(used.items(), key=lambda i: tuple(str(v) for v in i[0])):
            sheet.append([sheet.text(kind), sheet.text(packet), sheet.text(revision), sheet.text("governed"),
                          sheet.text(sha), sheet.text(_keys_text(keys))])
        if not used:
            sheet.append([sheet.text("No governed evidence was used for this client's numbers.")])
        sheet.blank()
        self.title(sheet, "Candidate evidence seen (never a conclusion)")
        self.heading(sheet, ["Kind", "Source", "Status", "Class", "SHA-256", "Seen by"])
        for (kind, where, status, sha), keys in sorted(seen.items()):
            sheet.append([sheet.text(kind), sheet.text(where), sheet.text(status), sheet.text("candidate"),
                          sheet.text(sha), sheet.text(_keys_text(keys))])
        if not seen:
            sheet.append([sheet.text("None.")])

    # Not concluded
    def not_concluded(self, sheet: xlsx.Sheet) -> None:
        self.title(sheet, "Not concluded, or on candidate evidence only")
        self.heading(sheet, ["Number", "Decision", "Evidence kind", "What is missing", "What it holds back",
                             "Candidate exists", "Provenance"])
        written = 0
        for number in self.data.numbers:
            if number.decision == AUTHORIZED or number.kind == "savings":
                continue
            held = _held_back(number)
            url = self.url(number.key)
            for m in number.evidence.get("missing") or [{}]:
                flag = m.get("flag_key") or ""
                reason = m.get("reason") or self.data.flag_reasons.get(flag) or "evidence is missing"
                what = reason + (f" ({_scope_text(m)})" if _scope_text(m) else "") + (f" [flag {flag}]" if flag else "")
                candidate = m.get("candidate_exists")
                sheet.append([sheet.text(number.label), sheet.text(DECISION_LABELS.get(number.decision)),
                              sheet.text(m.get("kind") or ""), sheet.text(what), sheet.text(held),
                              sheet.text("" if candidate is None else ("yes" if candidate else "no")),
                              sheet.text(url)], [(7, 7, url)])
                written += 1
        if not written:
            sheet.append([sheet.text("Every number of this client is authorized on governed evidence.")])

    # Provenance
    def provenance(self, sheet: xlsx.Sheet) -> None:
        run = self.data.run
        self.title(sheet, f"Provenance of calculation run #{run.run_id}")
        self.heading(sheet, ["Section", "Field", "Value"])
        rows = [("Run", "id", str(run.run_id)), ("Run", "state", run.state),
                ("Run", "scope", run.client_scope or "every client"),
                ("Run", "period", f"{_day(self.data.period_start)} to {_day(self.data.period_end)}"),
                ("Run", "requested by", run.requested_by), ("Run", "requested at", _moment(run.requested_at)),
                ("Run", "started at", _moment(run.started_at)), ("Run", "finished at", _moment(run.finished_at)),
                ("Run", "attempts", str(run.attempts)), ("Run", "engine", run.engine),
                ("Worker", "queue", run.queue), ("Worker", "host", run.worker_host),
                ("Worker", "pid", "" if run.worker_pid is None else str(run.worker_pid)),
                ("Worker", "task", run.task_id), ("Worker", "trace id", run.trace_id),
                ("Worker", "traceparent", run.traceparent),
                ("Calculation", "version (all)", run.calculation_version)]
        inputs = run.inputs or {}
        for name, version in sorted((inputs.get("calculations") or {}).items()):
            if name != "all":
                rows.append(("Calculation", name, str(version)))
        for name, value in sorted((inputs.get("claims") or {}).items()):
            rows.append(("Input: claims", name, _plain(value)))
        for revision in inputs.get("evidence") or []:
            packet = f"{revision.get('kind')} {revision.get('packet_id')}#{revision.get('revision')}"
            rows.append(("Input: evidence", packet,
                         f"{revision.get('class')}, {revision.get('status')}, sha256 {revision.get('sha256')}"))
        for row in inputs.get("domo") or []:
            rows.append(("Input: Domo candidate rows", str(row.get("kind")),
                         f"load {row.get('load_id')}, dataset {row.get('dataset_id')}"))
        for name, table in sorted((inputs.get("evidence_tables") or {}).items()):
            if isinstance(table, dict):
                stored = f"{table.get('path')}, sha256 {table.get('sha256')}, {table.get('rows')} rows"
                rows.append(("Input: evidence table", name, stored))
        for name, value in sorted((inputs.get("parameters") or {}).items()):
            rows.append(("Input: parameters", name, _plain(value)))
        rows += [("Result", "inputs SHA-256", run.inputs_sha256), ("Result", "result SHA-256", run.result_sha256),
                 ("Result", "findings artifact", run.findings_path),
                 ("Result", "findings SHA-256", run.findings_sha256),
                 ("Result", "findings", str(run.findings_count)),
                 ("Workbook", "SHA-256", OWN_HASH)]
        for number in self.data.numbers:
            how = (f"{number.calculation} {number.calculation_version}; dataset {number.dataset_key} "
                   f"v{number.dataset_version}; {number.row_count} rows, checksum {number.rows_checksum}")
            rows.append((f"Number: {number.key}", "calculation", how))
        for section, name, value in rows:
            sheet.append([sheet.text(section), sheet.text(name), sheet.text(value)])


def _is_number(cell) -> bool:
    return getattr(cell, "data_type", None) == "n" and getattr(cell, "_value", None) is not None


def _is_missing(sheet: xlsx.Sheet, cell) -> bool:
    """A cell naming missing evidence where a number would be (it links to the number's page too)."""
    style = getattr(cell, "_style", None)
    return style is not None and style in (sheet.styles.missing, sheet.styles.missing_quoted)


def _keys_text(keys: list[str]) -> str:
    shown = sorted(set(keys))
    more = len(shown) - 6
    return ", ".join(shown[:6]) + (f" and {more} more" if more > 0 else "")


def _held_back(number: NumberLine) -> str:
    if number.kind == "finding":
        count = number.figures.get("findings") or "?"
        return f"the overpayment of {count} finding(s): {number.label}"
    held = [name.replace("_", " ") for name in AMOUNT_FIGURES if name in number.figures]
    what = ", ".join(held) if held else "the amount"
    if number.decision == INDICATIVE:
        return f"{number.label}: {what} shown as indicative only, not a conclusion"
    return f"{number.label}: {what}"


def _scope_text(missing: dict) -> str:
    parts = []
    period = missing.get("period") or {}
    if period:
        parts.append(f"{period.get('start')} to {period.get('end')}")
    elif missing.get("start"):
        parts.append(f"{missing.get('start')} to {missing.get('end')}")
    if missing.get("date"):
        parts.append(str(missing["date"]))
    component = missing.get("component")
    if isinstance(component, dict):  # the authority module's {"channel": …, "drug_class": …} (never its keys)
        component = [component.get("channel"), component.get("drug_class")]
    if component:
        parts.append(f"component {component if isinstance(component, str) else '/'.join(map(str, component))}")
    for name in ("ndc", "quarter", "price_list"):
        if missing.get(name):
            parts.append(f"{name.replace('_', ' ')} {missing[name]}")
    return ", ".join(parts)


def _moment(value) -> str:
    if value is None:
        return ""
    return xlsx.excel_datetime(value).isoformat(sep=" ") + " UTC"


def _plain(value) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in sorted(value.items()))
    return "" if value is None else str(value)
