"""The operations page's figures: how many messages wait in each of the workers' queues, read from the broker.

A burst of work shows here first: the queues fill faster than the workers drain them. The expected burst and
how fast it must drain are stated below (catalogue item 49); tests/console/test_operations.py holds them with a
real worker.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from celery import current_app
from django.conf import settings
from kombu.exceptions import OperationalError as KombuOperationalError

from console import clock, inflight

# Operators start a few long jobs at a time (an intake, a calculation run, a workbook build): NORMAL_JOBS at
# once is a busy moment. A burst of ten times that must leave the queues within BURST_DRAIN_SECONDS on the
# smallest install (one worker process), pages answering within their goal (bench.console_load's p99) meanwhile.
NORMAL_JOBS = 3
BURST_JOBS = 10 * NORMAL_JOBS
BURST_DRAIN_SECONDS = 30
PAGE_GOAL_SECONDS = 1.0
POLL_SECONDS = 5  # the page refreshes its figures this often


@dataclass(frozen=True)
class QueueDepth:
    """One queue: messages waiting for a worker, and (Redis) those a worker holds and has not acknowledged."""

    queue: str
    waiting: int
    reserved: int | None


def worker_queues() -> list[str]:
    return [name.strip() for name in settings.CONSOLE_WORKER_QUEUES.split(",") if name.strip()]


def queue_depths() -> list[QueueDepth]:
    """Each worker queue's depth, read from the broker the console sends to (Redis lists under this console's key
    prefix, every priority level counted; the filesystem broker's message files). `reserved` is the broker's
    count of unacknowledged deliveries, for all queues together (None where the broker keeps none)."""
    with current_app.connection_for_read() as connection:
        channel = connection.default_channel
        # The transport's own count: it knows its key prefix, priority lists and file names. (A passive
        # queue_declare would count too, but kombu's existence check before it ignores the key prefix.)
        depths = {queue: int(channel._size(queue)) for queue in worker_queues()}
        reserved = channel.client.hlen(channel.unacked_key) if hasattr(channel, "unacked_key") else None
    return [QueueDepth(queue, waiting, reserved) for queue, waiting in depths.items()]


@dataclass(frozen=True)
class Snapshot:
    """What the operations page and its API twin show: the queues (or why the broker did not answer) and the work
    in flight, read at one moment."""

    read_at: dt.datetime
    depths: list[QueueDepth]  # empty when the broker did not answer
    error: str  # "" when it did
    in_flight: inflight.InFlight

    @property
    def total(self) -> int:
        return sum(depth.waiting for depth in self.depths)

    @property
    def reserved(self) -> int | None:
        return self.depths[0].reserved if self.depths else None


def snapshot() -> Snapshot:
    """The queues from the broker (its failure said, not raised) and the jobs in flight from the database."""
    read_at = clock.now()
    try:
        depths, error = queue_depths(), ""
    except (OSError, KombuOperationalError) as failure:
        depths, error = [], str(failure) or type(failure).__name__
    return Snapshot(read_at=read_at, depths=depths, error=error, in_flight=inflight.in_flight())
