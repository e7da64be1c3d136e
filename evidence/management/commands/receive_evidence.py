"""Receive an evidence packet (a folder or a .zip): in this process, or queued for the workers with --queue.

Without --queue the packet is received here, from PATH as it is (the service reads it, copies it to bronze,
then records it). With --queue PATH is first copied to the staging area and a receipt is queued; the command
prints the receipt (its id and API URL; with --json, the receipt as the API shows it) and a worker receives the
packet."""
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from console import context
from evidence.api.serializers.receipts import PacketReceiptSerializer
from evidence.choices import IntakeSource
from evidence.intake.services import stage_path
from evidence.intake.validation.archive import file_sha256, regular_files, tree_sha256
from evidence.packets.receipts import outcome_json, receipt_create
from evidence.packets.services import ReceiveError, packet_receive


class Command(BaseCommand):
    help = "Receive an evidence packet. Exits 0 whenever it was recorded (or queued), refused ones included."

    def add_arguments(self, parser):
        parser.add_argument("path", help="a packet folder or a .zip of one")
        parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
        parser.add_argument("--queue", action="store_true", help="hand the packet to the Celery workers")

    def handle(self, *args, path, json: bool, queue: bool, **options):
        source = Path(path)
        with context.for_command("receive_evidence"):
            if queue:
                return self._queue(source, as_json=json)
            try:
                outcome = packet_receive(actor=None, source=source, original_name=source.name)
            except ReceiveError as exc:
                raise CommandError(str(exc)) from exc
        self._print(outcome_json(outcome.revision, outcome.status), as_json=json)

    def _queue(self, source: Path, *, as_json: bool) -> None:
        if not (source.is_dir() or source.is_file()):
            raise CommandError(f"{source}: no packet folder or archive there")
        staged = stage_path(source)
        if staged.is_file():
            sha256, size = file_sha256(staged)
        else:
            sha256, size = tree_sha256(staged), sum((staged / f).stat().st_size for f in regular_files(staged))
        receipt = receipt_create(actor=None, source=IntakeSource.COMMAND, original_name=source.name,
                                 staged_path=staged, upload_sha256=sha256, upload_bytes=size)
        shown = PacketReceiptSerializer(receipt).data  # what GET /api/evidence-packet-receipts/<id>/ answers
        if as_json:
            self.stdout.write(json.dumps(shown, indent=2))
            return
        self.stdout.write(f"packet receipt #{receipt.pk} queued for the workers: {shown['url']}")

    def _print(self, payload: dict, *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(payload, indent=2))
            return
        issues = payload["issues"]
        name = payload["packet_id"] or "(no packet_id)"
        numbered = f" revision {payload['revision']}" if payload["revision"] else ""
        self.stdout.write(f"{name}{numbered}: {payload['status']}, {len(issues)} issue(s)")
        for i in issues:
            where = ":".join(str(x) for x in (i["file"], i["field"], i["row"], i["column"]) if x)
            self.stdout.write(f"  {i['code']:20} {where} {i['message']}")
        self.stdout.write(f"bronze: {payload['bronze']}")
