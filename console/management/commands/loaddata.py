"""Django's loaddata, run as the command "loaddata": the people and roles it changes are audited with it as actor."""
from django.core.management.commands.loaddata import Command as DjangoCommand

from console import context


class Command(DjangoCommand):
    def execute(self, *args, **options):
        with context.for_command("loaddata"):
            return super().execute(*args, **options)
