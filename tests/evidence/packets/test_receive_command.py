"""receive_evidence PATH [--json]: the JSON shape, and exit 0 whenever the packet was recorded."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from console.models import AuditEvent
from evidence.models import PacketRevision
from tests.evidence.packets.builders import contract_packet, pricing_packet
from tests.support.worker import database_url_for_current_test_db

pytestmark = pytest.mark.django_db

KEYS = {"packet_id", "kind", "revision", "status", "class", "sha256", "issues", "bronze"}
ISSUE_KEYS = {"code", "severity", "file", "field", "row", "column", "message"}


def _run(path: Path) -> dict:
    out = io.StringIO()
    call_command("receive_evidence", str(path), "--json", stdout=out)
    return json.loads(out.getvalue())


def test_json_of_an_accepted_packet(tmp_path):
    packet = pricing_packet()

    result = _run(packet.zip(tmp_path / "prices.zip"))

    revision = PacketRevision.objects.get()
    assert set(result) == KEYS
    assert result == {
        "packet_id": "EVP-PRICING-LEAF-MAC-2025", "kind": "pricing", "revision": 1, "status": "accepted",
        "class": "candidate", "sha256": revision.sha256, "issues": [], "bronze": revision.bronze_prefix,
    }
    assert AuditEvent.objects.get(action="evidence_packet.received").actor_label == "system:command:receive_evidence"


def test_json_answers_unchanged_then_a_new_revision(tmp_path):
    packet = contract_packet()
    first = _run(packet.write(tmp_path / "one"))

    again = _run(packet.write(tmp_path / "two"))
    packet.rows[0][5] = "0.1800"
    changed = _run(packet.write(tmp_path / "three"))

    assert (again["status"], again["revision"], again["sha256"]) == ("unchanged", 1, first["sha256"])
    assert (changed["status"], changed["revision"]) == ("accepted", 2)


def test_json_of_a_refusal_lists_every_issue_located(tmp_path):
    packet = contract_packet()
    packet.rows[2][5] = "17.5%"
    packet.rows[3][0] = ""

    result = _run(packet.write(tmp_path / "broken"))

    assert set(result) == KEYS
    assert (result["status"], result["revision"], result["class"]) == ("refused", None, None)
    assert result["packet_id"] == packet.fields["packet_id"] and result["bronze"].startswith("bronze/evidence/_refused/")
    assert all(set(i) == ISSUE_KEYS for i in result["issues"])
    located = {(i["code"], i["file"], i["row"], i["column"]) for i in result["issues"]}
    assert ("VALUE_INVALID", "terms.csv", 3, "awp_discount_guarantee") in located
    assert ("VALUE_INVALID", "terms.csv", 4, "contract_id") in located


def test_a_missing_path_is_an_error_and_records_nothing(tmp_path):
    with pytest.raises(CommandError, match="no packet folder or archive"):
        call_command("receive_evidence", str(tmp_path / "nowhere"), "--json")

    assert not PacketRevision.objects.exists()


@pytest.mark.postgres_only  # the child process needs the test database on disk (SQLite's is in memory)
@pytest.mark.django_db(transaction=True)
def test_exit_codes_of_the_process(tmp_path, settings):
    """A refusal exits 0 (it was recorded); a missing path exits non-zero. Run as a real process on the test
    database, with this test's lake."""
    broken = contract_packet()
    broken.rows[2][5] = "17.5%"
    folder = broken.write(tmp_path / "broken")
    env = {**os.environ, "DATABASE_URL": database_url_for_current_test_db(), "LAKE_URL": str(settings.LAKE_URL)}
    root = Path(__file__).resolve().parents[3]

    refused = subprocess.run([sys.executable, "manage.py", "receive_evidence", str(folder), "--json"],
                             capture_output=True, text=True, check=False, env=env, cwd=root)
    missing = subprocess.run([sys.executable, "manage.py", "receive_evidence", str(tmp_path / "nowhere")],
                             capture_output=True, text=True, check=False, env=env, cwd=root)

    assert refused.returncode == 0, refused.stderr
    assert json.loads(refused.stdout)["status"] == "refused"
    assert PacketRevision.objects.get().status == "refused"
    assert missing.returncode != 0 and "no packet folder or archive" in missing.stderr
