"""Who and what the current unit of work is: a request, a Celery task or a command.

The audit service reads it so that every event carries its correlation id (the request id,
or the run id of a task or command) without threading it through every call.
"""
from __future__ import annotations

import contextlib
import contextvars
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class WorkContext:
    correlation_id: str
    # For work not done on behalf of a request's user: "task:<task id>" or "command:<name>".
    system_actor: str | None = None


_current: contextvars.ContextVar[WorkContext | None] = contextvars.ContextVar("work_context", default=None)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def new_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(candidate: str | None) -> str:
    """Reuse an upstream X-Request-ID when it is well-formed; otherwise mint one."""
    if candidate and _REQUEST_ID.match(candidate):
        return candidate
    return new_id()


def current() -> WorkContext | None:
    return _current.get()


@contextlib.contextmanager
def bind(context: WorkContext) -> Iterator[WorkContext]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def for_command(name: str, run_id: str | None = None) -> contextlib.AbstractContextManager[WorkContext]:
    return bind(WorkContext(correlation_id=run_id or new_id(), system_actor=f"command:{name}"))


def for_task(task_id: str, run_id: str | None = None) -> contextlib.AbstractContextManager[WorkContext]:
    return bind(WorkContext(correlation_id=run_id or task_id, system_actor=f"task:{task_id}"))
