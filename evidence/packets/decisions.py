"""One question to the authority rules, from the command line or the API: `decision_answer(params)` reads the
parameters as text (the same names for both doors), checks them once, loads the client's evidence
(selectors.evidence_for) and answers `Decision.to_dict()`; `answer_json(answer)` is the JSON both print, byte
for byte.

Parameters (every value text, as typed or as sent in the query string):
- `output`: contract_guarantee, pricing_finding, rebate_claim or client_scope;
- `client`: the client's 18-character Salesforce account id;
- `period`: START:END (YYYY-MM-DD:YYYY-MM-DD), the reporting period; needed by contract_guarantee;
- `component`: CHANNEL/CLASS (retail/brand, ...); contract_guarantee needs at least one: one is the
  per-component conclusion, several (repeated, or comma-separated) the combined conclusion over the
  components that have claims in the period; pricing_finding takes one (the claim's component), optional;
- `quarter` (YYYYQn) and `ndc` (11 digits): rebate_claim; `ndc` and `fill_date` (YYYY-MM-DD): pricing_finding.
A parameter the output does not use is refused, naming it, rather than silently ignored: the person asking
would otherwise read an answer to a question they did not ask.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from evidence.packets import model
from evidence.packets.authority import (
    CLIENT_SCOPE,
    CONTRACT_GUARANTEE,
    OUTPUTS,
    PRICING_FINDING,
    REBATE_CLAIM,
    decide,
)
from evidence.packets.selectors import evidence_for
from evidence.packets.validation.header import parse_date, salesforce_id_problem

PARAMETERS = ("output", "client", "period", "component", "quarter", "ndc", "fill_date")
# What each output takes: (required, optional).
TAKES = {
    CONTRACT_GUARANTEE: ({"client", "period", "component"}, set()),
    PRICING_FINDING: ({"client", "ndc", "fill_date"}, {"component"}),
    REBATE_CLAIM: ({"client", "quarter", "ndc"}, set()),
    CLIENT_SCOPE: ({"client"}, set()),
}
# The evidence each output's rules read (pricing: the contract names the price list).
KINDS = {
    CONTRACT_GUARANTEE: (model.CONTRACT,),
    PRICING_FINDING: (model.CONTRACT, model.PRICING),
    REBATE_CLAIM: (model.REBATE,),
    CLIENT_SCOPE: (model.SALESFORCE,),
}
FORMS = {
    "period": "START:END (YYYY-MM-DD:YYYY-MM-DD)",
    "component": "CHANNEL/CLASS (like retail/brand)",
    "quarter": "YYYYQn (like 2025Q2)",
    "ndc": "11 digits (like 00093505601)",
    "fill_date": "YYYY-MM-DD",
    "client": "an 18-character Salesforce account id",
}
QUARTER = re.compile(r"\d{4}Q[1-4]")
NDC = re.compile(r"\d{11}")


class DecisionParameterError(ValueError):
    """A parameter is missing, malformed or not one the output takes; `parameter` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message


@dataclass(frozen=True)
class DecisionQuestion:
    """The parameters, checked and typed."""

    output: str
    client: str
    period: tuple[dt.date, dt.date] | None = None
    components: tuple[tuple[str, str], ...] = ()
    quarter: str | None = None
    ndc: str | None = None
    fill_date: dt.date | None = None

    def evidence_period(self) -> tuple[dt.date, dt.date] | None:
        """The days the rules look at, to bound what is loaded (None: the whole history)."""
        if self.output == CONTRACT_GUARANTEE:
            return self.period
        if self.output == PRICING_FINDING:
            return (self.fill_date, self.fill_date)
        return None  # a rebate invoice may be dated after its quarter; client scope is about now


def _values(params: Mapping[str, object], name: str) -> list[str]:
    """The parameter's non-blank values (a query string or argparse may give a list)."""
    value = params.get(name)
    values = value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
    return [str(v).strip() for v in values if v is not None and str(v).strip()]


def _one(params: Mapping[str, object], name: str) -> str | None:
    values = _values(params, name)
    if len(values) > 1:
        raise DecisionParameterError(name, f"give it once, not {len(values)} times")
    return values[0] if values else None


def _date(name: str, text: str) -> dt.date:
    try:
        return parse_date(text)
    except ValueError as exc:
        raise DecisionParameterError(name, f"{exc}; expected {FORMS[name]}") from None


def _period(text: str) -> tuple[dt.date, dt.date]:
    start, colon, end = text.partition(":")
    if not colon:
        raise DecisionParameterError("period", f"{text!r} is not {FORMS['period']}")
    period = (_date("period", start.strip()), _date("period", end.strip()))
    if period[0] > period[1]:
        raise DecisionParameterError("period", f"{text!r} starts after it ends")
    return period


def _component(text: str) -> tuple[str, str]:
    channel, slash, drug_class = text.lower().partition("/")
    channel, drug_class = channel.strip(), drug_class.strip()
    if not slash or channel not in model.CHANNELS or drug_class not in model.DRUG_CLASSES:
        raise DecisionParameterError(
            "component", f"{text!r} is not {FORMS['component']}: a channel ({', '.join(model.CHANNELS)}) "
                         f"and a drug class ({', '.join(model.DRUG_CLASSES)})")
    return channel, drug_class


def parse_question(params: Mapping[str, object]) -> DecisionQuestion:
    """The parameters checked once: the first problem raises DecisionParameterError naming its parameter."""
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise DecisionParameterError(unknown[0], f"not a parameter; the parameters are {', '.join(PARAMETERS)}")
    output = _one(params, "output")
    if output is None:
        raise DecisionParameterError("output", f"missing; one of {', '.join(OUTPUTS)}")
    if output not in OUTPUTS:
        raise DecisionParameterError("output", f"{output!r} is not one of {', '.join(OUTPUTS)}")
    required, optional = TAKES[output]
    for name in PARAMETERS[1:]:
        given = bool(_values(params, name))
        if given and name not in required | optional:
            raise DecisionParameterError(name, f"{output} does not take it")
        if not given and name in required:
            raise DecisionParameterError(name, f"{output} needs it: {FORMS[name]}")
    client = _one(params, "client")
    problem = salesforce_id_problem(client)
    if problem:
        raise DecisionParameterError("client", problem)
    components = [_component(part) for value in _values(params, "component")
                  for part in value.split(",") if part.strip()]
    if output == PRICING_FINDING and len(components) > 1:
        raise DecisionParameterError("component", "a pricing finding is about one claim: give one component")
    if len(set(components)) != len(components):
        raise DecisionParameterError("component", "a component is given twice")
    period, quarter, ndc, fill_date = (_one(params, n) for n in ("period", "quarter", "ndc", "fill_date"))
    if quarter is not None and not QUARTER.fullmatch(quarter):
        raise DecisionParameterError("quarter", f"{quarter!r} is not {FORMS['quarter']}")
    if ndc is not None and not NDC.fullmatch(ndc):
        raise DecisionParameterError("ndc", f"{ndc!r} is not {FORMS['ndc']}")
    return DecisionQuestion(
        output=output, client=client, period=_period(period) if period else None, components=tuple(components),
        quarter=quarter, ndc=ndc, fill_date=_date("fill_date", fill_date) if fill_date else None,
    )


def decision_answer(params: Mapping[str, object]) -> dict:
    """The authority rules' answer to the question the parameters ask, from the evidence stored now.

    Raises DecisionParameterError (naming the parameter) for a question that cannot be asked."""
    question = parse_question(params)
    evidence = evidence_for(question.client, period=question.evidence_period(), kinds=KINDS[question.output])
    one = question.components[0] if len(question.components) == 1 else None
    decision = decide(
        question.output, client=question.client, evidence=evidence, period=question.period, component=one,
        components=question.components if one is None else (), quarter=question.quarter, ndc=question.ndc,
        fill_date=question.fill_date,
    )
    return decision.to_dict()


def answer_json(answer: dict) -> str:
    """The answer as the command's --json and the API print it (the same bytes)."""
    return json.dumps(answer, indent=2)
