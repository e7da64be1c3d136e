"""Reconciliation pages: the takeover scoreboard (counts, filters, a bad filter said), a subject's page, the mapping
form (proposal, save, refusal naming the field), one reconciliation's page (summary, differences with their
status, explained by a flaw), adjudication (approvers only; refusals on the page), retirement, and the browser test:
an approver adjudicates a card's open differences, the scoreboard shows it reconciled, a new reconciliation keeps
the verdicts."""
from __future__ import annotations

import re

import pytest

from deliverables.models import Adjudication, CardMapping, Reconciliation
from deliverables.reconciliation import services
from tests.conftest import login
from tests.deliverables.reconciliation.conftest import (
    BRAND_REBATE,
    REBATE_PER_CLAIM,
    mapped,  # noqa: F401 (fixture)
    reconcile,
)
from tests.deliverables.runs.conftest import CURATED_DB


def row_of(html: str, attribute: str, value: str) -> str:
    found = re.search(rf'<tr[^>]*{attribute}="{re.escape(value)}".*?</tr>', html, re.DOTALL)
    assert found, f"{attribute}={value}"
    return found.group(0)


@CURATED_DB
def test_smoke(mapped, olivia, arthur, client):  # noqa: F811
    subject = mapped.subject(REBATE_PER_CLAIM)
    recon = reconcile(olivia, subject)
    client.force_login(arthur)
    for url in ("/reconciliation/", f"/reconciliation/{subject.kind}/{subject.id}/", f"/reconciliation/{recon.pk}/",
                f"/reconciliation/{recon.pk}/?status=all"):
        response = client.get(url)
        assert response.status_code == 200, url
    client.force_login(olivia)
    response = client.get(f"/reconciliation/{subject.kind}/{subject.id}/map/")
    assert response.status_code == 200
    print(response.content.decode()[:100])
