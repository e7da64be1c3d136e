"""Load card mappings shipped as data (the sample export's by default) as a named person."""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from console import context
from deliverables.reconciliation import services


class Command(BaseCommand):
    help = "Load card <-> backend output mappings from a JSON file (default: the sample export's)."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", default=str(services.SHIPPED))
        parser.add_argument("--as", dest="username", required=True, help="who maps (audited; needs build_deliverable)")

    def handle(self, *args, path, username, **options):
        actor = get_user_model().objects.filter(username=username).first()
        if actor is None:
            raise CommandError(f"--as: no user {username!r}")
        with context.for_command("load_mappings"):
            try:
                done = services.mappings_load(actor=actor, path=path)
            except services.Refused as refusal:
                raise CommandError(str(refusal)) from None
        for entry in done:
            self.stdout.write(f"{entry.outcome:8} {entry.title}" + (f": {entry.detail}" if entry.detail else ""))
