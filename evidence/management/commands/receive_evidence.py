"""Receive an evidence packet (a folder or a .zip) in this process: accepted, unchanged or refused.

There is no --queue yet: the packet is received here, from PATH as it is (the service reads it, copies it to
bronze, then records it)."""
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from console import context
from evidence.packets.services import ReceiveError, packet_receive


class Command(BaseCommand):
    help = "Receive an evidence packet. Exits 0 whenever it was recorded, refused ones included."

    def add_arguments(self, parser):
        parser.add_argument("path", help="a packet folder or a .zip of one")
        parser.add_argument("--json", action="store_true", help="print the result as one JSON object")

    def handle(self, *args, path, json: bool, **options):
        source = Path(path)
        with context.for_command("receive_evidence"):
            try:
                outcome = packet_receive(actor=None, source=source, original_name=source.name)
            except ReceiveError as exc:
                raise CommandError(str(exc)) from exc
        self._print(outcome, as_json=json)

    def _print(self, outcome, *, as_json: bool) -> None:
        revision = outcome.revision
        issues = [
            {"code": i.code, "severity": i.severity, "file": i.file or None, "field": i.field or None,
             "row": i.row, "column": i.column or None, "message": i.message}
            for i in revision.issues.all()
        ]
        payload = {
            "packet_id": revision.claimed_packet_id or None, "kind": revision.kind or None,
            "revision": revision.revision, "status": outcome.status, "class": revision.evidence_class or None,
            "sha256": revision.sha256 or None, "issues": issues, "bronze": revision.bronze_prefix,
        }
        if as_json:
            self.stdout.write(json.dumps(payload, indent=2))
            return
        name = payload["packet_id"] or "(no packet_id)"
        numbered = f" revision {revision.revision}" if revision.revision else ""
        self.stdout.write(f"{name}{numbered}: {outcome.status}, {len(issues)} issue(s)")
        for i in issues:
            where = ":".join(str(x) for x in (i["file"], i["field"], i["row"], i["column"]) if x)
            self.stdout.write(f"  {i['code']:20} {where} {i['message']}")
        self.stdout.write(f"bronze: {revision.bronze_prefix}")
