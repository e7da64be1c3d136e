"""The whole evidence loop in Chromium, on a real HTTP server and a real Celery worker: with the sample claims in the
curated registry and the other sample packets governed, the client whose contract has not arrived is missing its
contract evidence; an operator receives that contract in the browser (the worker receives it and recomputes the
flags), the client's overview cell turns candidate; a second person, an approver, verifies it in the browser (the
worker recomputes again), the cell turns governed and the flag moves to the resolved tab, resolved by that
revision. Nothing is recomputed on a page view: the test waits for the worker's runs before reading a page."""
from __future__ import annotations

import re

import pytest

from evidence.flags.models import FlagRun, FlagStatus, MissingEvidenceFlag
from evidence.models import PacketRevision
from evidence.packets.services import packet_receive
from evidence.packets.verification import packet_verify
from evidence.samples.evidence import write_sample_evidence
from evidence.samples.export import write_sample_export
from tests.conftest import login
from tests.promotion.conftest import CLAIMS, CURATED_DB, curated_db, ingest, promoted  # noqa: F401
from tests.support.worker import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.postgres_only, CURATED_DB]

ROWS = 300
MONTH = "2025-03"


def _runs_settled() -> None:
    wait_until(lambda: not FlagRun.objects.exclude(status__in=["succeeded", "failed"]).exists(), timeout=120,
               message="the worker to finish every flag run")
    assert not FlagRun.objects.filter(status="failed").exists(), list(FlagRun.objects.values_list("error", flat=True))


def _cell(page, client: str) -> str:
    page.goto(f"/evidence/overview/{client}/?period=2025")
    return page.locator(f'#grid-{client} td[data-kind="contract"][data-month="{MONTH}"]').get_attribute("data-state")


def test_a_received_contract_verified_by_a_second_person_turns_the_cell_governed_and_resolves_the_flag(
        curated_db, celery_worker, olivia, arthur, page, tmp_path):  # noqa: F811
    promoted(ingest(write_sample_export(tmp_path / "export", rows=ROWS).path), CLAIMS, olivia, arthur,
             worker=celery_worker)
    evidence = write_sample_evidence(tmp_path / "evidence", rows=ROWS, zip=True)
    archive = None
    for packet_id, _kind, path in evidence.packets:
        if packet_id == evidence.unverified_packet_id:
            archive = path  # this one arrives through the browser below
            continue
        revision = packet_receive(actor=olivia, source=path, original_name=path.name).revision
        packet_verify(actor=arthur, revision=revision, sha256=revision.sha256, comment="checked")
    _runs_settled()
    client = re.search(r"EVP-CONTRACT-(\w{18})-", evidence.unverified_packet_id).group(1)
    contract_flags = MissingEvidenceFlag.objects.filter(client_account_id=client, kind="contract")
    assert contract_flags.filter(status=FlagStatus.OPEN, candidate_exists=False).exists()
    opened = set(contract_flags.values_list("pk", flat=True))

    # The operator receives the contract in the browser; the worker receives it and recomputes the flags.
    login(page, "olivia")
    assert _cell(page, client) == "missing"
    page.goto("/evidence/packets/receive/")
    page.set_input_files("#id_file", str(archive))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(r".*/evidence/packets/receipts/\d+/$"))
    page.locator("#receipt-status", has_text="Done").wait_for(timeout=90_000)
    assert page.locator("#receipt-outcome").inner_text() == "accepted"
    _runs_settled()
    assert _cell(page, client) == "candidate"
    assert set(contract_flags.filter(status=FlagStatus.OPEN).values_list("pk", flat=True)) == opened
    page.click("text=Log out")

    # A second person verifies it; the worker resolves the flags, covered by that revision.
    login(page, "arthur")
    received = PacketRevision.objects.get(claimed_packet_id=evidence.unverified_packet_id, status="accepted")
    assert received.received_by == olivia and received.evidence_class == "candidate"
    page.goto(f"/evidence/packets/{received.packet_id}/")
    page.fill("#verify-form textarea", "Terms checked against the executed contract")
    page.click("#verify-button")
    page.wait_for_selector("#verified-note")
    _runs_settled()
    assert _cell(page, client) == "governed"
    assert not contract_flags.filter(status=FlagStatus.OPEN).exists()
    resolved = contract_flags.get(pk=min(opened))
    assert (resolved.resolution, resolved.resolved_by_revision.claimed_packet_id) == (
        "covered", evidence.unverified_packet_id)

    page.goto(f"/evidence/missing/?tab=resolved&client={client}&kind=contract")
    row = page.locator(f'#resolved-flags tr[data-flag="{resolved.pk}"]')
    assert f"{evidence.unverified_packet_id} r1" in row.inner_text()
    assert "governed" in row.inner_text()
    page.goto(f"/evidence/missing/?client={client}&kind=contract")
    assert page.locator(f'#open-flags tr[data-flag="{resolved.pk}"]').count() == 0
