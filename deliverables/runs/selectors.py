"""Reads of the runs pages, API and command: runs with their filters, a run's numbers grouped for its page, the
earlier run of the same scope, the missing-evidence flags a number waits on, and the findings (read from the
run's Parquet artifact with DuckDB, keyset-paged by (kind, client_account_id, claim_id)).
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from console.csvcells import csv_line
from deliverables import caches
from deliverables.choices import Decision, Engine, FindingKind, NumberKind, RunState
from deliverables.models import CalculationRun, RunNumber
from evidence.packets.selectors import account_names

FINDINGS_PAGE = 50
FINDINGS_CSV_BATCH = 10_000  # findings read from the artifact at a time for the CSV download
FINDING_FIELDS = ("kind", "client_account_id", "claim_id", "fill_date", "ndc", "pharmacy_npi", "channel", "drug_class",
                  "paid", "allowed", "reference", "decision", "overpayment", "indicative_overpayment", "flag_key",
                  "conflict")
MONEY_FIELDS = ("paid", "allowed", "overpayment", "indicative_overpayment")
FINDING_FILTERS = ("kind", "pharmacy_npi", "decision", "client")


def number_url(run_id: int, key: str) -> str:
    """The provenance page of one number of a run (the provenance feature's URL `run-number` when mounted)."""
    try:
        return reverse("run-number", args=[run_id, key])
    except NoReverseMatch:
        return f"/runs/{run_id}/numbers/{quote(key, safe=':')}/"


def finding_key(kind: str, claim_id: str) -> str:
    return f"finding:{kind}:{claim_id}"


# --- display -------------------------------------------------------------------------------------------------
STATE_BADGES = {"queued": "badge badge-muted", "running": "badge badge-info", "succeeded": "badge badge-ok",
                "failed": "badge badge-bad", "cancelled": "badge badge-warn"}
DECISION_BADGES = {Decision.AUTHORIZED: "badge badge-ok", Decision.INDICATIVE: "badge badge-warn",
                   Decision.NOT_CONCLUDED: "badge badge-bad"}


def money(value) -> str:
    """A Decimal amount with thousands separators and 2 places ('' for none); never through float, never rounded:
    an amount with more places (a unit fee of 0.3125) keeps them."""
    if value is None or value == "":
        return ""
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    places = max(2, -amount.normalize().as_tuple().exponent)
    return f"{amount:,.{places}f}"


def state_badge(state: str) -> str:
    return STATE_BADGES.get(str(state), "badge")


def decision_badge(decision: str) -> str:
    return DECISION_BADGES.get(decision, "badge")


def short(sha: str, size: int = 12) -> str:
    return (sha or "")[:size]


# --- runs ----------------------------------------------------------------------------------------------------
def runs():
    return CalculationRun.objects.select_related("requested_by", "cancelled_by")


def earlier_same_scope(run: CalculationRun) -> CalculationRun | None:
    """The latest succeeded run of the same client, period and dataset started before this one."""
    if run.state != RunState.SUCCEEDED or not run.result_sha256:
        return None
    return (CalculationRun.objects.filter(
        pk__lt=run.pk, state=RunState.SUCCEEDED, client_account_id=run.client_account_id,
        period_start=run.period_start, period_end=run.period_end, dataset_key=run.dataset_key)
        .exclude(result_sha256="").order_by("-pk").first())


def comparison(run: CalculationRun) -> dict | None:
    """{run, same} against the earlier succeeded run of the same scope, or None when there is none."""
    earlier = earlier_same_scope(run)
    if earlier is None:
        return None
    return {"run": earlier, "same": earlier.result_sha256 == run.result_sha256}


def step_rows(run: CalculationRun) -> list[dict]:
    """The run's steps, each with its state's badge; a step still running when the run ended shows how it ended."""
    badges = {"done": "badge badge-ok", "running": "badge badge-info", "pending": "badge badge-muted",
              "failed": "badge badge-bad"}
    rows = []
    for step in (run.progress or {}).get("steps") or []:
        state = step.get("state", "pending")
        if run.is_final and run.state != RunState.SUCCEEDED and state == "running":
            state = run.state
        rows.append({**step, "state": state, "badge": badges.get(state, state_badge(state))})
    return rows


@dataclass
class RunRow:
    run: CalculationRun
    badge: str
    step: str
    result_short: str
    client_name: str = ""  # the scope's client by its governed name ('' for every client or none on file)


def run_row(run: CalculationRun, names: dict[str, str] | None = None) -> RunRow:
    """A run's line in the list; `names` (account_names()) names its client."""
    step = (run.progress or {}).get("step", "")
    if run.is_final:
        step = "done" if run.state == RunState.SUCCEEDED else (step or run.state)
    return RunRow(run=run, badge=state_badge(run.state), step=step, result_short=short(run.result_sha256),
                  client_name=(names or {}).get(run.client_account_id, ""))


def parameter_words(parameters: dict, names: dict[str, str], dataset_name: str = "") -> list[str]:
    """The run's parameters in words, one a part: its client by name (or every client), its period, its dataset
    by name and its engine by label; any other parameter as `name value`."""
    engines, order = dict(Engine.choices), ("client", "period", "dataset", "engine")  # JSON keeps no key order
    words = []
    for name, value in sorted(parameters.items(), key=lambda item: (order + (item[0],)).index(item[0])):
        if name == "client":
            who = names.get(value, "")
            words.append(f"client {who} ({value})" if who else f"client {value}" if value else "every client")
        elif name == "period" and isinstance(value, list | tuple) and len(value) == 2:
            words.append(f"period {value[0]} to {value[1]}")
        elif name == "dataset":
            words.append(f"dataset {dataset_name} ({value})" if dataset_name else f"dataset {value}")
        elif name == "engine":
            words.append(f"engine {engines.get(value, value)}")
        else:
            words.append(f"{name} {', '.join(map(str, value)) if isinstance(value, list | tuple) else value}")
    return words


def inputs_view(run: CalculationRun, names: dict[str, str] | None = None) -> dict:
    """The run's recorded inputs, shaped for its page (links included; `names`: account_names(), for the client
    of its parameters)."""
    inputs = run.inputs or {}
    claims = dict(inputs.get("claims") or {})
    if claims.get("promotion_request"):
        claims["promotion_url"] = reverse("promotion:request-detail", args=[claims["promotion_request"]])
    calculations = inputs.get("calculations") or {}
    return {
        "claims": claims,
        "evidence": inputs.get("evidence") or [],
        "evidence_tables": {k: v for k, v in (inputs.get("evidence_tables") or {}).items() if isinstance(v, dict)},
        "calculations": sorted((k, v) for k, v in calculations.items() if k != "all"),
        "calculations_all": calculations.get("all", run.calculation_version),
        "parameters": parameter_words(inputs.get("parameters") or {}, names or {}, claims.get("name", "")),
        "engine": run.get_engine_display() if run.engine else "",
        "recorded": bool(inputs),
    }


# --- numbers -------------------------------------------------------------------------------------------------
def numbers(run: CalculationRun):
    return RunNumber.objects.filter(run=run).order_by("position", "pk")


def flags_by_key(keys) -> dict[str, dict]:
    """flag_key -> {url, reason} of its missing-evidence flag (the open flag of that key preferred, then the newest)."""
    from evidence.flags.models import FlagStatus, MissingEvidenceFlag

    keys = {k for k in keys if k}
    if not keys:
        return {}
    found: dict[str, tuple] = {}
    for pk, key, status, reason in MissingEvidenceFlag.objects.filter(key__in=keys).values_list(
            "pk", "key", "status", "reason"):
        rank = (1 if status == FlagStatus.OPEN else 0, pk)
        if key not in found or rank > found[key][0]:
            found[key] = (rank, reason)
    return {key: {"url": reverse("flags:missing-detail", args=[rank[1]]), "reason": reason}
            for key, (rank, reason) in found.items()}


def missing_of(number: RunNumber, flags: dict[str, dict]) -> list[dict]:
    """[{reason, flag_key, flag_url}] of a not-concluded number (a savings total names flags only: their reason)."""
    out = []
    for m in (number.evidence or {}).get("missing") or []:
        flag = flags.get(m.get("flag_key") or "", {})
        out.append({"reason": m.get("reason") or flag.get("reason") or "evidence is missing",
                    "flag_key": m.get("flag_key", ""), "flag_url": flag.get("url", "")})
    return out


@dataclass
class NumberRow:
    number: RunNumber
    url: str
    missing: list[dict]  # [{reason, flag_key, flag_url}] for a not-concluded number

    @property
    def shown_amount(self) -> Decimal | None:
        n = self.number
        return n.amount if n.decision == Decision.AUTHORIZED else (
            n.indicative_amount if n.decision == Decision.INDICATIVE else None)

    @property
    def amount_text(self) -> str:
        return money(self.shown_amount)

    @property
    def badge(self) -> str:
        return decision_badge(self.number.decision)


def number_rows(run: CalculationRun, queryset=None) -> list[NumberRow]:
    items = list(queryset if queryset is not None else numbers(run))
    flags = flags_by_key(m.get("flag_key") for n in items if n.decision == Decision.NOT_CONCLUDED
                         for m in (n.evidence or {}).get("missing") or [])
    rows = []
    for n in items:
        missing = missing_of(n, flags) if n.decision == Decision.NOT_CONCLUDED else []
        rows.append(NumberRow(number=n, url=number_url(run.pk, n.key), missing=missing))
    return rows


def results_by_client(run: CalculationRun, names: dict[str, str] | None = None) -> list[dict]:
    """[{client, name, sections: [{kind, label, rows}]}] in the run's order of numbers (name: the client's governed
    Salesforce account name, '' when none is on file; `names`: account_names(), read here when not given)."""
    clients: dict[str, dict[str, list[NumberRow]]] = {}
    for row in number_rows(run):
        clients.setdefault(row.number.client_account_id, {}).setdefault(row.number.kind, []).append(row)
    labels = dict(NumberKind.choices)
    names = account_names() if names is None else names
    return [{"client": client, "name": names.get(client, ""), "sections": [
        {"kind": kind, "label": labels.get(kind, kind), "rows": kinds[kind]}
        for kind in NumberKind.values if kind in kinds], **_at_a_glance(kinds)} for client, kinds in clients.items()]


def _at_a_glance(kinds: dict[str, list[NumberRow]]) -> dict:
    """A client's line of the results at a glance: its savings rows by decision and how many of its other numbers
    each decision has (`decided`: {decision: count}, every decision, zeros included)."""
    savings = {row.number.decision: row for row in kinds.get(NumberKind.SAVINGS, [])}
    counts = dict.fromkeys(Decision.values, 0)
    for kind, rows in kinds.items():
        if kind != NumberKind.SAVINGS:
            for row in rows:
                counts[row.number.decision] += 1
    return {"savings": savings, "decided": counts}


def run_clients(run: CalculationRun, names: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """The clients a run has numbers for, [(account id, governed name or '')], by name then id (`names`:
    account_names(), read here when not given)."""
    names = account_names() if names is None else names
    clients = RunNumber.objects.filter(run=run).order_by().values_list("client_account_id", flat=True).distinct()
    return sorted(((client, names.get(client, "")) for client in clients),
                  key=lambda pair: ((pair[1] or pair[0]).casefold(), pair[0]))


def latest_savings() -> tuple[CalculationRun | None, list[dict]]:
    """The newest succeeded run over every client and, per client (by governed name), its savings rows by decision
    ({client, name, savings: {decision: NumberRow}}), in the run's order: what the home page shows the C-suite.
    Three queries whatever the number of clients."""
    run = CalculationRun.objects.filter(state=RunState.SUCCEEDED, client_account_id="").order_by("-pk").first()
    if run is None:
        return None, []
    names = account_names()
    clients: dict[str, dict[str, NumberRow]] = {}
    for n in numbers(run).filter(kind=NumberKind.SAVINGS):
        clients.setdefault(n.client_account_id, {})[n.decision] = NumberRow(number=n, url=number_url(run.pk, n.key),
                                                                            missing=[])
    return run, [{"client": client, "name": names.get(client, ""), "savings": savings}
                 for client, savings in clients.items()]


def held_back_by(flag_key: str, client: str) -> tuple[CalculationRun | None, list[NumberRow]]:
    """The newest succeeded run over `client` (alone or with every client) and its numbers that name the
    missing-evidence flag `flag_key` (not concluded, or a total of them), in the run's order: what the flag holds
    back now. Two queries."""
    from django.db.models import Q, TextField
    from django.db.models.functions import Cast

    run = (CalculationRun.objects.filter(state=RunState.SUCCEEDED)
           .filter(Q(client_account_id="") | Q(client_account_id=client)).order_by("-pk").first())
    if run is None or not flag_key:
        return run, []
    held = (numbers(run).filter(client_account_id=client).annotate(evidence_text=Cast("evidence", TextField()))
            .filter(evidence_text__contains=flag_key))
    return run, [NumberRow(number=n, url=number_url(run.pk, n.key), missing=[]) for n in held]


# --- findings ------------------------------------------------------------------------------------------------
class FindingsUnavailable(Exception):
    """The run has no findings artifact (not succeeded) or it cannot be read."""


def encode_cursor(position: tuple[str, str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode().rstrip("=")


def decode_cursor(token: str | None) -> tuple[str, str, str] | None:
    """A cursor from the query string; None when there is none or it is malformed (the API refuses it with a 400,
    the run's page shows the first page)."""
    if not token:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        return None
    if isinstance(value, list) and len(value) == 3 and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def findings_file(run: CalculationRun) -> Path:
    """The run's findings Parquet, copied once from the lake into a local cache named by its SHA-256 (checked)."""
    from console.lake import get_lake
    from console.lake.base import iter_chunks

    if run.state != RunState.SUCCEEDED or not run.findings_path:
        raise FindingsUnavailable(f"run #{run.pk} is {run.state}: it has no findings yet")
    folder = Path(settings.VAR_DIR) / "runs" / "findings-cache"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{run.findings_sha256 or 'unhashed'}.parquet"
    if target.exists() and run.findings_sha256:
        return caches.used(target)
    handle, name = tempfile.mkstemp(dir=folder, suffix=".part")
    digest = hashlib.sha256()
    try:
        with os.fdopen(handle, "wb") as out, get_lake().open(run.findings_path) as stream:
            for chunk in iter_chunks(stream):
                digest.update(chunk)
                out.write(chunk)
        if run.findings_sha256 and digest.hexdigest() != run.findings_sha256:
            raise FindingsUnavailable(f"run #{run.pk}: the findings artifact {run.findings_path} does not match "
                                      f"its SHA-256 {run.findings_sha256}")
        os.replace(name, target)
    finally:
        Path(name).unlink(missing_ok=True)
    return target


@dataclass
class FindingsPage:
    items: list[dict]
    next: str | None
    prev: str | None


def _where(filters: dict) -> tuple[list[str], list]:
    clauses, params = [], []
    columns = {"kind": "kind", "pharmacy_npi": "pharmacy_npi", "decision": "decision", "client": "client_account_id"}
    for name, column in columns.items():
        value = (filters.get(name) or "").strip()
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    return clauses, params


def findings_page(run: CalculationRun, filters: dict | None = None, *, after: str | None = None,
                  before: str | None = None, size: int = FINDINGS_PAGE) -> FindingsPage:
    """One page of the run's findings in (kind, client_account_id, claim_id) order, filtered; `after`/`before`
    are cursors of the neighbouring pages (encode_cursor of a finding's position)."""
    import duckdb

    path = findings_file(run)
    clauses, params = _where(filters or {})
    after_at, before_at = decode_cursor(after), decode_cursor(before)
    backward = before_at is not None
    if backward:
        clauses.append("(kind, client_account_id, claim_id) < (?, ?, ?)")
        params.extend(before_at)
    elif after_at is not None:
        clauses.append("(kind, client_account_id, claim_id) > (?, ?, ?)")
        params.extend(after_at)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    order = "DESC" if backward else "ASC"
    sql = (f"SELECT {', '.join(FINDING_FIELDS)} FROM read_parquet(?) {where} "
           f"ORDER BY kind {order}, client_account_id {order}, claim_id {order} LIMIT ?")
    con = duckdb.connect()
    try:
        cursor = con.execute(sql, [str(path), *params, size + 1])
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    finally:
        con.close()
    more = len(rows) > size
    rows = rows[:size]
    if backward:
        rows.reverse()
    for row in rows:
        row["key"] = finding_key(row["kind"], row["claim_id"])
        row["provenance_url"] = number_url(run.pk, row["key"])
        for amount in MONEY_FIELDS:
            if row.get(amount) is not None and not isinstance(row[amount], Decimal):
                row[amount] = Decimal(str(row[amount]))
        if isinstance(row.get("fill_date"), dt.datetime):
            row["fill_date"] = row["fill_date"].date()

    def position(row):
        return encode_cursor((row["kind"], row["client_account_id"], row["claim_id"]))

    if not rows:
        return FindingsPage(items=[], next=None, prev=None)
    if backward:
        return FindingsPage(items=rows, next=position(rows[-1]), prev=position(rows[0]) if more else None)
    return FindingsPage(items=rows, next=position(rows[-1]) if more else None,
                        prev=position(rows[0]) if after_at is not None else None)


# A finding's kind in the findings table (its full label, FindingKind's, is the cell's title).
FINDING_SHORT = {FindingKind.MAC: "Above MAC", FindingKind.BRAND_AWP: "Above AWP guarantee",
                 FindingKind.DISPENSING_FEE: "Fee above contract", FindingKind.DUPLICATE: "Duplicate"}


def number_title(kind: str, key: str, label: str, decision: str = "") -> str:
    """A number's title on the pages: its stored label (part of the run's results, so kept as stored) without the
    decision a badge shows beside it, a finding's kind in the findings table's words; with `decision`, for a page
    without that badge, the decision in words after it."""
    if kind not in (NumberKind.SAVINGS, NumberKind.FINDING):
        return label
    finding = (key or "").split(":")[2:3]
    if kind == NumberKind.SAVINGS or not finding:
        title = "Savings" if kind == NumberKind.SAVINGS else label
    else:
        title = f"Pricing audit findings, {FINDING_SHORT.get(finding[0], finding[0].replace('_', ' '))}"
    return f"{title} ({dict(Decision.choices).get(decision, decision).lower()})" if decision else title


def findings_count(run: CalculationRun, filters: dict) -> int:
    """How many of the run's findings the filters keep (one count over the local copy of the artifact)."""
    import duckdb

    clauses, params = _where(filters)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    con = duckdb.connect()
    try:
        return con.execute(f"SELECT COUNT(*) FROM read_parquet(?) {where}", [str(findings_file(run)), *params]
                           ).fetchall()[0][0]
    finally:
        con.close()


def findings_csv(run: CalculationRun, filters: dict | None = None) -> Iterator[str]:
    """The run's findings as CSV lines, filtered as the page filters them and in its order: a header (the
    findings' fields, then `provenance_url`, absolute under CONSOLE_BASE_URL), then one line a finding, streamed
    from the artifact a batch at a time (never all held). Amounts are the exact decimals the run stored (a
    finding not concluded has none). Raises FindingsUnavailable before the first line when there is no artifact."""
    import duckdb

    path = findings_file(run)
    clauses, params = _where(filters or {})
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = (f"SELECT {', '.join(FINDING_FIELDS)} FROM read_parquet(?) {where} "
           "ORDER BY kind, client_account_id, claim_id")
    base = settings.CONSOLE_BASE_URL.rstrip("/")

    def lines() -> Iterator[str]:
        line = csv_line()
        yield line([*FINDING_FIELDS, "provenance_url"])
        con = duckdb.connect()
        try:
            for batch in con.sql(sql, params=[str(path), *params]).to_arrow_reader(FINDINGS_CSV_BATCH):
                for row in batch.to_pylist():
                    url = base + number_url(run.pk, finding_key(row["kind"], row["claim_id"]))
                    yield line([*(row[name] for name in FINDING_FIELDS), url])
        finally:
            con.close()

    return lines()


def finding_row(row: dict, names: dict[str, str] | None = None) -> dict:
    """A finding for the page: its amounts as text, its decision's badge and label, its kind's label and its
    client's governed name (from `names`, account_names(); '' when none is on file)."""
    labels, kinds = dict(Decision.choices), dict(FindingKind.choices)
    shown = dict(row)
    shown["client_name"] = (names or {}).get(row.get("client_account_id", ""), "")
    for name in MONEY_FIELDS:
        shown[f"{name}_text"] = money(row.get(name))
    shown["badge"] = decision_badge(row.get("decision", ""))
    shown["decision_label"] = labels.get(row.get("decision", ""), row.get("decision", ""))
    shown["kind_label"] = kinds.get(row.get("kind", ""), row.get("kind", ""))
    shown["kind_short"] = FINDING_SHORT.get(row.get("kind", ""), shown["kind_label"])
    return shown
