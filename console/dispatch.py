"""Hand a row's work to Celery: the task is sent by name (routed by CELERY_TASK_ROUTES, so a service never imports
its task module) with the row's id, and the row keeps the task id it was sent as.

`send_after_commit` inside the transaction that created the row: the message leaves only if the row exists.
`send` for a row already committed (a sweeper sending a lost message again: `replace=True` records the new id).
"""
from __future__ import annotations

from celery import current_app
from django.db import models, transaction


def send(task: str, model: type[models.Model], pk: int, *, replace: bool = False) -> str:
    """Send `task(pk)` now; the row records the task id (only if it has none yet, unless `replace`)."""
    result = current_app.send_task(task, args=(pk,))
    rows = model.objects.filter(pk=pk)
    if not replace:
        rows = rows.filter(task_id="")
    rows.update(task_id=result.id)
    return result.id


def send_after_commit(task: str, model: type[models.Model], pk: int) -> None:
    """Send `task(pk)` once the current transaction commits (nothing is sent if it rolls back)."""
    transaction.on_commit(lambda: send(task, model, pk))
