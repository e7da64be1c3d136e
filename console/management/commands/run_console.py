"""Set up and run the whole console on the configured services (embedded defaults: no server to install).

Migrates, seeds roles, creates the demo users (printing their fresh passwords), writes a sample
Leaf IQ export and ingests it, receives the sample evidence packets of the same seed as the demo operator and
verifies the verifiable ones as the demo approver and registers the export's Domo contract terms as candidate
evidence (evidence.samples.demo), promotes the sample claims into the curated registry as the demo operator and
approver (evidence.samples.demo_claims), computes the missing-evidence flags (evidence.samples.demo_flags), loads the sample's card mappings, runs the
calculations for the plan year and reconciles the mapped cards against it (deliverables.reconciliation.demo), starts a real Celery worker with its beat scheduler in a child process, then
serves the console until interrupted; the worker is stopped with it.

The address is checked before anything starts: a taken port ends the command at once, with no worker started.
Ctrl-C and SIGTERM end the console and its worker within STOP_SECONDS: the worker's process group gets SIGTERM
(a warm shutdown; an unfinished task is redelivered, its run taken over), then SIGKILL when it is still there;
the worker also gets SIGTERM from the kernel should the console die without its cleanup (PR_SET_PDEATHSIG).
A worker that ends on its own while the console serves is said at once, on the console's output, and started again
(its beat with it, which sends again the jobs the lost worker held); after RESTARTS restarts within RESTART_WINDOW
seconds the console says so and leaves it stopped rather than loop.
"""
from __future__ import annotations

import ctypes
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from console import context
from console.services import demo_users_create
from deliverables.reconciliation.demo import demo_reconciliation
from evidence.samples.demo import demo_evidence_load
from evidence.samples.demo_claims import demo_claims_promote
from evidence.samples.demo_flags import demo_flags_compute

SAMPLE_SEED = 7  # the sample export's and the sample evidence's: their clients and terms match
STOP_SECONDS = 4  # SIGTERM to the worker's group, then SIGKILL: the console and its worker are gone within 10 s
PR_SET_PDEATHSIG = 1
RESTARTS, RESTART_WINDOW = 5, 60.0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def address(addrport: str) -> tuple[str, int]:
    """"ADDR:PORT" or "PORT" as runserver reads them (ADDR defaults to 127.0.0.1)."""
    host, _, port = addrport.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise CommandError(f"{addrport!r} is not ADDR:PORT or PORT (for example 127.0.0.1:8010)")
    return host, int(port)


def check_free(host: str, port: int) -> None:
    """Refuse at once, before a worker starts, when the address is taken (another console, another server)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is free
        try:
            probe.bind((host, port))
        except OSError as problem:
            if problem.errno == errno.EADDRINUSE:
                raise CommandError(f"port {port} on {host} is taken (another console or server is listening): "
                                   f"stop it, or choose another port: make run PORT={port + 10}") from None
            raise CommandError(f"cannot listen on {host}:{port}: {problem.strerror}") from None


def _die_with_parent() -> None:  # in the worker's process, before celery starts
    os.setsid()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:  # not Linux: the console's own cleanup still stops it
        pass


def stop(worker: subprocess.Popen, seconds: float = STOP_SECONDS) -> None:
    """The worker's whole process group (main process, pool children, beat): SIGTERM, then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, seconds), (signal.SIGKILL, 2)):
        try:
            os.killpg(worker.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if worker.poll() is not None and not _group_alive(worker.pid):
                return
            time.sleep(0.1)
    worker.poll()


class Supervised:
    """The console's worker: started again when it ends on its own, said on the console's output."""

    def __init__(self, start, say):
        self._start, self._say = start, say
        self._stopping = threading.Event()
        self._restarts: list[float] = []
        self.process = start()
        threading.Thread(target=self._watch, name="worker-watch", daemon=True).start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _watch(self) -> None:
        while True:
            code = self.process.wait()
            if self._stopping.is_set():
                return
            now = time.monotonic()
            self._restarts = [at for at in self._restarts if now - at < RESTART_WINDOW] + [now]
            if len(self._restarts) > RESTARTS:
                self._say(f"The Celery worker (pid {self.process.pid}) ended again (exit code {code}): "
                          f"{RESTARTS} restarts within {RESTART_WINDOW:.0f} s, it is left stopped; jobs wait until "
                          "a worker runs (see its log, restart the console).")
                return
            stop(self.process)  # whatever of its group is left (a pool child, its beat)
            self.process = self._start()
            self._say(f"The Celery worker ended on its own (exit code {code}): started again, pid "
                      f"{self.process.pid}; see its log.")

    def stop(self) -> None:
        self._stopping.set()
        stop(self.process)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Command(BaseCommand):
    help = "Set up and run the console with a real worker (the README's first command)."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--sample-rows", type=int, default=5000, help="claims in the sample export")
        parser.add_argument("--no-worker", action="store_true", help="do not start a worker (one runs elsewhere)")
        parser.add_argument("--no-sample", action="store_true",
                            help="an empty console: migrate and create the demo users only (no sample, no demo data)")

    def handle(self, *args, addrport, sample_rows, no_worker, no_sample, **options):
        host, port = address(addrport)
        check_free(host, port)
        if not os.environ.get("CONSOLE_BASE_URL"):  # the deliverables' links point at this console (worker included)
            shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
            os.environ["CONSOLE_BASE_URL"] = settings.CONSOLE_BASE_URL = f"http://{shown}:{port}"
        # SIGTERM (a supervisor, `timeout`, `kill`) ends the console like Ctrl-C, worker included.
        signal.signal(signal.SIGTERM, _interrupt)
        Path(settings.VAR_DIR).mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        with context.for_command("run_console"):
            users = demo_users_create(reset_passwords=True)
        lines = []
        if not no_sample:
            sample, rows = self._write_sample(sample_rows)
            load_id = json.loads((sample / "manifest.json").read_text())["load_id"]
            with context.for_command("run_console"):
                lines = [f"Sample Leaf IQ export (ingested): {sample}",
                         demo_evidence_load(Path(settings.VAR_DIR), seed=SAMPLE_SEED, rows=rows,
                                            export_load_id=load_id).line(),
                         demo_claims_promote(load_id=load_id).line(),
                         demo_flags_compute().line(),
                         demo_reconciliation().line()]
        check_free(host, port)  # taken while the sample was prepared: still before the worker starts

        worker = None if no_worker else Supervised(self._start_worker, self._say)
        try:
            self.stdout.write("")
            self.stdout.write(self.style.SUCCESS(f"Takeover console: http://{addrport}/"))
            for line in lines:
                self.stdout.write(line)
            self.stdout.write("Demo logins (fresh passwords each start):")
            for user in users:
                self.stdout.write(f"  {user.role:9} {user.username:18} {user.password}")
            if worker:
                self.stdout.write(f"Celery worker + beat: pid {worker.pid}, log {self._worker_log}")
            self.stdout.write("")
            self.stdout.flush()
            call_command("runserver", addrport, use_reloader=False)
        except KeyboardInterrupt:
            pass
        finally:
            if worker:
                worker.stop()
                self.stdout.write("Console and worker stopped.")

    def _say(self, line: str) -> None:
        self.stdout.write(self.style.WARNING(line))
        self.stdout.flush()

    def _write_sample(self, rows: int) -> tuple[Path, int]:
        """Generate the sample export once and ingest it (in this process) unless it already was. Returns
        its folder and the claims rows it was written with (kept beside it: the sample evidence must match
        the export that exists, even when a later start asks for other rows)."""
        from evidence.models import SourceManifest
        from evidence.samples.export import write_sample_export

        out = Path(settings.VAR_DIR) / "exports" / "sample"
        written_with = out.parent / "sample.json"
        if not (out / "manifest.json").exists():
            write_sample_export(out, rows=rows, seed=SAMPLE_SEED)
            written_with.write_text(json.dumps({"seed": SAMPLE_SEED, "rows": rows}))
        if written_with.exists():
            rows = json.loads(written_with.read_text())["rows"]
        load_id = json.loads((out / "manifest.json").read_text())["load_id"]
        if not SourceManifest.objects.filter(load_id=load_id).exists():
            call_command("ingest_export", str(out), stdout=self.stdout)
        return out, rows

    def _start_worker(self) -> subprocess.Popen:
        log_dir = Path(settings.VAR_DIR) / "log"
        log_dir.mkdir(parents=True, exist_ok=True)
        self._worker_log = log_dir / "worker.log"
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "console", "worker", "--beat", "--loglevel", "INFO",
             "--concurrency", "2", "-Q", settings.CONSOLE_WORKER_QUEUES, "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME],
            cwd=settings.BASE_DIR,
            stdout=self._worker_log.open("a"),
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 (no other thread yet) its own session and group, gone with us
        )
