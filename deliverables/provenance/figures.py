"""Re-deriving a number's figures and amount, not only its rows: the same calculation, recomputed from the rows
the number adds up, compared figure by figure with what the run stored. Set-based (DuckDB), deterministic.

`rederive_figures(run, number, con)` returns what the run would store for `number` (its figures and the amount
or indicative amount placed by the stored decision), computed on `con`, the provenance connection that holds the
run's claims version and stored evidence tables as `cur` and `ct` (rows._prepared):

- a guarantee or rebate line (relation `ct`): the calculation's own definition body (definitions.BODIES) over
  `ct` restricted to the line's predicate (its contributing rows), the line with the number's key picked;
- a component held back for want of terms (relation `cur`): its claims counted;
- a finding or a findings total: the pricing_findings definition over `cur` and `ct`, the findings decided as a
  run decides them (runs.compute), then the one finding, or the total (runs.totals.FINDINGS_TOTAL_SQL over the
  number's predicate: the exact overpayments added, rounded once);
- a savings summary (relation `numbers`, `con` unused): its member numbers' amounts added again
  (runs.totals.savings_figures).

The decision is the run's (it depends on the evidence, not on the rows): the re-derived amount is placed by it, and
the figures a number not concluded withholds are withheld here too. `differences(number, derived)` names each
figure (and the amount) whose stored value differs, compared as decimals where both are numbers.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from deliverables.calculations import definitions
from deliverables.choices import Decision
from deliverables.models import RunNumber
from deliverables.runs import compute, totals

# The columns naming a line among its calculation's lines, and the figure that is its amount.
LINE_KEYS = {
    "awp_discount_guarantee": ("level", "client_account_id", "period_start", "period_end", "component", "channel",
                               "drug_class"),
    "dispensing_fee_guarantee": ("client_account_id", "period_start", "period_end", "component", "channel",
                                 "drug_class"),
    "rebate_guarantee": ("client_account_id", "quarter"),
}
HEADLINE = {"awp_discount_guarantee": "shortfall_owed", "dispensing_fee_guarantee": "shortfall",
            "rebate_guarantee": "shortfall", "pricing_findings": "overpayment", "savings": "total"}
FINDING_FIGURES = ("claim_id", "client_account_id", "fill_date", "ndc", "pharmacy_npi", "channel", "drug_class",
                   "paid", "allowed", "reference", "term_source", "price_source")
NOT_DERIVED = ("claims_source",)  # a label of the run's dataset, not a figure of the rows


def text_of(value) -> str | None:
    """A value as the provenance answers show it: dates ISO, decimals and the rest as their text, None as None."""
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def finding_figures(row: dict) -> dict:
    """A finding's figures from its row (the findings artifact's, or a re-derived one)."""
    decision = row["decision"]
    figures = {name: text_of(row.get(name)) for name in FINDING_FIGURES}
    placed = "overpayment" if decision == Decision.AUTHORIZED else "indicative_overpayment"
    figures[placed] = text_of(row[placed]) if decision != Decision.NOT_CONCLUDED else None
    if row.get("conflict"):
        figures["conflict"] = "governed prices in force disagree"
    return figures


def _placed(decision: str, headline) -> dict:
    return {"amount": headline if decision == Decision.AUTHORIZED else None,
            "indicative_amount": headline if decision == Decision.INDICATIVE else None}


def _withheld(decision: str, figures: dict) -> dict:
    if decision != Decision.NOT_CONCLUDED:
        return figures
    return {name: (None if name in compute.AMOUNT_FIGURES else value) for name, value in figures.items()}


def _rows(con, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _line(con, number) -> dict | None:
    name = number.calculation
    stored = number.figures or {}
    lines = _rows(con, f"WITH ct AS (SELECT * FROM ct WHERE {number.predicate}), {definitions.BODIES[name]}")
    found = [r for r in lines if all(text_of(r[k]) == stored.get(k) for k in LINE_KEYS[name])]
    if len(found) != 1:
        return None
    figures = _withheld(number.decision, {k: text_of(v) for k, v in found[0].items()})
    headline = found[0][HEADLINE[name]] if number.decision != Decision.NOT_CONCLUDED else None
    return {"figures": figures, **_placed(number.decision, headline)}


def _decided_findings(con) -> None:
    """`run_findings` on `con`, as a run decides them: the definition's findings over `cur` and `ct`."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE findings_raw AS "
                f"{definitions.over_materialized('pricing_findings', ordered=False)}")
    compute._decide_findings(con)


def _finding(con, number) -> dict | None:
    _decided_findings(con)
    row = number.finding
    found = _rows(con, f"SELECT * FROM run_findings WHERE kind = {_literal(row['kind'])} "
                       f"AND claim_id = {_literal(row['claim_id'])} ORDER BY client_account_id LIMIT 1")
    if not found:
        return None
    headline = found[0]["overpayment"] if found[0]["decision"] == Decision.AUTHORIZED else found[0][
        "indicative_overpayment"]
    return {"figures": finding_figures(found[0]), **_placed(number.decision, headline)}


def _findings_total(con, number) -> dict | None:
    _decided_findings(con)
    found = con.execute(totals.FINDINGS_TOTAL_SQL.format(relation="run_findings",
                                                         where=f"WHERE {number.predicate}")).fetchall()
    if len(found) != 1:
        return None
    _, _, _, count, paid, total, exact, *_ = found[0]
    concluded = number.decision != Decision.NOT_CONCLUDED
    return {"figures": totals.findings_figures(count, paid, total, exact, number.decision),
            **_placed(number.decision, total if concluded else None)}


def _savings(run, number) -> dict:
    keys = (number.evidence or {}).get("numbers", [])
    members = [(n.kind, n.key, n.amount if n.decision == Decision.AUTHORIZED else n.indicative_amount, n.figures,
                n.evidence) for n in RunNumber.objects.filter(run=run, key__in=keys).order_by("position")]
    figures, total = totals.savings_figures(members, number.decision)
    return {"figures": figures, **_placed(number.decision, total)}


def _literal(text) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def rederive_figures(run, number, con=None) -> dict | None:
    """The figures and amount `number` would have, recomputed (see the module); None when its rows give no such
    line (the difference is then every stored figure)."""
    if number.relation == "numbers":
        return _savings(run, number)
    if getattr(number, "is_finding", False):
        return _finding(con, number)
    if number.relation == "findings":
        return _findings_total(con, number)
    if number.relation == "cur":  # a component with claims and no terms: its figure is the claims it counts
        count = con.execute(f"SELECT COUNT(*) FROM cur WHERE {number.predicate}").fetchone()[0]
        return {"figures": {"claims": str(count)}, "amount": None, "indicative_amount": None}
    if number.calculation in LINE_KEYS:
        return _line(con, number)
    return None


def _same(stored, derived) -> bool:
    if stored is None or derived is None:
        return stored is None and derived is None
    try:
        return Decimal(str(stored)) == Decimal(str(derived))
    except InvalidOperation:
        return str(stored) == str(derived)


def differences(number, derived: dict | None) -> list[dict]:
    """Each stored figure (and the amount, the indicative amount) that the re-derivation does not give again:
    {figure, stored, rederived} (texts; None where there is none)."""
    stored = {k: v for k, v in (number.figures or {}).items() if k not in NOT_DERIVED}
    stored["amount"], stored["indicative_amount"] = text_of(number.amount), text_of(number.indicative_amount)
    again = {} if derived is None else {**derived["figures"], "amount": text_of(derived["amount"]),
                                        "indicative_amount": text_of(derived["indicative_amount"])}
    out = []
    for name in [*stored, *(k for k in again if k not in stored)]:
        if not _same(stored.get(name), again.get(name)):
            out.append({"figure": name, "stored": text_of(stored.get(name)), "rederived": text_of(again.get(name))})
    return out
