"""`make run` (run_console) on the embedded defaults (SQLite, a local lake), as a user's shell starts it: the
console comes up with the sample evidence received and verified and the sample's Domo contract terms registered
as candidate evidence, and says so in one line; a second start finds every packet and the registration unchanged
and verifies nothing again, even asked for other sample rows (the export
written first stands, and the evidence matching it)."""
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST_ONLY = {"DATABASE_URL", "DJANGO_ENV", "LAKE_URL", "CELERY_BROKER_URL", "DJANGO_ALLOW_ASYNC_UNSAFE",
             "CELERY_REDIS_KEY_PREFIX", "TEST_REDIS_URL"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(var_dir: Path, rows: int = 300) -> str:
    """Run the console until it serves, stop it (SIGTERM, as a supervisor would), return what it printed."""
    env = {k: v for k, v in os.environ.items() if k not in TEST_ONLY} | {"CONSOLE_VAR_DIR": str(var_dir),
                                                                                  "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_console", f"127.0.0.1:{_free_port()}", "--no-worker",
         "--sample-rows", str(rows)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines = []
    deadline = time.monotonic() + 240
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Demo logins") or time.monotonic() > deadline:  # the evidence line is out
                break
    finally:
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=60)
    return "".join(lines) + (rest or "")


def _evidence_line(output: str) -> str:
    found = [line for line in output.splitlines() if line.startswith("Sample evidence:")]
    assert len(found) == 1, output
    return found[0]


def _line(output: str, prefix: str) -> str:
    found = [line for line in output.splitlines() if line.startswith(prefix)]
    assert len(found) == 1, output
    return found[0]


def _curated(var_dir: Path) -> tuple[list, list]:
    """(the current pointers, the registry's versions) of the datasets (not the golden tables a load adds beside
    them) in the embedded curated registry (the console's SQLite), and who requested and approved them."""
    with sqlite3.connect(var_dir / "console.sqlite3") as db:
        current = db.execute("SELECT dataset_key, version FROM curated_current "
                             "WHERE dataset_key NOT LIKE 'golden:%'").fetchall()
        versions = db.execute("SELECT dataset_key, version, load_id, state FROM curated_registry "
                              "WHERE dataset_key NOT LIKE 'golden:%'").fetchall()
        requests = db.execute(
            "SELECT r.state, r.target, q.username, a.username FROM promotion_promotionrequest r "
            "JOIN auth_user q ON q.id = r.requested_by_id JOIN auth_user a ON a.id = r.approved_by_id").fetchall()
    return current, versions, requests


def _flags(var_dir: Path) -> list[tuple[str, int]]:
    """(kind, candidate exists) of every open missing-evidence flag, in a stable order."""
    with sqlite3.connect(var_dir / "console.sqlite3") as db:
        return db.execute("SELECT kind, candidate_exists FROM evidence_missingevidenceflag WHERE status = 'open' "
                          "ORDER BY key").fetchall()


def test_make_run_loads_the_sample_evidence_once(tmp_path):
    output = _start(tmp_path / "var")
    first = _evidence_line(output)
    assert "21 packets received as olivia.operator (21 new, 0 unchanged, 0 refused)" in first
    assert "20 governed (20 verified now by arthur.approver), 1 left candidate" in first
    assert "EVP-CONTRACT-0015e00000Qm7CaAAJ-2025 is left unverified by the demo" in first
    assert (tmp_path / "var" / "evidence" / "sample" / "EVP-SALESFORCE-2025" / "packet.json").is_file()
    assert first.endswith("candidate evidence from Domo: Contract Terms 2025 as contract terms (24 rows, registered)")

    # The sample claims are promoted into a backend contract through the promotion services, once.
    claims = _line(output, "Sample claims:")
    assert "Sample claims: PBM Claims 2025 promoted now (request #1, " in claims
    assert "; curated version 1 (300 rows)" in claims
    current, versions, requests = curated = _curated(tmp_path / "var")
    assert len(current) == 1 and current[0][1] == 1
    assert [(v[1], v[3]) for v in versions] == [(1, "current")]
    assert requests == [("promoted", "contract", "adam.admin", "arthur.approver")]

    # The flags are computed before the console serves: open flags of every planted gap on the first page view.
    flags_line = _line(output, "Missing-evidence flags:")
    opened = _flags(tmp_path / "var")
    assert f": {len(opened)} open ({len(opened)} raised, 0 resolved now)" in flags_line
    assert {kind for kind, _ in opened} >= {"contract", "pricing", "rebate"}
    # Every contract flag has candidate terms (Domo's, or the packet left unverified); some pricing has none.
    assert {candidate for kind, candidate in opened if kind == "contract"} == {1}
    assert ("pricing", 0) in opened

    # Other rows asked for later: the export of the first start stands, and the evidence matching it.
    output = _start(tmp_path / "var", rows=400)
    again = _evidence_line(output)
    assert "(0 new, 21 unchanged, 0 refused), 20 governed (0 verified now by arthur.approver)" in again
    assert again.endswith("candidate evidence from Domo: Contract Terms 2025 as contract terms (24 rows, unchanged)")
    assert _line(output, "Sample claims:") == ("Sample claims: PBM Claims 2025 already current from this export; "
                                               "curated version 1 (300 rows)")
    assert _curated(tmp_path / "var") == curated
    assert f": {len(opened)} open (0 raised, 0 resolved now)" in _line(output, "Missing-evidence flags:")
    assert _flags(tmp_path / "var") == opened
