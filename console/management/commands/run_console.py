"""Set up and run the whole console on the configured services (embedded defaults: no server to install).

Migrates, seeds roles, creates the demo users (printing their fresh passwords), writes a sample
Leaf IQ export and ingests it, receives the sample evidence packets of the same seed as the demo operator and
verifies the verifiable ones as the demo approver and registers the export's Domo contract terms as candidate
evidence (evidence.samples.demo), promotes the sample claims into the curated registry as the demo operator and
approver (evidence.samples.demo_claims), computes the missing-evidence flags (evidence.samples.demo_flags), loads the sample's card mappings, runs the
calculations for the plan year and reconciles the mapped cards against it (deliverables.reconciliation.demo), starts a real Celery worker with its beat scheduler in a child process, then
serves the console until interrupted; the worker is stopped with it.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from console import context
from console.services import demo_users_create
from deliverables.reconciliation.demo import demo_reconciliation
from evidence.samples.demo import demo_evidence_load
from evidence.samples.demo_claims import demo_claims_promote
from evidence.samples.demo_flags import demo_flags_compute

SAMPLE_SEED = 7  # the sample export's and the sample evidence's: their clients and terms match


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Set up and run the console with a real worker (the README's first command)."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--sample-rows", type=int, default=5000, help="claims in the sample export")
        parser.add_argument("--no-worker", action="store_true", help="do not start a worker (one runs elsewhere)")

    def handle(self, *args, addrport, sample_rows, no_worker, **options):
        Path(settings.VAR_DIR).mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        with context.for_command("run_console"):
            users = demo_users_create(reset_passwords=True)
        sample, rows = self._write_sample(sample_rows)
        load_id = json.loads((sample / "manifest.json").read_text())["load_id"]
        with context.for_command("run_console"):
            evidence = demo_evidence_load(Path(settings.VAR_DIR), seed=SAMPLE_SEED, rows=rows, export_load_id=load_id)
            claims = demo_claims_promote(load_id=load_id)
            flags = demo_flags_compute()
            reconciliation = demo_reconciliation()

        worker = None if no_worker else self._start_worker()
        # SIGTERM (a supervisor, `timeout`, `kill`) ends the console like Ctrl-C, worker included.
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            self.stdout.write("")
            self.stdout.write(self.style.SUCCESS(f"Takeover console: http://{addrport}/"))
            self.stdout.write(f"Sample Leaf IQ export (ingested): {sample}")
            self.stdout.write(evidence.line())
            self.stdout.write(claims.line())
            self.stdout.write(flags.line())
            self.stdout.write(reconciliation.line())
            self.stdout.write("Demo logins (fresh passwords each start):")
            for user in users:
                self.stdout.write(f"  {user.role:9} {user.username:18} {user.password}")
            if worker:
                self.stdout.write(f"Celery worker + beat: pid {worker.pid}, log {self._worker_log}")
            self.stdout.write("")
            call_command("runserver", addrport, use_reloader=False)
        finally:
            if worker and worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                worker.wait(timeout=30)

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
            start_new_session=True,
        )
