"""`make run` (run_console) on the embedded defaults (SQLite, a local lake), as a user's shell starts it: the
console comes up with the sample evidence received and verified and the sample's Domo contract terms registered
as candidate evidence, and says so in one line; a second start finds every packet and the registration unchanged
and verifies nothing again, even asked for other sample rows (the export
written first stands, and the evidence matching it)."""
import os
import signal
import socket
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


def test_make_run_loads_the_sample_evidence_once(tmp_path):
    first = _evidence_line(_start(tmp_path / "var"))
    assert "21 packets received as olivia.operator (21 new, 0 unchanged, 0 refused)" in first
    assert "20 governed (20 verified now by arthur.approver), 1 left candidate" in first
    assert "EVP-CONTRACT-0015e00000Qm7CaAAJ-2025 is left unverified by the demo" in first
    assert (tmp_path / "var" / "evidence" / "sample" / "EVP-SALESFORCE-2025" / "packet.json").is_file()
    assert first.endswith("candidate evidence from Domo: Contract Terms 2025 as contract terms (24 rows, registered)")

    # Other rows asked for later: the export of the first start stands, and the evidence matching it.
    again = _evidence_line(_start(tmp_path / "var", rows=400))
    assert "(0 new, 21 unchanged, 0 refused), 20 governed (0 verified now by arthur.approver)" in again
    assert again.endswith("candidate evidence from Domo: Contract Terms 2025 as contract terms (24 rows, unchanged)")
