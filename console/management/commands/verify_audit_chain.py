import json

from django.core.management.base import BaseCommand, CommandError

from console import context
from console.audit import audit_verify_chain


class Command(BaseCommand):
    help = (
        "Recompute the audit chain from its first event, report the first broken link (edited, deleted, "
        "reordered rows, or a tail cut off since a head was recorded) and record the head hash in the lake. "
        "Reports how many events, and since when, were after the last head recorded (those a tail cut "
        "could remove unnoticed). Exits non-zero when the chain is broken."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="print the report as one JSON object"
        )
        parser.add_argument(
            "--chunk-size", type=int, default=5000, help="rows fetched per round trip (default 5000)"
        )

    def handle(self, *args, as_json, chunk_size, **options):
        with context.for_command("verify_audit_chain"):
            report = audit_verify_chain(chunk_size=chunk_size)
        if as_json:
            self.stdout.write(json.dumps(report.as_dict(), sort_keys=True))
        elif report.ok:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Audit chain intact: {report.checked} events, head seq {report.head_seq} hash {report.head_hash}."
                )
            )
            self.stdout.write(f"Checked against {report.heads_checked} head(s) recorded earlier.")
            self.stdout.write(f"Before this run: {report.unanchored.describe()}.")
            if report.head_path:
                self.stdout.write(f"Head recorded in the lake at {report.head_path}.")
        else:
            self.stdout.write(
                f"Checked {report.checked} events intact (up to seq {report.head_seq}) "
                f"and {report.heads_checked} recorded head(s)."
            )
            self.stdout.write(f"Before this run: {report.unanchored.describe()}.")
        if not report.ok:
            broken = report.first_break
            raise CommandError(f"audit chain broken at seq {broken.seq} ({broken.kind}): {broken.detail}")
