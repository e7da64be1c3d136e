"""Delete the local cache files unused for some days now (the beat does it daily):

    python manage.py prune_caches [--days N]

N defaults to LOCAL_CACHE_DAYS (7). What it deletes (deliverables.caches): the runs' findings copies and the
provenance row sets under VAR_DIR, each made again when next needed. Prints what it deleted and kept.
"""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from deliverables import caches


class Command(BaseCommand):
    help = "Delete the local cache files (findings copies, provenance row sets) unused for --days days."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None,
                            help="delete what was not used for this many days (default LOCAL_CACHE_DAYS)")

    def handle(self, *args, days=None, **options):
        try:
            pruned = caches.prune(days=days)
        except ValueError as exc:
            raise CommandError(f"--days: {exc}") from None
        self.stdout.write(pruned.as_text())
