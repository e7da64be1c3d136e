"""What the authority rules answer: the decision, the governed revisions used, the candidate evidence seen
and what is missing, with a reason a person can read. `Decision.as_json()` is what the command and the
API print: every key always present (null where it does not apply), in a fixed order.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

AUTHORIZED, INDICATIVE, NOT_CONCLUDED = "authorized", "indicative", "not_concluded"
DECISIONS = (AUTHORIZED, INDICATIVE, NOT_CONCLUDED)

# The outputs of the contract's authority table.
CONTRACT_GUARANTEE = "contract_guarantee"  # per component, or combined over the components with claims
PRICING_FINDING = "pricing_finding"  # one claim: NDC and fill date
REBATE_CLAIM = "rebate_claim"  # rebate guarantee conclusion or rebate-backed claim: client, quarter, NDC
CLIENT_SCOPE = "client_scope"  # who may see the client's outputs
OUTPUTS = (CONTRACT_GUARANTEE, PRICING_FINDING, REBATE_CLAIM, CLIENT_SCOPE)

Component = tuple[str, str]  # (channel, drug_class), lower case


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _component(value: Component | None) -> dict | None:
    return {"channel": value[0], "drug_class": value[1]} if value is not None else None


@dataclass(frozen=True)
class Question:
    """What was asked, as the rules read it (components lower-cased, the combined list sorted)."""

    output: str
    client: str
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    component: Component | None = None
    components: tuple[Component, ...] = ()  # the combined conclusion: the components with claims
    quarter: str | None = None
    ndc: str | None = None
    fill_date: dt.date | None = None

    def to_dict(self) -> dict:
        period = None
        if self.period_start is not None:
            period = {"start": _day(self.period_start), "end": _day(self.period_end)}
        return {
            "output": self.output,
            "client": self.client,
            "period": period,
            "component": _component(self.component),
            "components": [_component(c) for c in self.components],
            "quarter": self.quarter,
            "ndc": self.ndc,
            "fill_date": _day(self.fill_date),
        }


@dataclass(frozen=True, order=True)
class Used:
    """A governed revision the decision rests on (in part, when the decision is not authorized)."""

    packet_id: str
    revision: int
    sha256: str
    kind: str

    def to_dict(self) -> dict:
        return {"kind": self.kind, "class": "governed", "packet_id": self.packet_id, "revision": self.revision,
                "sha256": self.sha256}


@dataclass(frozen=True, order=True)
class Seen:
    """Candidate evidence that speaks to the question: a packet revision not governed, or a Domo row."""

    kind: str
    source: str  # "packet" or "domo"
    packet_id: str = ""
    revision: int = 0
    sha256: str = ""
    status: str = ""  # a packet's: received (not verified) or withdrawn
    load_id: str = ""
    dataset_id: str = ""
    row: int = 0

    def to_dict(self) -> dict:
        packet = self.source == "packet"
        return {
            "kind": self.kind,
            "class": "candidate",
            "source": self.source,
            "packet_id": self.packet_id if packet else None,
            "revision": self.revision if packet else None,
            "sha256": self.sha256 if packet else None,
            "status": self.status if packet else None,
            "load_id": None if packet else self.load_id,
            "dataset_id": None if packet else self.dataset_id,
            "row": None if packet else self.row,
        }


@dataclass(frozen=True)
class Missing:
    """One thing the output needs that no governed evidence covers, and why."""

    kind: str  # the evidence kind that is missing
    client: str
    reason: str
    candidate_exists: bool  # whether candidate evidence would cover it (an indicative number is possible)
    start: dt.date | None = None  # a range of days (a contract) or one day (a fill date: start == end)
    end: dt.date | None = None
    component: Component | None = None
    ndc: str | None = None
    quarter: str | None = None
    price_list: str | None = None

    def to_dict(self) -> dict:
        one_day = self.start is not None and self.start == self.end
        return {
            "kind": self.kind,
            "client": self.client,
            "period": None if self.start is None or one_day else {"start": _day(self.start), "end": _day(self.end)},
            "date": _day(self.start) if one_day else None,
            "component": _component(self.component),
            "ndc": self.ndc,
            "quarter": self.quarter,
            "price_list": self.price_list,
            "candidate_exists": self.candidate_exists,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Decision:
    """The answer: authorized (a final number), indicative (internal only, labelled) or not concluded."""

    question: Question
    decision: str
    governed_used: tuple[Used, ...]
    candidates_seen: tuple[Seen, ...]
    missing: tuple[Missing, ...]

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise ValueError(f"decision {self.decision!r} is not one of {', '.join(DECISIONS)}")
        if (self.decision == AUTHORIZED) == bool(self.missing):
            raise ValueError("a decision is authorized exactly when nothing is missing")

    @property
    def authorized(self) -> bool:
        return self.decision == AUTHORIZED

    def to_dict(self) -> dict:
        return {
            "output": self.question.output,
            "decision": self.decision,
            "question": self.question.to_dict(),
            "governed_used": [u.to_dict() for u in self.governed_used],
            "candidates_seen": [s.to_dict() for s in self.candidates_seen],
            "missing": [m.to_dict() for m in self.missing],
        }

    def as_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)


def conclude(question: Question, *, used: set[Used], seen: set[Seen], missing: list[Missing],
             indicative_allowed: bool = True) -> Decision:
    """Authorized when nothing is missing; indicative when candidate evidence would cover every missing
    piece (and the output may be indicative at all); otherwise not concluded."""
    if not missing:
        decision = AUTHORIZED
    elif indicative_allowed and all(m.candidate_exists for m in missing):
        decision = INDICATIVE
    else:
        decision = NOT_CONCLUDED
    return Decision(question=question, decision=decision, governed_used=tuple(sorted(used)),
                    candidates_seen=tuple(sorted(seen)), missing=tuple(missing))
