"""The home page shows each role its work, and only its own: approvers what waits for their decision (never their
own request), operators their work in flight, auditors the chain status, whoever reads provenance the takeover at
a glance and what is published."""
from __future__ import annotations

import re

import pytest

from tests.promotion.conftest import manifest, ready_request  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


def sections(client, user) -> dict[str, str]:
    client.force_login(user)
    body = client.get("/").content.decode()
    found = re.finditer(r'<section class="work" id="work-([a-z-]+)">(.*?)</section>\s*(?=<section class="work"|<h2>From evidence)',
                        body, re.DOTALL)
    return {m.group(1): m.group(2) for m in found}


def test_each_role_sees_its_own_work_on_the_home_page(client, ready_request, olivia, arthur, audrey, cecilia,  # noqa: F811
                                                      oscar):
    mine = f'data-request="{ready_request.pk}"'

    approver = sections(client, arthur)
    assert mine in approver["approvals"] and "olivia" in approver["approvals"]
    assert "No publication waits for you." in approver["approvals"]
    assert set(approver) == {"approvals", "takeover", "published"}

    operator = sections(client, olivia)
    assert mine in operator["in-flight"] and "Ready for approval" in operator["in-flight"]
    assert set(operator) == {"in-flight", "takeover", "published"}  # her own request is never hers to approve

    auditor = sections(client, audrey)
    assert set(auditor) == {"chain", "takeover", "published"} and 'id="chain-status"' in auditor["chain"]

    reviewer = sections(client, cecilia)
    assert set(reviewer) == {"takeover", "published"} and "Nothing is published yet." in reviewer["published"]

    assert sections(client, oscar) == {}


def test_an_operator_with_nothing_in_flight_is_told_so(client, olivia):
    assert "Nothing of yours is in flight" in sections(client, olivia)["in-flight"]


def test_the_takeover_at_a_glance_counts_the_scoreboards_cards_per_state_and_the_open_flags(
        client, ready_request, cecilia):  # noqa: F811
    from deliverables.reconciliation.selectors import scoreboard
    from evidence.flags.models import MissingEvidenceFlag

    rows, summary = scoreboard()
    assert rows and summary["total"] == len(rows)  # the received export's cards and DataFlows
    takeover = sections(client, cecilia)["takeover"]
    assert f">{summary['total']} cards and DataFlows</a>" in takeover
    shown = dict(re.findall(r'\?state=(\w+)"><span class="badge[^"]*">[^<]+</span> <strong data-state="\w+">(\d+)</strong>',
                            takeover))
    assert shown == {state: str(summary[state]) for state in ("not_mapped", "mapped", "open", "reconciled", "retired")}
    assert shown["not_mapped"] == str(len(rows))  # nothing mapped yet: every card waits
    open_flags = MissingEvidenceFlag.objects.filter(status="open").count()
    assert f'<strong data-flags="open">{open_flags}</strong>' in takeover
