"""Each calculation's arithmetic in plain words, for the provenance page (plain module, no Django).

The words follow deliverables.calculations.definitions (the SQL is the authority; these sentences say what it
does for a reader who does not read SQL). Every amount is summed exactly and rounded once, to cents, at the end.
"""
from __future__ import annotations

ARITHMETIC = {
    "awp_discount_guarantee": (
        "AWP discount guarantee",
        ("For the claims of one client, channel and drug class whose contract terms were in force on their fill "
         "date (excluded claims left out): the guaranteed discount is the sum of AWP x the guaranteed rate; the "
         "actual discount is AWP minus the ingredient cost paid; the shortfall is what the guaranteed discount "
         "exceeds the actual discount by (never below zero). A combined guarantee adds up every component first; "
         "a per-component guarantee owes each component's shortfall.")),
    "dispensing_fee_guarantee": (
        "Dispensing-fee guarantee",
        ("For the claims of one client, channel and drug class under one contracted fee (excluded claims left "
         "out): the guaranteed fees are the number of scripts x the contracted fee; the shortfall is what the fees "
         "paid exceed the guaranteed fees by (never below zero).")),
    "rebate_guarantee": (
        "Rebate guarantee",
        ("For the brand claims of one client in one quarter (excluded claims left out): the guaranteed rebates are "
         "the brand claims x the contracted rebate per claim, NDC by NDC; the rebates received are the invoiced "
         "rebate amounts of those NDCs; the shortfall is what the guaranteed rebates exceed the rebates received by "
         "(never below zero).")),
    "pricing_findings": (
        "Pricing audit findings",
        ("Each claim is compared with what it should have cost: a generic with the MAC unit price x quantity on "
         "its fill date, a brand with AWP x quantity x (1 - the guaranteed rate), a dispensing fee with the "
         "contracted fee, and a second copy of the same member, drug, day and pharmacy with nothing. The "
         "overpayment is the amount paid minus the amount allowed; a claim overpaid by at least one cent is a "
         "finding. A client's figure adds up its findings' overpayments.")),
    "savings": (
        "Savings summary",
        ("The client's numbers of one decision added up: the AWP and fee guarantee shortfalls owed, the rebate "
         "shortfalls, and the overpayments of the MAC and duplicate findings (brand and fee findings are counted "
         "apart, not added, as they overlap the guarantees). Each number it adds up has a provenance page of its "
         "own.")),
}


def arithmetic(calculation: str) -> tuple[str, str]:
    """(name, the arithmetic in words) of a calculation; an unknown one is named as stored, with no words."""
    return ARITHMETIC.get(calculation, (calculation, ""))
