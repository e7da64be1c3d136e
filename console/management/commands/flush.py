from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.core.management.commands import flush
from django.core.management.sql import emit_post_migrate_signal
from django.db import DEFAULT_DB_ALIAS, connections, transaction


class Command(flush.Command):
    """Django's flush, which on PostgreSQL meets the audit trail's append-only trigger.

    The trigger refuses TRUNCATE of console_auditevent, so flushing a database that holds an
    audit trail fails, as it should. The one exception is the test database: Django's
    TransactionTestCase (pytest-django's transactional_db, live_server) flushes it after every
    test, so with DJANGO_ENV=test the flush runs with triggers bypassed (superuser only).

    That flush (no sequence reset asked, not interactive) deletes the rows of the tables that hold any
    instead of truncating every table: a TRUNCATE of the console's sixty tables makes new files for each
    table and index (about 0.4 s, after each of some hundreds of tests); finding the few tables a test
    filled and deleting their rows takes a hundredth of that. Same end state: every table empty, the
    sequences where they were, post_migrate sent as Django's flush sends it.
    """

    def handle(self, **options):
        connection = connections[options.get("database", DEFAULT_DB_ALIAS)]
        if connection.vendor != "postgresql" or settings.DJANGO_ENV != "test":
            return super().handle(**options)
        if not options.get("reset_sequences", True) and not options.get("interactive", True):
            return self._empty_test_tables(connection, options)
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
        try:
            return super().handle(**options)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = DEFAULT")

    def _empty_test_tables(self, connection, options) -> None:
        for app_config in apps.get_app_configs():  # as Django's flush: apps' post_migrate receivers
            try:
                import_module(".management", app_config.name)
            except ImportError:
                pass
        tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
        if not tables:
            return
        quote = connection.ops.quote_name
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")  # ends with this transaction
            cursor.execute("SELECT " + ", ".join(f"EXISTS (SELECT 1 FROM {quote(table)})" for table in tables))
            filled = [table for table, holds_rows in zip(tables, cursor.fetchone(), strict=True) if holds_rows]
            for table in filled:
                cursor.execute(f"DELETE FROM {quote(table)}")
        if not options.get("inhibit_post_migrate", False):
            emit_post_migrate_signal(options["verbosity"], options["interactive"], options["database"])
