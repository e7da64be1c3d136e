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
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class WorkContext:
    correlation_id: str
    # For work not done on behalf of a request's user: "task:<task id>" or "command:<name>".
    system_actor: str | None = None
    # The web request being served, if any: its user (read when needed, after authentication) is who
    # acts for the model-layer guards of console.people_guard.
    request: Any = None
    # Refusals met while serving the request, audited by the middleware once the request's
    # transactions are over (a refusal raised inside a transaction rolls that transaction back).
    refusals: list[dict] = field(default_factory=list)


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


def web_user():
    """The signed-in user of the web request being served, or None outside a request (shell, command, task).

    A request served to nobody signed in answers AnonymousUser."""
    work = _current.get()
    if work is None or work.request is None:
        return None
    from django.contrib.auth.models import AnonymousUser

    return getattr(work.request, "user", None) or AnonymousUser()


@contextlib.contextmanager
def bind(context: WorkContext) -> Iterator[WorkContext]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def for_request(request, request_id: str) -> contextlib.AbstractContextManager[WorkContext]:
    return bind(WorkContext(correlation_id=request_id, request=request))


def for_command(name: str, run_id: str | None = None) -> contextlib.AbstractContextManager[WorkContext]:
    return bind(WorkContext(correlation_id=run_id or new_id(), system_actor=f"command:{name}"))


def for_task(task_id: str, run_id: str | None = None) -> contextlib.AbstractContextManager[WorkContext]:
    return bind(WorkContext(correlation_id=run_id or task_id, system_actor=f"task:{task_id}"))
