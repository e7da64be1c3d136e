from django.core.management.base import BaseCommand

from console import context
from console.services import roles_seed


class Command(BaseCommand):
    help = "Create the console's role groups with their permissions (idempotent)."

    def handle(self, *args, **options):
        with context.for_command("seed_roles"):
            changes = roles_seed()
        if not changes:
            self.stdout.write("Roles already up to date.")
        for role, permissions in changes.items():
            self.stdout.write(f"{role}: {', '.join(permissions)}")
