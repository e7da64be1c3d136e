"""Start-up checks of the broker: Django system checks (`manage.py check`, run_console, every management command
that runs checks) that also run when a worker starts (console.celery refuses to start on an error).

- console.E001: every task of the console has a hard time limit below the Redis visibility timeout. Tasks ack late:
  Redis hands an unacknowledged message to another worker once the timeout passes, so a task allowed to run longer
  would run twice at once (the runs' claims would hold the second copy off, but only by a retry loop).
- console.E002: Redis evicts nothing (`maxmemory-policy noeviction`). Under any other policy a full Redis silently
  drops queued messages and the unacknowledged ones, which are the jobs themselves; `noeviction` makes a full
  Redis refuse the send instead, which the console answers and the beat's re-send repairs (console.dispatch).

Neither applies to the embedded filesystem transport (no visibility timeout, no eviction). A Redis that cannot be
reached, or that refuses CONFIG (managed services), gives a warning: the broker may come later, and what it
runs with cannot be read from here.
"""
from __future__ import annotations

import importlib
import importlib.util
from urllib.parse import urlsplit

from django.apps import apps as django_apps
from django.conf import settings
from django.core import checks

BROKER_TAG = "broker"
# Transports where an unacknowledged message comes back after `visibility_timeout` (kombu's default 3600 s).
VISIBILITY_TRANSPORTS = {"redis", "rediss", "sentinel"}
KOMBU_DEFAULT_VISIBILITY_TIMEOUT = 3600


def uses_redis(broker_url: str) -> bool:
    return urlsplit(broker_url).scheme in VISIBILITY_TRANSPORTS


def import_task_modules() -> None:
    """Import every app's tasks module: a task registers when its module is imported. (Not the loader's
    import_default_modules: Celery's Django fixup runs the system checks from it, which would call this again.)"""
    for config in django_apps.get_app_configs():
        if importlib.util.find_spec(f"{config.name}.tasks") is not None:
            importlib.import_module(f"{config.name}.tasks")


def time_limit_errors(app, broker_url: str, transport_options: dict) -> list[checks.CheckMessage]:
    """console.E001 for each task of the console (not Celery's own) without a hard time limit below the broker's
    visibility timeout."""
    if not uses_redis(broker_url):
        return []
    timeout = transport_options.get("visibility_timeout", KOMBU_DEFAULT_VISIBILITY_TIMEOUT)
    import_task_modules()
    errors = []
    for name, task in sorted(app.tasks.items()):
        if name.startswith("celery."):
            continue
        limit = task.time_limit or app.conf.task_time_limit
        if limit is None or limit >= timeout:
            allowed = "no time limit" if limit is None else f"time_limit={limit:g}s"
            errors.append(checks.Error(
                f"task {name} allows {allowed}, not below the broker's visibility timeout of {timeout:g}s: "
                "Redis would hand it to a second worker while the first still runs it",
                hint="raise CELERY_VISIBILITY_TIMEOUT above the task's time limit, or lower the limit",
                obj=name, id="console.E001",
            ))
    return errors


def eviction_errors(broker_url: str, *, connect_timeout: float = 2.0) -> list[checks.CheckMessage]:
    """console.E002 when the Redis broker may evict keys; a warning when its policy cannot be read."""
    if not uses_redis(broker_url) or urlsplit(broker_url).scheme == "sentinel":
        return []
    import redis

    client = redis.Redis.from_url(broker_url, socket_connect_timeout=connect_timeout, socket_timeout=connect_timeout)
    try:
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy")
    except redis.ResponseError as refused:
        return [checks.Warning(
            f"cannot read the broker's maxmemory-policy ({refused}): make sure it is noeviction",
            obj="CELERY_BROKER_URL", id="console.W002",
        )]
    except (redis.ConnectionError, redis.TimeoutError) as unreachable:
        return [checks.Warning(
            f"the broker cannot be reached to read its maxmemory-policy ({unreachable})",
            obj="CELERY_BROKER_URL", id="console.W003",
        )]
    finally:
        client.close()
    if policy != "noeviction":
        return [checks.Error(
            f"the Redis broker runs with maxmemory-policy {policy}: when it fills up it evicts keys, and the keys "
            "are the queued and unacknowledged tasks, lost without a trace",
            hint="set maxmemory-policy noeviction (redis.conf, or CONFIG SET maxmemory-policy noeviction): a full "
                 "Redis then refuses new messages, which the console reports and sends again later",
            obj="CELERY_BROKER_URL", id="console.E002",
        )]
    return []


@checks.register(BROKER_TAG)
def check_time_limits(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from celery import current_app  # console.celery's app (console/__init__.py loads it first)

    return time_limit_errors(current_app, settings.CELERY_BROKER_URL, settings.CELERY_BROKER_TRANSPORT_OPTIONS)


@checks.register(BROKER_TAG)
def check_eviction_policy(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    return eviction_errors(settings.CELERY_BROKER_URL)


def broker_refusals() -> list[str]:
    """The broker checks' errors that are not silenced, as lines (a worker refuses to start on any)."""
    found = checks.run_checks(tags=[BROKER_TAG])
    return [str(message) for message in found if message.is_serious() and not message.is_silenced()]
