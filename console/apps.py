from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class ConsoleConfig(AppConfig):
    name = "console"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from console import checks, credentials, people_guard, signals  # noqa: F401  (broker checks; logins)

        people_guard.connect()  # every change of people and roles audited, self-changes refused
        credentials.connect()  # every API token issued or revoked audited

        from django.db.backends.signals import connection_created

        from console.filtersets import register_sqlite_functions

        connection_created.connect(register_sqlite_functions, dispatch_uid="console-sqlite-functions")

        if settings.CELERY_BROKER_URL.startswith("filesystem://"):
            # kombu's filesystem transport needs its folders before anyone publishes or consumes.
            for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
                Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS[key]).mkdir(parents=True, exist_ok=True)
