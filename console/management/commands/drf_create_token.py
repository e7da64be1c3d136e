"""DRF's drf_create_token, run as the command "drf_create_token": the tokens it issues or replaces are audited
(console.credentials) with it as actor."""
from rest_framework.authtoken.management.commands.drf_create_token import Command as DrfCommand

from console import context


class Command(DrfCommand):
    def execute(self, *args, **options):
        with context.for_command("drf_create_token"):
            return super().execute(*args, **options)
