"""Django's shell, run as the command "shell" in a shell session of console.people_guard.

Nobody is signed in to a shell, so no separation of duties can be checked there: every change of roles,
groups, permissions, is_superuser or is_staff it attempts (interactively, with `-c`/`--command`, from piped
stdin, or through a command it calls) is refused and the refusal audited with "system:command:shell" as
actor; the People screens and API (a second admin confirms) and `createsuperuser` are the ways instead.

`manage.py dbshell` cannot be guarded: it opens the database's own client (psql, sqlite3), where only the
database's grants apply and no signal of Django runs. django-extensions' shell_plus is not installed here;
were it added, it would need this same wrapper.
"""
from django.core.management.commands.shell import Command as DjangoCommand

from console import context, people_guard


class Command(DjangoCommand):
    def execute(self, *args, **options):
        with context.for_command("shell"), people_guard.shell_session():
            return super().execute(*args, **options)
