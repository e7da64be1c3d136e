"""Django's shell, run as the command "shell": the people and roles it changes are audited with it as actor."""
from django.core.management.commands.shell import Command as DjangoCommand

from console import context


class Command(DjangoCommand):
    def execute(self, *args, **options):
        with context.for_command("shell"):
            return super().execute(*args, **options)
