"""Write a sample Leaf IQ export (see evidence/samples/export.py for what is inside)."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from evidence.samples.export import DEFAULT_EXPORTED_AT, VARIANTS, write_export_zip, write_sample_export


def _aware_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("give a time zone, e.g. 2026-11-20T03:00:00Z")
    return value


class Command(BaseCommand):
    help = "Write a deterministic sample Leaf IQ export (folder, and optionally OUT.zip)."
    # Pure file generation: no database, no system checks needed.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("out", type=Path, help="export folder to create (must not exist or be empty)")
        parser.add_argument("--rows", type=int, default=5000, help="claims rows (default 5000; millions are fine)")
        parser.add_argument("--seed", type=int, default=7, help="random seed (same seed, same bytes)")
        parser.add_argument("--variant", choices=VARIANTS, default="complete")
        parser.add_argument("--exported-at", type=_aware_datetime, default=DEFAULT_EXPORTED_AT,
                            help="export time, ISO 8601 with zone (default 2026-11-20T03:00:00Z)")
        parser.add_argument("--zip", action="store_true", help="also write OUT.zip")

    def handle(self, *args, out, rows, seed, variant, exported_at, zip, **options):
        try:
            summary = write_sample_export(out, rows=rows, seed=seed, variant=variant, exported_at=exported_at)
        except (ValueError, FileExistsError) as error:
            raise CommandError(str(error)) from error
        archive = ""
        if zip:
            zip_path = write_export_zip(out, out.parent / f"{out.name}.zip", date_time=exported_at)
            archive = f", zip {zip_path}"
        self.stdout.write(
            f"{summary.load_id}: the {summary.variant} sample (its manifest claims {summary.status}): {summary.rows} claims, "
            f"{len(summary.datasets)} datasets, {len(summary.cards)} cards ({len(summary.goldens)} golden), "
            f"{len(summary.planted_flaws)} planted flaws, {summary.files} files, {summary.bytes} bytes "
            f"at {summary.path}{archive}"
        )
