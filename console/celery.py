"""The Celery app. Workers and beat run with `celery -A console worker|beat`."""
import os

from celery import Celery
from celery.signals import worker_init
from kombu.transport import TRANSPORT_ALIASES

from console.broker_files import ALIAS

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
# `filesystem://` (the embedded default) is kombu's filesystem transport with whole-message writes
# (console/broker_files.py): kombu's own lets a worker read a message before it is written, and stop.
TRANSPORT_ALIASES["filesystem"] = ALIAS

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
