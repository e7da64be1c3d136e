"""Django's createsuperuser, run as the command "createsuperuser": the people and roles it changes are audited with it as actor."""
from django.contrib.auth.management.commands.createsuperuser import Command as DjangoCommand

from console import context


class Command(DjangoCommand):
    def execute(self, *args, **options):
        with context.for_command("createsuperuser"):
            return super().execute(*args, **options)
