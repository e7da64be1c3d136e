"""Start-up refuses a broker that would run a task twice (a visibility timeout below a task's time limit) or drop
it (a Redis that evicts): `manage.py check` fails, and a worker refuses to start (console.checks)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from console.celery import app
from console.checks import eviction_errors, time_limit_errors
from tests.support.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], tmp_path: Path, **env) -> subprocess.CompletedProcess:
    """A command of the console's own in a clean process (the test run's broker and var dir replaced by `env`)."""
    return subprocess.run(
        args, check=False, cwd=ROOT, env={**os.environ, "CONSOLE_VAR_DIR": str(tmp_path), **env},
        capture_output=True, text=True, timeout=120,
    )


def worker_start(tmp_path: Path, **env) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "celery", "-A", "console", "worker", "--pool=solo", "-Q", "console",
                "--without-gossip", "--without-mingle", "--without-heartbeat"], tmp_path, **env)


@pytest.fixture
def lru_redis(tmp_path):
    server = RedisServer(tmp_path, "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru").start()
    yield server
    server.stop()


@pytest.mark.catalogue(5)
def test_every_task_stops_before_the_default_visibility_timeout():
    timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert "CELERY_VISIBILITY_TIMEOUT" not in os.environ  # the default, as a deployment gets it
    assert time_limit_errors(app, "redis://127.0.0.1:6379/0", settings.CELERY_BROKER_TRANSPORT_OPTIONS) == []
    limits = {name: task.time_limit for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert limits["evidence.tasks.intake_run"] == 6 * 3600 + 300  # the longest: an intake, a load
    assert all(limit is not None and limit < timeout for limit in limits.values()), limits


@pytest.mark.catalogue(5)
def test_a_visibility_timeout_below_a_time_limit_is_refused_naming_the_task():
    errors = time_limit_errors(app, "redis://127.0.0.1:6379/0", {"visibility_timeout": 3600})
    refused = {error.obj for error in errors}
    assert {error.id for error in errors} == {"console.E001"}
    # Redis's own default of 3,600 s is below an intake's and a load's 6 h 05, and a run's 3 h 05.
    assert {"evidence.tasks.intake_run", "promotion.tasks.promotion_load", "deliverables.tasks.run_execute"} <= refused
    assert "console.tasks.idempotency_sweep" not in refused  # 6 min
    message = next(error.msg for error in errors if error.obj == "evidence.tasks.intake_run")
    assert "time_limit=21900s" in message and "visibility timeout of 3600s" in message
    # The embedded filesystem transport never redelivers: nothing to compare.
    assert time_limit_errors(app, "filesystem://", {}) == []


@pytest.mark.catalogue(5)
def test_manage_check_fails_on_a_visibility_timeout_below_a_time_limit(settings):
    settings.CELERY_BROKER_URL = os.environ["TEST_REDIS_URL"]
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {**settings.CELERY_BROKER_TRANSPORT_OPTIONS, "visibility_timeout": 3600}
    with pytest.raises(SystemCheckError, match=r"\(console\.E001\) task promotion\.tasks\.promotion_load allows "
                                               r"time_limit=21900s"):
        call_command("check")


@pytest.mark.catalogue(10)
def test_an_evicting_redis_is_refused_saying_why(lru_redis):
    errors = eviction_errors(lru_redis.url)
    assert [error.id for error in errors] == ["console.E002"]
    assert "maxmemory-policy allkeys-lru" in errors[0].msg
    assert "queued and unacknowledged tasks" in errors[0].msg
    assert "noeviction" in errors[0].hint


@pytest.mark.catalogue(10)
def test_a_noeviction_redis_passes(tmp_path):
    server = RedisServer(tmp_path, "--maxmemory-policy", "noeviction").start()
    try:
        assert eviction_errors(server.url) == []
    finally:
        server.stop()
    # The embedded filesystem transport evicts nothing: no Redis to ask.
    assert eviction_errors("filesystem://") == []


@pytest.mark.catalogue(10)
def test_a_worker_refuses_to_start_on_an_evicting_redis(lru_redis, tmp_path):
    result = worker_start(tmp_path, CELERY_BROKER_URL=lru_redis.url)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "The worker refuses to start" in output
    assert "(console.E002) the Redis broker runs with maxmemory-policy allkeys-lru" in output
    assert " ready." not in output  # it never consumed a message


@pytest.mark.catalogue(10)
def test_manage_check_fails_on_an_evicting_redis(lru_redis, settings):
    settings.CELERY_BROKER_URL = lru_redis.url
    with pytest.raises(SystemCheckError, match=r"\(console\.E002\) the Redis broker runs with maxmemory-policy "
                                               r"allkeys-lru"):
        call_command("check")
