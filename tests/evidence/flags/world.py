"""Test data of the overview and missing-evidence tests: flag runs, client needs and flags written as the flag
engine stores them, beside packets received and verified through the real services (test data, not mocks)."""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from console import clock
from evidence.flags.models import ClientNeeds, FlagResolution, FlagRun, FlagStatus, MissingEvidenceFlag
from evidence.packets.verification import packet_verify
from tests.evidence.packets.builders import (
    ACME,
    BLUEWATER,
    contract_packet,
    pricing_packet,
    rebate_packet,
    salesforce_packet,
)
from tests.evidence.packets.verification_helpers import received

D = dt.date
AT = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


def run(*, status: str = "succeeded", at: dt.datetime = AT) -> FlagRun:
    return FlagRun.objects.create(trigger="curated.promoted", trigger_ref="PBM Claims 2025 v1",
                                  requested_by_label="system", status=status, queued_at=at, started_at=at,
                                  finished_at=at + dt.timedelta(minutes=1))


def needs(flag_run: FlagRun, client: str, *, name: str = "", year: int = 2025, months=None) -> ClientNeeds:
    return ClientNeeds.objects.create(
        run=flag_run, client_account_id=client, client_name=name, period_start=D(year, 1, 1),
        period_end=D(year, 12, 31), claims=120, components=[["retail", "brand"]],
        months=months if months is not None else [f"{year}-{m:02d}" for m in range(1, 13)])


def flag(flag_run: FlagRun, kind: str, client: str, start: dt.date, end: dt.date, *, candidate: bool = False,
         ndc: str = "", component: str = "", raised: dt.datetime = AT, **extra) -> MissingEvidenceFlag:
    key = hashlib.sha256(f"{kind}|{client}|{start}|{end}|{ndc}|{component}".encode()).hexdigest()
    holds = {"contract": ["contract_guarantee"], "pricing": ["pricing_finding"], "rebate": ["rebate_claim"],
             "salesforce": ["client_scope"]}[kind]
    fields = {
        "key": key, "kind": kind, "client_account_id": client, "period_start": start, "period_end": end,
        "ndc": ndc, "component": component, "holds_back": holds, "reason": f"no governed {kind} evidence",
        "candidate_exists": candidate,
        "candidates": [{"source": "domo", "dataset": "Contract Terms 2025", "rows": 3}] if candidate else [],
        "first_raised_at": raised, "raised_by_run": flag_run, "last_seen_run": flag_run, **extra,
    }
    return MissingEvidenceFlag.objects.create(**fields)


def resolve(found: MissingEvidenceFlag, flag_run: FlagRun, revision, *, at: dt.datetime) -> MissingEvidenceFlag:
    found.status, found.resolved_at, found.resolved_by_run = FlagStatus.RESOLVED, at, flag_run
    found.resolved_by_revision, found.resolution = revision, FlagResolution.COVERED
    found.save()
    return found


def governed(tmp_path: Path, receiver, verifier, packet, name: str):
    revision = received(tmp_path, receiver, packet, name=name)
    return packet_verify(actor=verifier, revision=revision, sha256=revision.sha256, comment="checked")


@dataclass
class World:
    """ACME 2025: contract governed (all months), pricing candidate only (an unverified price list) but for two
    pricing flags with candidates in March and one without in May, rebate governed in Q1 and missing in Q2,
    Salesforce governed. Bluewater: needs, Salesforce governed, a contract flag without candidate all year."""

    run: FlagRun
    contract: object
    rebate: object
    salesforce: object
    pricing: object
    march: list = field(default_factory=list)
    may: object = None
    q2: object = None
    bluewater_contract: object = None


def build(tmp_path: Path, olivia, arthur) -> World:
    with clock.frozen(AT):
        flag_run = run()
        needs(flag_run, ACME, name="ACME Manufacturing")
        needs(flag_run, BLUEWATER, name="Bluewater County Schools")
        world = World(
            run=flag_run,
            contract=governed(tmp_path, olivia, arthur, contract_packet(), "contract"),
            rebate=governed(tmp_path, olivia, arthur, rebate_packet(), "rebate"),
            salesforce=governed(tmp_path, olivia, arthur, salesforce_packet(), "salesforce"),
            pricing=received(tmp_path, olivia, pricing_packet(), name="pricing"),
        )
    world.march = [flag(flag_run, "pricing", ACME, D(2025, 3, 1), D(2025, 3, 31), candidate=True, ndc=ndc,
                        raised=AT + dt.timedelta(seconds=i)) for i, ndc in enumerate(["00093505601", "00093111101"])]
    world.may = flag(flag_run, "pricing", ACME, D(2025, 5, 1), D(2025, 5, 31), ndc="00093104801",
                     raised=AT + dt.timedelta(hours=1))
    world.q2 = flag(flag_run, "rebate", ACME, D(2025, 4, 1), D(2025, 6, 30), ndc="00003089421", quarter="2025Q2")
    world.bluewater_contract = flag(flag_run, "contract", BLUEWATER, D(2025, 1, 1), D(2025, 12, 31),
                                    component="retail/brand")
    return world
