"""A Redis server of the test's own, on a free port: stopped and started again on the same port for a broker outage,
or started with the settings a check must refuse. Never the machine's shared Redis, which other test runs use."""
from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis
from celery import current_app

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """`redis-server --port N --save '' --appendonly no` (nothing kept across a restart: a restart loses every
    message, like a broker flushed or replaced), plus `options`."""

    def __init__(self, folder: Path, *options: str) -> None:
        self.port = free_port()
        self.folder = folder
        self.options = options
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder), *self.options],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self) -> None:
        """Gone at once (SIGKILL): clients get 'connection refused' until it starts again."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@contextlib.contextmanager
def publishing_to(server: RedisServer):
    """This process's Celery app publishes to `server` inside the block (its connection and producer pools rebuilt
    on it), and to its own broker again after; the server is stopped on the way out."""
    previous = current_app.conf.broker_url, current_app.conf.broker_write_url

    def point_at(url: str, write_url: str | None = None) -> None:
        current_app.conf.broker_url, current_app.conf.broker_write_url = url, write_url or url
        current_app._pool = None
        current_app.amqp._producer_pool = None

    point_at(server.url)
    try:
        yield server
    finally:
        server.stop()
        point_at(*previous)
