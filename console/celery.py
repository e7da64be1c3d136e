"""The Celery app. Workers and beat run with `celery -A console worker|beat`."""
import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

app = Celery("console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def refuse_unsafe_broker(**kwargs) -> None:
    """A worker does not start on a broker that would run a task twice or drop it (console.checks)."""
    from console.checks import broker_refusals

    refusals = broker_refusals()
    if refusals:
        raise SystemExit("The worker refuses to start:\n" + "\n".join(refusals))
