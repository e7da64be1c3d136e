"""What a publication must pass, at its request and again at its approval, and what it shows without gating.

Each gate is a {gate, passed, detail} (stored in Publication.gates with the stage it was checked at):

- run_succeeded: the deliverable's calculation run succeeded, and the deliverable was built from it;
- artifact_intact: the deliverable's stored file still hashes to the sha256 the publication is bound to (the lake
  is read, so the gates run outside any transaction);
- inputs_current: the claims dataset version the run read is still the current version of that dataset in the
  curated registry (no newer promoted version, no rollback since), and no evidence revision the run read as
  governed for the client has been withdrawn since (deliverables.runs.inputs records both in
  CalculationRun.inputs);
- client_scope_governed: the client's Salesforce account is governed evidence that names one Domo group
  (deliverables.scope: the backend scope is decided).

The card reconciliation state (deliverables.reconciliation.selectors.scoreboard) is recorded with the request and
shown on its page: how far the takeover's cards agree with the backend is for the approver to weigh, not a gate.
"""
from __future__ import annotations

from django.db.models import Q

from deliverables.choices import RunState
from deliverables.models import CalculationRun, Deliverable

GATES = ("run_succeeded", "artifact_intact", "inputs_current", "client_scope_governed")
CARDS_KEPT = 200  # the cards listed with a request (the counts cover every card)


def _gate(name: str, passed: bool, detail: str) -> dict:
    return {"gate": name, "passed": bool(passed), "detail": detail}


def run_succeeded(deliverable: Deliverable, run: CalculationRun) -> dict:
    if run.state != RunState.SUCCEEDED:
        return _gate("run_succeeded", False, f"run #{run.pk} is {run.state}")
    if deliverable.state != RunState.SUCCEEDED:
        return _gate("run_succeeded", False, f"run #{run.pk} succeeded but deliverable #{deliverable.pk} is "
                                             f"{deliverable.state}")
    return _gate("run_succeeded", True, f"run #{run.pk} succeeded (result {run.result_sha256[:12]})")


def artifact_intact(deliverable: Deliverable, sha256: str) -> dict:
    """The stored file, read back through deliverable_open (the lake's check, then the deliverable's own hash),
    must still be the bytes the publication is bound to."""
    from deliverables.workbooks.services import Refused, deliverable_open

    if deliverable.sha256 != sha256:
        return _gate("artifact_intact", False, f"deliverable #{deliverable.pk} is {deliverable.sha256 or 'not built'}"
                                               f", not the bound {sha256}")
    try:
        deliverable_open(deliverable).close()
    except Refused as refused:
        return _gate("artifact_intact", False, str(refused))
    return _gate("artifact_intact", True, f"{deliverable.path} hashes to {sha256}")


def _claims_problem(run: CalculationRun) -> str:
    from promotion.curated import current_versions
    from promotion.curated.aliases import curated_reader

    claims = (run.inputs or {}).get("claims") or {}
    key, version = claims.get("dataset_key"), claims.get("version")
    if not key or version is None:
        return f"run #{run.pk} recorded no claims dataset version"
    current = {v["dataset_key"]: v for v in current_versions(curated_reader())}.get(key)
    label = f"claims dataset {claims.get('name') or key} ({key})"
    if current is None:
        return f"{label}: no version of it is current in the curated registry any more (the run read v{version})"
    if int(current["version"]) != int(version):
        newer = "a newer promoted version" if int(current["version"]) > int(version) else "a rollback"
        return (f"{label}: the run read v{version}, the current version is v{current['version']} ({newer}); "
                "run the calculation again")
    return ""


def _withdrawn(run: CalculationRun, client: str) -> list[str]:
    """The governed revisions the run read for `client` that are no longer governed (a run over every client
    read every client's packets: another client's withdrawal does not hold this one back). A packet speaks for
    the clients it names, and a pricing packet naming none for every client (evidence.packets.selectors)."""
    from evidence.choices import EvidenceClass
    from evidence.packets.models import PacketRevision
    from evidence.packets.selectors import speaks_for

    read = [(e["packet_id"], e["revision"]) for e in (run.inputs or {}).get("evidence") or []
            if e.get("class") == EvidenceClass.GOVERNED]
    if not read:
        return []
    wanted = Q()
    for packet_id, revision in read:
        wanted |= Q(packet__packet_id=packet_id, revision=revision)
    found = (PacketRevision.objects.filter(wanted).exclude(evidence_class=EvidenceClass.GOVERNED)
             .select_related("packet").order_by("packet__packet_id", "revision"))
    return [f"{r.packet.packet_id} revision {r.revision} was withdrawn"
            f"{' (' + r.withdrawal_reason + ')' if r.withdrawal_reason else ''}" for r in found
            if speaks_for(r.packet, client)]


def inputs_current(run: CalculationRun, client: str) -> dict:
    problems = [p for p in [_claims_problem(run)] if p] + _withdrawn(run, client)
    if problems:
        return _gate("inputs_current", False, "; ".join(problems))
    claims = run.inputs["claims"]
    return _gate("inputs_current", True, f"claims {claims['dataset_key']} v{claims['version']} still current; no "
                                         f"governed evidence revision the run read for client {client} was "
                                         "withdrawn")


def client_scope_governed(client: str) -> dict:
    from deliverables.scope.selectors import client_account

    account = client_account(client)
    if not account.governed or account.unscoped_reason:
        why = account.unscoped_reason or "no governed Salesforce account row"
        return _gate("client_scope_governed", False, f"client {client}: {why}")
    return _gate("client_scope_governed", True, f"client {client} ({account.name}): governed Salesforce account, "
                                                f"Domo group {account.domo_group}")


def check(deliverable: Deliverable, sha256: str) -> list[dict]:
    """Every gate of publishing `deliverable` bound to `sha256`, in GATES order."""
    run = CalculationRun.objects.get(pk=deliverable.run_id)
    return [run_succeeded(deliverable, run), artifact_intact(deliverable, sha256), inputs_current(run, deliverable.client_account_id),
            client_scope_governed(deliverable.client_account_id)]


def failed(gates: list[dict]) -> list[dict]:
    return [g for g in gates if not g["passed"]]


def reconciliation_state(run: CalculationRun) -> dict:
    """The takeover scoreboard when the publication is asked for: counts by card state, and each card's state
    (its newest reconciliation, the run it reconciled against, and its open differences)."""
    from deliverables.reconciliation.selectors import scoreboard

    rows, summary = scoreboard()
    cards = [{"kind": r.kind, "id": r.id, "title": r.title, "state": r.state, "open": r.open,
              "reconciliation": r.reconciliation.pk if r.reconciliation else None,
              "run": r.reconciliation.run_id if r.reconciliation else None}
             for r in rows]
    return {"summary": summary, "against_this_run": sum(1 for c in cards if c["run"] == run.pk),
            "cards": cards[:CARDS_KEPT], "cards_total": len(cards)}
