from django.conf import settings
from django.core.management.commands import flush
from django.db import DEFAULT_DB_ALIAS, connections


class Command(flush.Command):
    """Django's flush, which on PostgreSQL meets the audit trail's append-only trigger.

    The trigger refuses TRUNCATE of console_auditevent, so flushing a database that holds an
    audit trail fails, as it should. The one exception is the test database: Django's
    TransactionTestCase (pytest-django's transactional_db, live_server) flushes it after every
    test, so with DJANGO_ENV=test the flush runs with triggers bypassed (superuser only).
    """

    def handle(self, **options):
        connection = connections[options.get("database", DEFAULT_DB_ALIAS)]
        if connection.vendor != "postgresql" or settings.DJANGO_ENV != "test":
            return super().handle(**options)
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
        try:
            return super().handle(**options)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = DEFAULT")
