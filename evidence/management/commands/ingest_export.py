"""Receive a Leaf IQ export (a folder or a .zip) into bronze and silver and record its manifest."""
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from console import context
from evidence.choices import IntakeSource
from evidence.intake.services import intake_create, intake_execute, stage_path
from evidence.models import IntakeRun


class Command(BaseCommand):
    help = "Receive a Leaf IQ export. Runs the intake in this process, or hands it to the workers with --queue."

    def add_arguments(self, parser):
        parser.add_argument("path", help="an export folder or a .zip of one")
        parser.add_argument("--queue", action="store_true", help="hand the intake to the Celery workers")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, path, queue, json: bool, **options):
        source = Path(path)
        if not source.exists():
            raise CommandError(f"{source}: no such file or folder")
        if not (source.is_dir() or source.is_file()):
            raise CommandError(f"{source}: neither a folder nor a file")
        with context.for_command("ingest_export"):
            staged = stage_path(source)
            run = intake_create(
                actor=None, source=IntakeSource.COMMAND, original_name=source.name, staged_path=staged, enqueue=queue
            )
            if queue:
                self.stdout.write(f"intake #{run.pk} queued for the workers")
                return
            outcome = intake_execute(run_id=run.pk)
        run = IntakeRun.objects.get(pk=run.pk)
        if outcome is None:
            raise CommandError(f"intake #{run.pk} did not run: {run.status} {run.error}")
        self._print(run, outcome.manifest, json)

    def _print(self, run, manifest, as_json: bool) -> None:
        issues = [
            {"code": i.code, "severity": i.severity, "file": i.file or None, "object": i.object or None,
             "field": i.field or None, "row": i.row, "column": i.column or None, "message": i.message}
            for i in manifest.issues.all()
        ]
        if as_json:
            payload = {
                "load_id": manifest.load_id, "status": manifest.status, "manifest_sha256": manifest.manifest_sha256,
                "issues": issues, "bronze": manifest.bronze_prefix, "silver": manifest.silver_prefix or None,
                "intake_run": run.pk, "repeat_of_intake_run": run.repeat_of_id,
            }
            self.stdout.write(json.dumps(payload, indent=2))
            return
        again = (
            f" (a repeat: received before by intake #{run.repeat_of_id}, same load id and content)"
            if run.repeat_of_id else ""
        )
        self.stdout.write(f"{manifest.load_id or '(no load id)'}: {manifest.status}{again}, {len(issues)} issue(s)")
        for i in issues:
            where = ":".join(str(x) for x in (i["file"], i["row"], i["column"]) if x)
            self.stdout.write(f"  {i['severity']:7} {i['code']:24} {where} {i['message']}")
        self.stdout.write(f"bronze: {manifest.bronze_prefix}")
        self.stdout.write(f"silver: {manifest.silver_prefix or '(none)'}")
