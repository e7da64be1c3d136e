"""Property: no combination of candidate, withdrawn, out-of-period or other-client evidence ever authorizes.

Each example takes the complete governed evidence (one packet of each kind, which authorizes every
question), removes the packet of one kind (the hole), and adds any number of pieces of evidence of that
kind that must not fill it: revisions received but not verified, withdrawn revisions, governed packets
for another period or another client, Domo rows. Every question that needs the missing kind must then
not be authorized, and nothing added may appear among the governed revisions used (but a governed packet
covering part of the need, for the days it covers); every question that does not need it stays authorized
(the added evidence takes nothing away either).
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.packets.authority import AUTHORIZED, RECEIVED, WITHDRAWN, Used, decide
from evidence.packets.model import CONTRACT, KINDS, PRICING, REBATE, SALESFORCE
from tests.evidence.packets.authority_builders import (
    CLIENT,
    OTHER,
    QUESTIONS,
    RETAIL_BRAND,
    RETAIL_GENERIC,
    account,
    complete,
    contract,
    domo,
    evidence,
    invoice,
    price,
    pricing,
    rebate,
    salesforce,
    term,
)

BOTH = (RETAIL_BRAND, RETAIL_GENERIC)


class Partial:
    """A governed piece that covers part of what a question needs: it may be among the revisions used (for
    the days it covers) but must not make the decision authorized."""

    def __init__(self, piece):
        self.piece = piece
CANDIDATE_STATUSES = (RECEIVED, WITHDRAWN)


def _contract_pieces(packet_id, number, status):
    return [
        contract(packet_id=packet_id, number=number, status=status),
        contract([term(c, start="2024-01-01", end="2024-12-31") for c in BOTH], packet_id=packet_id, number=number,
                 start="2024-01-01", end="2024-12-31"),
        contract([term(c, start="2026-01-01", end="2026-12-31") for c in BOTH], packet_id=packet_id, number=number,
                 start="2026-01-01", end="2026-12-31"),
        Partial(contract([term(c, start="2025-05-01") for c in BOTH], packet_id=packet_id, number=number)),
        contract([term(c, client=OTHER) for c in BOTH], packet_id=packet_id, number=number, clients=(OTHER,)),
        contract([term(c, client=OTHER) for c in BOTH], packet_id=packet_id, number=number, clients=(CLIENT, OTHER)),
        *(domo(CONTRACT, term(c), row=number) for c in BOTH),
    ]


def _pricing_pieces(packet_id, number, status):
    return [
        pricing(packet_id=packet_id, number=number, status=status),
        pricing([price(effective="2024-01-01", end="2024-12-31")], packet_id=packet_id, number=number,
                start="2024-01-01", end="2024-12-31"),
        pricing([price(effective="2025-05-01")], packet_id=packet_id, number=number),
        pricing([price(end="2025-03-31")], packet_id=packet_id, number=number),
        pricing(packet_id=packet_id, number=number, clients=(OTHER,)),
        domo(PRICING, price(), row=number),
    ]


def _rebate_pieces(packet_id, number, status):
    return [
        rebate(packet_id=packet_id, number=number, status=status),
        rebate([invoice(quarter="2025Q1", invoice_date="2025-05-15")], packet_id=packet_id, number=number),
        rebate([invoice(quarter="2025Q3", invoice_date="2025-11-15")], packet_id=packet_id, number=number),
        rebate([invoice(quarter="2024Q2", invoice_date="2024-08-15")], packet_id=packet_id, number=number,
               start="2024-01-01", end="2025-03-31"),
        rebate([invoice(client=OTHER)], packet_id=packet_id, number=number, clients=(OTHER,)),
        rebate([invoice(client=OTHER)], packet_id=packet_id, number=number, clients=(CLIENT, OTHER)),
        domo(REBATE, invoice(), row=number),
    ]


def _salesforce_pieces(packet_id, number, status):
    # No out-of-period piece: client scope names no period (the accounts as they stand).
    return [
        salesforce(packet_id=packet_id, number=number, status=status),
        salesforce([account(client=OTHER)], packet_id=packet_id, number=number, clients=(OTHER,)),
        salesforce([account(client=OTHER)], packet_id=packet_id, number=number, clients=(CLIENT, OTHER)),
        domo(SALESFORCE, account(), row=number),
    ]


PIECES = {CONTRACT: _contract_pieces, PRICING: _pricing_pieces, REBATE: _rebate_pieces, SALESFORCE: _salesforce_pieces}


@st.composite
def holes_and_bad_evidence(draw):
    hole = draw(st.sampled_from(KINDS))
    packet_ids = (complete()[hole].packet_id, f"EVP-{hole.upper()}-OTHER")
    picks = draw(st.lists(st.tuples(st.sampled_from(packet_ids), st.integers(1, 3), st.sampled_from(CANDIDATE_STATUSES),
                                    st.integers(0, 10)), max_size=6))
    pieces, keys = [], set()
    for packet_id, number, status, which in picks:
        options = PIECES[hole](packet_id, number, status)
        piece = options[which % len(options)]
        partial = isinstance(piece, Partial)
        piece = piece.piece if partial else piece
        key = (getattr(piece, "packet_id", None), number, type(piece).__name__, getattr(piece, "row", None))
        if key[0] is not None and any(k[:2] == key[:2] for k in keys):
            continue  # one packet revision is one set of bytes
        keys.add(key)
        pieces.append((piece, partial))
    return hole, pieces


@settings(derandomize=True, max_examples=250, deadline=None)
@given(holes_and_bad_evidence())
def test_no_candidate_withdrawn_out_of_period_or_other_client_evidence_authorizes(case):
    hole, pieces = case
    base = [packet for kind, packet in complete().items() if kind != hole]
    revisions = [p for p, _ in pieces if hasattr(p, "packet_id")]
    domo_rows = [p for p, _ in pieces if not hasattr(p, "packet_id")]
    given_evidence = evidence(*base, *revisions, domo_rows=domo_rows)
    never_used = {Used(packet_id=p.packet_id, revision=p.revision, sha256=p.sha256, kind=p.kind)
                  for p, partial in pieces if hasattr(p, "packet_id") and not partial}

    for name, (kwargs, needs) in QUESTIONS.items():
        kwargs = dict(kwargs)
        decision = decide(kwargs.pop("output"), client=CLIENT, evidence=given_evidence, **kwargs)
        if hole in needs:
            assert decision.decision != AUTHORIZED, (name, decision.as_json())
            assert not never_used & set(decision.governed_used), (name, decision.as_json())
        else:
            assert decision.decision == AUTHORIZED, (name, decision.as_json())


def _every_domo_row() -> list:
    """Domo rows of every kind that match the client and every question exactly (as complete packets would)."""
    return [row for kind, packet in complete().items() for number, record in enumerate(packet.records, start=1)
            for row in [domo(kind, record, row=number)]]


@settings(derandomize=True, max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(range(len(_every_domo_row()))), unique=True))
def test_domo_rows_alone_never_authorize(picked):
    rows = _every_domo_row()
    given_evidence = evidence(domo_rows=[rows[index] for index in picked])

    for name, (kwargs, _needs) in QUESTIONS.items():
        kwargs = dict(kwargs)
        decision = decide(kwargs.pop("output"), client=CLIENT, evidence=given_evidence, **kwargs)
        assert decision.decision != AUTHORIZED and not decision.governed_used, (name, decision.as_json())
        assert all(seen.source == "domo" for seen in decision.candidates_seen), (name, decision.as_json())
