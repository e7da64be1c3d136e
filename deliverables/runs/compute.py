"""One run's numbers: the calculations' rows, each with its decision and its provenance. Plain module, no Django
models (the services store what it returns).

`calculate(con, calculated, ...)` takes the engine's Results (deliverables.calculations.engine: the lines, each
line's contributing rows, the ancillary answers) and a local DuckDB connection holding the findings as
`findings_raw`, and returns a Computed: the numbers (guarantee lines, rebate lines, findings totals, savings) and
the result hash; the decided findings are left on the connection as `run_findings`.

Decisions (the authority module's, never a default):
- a guarantee line (AWP component or combined, dispensing fee): decide(CONTRACT_GUARANTEE) over the line's own
  days and component (the combined line: every component with claims). A component with claims and no line
  at all (no terms, governed or candidate) is a number too: not concluded, naming what is missing;
- a rebate line (client, quarter): decide(REBATE_CLAIM) for every brand NDC it adds up; authorized only when
  every NDC is, and its terms rows are governed;
- a finding: a duplicate needs no evidence (the claims alone); a brand or fee finding is authorized when its
  terms row is governed, indicative when it is a candidate's; a MAC finding is authorized when its terms row
  (the price list) is governed and one governed price is in force, not concluded when governed prices
  disagree (one finding kept, the conflict named), indicative on candidate terms.
Only an authorized number has an `amount`; an indicative one an `indicative_amount`; a number not concluded
has neither, and its missing evidence is named, with the key of the flag it raises.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from deliverables.calculations import definitions
from deliverables.calculations.definitions import COLUMNS, CONTRIBUTIONS
from deliverables.runs.findings import hash_and_write
from deliverables.runs.totals import FINDINGS_TOTAL_SQL, findings_figures, savings_figures, savings_part
from evidence.flags.computed import flag_key
from evidence.packets.authority import (
    AUTHORIZED,
    CONTRACT_GUARANTEE,
    INDICATIVE,
    NOT_CONCLUDED,
    REBATE_CLAIM,
    Decision,
    Evidence,
    Missing,
    decide,
)
from evidence.packets.authority.inputs import VERIFIED
from evidence.packets.authority.rebate import quarter_bounds
from evidence.packets.model import CONTRACT, PRICING, REBATE

ZERO = Decimal("0.00")


def calculation_versions() -> dict[str, str]:
    """sha256 of each calculation's SQL (what it computes), and of them all with the engine's source."""
    import inspect

    from deliverables.calculations import engine
    from deliverables.runs import totals

    versions = {name: hashlib.sha256(sql.encode()).hexdigest() for name, sql in definitions.DEFINITIONS.items()}
    whole = hashlib.sha256()
    for name in sorted(definitions.DEFINITIONS):  # the SQL as it will run (not only as the file says)
        whole.update(f"{name}\n{definitions.DEFINITIONS[name]}\n".encode())
    for module in (definitions, engine, totals):
        whole.update(inspect.getsource(module).encode())
    whole.update(inspect.getsource(inspect.getmodule(calculation_versions)).encode())
    versions["all"] = whole.hexdigest()
    return versions


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _literal(value) -> str:
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def _predicate(keys: dict, where: str) -> str:
    parts = [f"{column} = {_literal(value)}" for column, value in keys.items()]
    return " AND ".join([*parts, where])


# The figures that are a conclusion (an amount owed or overpaid): a number not concluded stores none of them (null),
# the figures that do not depend on the missing evidence stay (claims, AWP, amounts paid, ...).
AMOUNT_FIGURES = ("shortfall", "shortfall_owed", "overpayment", "indicative_overpayment", "total",
                  "overpayment_exact")


@dataclass
class Number:
    key: str
    kind: str
    client: str
    label: str
    calculation: str
    decision: str
    figures: dict
    evidence: dict
    relation: str
    predicate: str
    row_count: int
    rows_checksum: str
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    headline: Decimal | None = None  # the amount, placed by decision (amount / indicative_amount / none)

    @property
    def amount(self) -> Decimal | None:
        return self.headline if self.decision == AUTHORIZED else None

    @property
    def indicative_amount(self) -> Decimal | None:
        return self.headline if self.decision == INDICATIVE else None

    def __post_init__(self) -> None:
        if self.decision == NOT_CONCLUDED:
            self.headline = None
            self.figures = {name: (None if name in AMOUNT_FIGURES else value) for name, value in self.figures.items()}

    def canonical(self) -> dict:
        return {"key": self.key, "kind": self.kind, "client": self.client, "calculation": self.calculation,
                "decision": self.decision, "amount": _text(self.amount),
                "indicative_amount": _text(self.indicative_amount), "figures": self.figures,
                "evidence": self.evidence, "predicate": self.predicate, "row_count": self.row_count,
                "rows_checksum": self.rows_checksum, "period": [_text(self.period_start), _text(self.period_end)]}


@dataclass
class Computed:
    numbers: list[Number]
    findings: int
    findings_sha256: str  # of the findings' canonical text
    result_sha256: str
    counts: dict = field(default_factory=dict)
    written: object = None  # what calculate's write_findings returned (the findings artifact's path and sha256)


# --- decisions ---------------------------------------------------------------------------------------------
def _component_text(channel: str, drug_class: str) -> str:
    return f"{channel}/{drug_class}"


def _flag_for(missing, client: str) -> str:
    """The key of the missing-evidence flag that a missing piece raises (evidence.flags' grain)."""
    if missing.kind == CONTRACT and missing.component and missing.start:
        return flag_key(CONTRACT, client, dt.date(missing.start.year, 1, 1), _component_text(*missing.component))
    if missing.kind == PRICING and missing.ndc and missing.start:
        return flag_key(PRICING, client, missing.start.replace(day=1), ndc=missing.ndc)
    if missing.kind == REBATE and missing.quarter and missing.ndc:
        return flag_key(REBATE, client, quarter_bounds(missing.quarter)[0], ndc=missing.ndc, quarter=missing.quarter)
    return ""


def _evidence_json(decisions: list[Decision], client: str) -> dict:
    used = sorted({(u.kind, u.packet_id, u.revision, u.sha256) for d in decisions for u in d.governed_used})
    seen = {json.dumps(s.to_dict(), sort_keys=True) for d in decisions for s in d.candidates_seen}
    missing = []
    for d in decisions:
        for m in d.missing:
            entry = m.to_dict()
            entry["flag_key"] = _flag_for(m, client)
            missing.append(entry)
    missing.sort(key=lambda m: json.dumps(m, sort_keys=True))
    return {"used": [{"kind": k, "packet_id": p, "revision": r, "sha256": h} for k, p, r, h in used],
            "seen": [json.loads(s) for s in sorted(seen)], "missing": missing}


def _combine(decisions: list[str]) -> str:
    if all(d == AUTHORIZED for d in decisions):
        return AUTHORIZED
    if NOT_CONCLUDED in decisions:
        return NOT_CONCLUDED
    return INDICATIVE


# --- the lines ---------------------------------------------------------------------------------------------
def _contributions(calculated, name: str, level: str) -> dict[tuple, tuple[int, str]]:
    keys, _ = CONTRIBUTIONS[name][level]
    width = len(keys.split(", "))
    return {tuple(row[:width]): (row[width], row[width + 1]) for row in calculated.contributions[(name, level)]}


def _figures(name: str, row: tuple) -> dict:
    return {column: _text(value) for column, value in zip(COLUMNS[name], row, strict=True)}


def _guarantee_numbers(calculated, results: dict, evidence: dict[str, Evidence], scope_period, components: dict,
                       claims_label: str) -> list[Number]:
    numbers: list[Number] = []
    awp_rows = _contributions(calculated, "awp_discount_guarantee", "component")
    combined_rows = _contributions(calculated, "awp_discount_guarantee", "combined")
    fee_rows = _contributions(calculated, "dispensing_fee_guarantee", "component")
    lined: set[tuple[str, str, str]] = set()
    for row in results["awp_discount_guarantee"]:
        f = dict(zip(COLUMNS["awp_discount_guarantee"], row, strict=True))
        client = f["client_account_id"]
        ev = evidence.get(client, Evidence())
        if f["level"] == "combined":
            with_claims = sorted(components.get(client, {}))
            decision = decide(CONTRACT_GUARANTEE, client=client, period=(f["period_start"], f["period_end"]),
                              components=with_claims, evidence=ev)
            count, checksum = combined_rows.get((client,), (0, ""))
            keys = {"client_account_id": client}
            where = CONTRIBUTIONS["awp_discount_guarantee"]["combined"][1]
            key = f"awp:{client}:combined:{f['period_start']}"
            label = f"AWP discount guarantee, combined, {f['period_start']} to {f['period_end']}"
        else:
            component = (f["channel"], f["drug_class"])
            lined.add((client, *component))
            decision = decide(CONTRACT_GUARANTEE, client=client, period=(f["period_start"], f["period_end"]),
                              component=component, evidence=ev)
            line_key = (client, f["period_start"], f["period_end"], f["component"], f["channel"], f["drug_class"])
            count, checksum = awp_rows.get(line_key, (0, ""))
            keys = dict(zip(("client_account_id", "period_start", "period_end", "component", "channel", "drug_class"),
                            line_key, strict=True))
            where = CONTRIBUTIONS["awp_discount_guarantee"]["component"][1]
            key = f"awp:{client}:{f['channel']}-{f['drug_class']}:{f['period_start']}"
            label = (f"AWP discount guarantee, {f['component']}, {f['period_start']} to {f['period_end']}")
        numbers.append(Number(
            key=key, kind="awp_guarantee", client=client, label=label, calculation="awp_discount_guarantee",
            decision=decision.decision, figures=_figures("awp_discount_guarantee", row),
            evidence=_evidence_json([decision], client), relation="ct", predicate=_predicate(keys, where),
            row_count=count, rows_checksum=checksum, period_start=f["period_start"], period_end=f["period_end"],
            headline=f["shortfall_owed"]))
    for row in results["dispensing_fee_guarantee"]:
        f = dict(zip(COLUMNS["dispensing_fee_guarantee"], row, strict=True))
        client = f["client_account_id"]
        component = (f["channel"], f["drug_class"])
        decision = decide(CONTRACT_GUARANTEE, client=client, period=(f["period_start"], f["period_end"]),
                          component=component, evidence=evidence.get(client, Evidence()))
        line_key = (client, f["period_start"], f["period_end"], f["component"], f["channel"], f["drug_class"])
        count, checksum = fee_rows.get(line_key, (0, ""))
        keys = dict(zip(("client_account_id", "period_start", "period_end", "component", "channel", "drug_class"),
                        line_key, strict=True))
        numbers.append(Number(
            key=f"fee:{client}:{f['channel']}-{f['drug_class']}:{f['period_start']}", kind="fee_guarantee",
            client=client, label=f"Dispensing-fee guarantee, {f['component']}, {f['period_start']} to {f['period_end']}",
            calculation="dispensing_fee_guarantee", decision=decision.decision,
            figures=_figures("dispensing_fee_guarantee", row), evidence=_evidence_json([decision], client),
            relation="ct", predicate=_predicate(keys, CONTRIBUTIONS["dispensing_fee_guarantee"]["component"][1]),
            row_count=count, rows_checksum=checksum, period_start=f["period_start"], period_end=f["period_end"],
            headline=f["shortfall"]))
    # Components with claims and no line: the guarantee is held back, and says why.
    for client in sorted(components):
        for (channel, drug_class), (count, checksum) in sorted(components[client].items()):
            if (client, channel, drug_class) in lined:
                continue
            decision = decide(CONTRACT_GUARANTEE, client=client, period=scope_period,
                              component=(channel, drug_class), evidence=evidence.get(client, Evidence()))
            if decision.decision == AUTHORIZED:
                continue  # governed terms with no guarantee rate for it: nothing is guaranteed there
            keys = {"client_account_id": client, "channel": channel, "drug_class": drug_class}
            numbers.append(Number(
                key=f"awp:{client}:{channel}-{drug_class}:held", kind="awp_guarantee", client=client,
                label=f"AWP discount guarantee, {channel} {drug_class}: no terms to calculate with",
                calculation="awp_discount_guarantee", decision=decision.decision, figures={"claims": str(count), "claims_source": claims_label},
                evidence=_evidence_json([decision], client), relation="cur", predicate=_predicate(keys, "1 = 1"),
                row_count=count, rows_checksum=checksum, period_start=scope_period[0], period_end=scope_period[1],
                headline=None))
    return numbers


def _rebate_numbers(calculated, results: dict, evidence: dict[str, Evidence]) -> list[Number]:
    lines = _contributions(calculated, "rebate_guarantee", "quarter")
    quarter_sql = CONTRIBUTIONS["rebate_guarantee"]["quarter"][0].split(", ", 1)[1].rsplit(" AS ", 1)[0]
    where = CONTRIBUTIONS["rebate_guarantee"]["quarter"][1]
    ndcs: dict[tuple, list[str]] = defaultdict(list)  # the brand NDCs of each line, in order
    candidate_channels: dict[tuple, set[str]] = defaultdict(set)  # its channels with rows on candidate terms
    for client, quarter, ndc, channel, candidate_rows in calculated.ancillary["rebate_ndcs"]:
        if ndc not in ndcs[(client, quarter)][-1:]:
            ndcs[(client, quarter)].append(ndc)
        if candidate_rows:
            candidate_channels[(client, quarter)].add(channel)
    numbers = []
    for row in results["rebate_guarantee"]:
        f = dict(zip(COLUMNS["rebate_guarantee"], row, strict=True))
        client, quarter = f["client_account_id"], f["quarter"]
        ev = evidence.get(client, Evidence())
        decisions = [decide(REBATE_CLAIM, client=client, quarter=quarter, ndc=ndc, evidence=ev)
                     for ndc in ndcs[(client, quarter)]]
        decision = _combine([d.decision for d in decisions])
        evidence_json = _evidence_json(decisions, client)
        first, last = quarter_bounds(quarter)
        if candidate_channels[(client, quarter)]:
            # The contracted rebate per brand claim comes from candidate terms: at most indicative, and the
            # missing contract of each brand component on them is named as the guarantee lines name it, with its
            # contract flag.
            if decision == AUTHORIZED:
                decision = INDICATIVE
            for channel in sorted(candidate_channels[(client, quarter)]):
                missing = Missing(
                    kind=CONTRACT, client=client, candidate_exists=True, start=first, end=last,
                    component=(channel, "brand"),
                    reason=f"the rebate per brand claim of {quarter} comes from candidate contract terms: no "
                           "governed contract packet for the client covers these days")
                evidence_json["missing"].append({**missing.to_dict(), "flag_key": _flag_for(missing, client)})
        count, checksum = lines.get((client, quarter), (0, ""))
        predicate = f"client_account_id = {_literal(client)} AND {quarter_sql} = {_literal(quarter)} AND {where}"
        numbers.append(Number(
            key=f"rebate:{client}:{quarter}", kind="rebate_guarantee", client=client,
            label=f"Rebate guarantee, {quarter}", calculation="rebate_guarantee", decision=decision,
            figures=_figures("rebate_guarantee", row), evidence=evidence_json, relation="ct",
            predicate=predicate, row_count=count, rows_checksum=checksum, period_start=first, period_end=last,
            headline=f["shortfall"]))
    return numbers


# --- findings ----------------------------------------------------------------------------------------------

def _decide_findings(con) -> None:
    """`run_findings`: the findings, one per kind and claim, decided, with the overpayment placed by decision.
    Only a MAC finding can come more than once for a claim (one per price row in force: governed prices that
    disagree); the others are one per current claim by construction (one current line per claim, one terms row
    in force: overlapping terms are refused), so only the MAC findings are numbered (a quarter of them: the
    numbering of every finding was most of this step)."""
    con.execute(f"""  -- its columns: findings.FINDINGS_COLUMNS, in that order
CREATE OR REPLACE TEMP TABLE run_findings AS
WITH f AS (
  SELECT *, COUNT(*) OVER (PARTITION BY claim_id) AS copies,
         ROW_NUMBER() OVER (PARTITION BY claim_id ORDER BY reference, price_source) AS copy
  FROM findings_raw WHERE kind = 'mac'
  UNION ALL
  SELECT *, 1 AS copies, 1 AS copy FROM findings_raw WHERE kind <> 'mac'
), d AS (
  SELECT *, CASE WHEN kind = 'duplicate' THEN '{AUTHORIZED}'
                 WHEN kind = 'mac' AND copies > 1 THEN '{NOT_CONCLUDED}'
                 WHEN term_class = 'governed' THEN '{AUTHORIZED}'
                 ELSE '{INDICATIVE}' END AS decision
  FROM f WHERE copy = 1
)
SELECT kind, client_account_id, claim_id, fill_date, ndc, pharmacy_npi, channel, drug_class, paid, allowed,
       reference, claim_row, COALESCE(term_source, '') AS term_source, COALESCE(price_source, '') AS price_source,
       decision,
       CASE WHEN decision = '{AUTHORIZED}' THEN overpayment END AS overpayment,
       CASE WHEN decision = '{INDICATIVE}' THEN overpayment END AS indicative_overpayment,
       CAST('' AS VARCHAR) AS flag_key, copies > 1 AS conflict,
       CASE WHEN decision <> '{NOT_CONCLUDED}' THEN overpayment_exact END AS overpayment_exact
FROM d""")  # unordered: a table; every reader orders (kind, client_account_id, claim_id) is unique here
    con.execute("DROP TABLE IF EXISTS findings_raw")  # decided; its memory goes back to the run


def _name_finding_flags(con) -> None:
    """The flag each finding that is not authorized raises: pricing (client, NDC, month) for a MAC finding,
    contract (client, year, component) otherwise."""
    rows = con.execute(
        f"SELECT DISTINCT kind, client_account_id, ndc, fill_date, channel, drug_class FROM run_findings "
        f"WHERE decision <> '{AUTHORIZED}'").fetchall()
    if not rows:
        return
    keys = []
    for kind, client, ndc, fill_date, channel, drug_class in rows:
        if kind == "mac":
            key = flag_key(PRICING, client, fill_date.replace(day=1), ndc=ndc)
        else:
            key = flag_key(CONTRACT, client, dt.date(fill_date.year, 1, 1), _component_text(channel, drug_class))
        keys.append((kind, client, ndc, fill_date, channel, drug_class, key))
    import pyarrow as pa

    table = pa.table({name: [k[i] for k in keys] for i, name in enumerate(
        ("kind", "client_account_id", "ndc", "fill_date", "channel", "drug_class", "flag_key"))})
    con.register("finding_flag_keys", table)
    # Joined on every column the key is made of: the same NDC filled the same day in two channels raises two
    # contract flags (one per component), and each finding names its own.
    con.execute("""UPDATE run_findings SET flag_key = k.flag_key FROM finding_flag_keys k
                   WHERE run_findings.kind = k.kind AND run_findings.client_account_id = k.client_account_id
                     AND run_findings.ndc = k.ndc AND run_findings.fill_date = k.fill_date
                     AND run_findings.channel IS NOT DISTINCT FROM k.channel
                     AND run_findings.drug_class IS NOT DISTINCT FROM k.drug_class
                     AND run_findings.decision <> 'authorized'""")
    con.unregister("finding_flag_keys")


def _sources_used(sources: list[str], evidence: dict[str, Evidence]) -> list[dict]:
    """The governed revisions among a total's sources (`<packet id>#<revision>`), as a decision names them."""
    governed = {f"{r.packet_id}#{r.revision}": (r.kind, r.packet_id, r.revision, r.sha256)
                for inputs in evidence.values() for r in inputs.revisions if r.status == VERIFIED}
    used = sorted({governed[s] for s in sources if s in governed})
    return [{"kind": k, "packet_id": p, "revision": r, "sha256": h} for k, p, r, h in used]


def _finding_numbers(con, evidence: dict[str, Evidence]) -> list[Number]:
    """A total per client, kind and decision, naming the flags its findings wait on and the evidence they rest on:
    the governed revisions of their terms and prices (`used`) and every source, a Domo candidate row included."""
    numbers = []
    for (client, kind, decision, count, paid, total, exact, checksum, flags, terms, prices) in con.execute(
            FINDINGS_TOTAL_SQL.format(relation="run_findings", where="")).fetchall():
        flag_keys = sorted(filter(None, (flags or "").split(",")))
        sources = sorted({*(terms or ()), *(prices or ())})
        numbers.append(Number(
            key=f"findings:{client}:{kind}:{decision}", kind="finding", client=client,
            label=f"Pricing audit findings, {kind.replace('_', ' ')} ({decision.replace('_', ' ')})",
            calculation="pricing_findings", decision=decision,
            figures=findings_figures(count, paid, total, exact, decision),
            evidence={"used": _sources_used(sources, evidence), "seen": [], "sources": sources,
                      "missing": [{"flag_key": k} for k in flag_keys]},
            relation="findings",
            predicate=f"client_account_id = {_literal(client)} AND kind = {_literal(kind)} AND decision = {_literal(decision)}",
            row_count=count, rows_checksum=checksum, headline=total if decision != NOT_CONCLUDED else None))
    return numbers


# --- savings -----------------------------------------------------------------------------------------------
def _savings(numbers: list[Number]) -> list[Number]:
    """Per client: what is recoverable, split into authorized, indicative and not concluded.

    The total adds the guarantee shortfalls owed (AWP, combined or per component, and dispensing fee), the
    rebate shortfalls (rebate-backed: only where the invoices match exactly) and the overpayments of MAC and
    duplicate findings. Brand-AWP and dispensing-fee findings are shown but not added: the claim-level view of
    what the guarantee shortfalls already recover in aggregate (savings_figures: the arithmetic)."""
    members: dict[tuple[str, str], list[Number]] = defaultdict(list)
    clients = sorted({n.client for n in numbers})
    for n in numbers:
        if savings_part(n.kind, n.key) is not None:
            members[(n.client, n.decision)].append(n)
    out = []
    for client in clients:
        for decision in (AUTHORIZED, INDICATIVE, NOT_CONCLUDED):
            included = members.get((client, decision), [])
            figures, total = savings_figures([(n.kind, n.key, n.headline, n.figures, n.evidence) for n in included],
                                             decision)
            missing = sorted({m["flag_key"] for n in included for m in n.evidence.get("missing", []) if m.get("flag_key")})
            out.append(Number(
                key=f"savings:{client}:{decision}", kind="savings", client=client,
                label=f"Savings, {decision.replace('_', ' ')}", calculation="savings", decision=decision,
                figures=figures, evidence={"used": [], "seen": [], "missing": [{"flag_key": k} for k in missing],
                                           "numbers": sorted(n.key for n in included)},
                relation="numbers", predicate=f"client_account_id = {_literal(client)} AND decision = {_literal(decision)}",
                row_count=sum(n.row_count for n in included), rows_checksum="",
                headline=total))
    return out


def _component_claims(calculated) -> dict[str, dict[tuple[str, str], tuple[int, str]]]:
    out: dict[str, dict] = defaultdict(dict)
    for client, channel, drug_class, count, checksum in calculated.ancillary["claims_components"]:
        out[client][(channel, drug_class)] = (count, checksum)
    return out


def calculate(con, calculated, *, evidence: dict[str, Evidence], period: tuple[dt.date, dt.date],
              dataset_label: str, write_findings: Callable | None = None) -> Computed:
    """Decide and prove every number of `calculated` (an engine.Results, from DuckDB or PostgreSQL alike); `con`
    is the local DuckDB holding `findings_raw` (the pricing_findings rows), where the findings are decided and
    hashed. `write_findings(reader)`, when given, is handed the decided findings in their order as they are
    hashed (the artifact); what it returns is `Computed.written`."""
    results = calculated.results
    components = _component_claims(calculated)
    numbers = _guarantee_numbers(calculated, results, evidence, period, components, dataset_label)
    numbers += _rebate_numbers(calculated, results, evidence)
    _decide_findings(con)
    _name_finding_flags(con)
    numbers += _finding_numbers(con, evidence)
    numbers += _savings(numbers)
    findings_sha, written = hash_and_write(con, write_findings)
    findings = con.execute("SELECT COUNT(*) FROM run_findings").fetchall()[0][0]  # read out: the connection is free
    canonical = json.dumps({"numbers": [n.canonical() for n in numbers], "findings": findings_sha},
                           sort_keys=True, separators=(",", ":"))
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for n in numbers:
        counts[n.kind][n.decision] += 1
    return Computed(numbers=numbers, findings=findings, findings_sha256=findings_sha,
                    result_sha256=hashlib.sha256(canonical.encode()).hexdigest(),
                    counts={k: dict(v) for k, v in counts.items()}, written=written)
