"""`make run` (run_console) on the embedded defaults (SQLite, a local lake), as a user's shell starts it: the
console comes up with the sample evidence received and verified and the sample's Domo contract terms registered
as candidate evidence, and says so in one line; a second start finds every packet and the registration unchanged
and verifies nothing again, even asked for other sample rows (the export
written first stands, and the evidence matching it)."""
import contextlib
import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

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


def _env(var_dir: Path) -> dict:
    return {k: v for k, v in os.environ.items() if k not in TEST_ONLY} | {"CONSOLE_VAR_DIR": str(var_dir),
                                                                         "PYTHONUNBUFFERED": "1"}


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, process group, state) of every process on the machine."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            found[int(entry.name)] = (int(fields[1]), int(fields[2]), fields[0])
    return found


def _family(root: int, groups: set[int]) -> set[int]:
    """The live processes descending from `root` or in one of `groups` (the worker's own session and group)."""
    table = _processes()
    family = {pid for pid, (_, group, state) in table.items() if group in groups and state != "Z"} | {root}
    grew = True
    while grew:
        more = {pid for pid, (parent, _, state) in table.items() if parent in family and state != "Z"} - family
        family |= more
        grew = bool(more)
    return family


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.worker
def test_sigterm_stops_the_console_and_every_worker_process_within_ten_seconds(tmp_path):
    """SIGTERM (a supervisor, `kill`) takes the path Ctrl-C takes: both end in KeyboardInterrupt."""
    stop_with = signal.SIGTERM
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_console", f"127.0.0.1:{port}", "--no-sample"],
        cwd=ROOT, env=_env(tmp_path / "var"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    worker = None
    try:
        for line in process.stdout:
            if line.startswith("Celery worker + beat: pid "):
                worker = int(line.split("pid ")[1].split(",")[0])
                break
        assert worker, "the console did not start its worker"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # serving, and the worker's pool and beat started
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(_family(worker, {worker})) < 3:
            time.sleep(0.2)
        started = _family(process.pid, {worker})
        assert worker in started and len(started) >= 4, started  # console, worker, its pool and beat

        signalled = time.monotonic()
        process.send_signal(stop_with)
        process.wait(timeout=10)
        while time.monotonic() - signalled < 10 and any(_alive(pid) for pid in started):
            time.sleep(0.1)
        left = sorted(pid for pid in started if _alive(pid))
        assert left == [], f"still running {time.monotonic() - signalled:.1f} s after the signal: {left}"
        assert "Console and worker stopped." in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
        if worker:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker, signal.SIGKILL)


def test_a_taken_port_ends_the_command_at_once_naming_it_and_starts_no_worker(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "manage.py", "run_console", f"127.0.0.1:{port}"], cwd=ROOT,
                              env=_env(tmp_path / "var"), capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert f"port {port} on 127.0.0.1 is taken" in done.stderr
    assert f"make run PORT={port + 10}" in done.stderr
    assert not (tmp_path / "var" / "log" / "worker.log").exists()  # no worker was started
    assert not (tmp_path / "var" / "console.sqlite3").exists()  # nor anything else


@pytest.mark.worker
def test_a_worker_that_dies_is_said_and_started_again_and_stopped_with_the_console(tmp_path):
    """A worker killed under the console (a crash, the OOM killer) must not leave jobs waiting unseen."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_console", f"127.0.0.1:{port}", "--no-sample"],
        cwd=ROOT, env=_env(tmp_path / "var"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    first = second = None
    try:
        for line in process.stdout:
            if line.startswith("Celery worker + beat: pid "):
                first = int(line.split("pid ")[1].split(",")[0])
                break
        assert first, "the console did not start its worker"
        os.killpg(first, signal.SIGKILL)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
        deadline = time.monotonic() + 30
        while second is None and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                line = lines.get(timeout=1)
                if "The Celery worker ended on its own (exit code -9): started again, pid " in line:
                    second = int(line.split("pid ")[1].split(";")[0])
        assert second and second != first and _alive(second), "the console did not say and restart its worker"
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and second and _alive(second):
            time.sleep(0.1)
        assert not _alive(second)
    finally:
        if process.poll() is None:
            process.kill()
        for pid in (first, second):
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
