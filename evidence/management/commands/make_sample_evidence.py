"""Write sample evidence packets matching `make_sample_export` of the same seed and rows (see
evidence/samples/evidence.py for what is inside and which gaps are planted)."""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from evidence.samples.evidence import write_sample_evidence


class Command(BaseCommand):
    help = "Write deterministic sample evidence packets (one folder, or one zip, per packet) under OUT."
    # Pure file generation: no database, no system checks needed.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("out", type=Path, help="folder to create (must not exist or be empty)")
        parser.add_argument("--seed", type=int, default=7, help="the sample export's seed (same seed, same bytes)")
        parser.add_argument("--rows", type=int, default=5000,
                            help="the sample export's claims rows; its rebate invoices depend on them (default 5000)")
        parser.add_argument("--zip", action="store_true", help="write each packet as OUT/<packet_id>.zip")

    def handle(self, *args, out, seed, rows, zip, **options):
        try:
            summary = write_sample_evidence(out, seed=seed, rows=rows, zip=zip)
        except (ValueError, FileExistsError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"{len(summary.packets)} evidence packets for seed {summary.seed} ({summary.rows} claims "
                          f"rows), {summary.files} files, {summary.bytes} bytes at {summary.path}")
        for packet_id, kind, path in summary.packets:
            self.stdout.write(f"  {kind:<10} {packet_id}  {path}")
        self.stdout.write("Gaps:")
        for gap in summary.gaps():
            self.stdout.write(f"  {gap}")
