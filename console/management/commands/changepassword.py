"""Django's changepassword, run as the command "changepassword": the people and roles it changes are audited with it as actor."""
from django.contrib.auth.management.commands.changepassword import Command as DjangoCommand

from console import context


class Command(DjangoCommand):
    def execute(self, *args, **options):
        with context.for_command("changepassword"):
            return super().execute(*args, **options)
