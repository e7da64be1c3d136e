"""The authority rules: what an output may claim from the evidence it is given (evidence-packets-v1.md,
"Which evidence authorizes which output"). Plain modules, no Django, no clock: dates come in as arguments.

    decide(CONTRACT_GUARANTEE, client=..., period=(start, end), component=("retail", "brand"), evidence=...)
    decide(CONTRACT_GUARANTEE, client=..., period=(start, end), components=[...with claims...], evidence=...)
    decide(PRICING_FINDING, client=..., ndc=..., fill_date=..., component=None, evidence=...)
    decide(REBATE_CLAIM, client=..., quarter="2025Q2", ndc=..., evidence=...)
    decide(CLIENT_SCOPE, client=..., evidence=...)

Only governed revisions authorize (inputs.py); which governed revision governs a day is governance.py;
the rules per output are contract.py, pricing.py and rebate.py (rebate and client scope).
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from evidence.packets.authority.contract import decide_contract
from evidence.packets.authority.decision import (
    AUTHORIZED,
    CLIENT_SCOPE,
    CONTRACT_GUARANTEE,
    DECISIONS,
    INDICATIVE,
    NOT_CONCLUDED,
    OUTPUTS,
    PRICING_FINDING,
    REBATE_CLAIM,
    Component,
    Decision,
    Missing,
    Question,
    Seen,
    Used,
)
from evidence.packets.authority.inputs import (
    CANDIDATE,
    GOVERNED,
    RECEIVED,
    STATUSES,
    VERIFIED,
    WITHDRAWN,
    DomoRow,
    Evidence,
    Revision,
)
from evidence.packets.authority.pricing import decide_pricing
from evidence.packets.authority.rebate import decide_rebate, decide_scope
from evidence.packets.model import CHANNELS, DRUG_CLASSES

__all__ = [
    "AUTHORIZED", "CANDIDATE", "CLIENT_SCOPE", "CONTRACT_GUARANTEE", "DECISIONS", "GOVERNED", "INDICATIVE",
    "NOT_CONCLUDED", "OUTPUTS", "PRICING_FINDING", "REBATE_CLAIM", "RECEIVED", "STATUSES", "VERIFIED", "WITHDRAWN",
    "Decision", "DomoRow", "Evidence", "Missing", "Question", "Revision", "Seen", "Used", "decide",
]

QUARTER = re.compile(r"\d{4}Q[1-4]")
RULES = {
    CONTRACT_GUARANTEE: decide_contract,
    PRICING_FINDING: decide_pricing,
    REBATE_CLAIM: decide_rebate,
    CLIENT_SCOPE: decide_scope,
}


def _component(value: Iterable[str]) -> Component:
    channel, drug_class = (part.strip().lower() for part in value)
    if channel not in CHANNELS or drug_class not in DRUG_CLASSES:
        raise ValueError(f"component {channel}/{drug_class} is not a channel ({', '.join(CHANNELS)}) "
                         f"and a drug class ({', '.join(DRUG_CLASSES)})")
    return channel, drug_class


def _question(output: str, client: str, period, component, components, quarter, ndc, fill_date) -> Question:
    if output not in OUTPUTS:
        raise ValueError(f"output {output!r} is not one of {', '.join(OUTPUTS)}")
    if not client:
        raise ValueError("a decision is about one client: give its account id")

    def need(value, name: str):
        if value is None or value == () or value == []:
            raise ValueError(f"{output} needs {name}")
        return value

    if ndc is not None and not (len(ndc) == 11 and ndc.isdigit()):
        raise ValueError(f"NDC {ndc!r} is not 11 digits")
    if quarter is not None and not QUARTER.fullmatch(quarter):
        raise ValueError(f"quarter {quarter!r} is not YYYYQn")
    start = end = None
    if output == CONTRACT_GUARANTEE:
        start, end = need(period, "the reporting period (start, end)")
        if start > end:
            raise ValueError("the reporting period starts after it ends")
        if component is not None and components:
            raise ValueError("give one component, or the components with claims for the combined conclusion, "
                             "not both")
        if component is None:
            need(components, "a component, or the components with claims for the combined conclusion")
    elif output == PRICING_FINDING:
        need(ndc, "the claim's NDC")
        need(fill_date, "the claim's fill date")
    elif output == REBATE_CLAIM:
        need(quarter, "the quarter (YYYYQn)")
        need(ndc, "the NDC")
    return Question(
        output=output, client=client, period_start=start, period_end=end,
        component=_component(component) if component is not None and output != REBATE_CLAIM
        and output != CLIENT_SCOPE else None,
        components=tuple(sorted({_component(c) for c in components})) if output == CONTRACT_GUARANTEE else (),
        quarter=quarter if output == REBATE_CLAIM else None,
        ndc=ndc if output in (PRICING_FINDING, REBATE_CLAIM) else None,
        fill_date=fill_date if output == PRICING_FINDING else None,
    )


def decide(output: str, *, client: str, evidence: Evidence, period: tuple[dt.date, dt.date] | None = None,
           component: tuple[str, str] | None = None, components: Iterable[tuple[str, str]] = (),
           quarter: str | None = None, ndc: str | None = None, fill_date: dt.date | None = None) -> Decision:
    """What `output` may claim for `client` from `evidence`: authorized, indicative or not concluded, with
    the governed revisions used, the candidate evidence seen and what is missing.

    Raises ValueError when the question is incomplete for its output (a contract conclusion without a
    period, a pricing finding without a fill date, ...). Arguments an output does not use are ignored.
    """
    question = _question(output, client, period, component, tuple(components), quarter, ndc, fill_date)
    return RULES[output](question, evidence)
