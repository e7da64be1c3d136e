"""A real Celery worker, in its own process, consuming from the test Redis against the test database."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url_for_current_test_db() -> str:
    """The URL of the database the tests are using right now (pytest-django's test_ database)."""
    cfg = connection.settings_dict
    if cfg["ENGINE"].endswith("sqlite3"):
        return f"sqlite:////{str(cfg['NAME']).lstrip('/')}"
    auth = cfg["USER"] + (f":{cfg['PASSWORD']}" if cfg["PASSWORD"] else "")
    return f"postgres://{auth}@{cfg['HOST'] or '127.0.0.1'}:{cfg['PORT'] or 5432}/{cfg['NAME']}"


class Worker:
    """`celery -A console worker` as a child process; `kill()` sends SIGKILL like a crashed host."""

    def __init__(self, queues: str = settings.CONSOLE_WORKER_QUEUES, concurrency: int = 1, env: dict | None = None) -> None:
        self.queues = queues
        self.extra_env = env or {}
        self.concurrency = concurrency
        self.process: subprocess.Popen | None = None
        self.log_path = Path(settings.VAR_DIR) / f"worker-{os.getpid()}-{time.monotonic_ns()}.log"

    def start(self) -> Worker:
        env = {
            **os.environ,
            "DATABASE_URL": database_url_for_current_test_db(),
            "CELERY_BROKER_URL": os.environ["TEST_REDIS_URL"],
            "CONSOLE_VAR_DIR": str(settings.VAR_DIR),
            "LAKE_URL": str(settings.LAKE_URL),
            **self.extra_env,
        }
        if "CELERY_VISIBILITY_TIMEOUT" in self.extra_env:
            # A worker-loss test shortens the visibility timeout below the tasks' time limits on purpose, to prove
            # redelivery and the runs' takeover: the start-up check that refuses such a worker (console.checks,
            # E001) is silenced for it, by name.
            env.setdefault("DJANGO_SILENCED_SYSTEM_CHECKS", "console.E001")
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "console", "worker", "--pool=prefork",
             f"--concurrency={self.concurrency}", "-Q", self.queues, "--without-gossip",
             "--without-mingle", "--without-heartbeat", "-l", "INFO", "-n", f"test-{os.getpid()}@%h"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.output()}")
            if " ready." in self.output():
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready after {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the whole process group: the worker and its pool children die mid-task."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def pool_children(self) -> list[int]:
        """The pids of the worker's live pool processes (the children of its main process), from /proc."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended while we looked
            if fields[0] != "Z" and int(fields[1]) == self.process.pid:
                children.append(int(stat.parent.name))
        return sorted(children)

    def kill_pool_child(self, pid: int | None = None) -> int:
        """SIGKILL one pool process (the only one when not given) and leave the main process alive, as when
        the kernel's OOM killer or a crash in a C extension ends the task's process only."""
        if pid is None:
            [pid] = self.pool_children()
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "log", None):
            self.log.close()


def flush_test_broker() -> None:
    """Delete this test run's broker keys (only those under its prefix)."""
    client = redis.Redis.from_url(os.environ["TEST_REDIS_URL"])
    keys = list(client.scan_iter(match=os.environ["CELERY_REDIS_KEY_PREFIX"] + "*", count=1000))
    if keys:
        client.delete(*keys)


def broker_backlog(queue: str) -> tuple[int, int]:
    """(messages waiting in `queue`, messages delivered and not acknowledged) on this run's broker."""
    client = redis.Redis.from_url(os.environ["TEST_REDIS_URL"])
    prefix = os.environ["CELERY_REDIS_KEY_PREFIX"]
    return client.llen(prefix + queue), client.hlen(prefix + "unacked")


def wait_until(predicate, timeout: float = 60, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
